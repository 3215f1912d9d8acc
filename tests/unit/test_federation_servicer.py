"""Every status path of the Federation servicer, without a network (grpcio-testing).

grpcio-testing drives synchronous servicers, so `SyncServicer` wraps the same
transport-free `FederationService.handle` and the same `status_for` table the
asyncio server (`federation.server`) uses; the integration suite drives the
real asyncio server over loopback.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import grpc
import grpc_testing  # type: ignore[import-untyped]
import pytest

from federation._proto.decnet.federation.v1 import federation_pb2 as pb
from federation.audit import AuditLog
from federation.config import ServerLimits
from federation.envelope import (
    ANSWER_METADATA,
    REQUEST_METADATA,
    Envelope,
    decode_envelope,
    encode_envelope,
    sign_request,
    verify_answer,
)
from federation.errors import INTERNAL_DETAILS, StateUnavailable, status_for
from federation.keys import NodeKey
from federation.ledger import Ledger
from federation.privacy import PrivacyPolicy
from federation.service import FederationService
from federation.wire import (
    FINGERPRINT_SEEN,
    GET_NODE_INFO,
    SIMHASH_NEAR,
    SMTP_TARGET_SEEN,
    FingerprintQuestion,
    NodeInfoQuestion,
    Question,
    SimhashQuestion,
    SmtpQuestion,
    decode_answer,
)
from tests.federation_helpers import T0, Node, Signed, make_node, signed_request

SERVICE = pb.DESCRIPTOR.services_by_name["Federation"]
CALLER = NodeKey.generate()
STRANGER = NodeKey.generate()
SMTP = SmtpQuestion("corp1.com")
Code = grpc.StatusCode


class SyncServicer:
    """The production handler path for grpcio-testing's synchronous server."""

    def __init__(self, service: FederationService) -> None:
        self._service = service
        for name in SERVICE.methods_by_name:
            setattr(self, name, self._bind(f"/{SERVICE.full_name}/{name}"))

    def _bind(self, method: str) -> Callable[[bytes, Any], bytes]:
        def call(request: bytes, context: Any) -> bytes:
            try:
                reply = asyncio.run(self._service.handle(method, request,
                                                         context.invocation_metadata()))
            except Exception as exc:
                code, details = status_for(exc)
                context.abort(code, details)
            context.set_trailing_metadata(((ANSWER_METADATA, reply.envelope),))
            return reply.body
        return call


def invoke(node: Node, method: str, body: bytes,
           metadata: Sequence[tuple[str, Any]]) -> tuple[Any, Any, Code, str]:
    server = grpc_testing.server_from_dictionary({SERVICE: SyncServicer(node.service)},
                                                 grpc_testing.strict_real_time())
    rpc = server.invoke_unary_unary(SERVICE.methods_by_name[method.rsplit("/", 1)[1]],
                                    metadata, body, None)
    response, trailing, code, details = rpc.termination()
    return response, trailing, code, details


def send(node: Node, signed: Signed, **changes: Any) -> tuple[Any, Any, Code, str]:
    method = changes.pop("method", signed.method)
    body = changes.pop("body", signed.body)
    metadata = changes.pop("metadata", signed.metadata)
    assert not changes
    return invoke(node, method, body, metadata)


@pytest.fixture
def node() -> Node:
    return make_node([CALLER])


@pytest.mark.parametrize("question", [
    NodeInfoQuestion(), SMTP, FingerprintQuestion("ja3", "e7d705a3286e19ea42f587b344ee6865"),
    SimhashQuestion("keystroke", 0x9F3C2A1B0E4D5C6F, 3),
], ids=["info", "smtp", "fingerprint", "simhash"])
def test_signed_question_from_a_trusted_key_gets_a_signed_answer(node: Node,
                                                                 question: Question) -> None:
    request = signed_request(CALLER, question)
    response, trailing, code, _ = send(node, request)
    assert code is Code.OK
    (answer_envelope,) = [v for k, v in trailing if k == ANSWER_METADATA]
    verify_answer(decode_envelope(answer_envelope), node.key.public, request.method,
                  request.digest, response)
    version, _ = decode_answer(request.method, response)
    assert version == 1


def test_answers_are_coarsened_and_carry_schema_version(node: Node) -> None:
    response, _, code, _ = send(node, signed_request(CALLER, SMTP))
    answer = pb.SmtpTargetSeenResponse.FromString(response)
    assert code is Code.OK and answer.schema_version == 1 and answer.seen and answer.count == 7
    assert answer.first_seen_s % 86400 == 0 and answer.last_seen_s == T0 - T0 % 86400


def test_unsigned_request_is_unauthenticated(node: Node) -> None:
    _, _, code, details = send(node, signed_request(CALLER, SMTP), metadata=())
    assert code is Code.UNAUTHENTICATED and "signed" in details


@pytest.mark.parametrize("value", [b"\x00garbage", b"", "text-not-binary"])
def test_garbled_envelope_is_unauthenticated(node: Node, value: Any) -> None:
    key = REQUEST_METADATA if isinstance(value, bytes) else "decnet-envelope-bin"
    _, _, code, _ = send(node, signed_request(CALLER, SMTP), metadata=((key, value),))
    assert code is Code.UNAUTHENTICATED


def test_tampered_request_body_is_unauthenticated(node: Node) -> None:
    request = signed_request(CALLER, SMTP)
    tampered = request.body.replace(b"corp1", b"corp2")
    _, _, code, details = send(node, request, body=tampered)
    assert code is Code.UNAUTHENTICATED and "signature" in details


def test_signature_moved_to_another_method_is_unauthenticated(node: Node) -> None:
    request = signed_request(CALLER, SMTP)
    _, _, code, _ = send(node, request, method=FINGERPRINT_SEEN)
    assert code is Code.UNAUTHENTICATED
    moved = signed_request(CALLER, SMTP, method=FINGERPRINT_SEEN)  # envelope says Fingerprint
    _, _, code, _ = send(node, moved, method=SMTP_TARGET_SEEN,
                         metadata=moved.metadata)
    assert code is Code.UNAUTHENTICATED


def test_unknown_key_is_permission_denied(node: Node) -> None:
    _, _, code, details = send(node, signed_request(STRANGER, SMTP))
    assert code is Code.PERMISSION_DENIED and STRANGER.key_id in details


@pytest.mark.parametrize(("offset_s", "reason"), [(-121, "stale"), (121, "future")])
def test_timestamp_outside_the_clock_window_is_unauthenticated_with_reason(
        node: Node, offset_s: float, reason: str) -> None:
    _, _, code, details = send(node, signed_request(CALLER, SMTP, now_s=T0 + offset_s))
    assert code is Code.UNAUTHENTICATED and reason in details


def test_replayed_envelope_inside_window_is_unauthenticated(node: Node) -> None:
    request = signed_request(CALLER, SMTP)
    assert send(node, request)[2] is Code.OK
    node.clock.now += 60
    _, _, code, details = send(node, request)
    assert code is Code.UNAUTHENTICATED and "replay" in details
    node.clock.now += 61  # the same request past the window: refused as stale instead
    _, _, code, details = send(node, request)
    assert code is Code.UNAUTHENTICATED and "stale" in details


def test_forged_requests_do_not_burn_a_peers_nonce(node: Node) -> None:
    request = signed_request(CALLER, SMTP)
    forged = Envelope(request.envelope.key_id, request.method, 1,
                      request.envelope.timestamp_ms, request.envelope.nonce, b"\x00" * 64)
    assert send(node, request, metadata=((REQUEST_METADATA, encode_envelope(forged)),))[2] \
        is Code.UNAUTHENTICATED
    assert send(node, request)[2] is Code.OK


@pytest.mark.parametrize("version", [0, 2, 99])
def test_unsupported_schema_version_is_failed_precondition_naming_the_range(
        node: Node, version: int) -> None:
    _, _, code, details = send(node, signed_request(CALLER, SMTP, schema_version=version))
    assert code is Code.FAILED_PRECONDITION and "serves 1..1" in details


def test_body_and_envelope_schema_versions_must_agree(node: Node) -> None:
    _, _, code, _ = send(node, signed_request(CALLER, SMTP, body_version=2))
    assert code is Code.INVALID_ARGUMENT


def test_oversized_request_is_resource_exhausted() -> None:
    node = make_node([CALLER], limits=ServerLimits(max_request_bytes=64))
    _, _, code, details = send(node, signed_request(CALLER, SmtpQuestion("a" * 60 + ".com")))
    assert code is Code.RESOURCE_EXHAUSTED and "exceeds" in details


def test_rate_budget_exhaustion_is_resource_exhausted_and_refills() -> None:
    node = make_node([CALLER], policy=PrivacyPolicy(rate_per_s=1, burst=2))
    for _ in range(2):
        assert send(node, signed_request(CALLER, SMTP))[2] is Code.OK
    _, _, code, details = send(node, signed_request(CALLER, SMTP))
    assert code is Code.RESOURCE_EXHAUSTED and "rate" in details
    node.clock.now += 1
    assert send(node, signed_request(CALLER, SMTP, now_s=node.clock.now))[2] is Code.OK


def test_daily_distinct_question_budget_is_resource_exhausted() -> None:
    node = make_node([CALLER], policy=PrivacyPolicy(daily_distinct_questions=2, burst=100))
    for domain in ("a.com", "b.com", "A.COM"):
        assert send(node, signed_request(CALLER, SmtpQuestion(domain)))[2] is Code.OK
    _, _, code, details = send(node, signed_request(CALLER, SmtpQuestion("c.com")))
    assert code is Code.RESOURCE_EXHAUSTED and "daily" in details


@pytest.mark.parametrize("method", [SMTP_TARGET_SEEN, FINGERPRINT_SEEN, SIMHASH_NEAR,
                                    GET_NODE_INFO])
def test_signed_garbage_bytes_are_invalid_argument(node: Node, method: str) -> None:
    garbage = b"\xff\xfe\xfd\xfc"
    envelope, digest = sign_request(CALLER, method, 1, garbage, now_ms=int(T0 * 1000))
    _, _, code, _ = send(node, Signed(method, garbage, envelope, digest))
    assert code is Code.INVALID_ARGUMENT


def test_unsigned_garbage_bytes_are_unauthenticated(node: Node) -> None:
    _, _, code, _ = invoke(node, SMTP_TARGET_SEEN, b"\xff\xfe", ())
    assert code is Code.UNAUTHENTICATED


@pytest.mark.parametrize("question", [
    FingerprintQuestion("bogus", "x"), SimhashQuestion("keystroke", 1, 40),
    SmtpQuestion("x" * 300),
], ids=["unknown-kind", "too-wide", "too-long"])
def test_malformed_questions_are_invalid_argument(question: Question) -> None:
    node = make_node([CALLER], policy=PrivacyPolicy(max_simhash_distance=8,
                                                    rate_per_s=100, burst=100))
    _, _, code, _ = send(node, signed_request(CALLER, question))
    assert code is Code.INVALID_ARGUMENT


class _BrokenLedger(Ledger):
    async def record(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret /var/lib/node.db 192.0.2.1")


def test_unexpected_error_is_internal_without_detail() -> None:
    node = make_node([CALLER], ledger=_BrokenLedger(None))
    _, _, code, details = send(node, signed_request(CALLER, SMTP))
    assert (code, details) == (Code.INTERNAL, INTERNAL_DETAILS)


def test_a_request_that_cannot_be_recorded_durably_is_unavailable_not_answered() -> None:
    class FullDisk(Ledger):
        async def record(self, *args: Any, **kwargs: Any) -> None:
            raise StateUnavailable("cannot record this request durably; retry later")

    node = make_node([CALLER], ledger=FullDisk(None))
    _, _, code, details = send(node, signed_request(CALLER, SMTP))
    assert code is Code.UNAVAILABLE and "durably" in details


@pytest.mark.parametrize(("request_factory", "expected"), [
    # oversized and unsigned: size is checked first
    (lambda: (b"x" * 5000, ()), Code.RESOURCE_EXHAUSTED),
    # unsupported schema from an unknown key: schema before key
    (lambda: _parts(signed_request(STRANGER, SMTP, schema_version=9)),
     Code.FAILED_PRECONDITION),
    # unknown key with a stale timestamp: key before clock
    (lambda: _parts(signed_request(STRANGER, SMTP, now_s=T0 - 999)), Code.PERMISSION_DENIED),
], ids=["size-first", "schema-before-key", "key-before-clock"])
def test_cheap_checks_run_in_order(node: Node, request_factory: Any, expected: Code) -> None:
    body, metadata = request_factory()
    assert invoke(node, SMTP_TARGET_SEEN, body, metadata)[2] is expected


def test_rate_budget_is_checked_before_the_signature() -> None:
    node = make_node([CALLER], policy=PrivacyPolicy(rate_per_s=0.001, burst=1))
    assert send(node, signed_request(CALLER, SMTP))[2] is Code.OK
    request = signed_request(CALLER, SMTP)
    _, _, code, _ = send(node, request, body=request.body + b"tampered")
    assert code is Code.RESOURCE_EXHAUSTED


def _parts(signed: Signed) -> tuple[bytes, Any]:
    return signed.body, signed.metadata


def test_audit_log_records_every_authenticated_request_answered_or_refused(
        tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.log")
    node = make_node([CALLER], audit=audit, policy=PrivacyPolicy(max_simhash_distance=4))
    send(node, signed_request(CALLER, SMTP))
    send(node, signed_request(CALLER, NodeInfoQuestion()))
    send(node, signed_request(CALLER, SimhashQuestion("keystroke", 1, 9)))  # too wide
    send(node, signed_request(STRANGER, SMTP))  # nobody authenticated: not audited
    audit.close()
    lines = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    assert [(e["peer"], e["method"], e["status"]) for e in lines] == [
        ("peer0", SMTP_TARGET_SEEN, "OK"), ("peer0", GET_NODE_INFO, "OK"),
        ("peer0", SIMHASH_NEAR, "INVALID_ARGUMENT")]
    assert lines[0]["question"]["domain"] == "corp1.com" and lines[0]["answer"]["seen"]
    assert "max_distance" in lines[2]["reason"] and "answer" not in lines[2]


def test_malformed_questions_are_refused_without_charging_the_daily_budget() -> None:
    node = make_node([CALLER], policy=PrivacyPolicy(daily_distinct_questions=1, burst=100))
    for i in range(5):
        question = FingerprintQuestion("ja3", f"not-a-ja3-{i}")
        assert send(node, signed_request(CALLER, question))[2] is Code.INVALID_ARGUMENT
    assert send(node, signed_request(CALLER, SMTP))[2] is Code.OK


def test_a_question_whose_answer_was_never_sent_does_not_spend_the_daily_budget() -> None:
    class FullOnce(Ledger):
        failures = 1

        async def record(self, *args: Any, **kwargs: Any) -> None:
            if self.failures:
                self.failures -= 1
                raise StateUnavailable("cannot record this request durably; retry later")
            await super().record(*args, **kwargs)

    node = make_node([CALLER], ledger=FullOnce(None),
                     policy=PrivacyPolicy(daily_distinct_questions=1, burst=100))
    assert send(node, signed_request(CALLER, SMTP))[2] is Code.UNAVAILABLE
    assert send(node, signed_request(CALLER, SMTP))[2] is Code.OK  # the retry is answered
    assert send(node, signed_request(CALLER, SmtpQuestion("b.com")))[2] \
        is Code.RESOURCE_EXHAUSTED
