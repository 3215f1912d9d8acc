"""The codec between protobuf bytes and the federation's questions and answers.

Nothing here signs or checks budgets; it only turns a method name and bytes
into a typed question (refusing malformed ones with `InvalidQuestion`) and a
typed answer back into bytes. Serialization is deterministic so the bytes a
signature covers are reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError, Message

from federation._proto.decnet.federation.v1 import federation_pb2 as pb
from federation.errors import InvalidQuestion
from federation.privacy import SharedSeen
from node.query import NearAggregate

SERVICE = "decnet.federation.v1.Federation"
GET_NODE_INFO = f"/{SERVICE}/GetNodeInfo"
SMTP_TARGET_SEEN = f"/{SERVICE}/SmtpTargetSeen"
FINGERPRINT_SEEN = f"/{SERVICE}/FingerprintSeen"
SIMHASH_NEAR = f"/{SERVICE}/SimhashNear"
METHODS = (GET_NODE_INFO, SMTP_TARGET_SEEN, FINGERPRINT_SEEN, SIMHASH_NEAR)

_MAX_DOMAIN = 253
_MAX_KIND = 32
_MAX_VALUE = 512


@dataclass(frozen=True, slots=True)
class NodeInfoQuestion:
    """Who are you, and which schema versions do you serve?"""


@dataclass(frozen=True, slots=True)
class SmtpQuestion:
    domain: str


@dataclass(frozen=True, slots=True)
class FingerprintQuestion:
    kind: str
    value: str


@dataclass(frozen=True, slots=True)
class SimhashQuestion:
    kind: str
    simhash: int
    max_distance: int


Question = NodeInfoQuestion | SmtpQuestion | FingerprintQuestion | SimhashQuestion


@dataclass(frozen=True, slots=True)
class NodeInfo:
    name: str
    key_id: str
    min_schema_version: int
    max_schema_version: int


@dataclass(frozen=True, slots=True)
class SeenAnswer:
    """A shared seen-aggregate plus the coarsening unit the answering node used."""

    seen: SharedSeen
    time_granularity_s: int


Answer = NodeInfo | SeenAnswer | NearAggregate


def method_of(question: Question) -> str:
    if isinstance(question, NodeInfoQuestion):
        return GET_NODE_INFO
    if isinstance(question, SmtpQuestion):
        return SMTP_TARGET_SEEN
    if isinstance(question, FingerprintQuestion):
        return FINGERPRINT_SEEN
    return SIMHASH_NEAR


def _serialize(message: Message) -> bytes:
    return message.SerializeToString(deterministic=True)


def encode_question(question: Question, schema_version: int) -> bytes:
    """The request bytes of ``question`` (the method is `method_of`)."""
    if isinstance(question, NodeInfoQuestion):
        return _serialize(pb.GetNodeInfoRequest(schema_version=schema_version))
    if isinstance(question, SmtpQuestion):
        return _serialize(pb.SmtpTargetSeenRequest(schema_version=schema_version,
                                                   domain=question.domain))
    if isinstance(question, FingerprintQuestion):
        return _serialize(pb.FingerprintSeenRequest(schema_version=schema_version,
                                                    kind=question.kind, value=question.value))
    return _serialize(pb.SimhashNearRequest(schema_version=schema_version, kind=question.kind,
                                            simhash=question.simhash,
                                            max_distance=question.max_distance))


_REQUESTS: dict[str, type[Message]] = {
    GET_NODE_INFO: pb.GetNodeInfoRequest,
    SMTP_TARGET_SEEN: pb.SmtpTargetSeenRequest,
    FINGERPRINT_SEEN: pb.FingerprintSeenRequest,
    SIMHASH_NEAR: pb.SimhashNearRequest,
}


def decode_question(method: str, body: bytes) -> tuple[int, Question]:
    """``(schema_version, question)`` of a request body; malformed → `InvalidQuestion`."""
    message_type = _REQUESTS.get(method)
    if message_type is None:
        raise InvalidQuestion(f"unknown method {method[:80]!r}")
    message = message_type()
    try:
        message.ParseFromString(body)
    except DecodeError:
        raise InvalidQuestion("request is not decodable") from None
    if isinstance(message, pb.GetNodeInfoRequest):
        return message.schema_version, NodeInfoQuestion()
    if isinstance(message, pb.SmtpTargetSeenRequest):
        if not 0 < len(message.domain) <= _MAX_DOMAIN:
            raise InvalidQuestion(f"domain must be 1..{_MAX_DOMAIN} characters")
        return message.schema_version, SmtpQuestion(message.domain)
    if isinstance(message, pb.FingerprintSeenRequest):
        if not 0 < len(message.kind) <= _MAX_KIND or not 0 < len(message.value) <= _MAX_VALUE:
            raise InvalidQuestion("fingerprint kind or value empty or too long")
        return message.schema_version, FingerprintQuestion(message.kind, message.value)
    assert isinstance(message, pb.SimhashNearRequest)
    if not 0 < len(message.kind) <= _MAX_KIND:
        raise InvalidQuestion("SimHash kind empty or too long")
    return message.schema_version, SimhashQuestion(message.kind, message.simhash,
                                                   message.max_distance)


def question_json(question: Question) -> dict[str, object]:
    """The question as JSON (audit log, CLI output)."""
    if isinstance(question, NodeInfoQuestion):
        return {"kind": "node_info"}
    if isinstance(question, SmtpQuestion):
        return {"kind": "smtp", "domain": question.domain}
    if isinstance(question, FingerprintQuestion):
        return {"kind": "fingerprint", "fingerprint": question.kind, "value": question.value}
    return {"kind": "simhash", "simhash_kind": question.kind,
            "simhash": f"{question.simhash:016x}", "within": question.max_distance}


def encode_answer(answer: Answer, schema_version: int, method: str) -> bytes:
    """The response bytes of ``answer`` to a ``method`` call."""
    if isinstance(answer, NodeInfo):
        return _serialize(pb.NodeInfo(
            schema_version=schema_version, name=answer.name, key_id=answer.key_id,
            min_schema_version=answer.min_schema_version,
            max_schema_version=answer.max_schema_version))
    if isinstance(answer, SeenAnswer):
        seen = answer.seen
        if method == FINGERPRINT_SEEN:
            return _serialize(pb.FingerprintSeenResponse(
                schema_version=schema_version, seen=seen.seen, count=seen.count,
                first_seen_s=seen.first_seen_s, last_seen_s=seen.last_seen_s,
                time_granularity_s=answer.time_granularity_s,
                distinct_attackers=seen.distinct_attackers))
        return _serialize(pb.SmtpTargetSeenResponse(
            schema_version=schema_version, seen=seen.seen, count=seen.count,
            first_seen_s=seen.first_seen_s, last_seen_s=seen.last_seen_s,
            time_granularity_s=answer.time_granularity_s))
    return _serialize(pb.SimhashNearResponse(
        schema_version=schema_version, match=answer.match, min_distance=answer.min_distance,
        count_within=answer.count_within))


_RESPONSES: dict[str, type[Message]] = {
    GET_NODE_INFO: pb.NodeInfo,
    SMTP_TARGET_SEEN: pb.SmtpTargetSeenResponse,
    FINGERPRINT_SEEN: pb.FingerprintSeenResponse,
    SIMHASH_NEAR: pb.SimhashNearResponse,
}


def decode_answer(method: str, body: bytes) -> tuple[int, Answer]:
    """``(schema_version, answer)`` of a response body; raises ``DecodeError`` if garbled."""
    message = _RESPONSES[method]()
    message.ParseFromString(body)
    if isinstance(message, pb.NodeInfo):
        return message.schema_version, NodeInfo(message.name, message.key_id,
                                                message.min_schema_version,
                                                message.max_schema_version)
    if isinstance(message, pb.SimhashNearResponse):
        return message.schema_version, NearAggregate(
            message.match,
            message.min_distance if message.HasField("min_distance") else None,
            message.count_within)
    assert isinstance(message, pb.SmtpTargetSeenResponse | pb.FingerprintSeenResponse)
    distinct = message.distinct_attackers if isinstance(message, pb.FingerprintSeenResponse) \
        else 0
    return message.schema_version, SeenAnswer(SharedSeen(
        message.seen, message.count, distinct,
        message.first_seen_s if message.HasField("first_seen_s") else None,
        message.last_seen_s if message.HasField("last_seen_s") else None,
    ), message.time_granularity_s)
