"""Hostile clients and hostile peers against real servers on loopback, over mutual TLS.

Each attack gets its status, and the server keeps answering an honest peer
right after it. Time is the servers' injected clock: no test waits on a
wall-clock window. (tests/integration/test_federation_attacks.py holds the
attacks of the hardening review, each with an honest peer asking throughout.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest

from federation.audit import AuditLog
from federation.client import BAD_ANSWER, OK, TIMEOUT, UNREACHABLE, FederationClient
from federation.config import ServerLimits
from federation.envelope import (
    ANSWER_METADATA,
    REQUEST_METADATA,
    encode_envelope,
    sign_answer,
    sign_request,
)
from federation.keys import NodeKey
from federation.ledger import Ledger
from federation.privacy import PrivacyPolicy
from federation.service import FederationService
from federation.trust import TrustStore
from federation.wire import METHODS, SERVICE, SMTP_TARGET_SEEN, SeenAnswer, SmtpQuestion
from tests.federation_helpers import T0, FakeQuery, signed_request
from tests.integration.federation_nodes import RunningNode, running_node

Code = grpc.StatusCode
SMTP = SmtpQuestion("corp1.com")


@dataclass
class Target:
    node: RunningNode
    honest: NodeKey
    channels: dict[str, grpc.aio.Channel] = field(default_factory=dict)

    def channel(self, key: NodeKey) -> grpc.aio.Channel:
        """A channel presenting ``key``'s certificate (trusted or not)."""
        if key.key_id not in self.channels:
            self.channels[key.key_id] = self.node.channel(key)
        return self.channels[key.key_id]

    async def call(self, method: str, body: bytes,
                   metadata: tuple[tuple[str, Any], ...] = (),
                   via: NodeKey | None = None) -> Code:
        multicallable: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = \
            self.channel(via or self.honest).unary_unary(method)
        try:
            await multicallable(body, metadata=metadata, timeout=10)
        except grpc.aio.AioRpcError as exc:
            self.last_details = exc.details() or ""
            return exc.code()
        self.last_details = ""
        return Code.OK

    async def send(self, key: NodeKey, **kwargs: Any) -> Code:
        """A request signed by ``key``, sent over the honest peer's connection by default."""
        via = kwargs.pop("via", None)
        request = signed_request(key, kwargs.pop("question", SMTP),
                                 now_s=kwargs.pop("now_s", self.node.clock.now), **kwargs)
        return await self.call(request.method, request.body, request.metadata, via=via)

    async def honest_call_succeeds(self) -> bool:
        return await self.send(self.honest) is Code.OK


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    honest = NodeKey.generate()
    policy = PrivacyPolicy(rate_per_s=1000, burst=1000, daily_distinct_questions=1000)
    async with running_node("alpha", FakeQuery(), policy=policy) as node:
        node.trust_key("honest", honest)
        target = Target(node, honest)
        try:
            yield target
        finally:
            for channel in target.channels.values():
                await channel.close()


async def test_unsigned_request_is_unauthenticated(target: Target) -> None:
    request = signed_request(target.honest, SMTP)
    assert await target.call(request.method, request.body) is Code.UNAUTHENTICATED
    assert await target.honest_call_succeeds()


async def test_unknown_key_is_permission_denied(target: Target) -> None:
    assert await target.send(NodeKey.generate()) is Code.PERMISSION_DENIED
    assert await target.honest_call_succeeds()


async def test_envelope_under_another_trusted_key_than_the_tls_peer_is_permission_denied(
        target: Target) -> None:
    other = NodeKey.generate()
    target.node.trust_key("other", other)
    assert await target.send(other) is Code.PERMISSION_DENIED  # over the honest connection
    assert "TLS" in target.last_details
    assert await target.send(other, via=other) is Code.OK
    assert await target.honest_call_succeeds()


async def test_tampered_request_is_unauthenticated(target: Target) -> None:
    request = signed_request(target.honest, SMTP)
    tampered = request.body[:-1] + bytes([request.body[-1] ^ 1])
    assert await target.call(request.method, tampered, request.metadata) is Code.UNAUTHENTICATED
    assert await target.honest_call_succeeds()


async def test_replayed_request_is_unauthenticated(target: Target) -> None:
    request = signed_request(target.honest, SMTP, now_s=target.node.clock.now)
    assert await target.call(request.method, request.body, request.metadata) is Code.OK
    target.node.clock.now += 30
    assert await target.call(request.method, request.body, request.metadata) \
        is Code.UNAUTHENTICATED
    assert "replay" in target.last_details
    assert await target.honest_call_succeeds()


@pytest.mark.parametrize(("skew_s", "reason"), [(-600, "stale"), (600, "future")])
async def test_stale_and_future_timestamps_are_unauthenticated(target: Target, skew_s: float,
                                                               reason: str) -> None:
    assert await target.send(target.honest, now_s=target.node.clock.now + skew_s) \
        is Code.UNAUTHENTICATED
    assert reason in target.last_details
    assert await target.honest_call_succeeds()


@pytest.mark.parametrize("method", [m for m in METHODS if m != SMTP_TARGET_SEEN])
async def test_signature_moved_to_another_method_is_unauthenticated(target: Target,
                                                                    method: str) -> None:
    request = signed_request(target.honest, SMTP, now_s=target.node.clock.now)
    assert await target.call(method, request.body, request.metadata) is Code.UNAUTHENTICATED
    assert await target.honest_call_succeeds()


async def test_oversized_message_is_resource_exhausted(target: Target) -> None:
    body = b"\x12" + b"\xff\x3f" + b"a" * 9000
    envelope, _ = sign_request(target.honest, SMTP_TARGET_SEEN, 1, body,
                               now_ms=int(target.node.clock.now * 1000))
    code = await target.call(SMTP_TARGET_SEEN, body,
                             ((REQUEST_METADATA, encode_envelope(envelope)),))
    assert code is Code.RESOURCE_EXHAUSTED
    assert await target.honest_call_succeeds()


async def test_oversized_metadata_is_refused(target: Target) -> None:
    request = signed_request(target.honest, SMTP, now_s=target.node.clock.now)
    code = await target.call(request.method, request.body,
                             (*request.metadata, ("padding-bin", b"x" * 20000)))
    assert code is Code.RESOURCE_EXHAUSTED
    assert await target.honest_call_succeeds()


@pytest.mark.parametrize("garbage", [b"\xff" * 40, b"\x00\x01\x02", bytes(range(256))])
async def test_garbage_bytes_are_refused(target: Target, garbage: bytes) -> None:
    assert await target.call(SMTP_TARGET_SEEN, garbage) is Code.UNAUTHENTICATED
    assert await target.call(SMTP_TARGET_SEEN, garbage,
                             ((REQUEST_METADATA, garbage),)) is Code.UNAUTHENTICATED
    envelope, _ = sign_request(target.honest, SMTP_TARGET_SEEN, 1, garbage,
                               now_ms=int(target.node.clock.now * 1000))
    assert await target.call(SMTP_TARGET_SEEN, garbage,
                             ((REQUEST_METADATA, encode_envelope(envelope)),)) \
        is Code.INVALID_ARGUMENT
    assert await target.honest_call_succeeds()


async def test_unknown_method_is_unimplemented(target: Target) -> None:
    assert await target.call(f"/{SERVICE}/DumpObservations", b"") is Code.UNIMPLEMENTED
    assert await target.honest_call_succeeds()


@pytest.mark.parametrize("version", [0, 2])
async def test_unsupported_schema_version_is_failed_precondition(target: Target,
                                                                 version: int) -> None:
    assert await target.send(target.honest, schema_version=version) is Code.FAILED_PRECONDITION
    assert "1..1" in target.last_details
    assert await target.honest_call_succeeds()


async def test_budget_exhaustion_is_per_peer() -> None:
    greedy, honest = NodeKey.generate(), NodeKey.generate()
    async with running_node("alpha", FakeQuery(),
                            policy=PrivacyPolicy(rate_per_s=0.01, burst=3)) as node:
        node.trust_key("greedy", greedy)
        node.trust_key("honest", honest)
        target = Target(node, honest)
        codes = [await target.send(greedy, question=SmtpQuestion(f"d{i}.com"), via=greedy)
                 for i in range(5)]
        assert codes == [Code.OK] * 3 + [Code.RESOURCE_EXHAUSTED] * 2
        assert await target.honest_call_succeeds()
        node.clock.now += 100  # one token back for the greedy peer
        assert await target.send(greedy, via=greedy) is Code.OK
        for channel in target.channels.values():
            await channel.close()


# --- hostile peers: the client reports them in their rows, the others still answer ---

Behaviour = Callable[[FederationService, str, bytes, Any], Awaitable[tuple[bytes, Any]]]


async def _honest(service: FederationService, method: str, request: bytes,
                  metadata: Any) -> tuple[bytes, Any]:
    reply = await service.handle(method, request, metadata)
    return reply.body, ((ANSWER_METADATA, reply.envelope),)


async def _tampered(service: FederationService, method: str, request: bytes,
                    metadata: Any) -> tuple[bytes, Any]:
    body, trailing = await _honest(service, method, request, metadata)
    return body[:-1] + bytes([body[-1] ^ 1]), trailing


async def _unsigned(service: FederationService, method: str, request: bytes,
                    metadata: Any) -> tuple[bytes, Any]:
    body, _ = await _honest(service, method, request, metadata)
    return body, ()


_IMPOSTOR = NodeKey.generate()


async def _other_key(service: FederationService, method: str, request: bytes,
                     metadata: Any) -> tuple[bytes, Any]:
    body, _ = await _honest(service, method, request, metadata)
    envelope = sign_answer(_IMPOSTOR, method, 1, b"\x00" * 32, body, now_ms=int(T0 * 1000))
    return body, ((ANSWER_METADATA, encode_envelope(envelope)),)


async def _replayed_answer(service: FederationService, method: str, request: bytes,
                           metadata: Any) -> tuple[bytes, Any]:
    """Answer with a correctly signed answer to a *different* request."""
    global _SAVED
    if _SAVED is None:
        _SAVED = await _honest(service, method, request, metadata)
    return _SAVED


_SAVED: tuple[bytes, Any] | None = None


async def _stall(service: FederationService, method: str, request: bytes,
                 metadata: Any) -> tuple[bytes, Any]:
    await asyncio.Event().wait()  # never answers; the client's deadline ends the call
    raise AssertionError("unreachable")


def _hostile_server(service: FederationService, behaviour: Behaviour) -> grpc.aio.Server:
    def handler(method: str) -> Any:
        async def call(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
            body, trailing = await behaviour(service, method, request,
                                             context.invocation_metadata() or ())
            context.set_trailing_metadata(trailing)
            return body
        return grpc.unary_unary_rpc_method_handler(call)

    server = grpc.aio.server()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        SERVICE, {m.rsplit("/", 1)[1]: handler(m) for m in METHODS}),))
    return server


@pytest.mark.parametrize(("behaviour", "status"), [
    (_tampered, BAD_ANSWER), (_unsigned, BAD_ANSWER), (_other_key, BAD_ANSWER),
    (_replayed_answer, BAD_ANSWER), (_stall, TIMEOUT),
], ids=["tampered-answer", "unsigned-answer", "answer-by-other-key", "answer-to-other-request",
        "stalls-past-deadline"])
async def test_misbehaving_peer_is_reported_in_its_row_and_others_still_answer(
        behaviour: Behaviour, status: str) -> None:
    global _SAVED
    _SAVED = None
    asker = NodeKey.generate()
    async with running_node("good", FakeQuery(), plaintext=True) as good:
        good.trust_key("asker", asker)
        bad_key = NodeKey.generate()
        bad_trust = TrustStore()
        bad_trust.add("asker", "127.0.0.1:1", asker.public.text)
        bad_service = FederationService(
            key=bad_key, name="bad", trust=bad_trust, query=FakeQuery(),
            limits=ServerLimits(), policy=PrivacyPolicy.local(),
            audit=AuditLog(None), ledger=Ledger(None),
            clock=good.clock)
        bad_server = _hostile_server(bad_service, behaviour)
        port = bad_server.add_insecure_port("127.0.0.1:0")
        await bad_server.start()
        try:
            trust = TrustStore()
            trust.add("bad", f"127.0.0.1:{port}", bad_key.public.text)
            trust.add("down", "127.0.0.1:9", NodeKey.generate().public.text)
            trust.add("good", good.address, good.key.public.text)
            async with FederationClient(asker, plaintext=True, deadline_s=1.0,
                                        clock=good.clock) as client:
                if behaviour is _replayed_answer:  # prime the saved answer
                    await client.ask(trust.by_name("bad"), SMTP)  # type: ignore[arg-type]
                rows = {row.peer: row for row in await client.ask_all(trust, SMTP)}
        finally:
            await bad_server.stop(None)
    assert rows["bad"].status == status and rows["bad"].answer is None
    assert rows["down"].status in (UNREACHABLE, TIMEOUT)
    assert rows["good"].status == OK and isinstance(rows["good"].answer, SeenAnswer)


@pytest.mark.parametrize("garbage", [b"\x00" * 64, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                                     b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\xff" * 200])
async def test_garbage_on_the_socket_does_not_disturb_the_server(target: Target,
                                                                 garbage: bytes) -> None:
    host, port = target.node.address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(garbage)
    await writer.drain()
    await reader.read(4096)  # the server answers with an error frame or closes
    writer.close()
    await writer.wait_closed()
    assert await target.honest_call_succeeds()
