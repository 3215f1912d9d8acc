"""The codec between protobuf bytes and the federation's questions and answers.

Nothing here signs or checks budgets; it only turns a method name and bytes
into a typed question (refusing malformed ones with `InvalidQuestion`) and a
typed answer back into bytes. Serialization is deterministic so the bytes a
signature covers are reproducible. One `Codec` entry per method (`CODECS`);
what the answering side does with each is `federation.methods`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

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
GOSSIP = f"/{SERVICE}/Gossip"
PING = f"/{SERVICE}/Ping"
BLIND_EVALUATE = f"/{SERVICE}/BlindEvaluate"
BLIND_TABLE = f"/{SERVICE}/BlindTable"
METHODS = (GET_NODE_INFO, SMTP_TARGET_SEEN, FINGERPRINT_SEEN, SIMHASH_NEAR, GOSSIP, PING,
           BLIND_EVALUATE, BLIND_TABLE)
#: Rumours one ping may carry.
MAX_MEMBER_UPDATES = 64
#: Bounds of one gossip message, checked before anything is merged.
MAX_DIGEST_ENTRIES = 10_000
MAX_DELTAS = 10_000
MAX_KEY_ID = 64

#: Blinded elements one request may carry on the wire (a node's policy may say fewer).
MAX_BLIND_BATCH = 1024
_ELEMENT_BYTES = 32
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


@dataclass(frozen=True, slots=True)
class GossipExchange:
    """One gossip call: the asker's digest chunk and pushed deltas (checked for bounds only;
    every record is checked by `federation.gossip.record` when merged)."""

    request: pb.GossipRequest


@dataclass(frozen=True, slots=True)
class PingQuestion:
    """A SWIM ping (no target) or ping-req (probe ``target`` for me), with rumours."""

    request: pb.PingRequest


@dataclass(frozen=True, slots=True)
class BlindEvaluateQuestion:
    """Evaluate ``epoch``'s OPRF key on these blinded elements (one per question)."""

    epoch: int
    blinded: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class BlindTableQuestion:
    """Records of ``epoch``'s blind table from ``offset``; ``have_version`` held already."""

    epoch: int
    have_version: int = 0
    offset: int = 0


Question = NodeInfoQuestion | SmtpQuestion | FingerprintQuestion | SimhashQuestion \
    | GossipExchange | PingQuestion | BlindEvaluateQuestion | BlindTableQuestion


@dataclass(frozen=True, slots=True)
class NodeInfo:
    name: str
    key_id: str
    min_schema_version: int
    max_schema_version: int
    #: ``(epoch, OPRF public key)`` of the keys it evaluates blind questions with.
    oprf_keys: tuple[tuple[int, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class BlindEvaluation:
    epoch: int
    evaluated: tuple[bytes, ...]
    proof: bytes
    #: The epoch's table version now (0: none built yet).
    table_version: int = 0


@dataclass(frozen=True, slots=True)
class BlindTableChunk:
    """One chunk of a signed blind table (``unchanged``: the asker's version is current)."""

    epoch: int
    oprf_public_key: bytes
    version: int
    records: int
    records_sha256: bytes
    signature: bytes
    unchanged: bool
    offset: int
    chunk: bytes


@dataclass(frozen=True, slots=True)
class SeenAnswer:
    """A shared seen-aggregate plus the coarsening unit the answering node used."""

    seen: SharedSeen
    time_granularity_s: int


@dataclass(frozen=True, slots=True)
class GossipAnswer:
    response: pb.GossipResponse


@dataclass(frozen=True, slots=True)
class PingAnswer:
    response: pb.PingResponse


Answer = NodeInfo | SeenAnswer | NearAggregate | GossipAnswer | PingAnswer | BlindEvaluation \
    | BlindTableChunk


@dataclass(frozen=True, slots=True)
class Codec:
    """How one method's question and answer travel as protobuf messages."""

    method: str
    question: type[Any]
    request: type[Message]
    response: type[Message]
    to_request: Callable[[Any, int], Message]
    #: Message → question; refuses a malformed one with `InvalidQuestion`.
    from_request: Callable[[Any], Any]
    to_response: Callable[[Any, int], Message]
    from_response: Callable[[Any], Any]
    #: The question as JSON (audit log, CLI output).
    question_json: Callable[[Any], dict[str, object]]


def _info_from(_: pb.GetNodeInfoRequest) -> NodeInfoQuestion:
    return NodeInfoQuestion()


def _smtp_from(message: pb.SmtpTargetSeenRequest) -> SmtpQuestion:
    if not 0 < len(message.domain) <= _MAX_DOMAIN:
        raise InvalidQuestion(f"domain must be 1..{_MAX_DOMAIN} characters")
    return SmtpQuestion(message.domain)


def _fingerprint_from(message: pb.FingerprintSeenRequest) -> FingerprintQuestion:
    if not 0 < len(message.kind) <= _MAX_KIND or not 0 < len(message.value) <= _MAX_VALUE:
        raise InvalidQuestion("fingerprint kind or value empty or too long")
    return FingerprintQuestion(message.kind, message.value)


def _simhash_from(message: pb.SimhashNearRequest) -> SimhashQuestion:
    if not 0 < len(message.kind) <= _MAX_KIND:
        raise InvalidQuestion("SimHash kind empty or too long")
    return SimhashQuestion(message.kind, message.simhash, message.max_distance)


def _gossip_from(message: pb.GossipRequest) -> GossipExchange:
    digest = message.digest
    if len(digest.entries) > MAX_DIGEST_ENTRIES or len(message.deltas) > MAX_DELTAS:
        raise InvalidQuestion("gossip digest or deltas over their bounds")
    names = [digest.first, digest.last, *(e.origin for e in digest.entries),
             *(d.origin for d in message.deltas)]
    if any(len(name) > MAX_KEY_ID for name in names):
        raise InvalidQuestion("gossip origin key id too long")
    return GossipExchange(message)


def _ping_from(message: pb.PingRequest) -> PingQuestion:
    if len(message.updates) > MAX_MEMBER_UPDATES:
        raise InvalidQuestion(f"more than {MAX_MEMBER_UPDATES} membership updates")
    names = [message.target, *(u.peer for u in message.updates),
             *(u.accuser for u in message.updates)]
    if any(len(name) > MAX_KEY_ID for name in names):
        raise InvalidQuestion("membership key id too long")
    return PingQuestion(message)


def _blind_evaluate_from(message: pb.BlindEvaluateRequest) -> BlindEvaluateQuestion:
    if not 0 < len(message.blinded_elements) <= MAX_BLIND_BATCH:
        raise InvalidQuestion(f"1..{MAX_BLIND_BATCH} blinded elements per request")
    if any(len(element) != _ELEMENT_BYTES for element in message.blinded_elements):
        raise InvalidQuestion(f"a blinded element is {_ELEMENT_BYTES} bytes")
    return BlindEvaluateQuestion(message.epoch, tuple(message.blinded_elements))


def _node_info_to(answer: NodeInfo, version: int) -> pb.NodeInfo:
    return pb.NodeInfo(schema_version=version, name=answer.name, key_id=answer.key_id,
                       min_schema_version=answer.min_schema_version,
                       max_schema_version=answer.max_schema_version,
                       oprf_keys=[pb.OprfKey(epoch=e, public_key=k) for e, k in answer.oprf_keys])


def _node_info_from(message: pb.NodeInfo) -> NodeInfo:
    return NodeInfo(message.name, message.key_id, message.min_schema_version,
                    message.max_schema_version,
                    tuple((key.epoch, key.public_key) for key in message.oprf_keys[:4]))


def _table_chunk_to(answer: BlindTableChunk, version: int) -> pb.BlindTableResponse:
    return pb.BlindTableResponse(
        schema_version=version, epoch=answer.epoch, oprf_public_key=answer.oprf_public_key,
        version=answer.version, records=answer.records, records_sha256=answer.records_sha256,
        signature=answer.signature, unchanged=answer.unchanged, offset=answer.offset,
        chunk=answer.chunk)


def _table_chunk_from(m: pb.BlindTableResponse) -> BlindTableChunk:
    return BlindTableChunk(m.epoch, m.oprf_public_key, m.version, m.records, m.records_sha256,
                           m.signature, m.unchanged, m.offset, m.chunk)


def _gossip_json(exchange: GossipExchange) -> dict[str, object]:
    """Counts only: a digest or a record says nothing an audit log should keep."""
    request = exchange.request
    return {"kind": "gossip", "digest_entries": len(request.digest.entries),
            "deltas": len(request.deltas),
            "records": sum(len(d.records) for d in request.deltas)}


def _optional(message: Message, name: str) -> Any:
    return getattr(message, name) if message.HasField(name) else None


def _seen_from(message: pb.SmtpTargetSeenResponse | pb.FingerprintSeenResponse) -> SeenAnswer:
    distinct = message.distinct_attackers if isinstance(message, pb.FingerprintSeenResponse) \
        else 0
    return SeenAnswer(SharedSeen(message.seen, message.count, distinct,
                                 _optional(message, "first_seen_s"),
                                 _optional(message, "last_seen_s")),
                      message.time_granularity_s)


def _seen_fields(answer: SeenAnswer) -> dict[str, Any]:
    seen = answer.seen
    return {"seen": seen.seen, "count": seen.count, "first_seen_s": seen.first_seen_s,
            "last_seen_s": seen.last_seen_s, "time_granularity_s": answer.time_granularity_s}


CODECS: Mapping[str, Codec] = {codec.method: codec for codec in (
    Codec(GET_NODE_INFO, NodeInfoQuestion, pb.GetNodeInfoRequest, pb.NodeInfo,
          to_request=lambda q, v: pb.GetNodeInfoRequest(schema_version=v),
          from_request=_info_from,
          to_response=_node_info_to,
          from_response=_node_info_from,
          question_json=lambda q: {"kind": "node_info"}),
    Codec(SMTP_TARGET_SEEN, SmtpQuestion, pb.SmtpTargetSeenRequest, pb.SmtpTargetSeenResponse,
          to_request=lambda q, v: pb.SmtpTargetSeenRequest(schema_version=v, domain=q.domain),
          from_request=_smtp_from,
          to_response=lambda a, v: pb.SmtpTargetSeenResponse(schema_version=v,
                                                             **_seen_fields(a)),
          from_response=_seen_from,
          question_json=lambda q: {"kind": "smtp", "domain": q.domain}),
    Codec(FINGERPRINT_SEEN, FingerprintQuestion, pb.FingerprintSeenRequest,
          pb.FingerprintSeenResponse,
          to_request=lambda q, v: pb.FingerprintSeenRequest(schema_version=v, kind=q.kind,
                                                            value=q.value),
          from_request=_fingerprint_from,
          to_response=lambda a, v: pb.FingerprintSeenResponse(
              schema_version=v, distinct_attackers=a.seen.distinct_attackers,
              **_seen_fields(a)),
          from_response=_seen_from,
          question_json=lambda q: {"kind": "fingerprint", "fingerprint": q.kind,
                                   "value": q.value}),
    Codec(SIMHASH_NEAR, SimhashQuestion, pb.SimhashNearRequest, pb.SimhashNearResponse,
          to_request=lambda q, v: pb.SimhashNearRequest(schema_version=v, kind=q.kind,
                                                        simhash=q.simhash,
                                                        max_distance=q.max_distance),
          from_request=_simhash_from,
          to_response=lambda a, v: pb.SimhashNearResponse(
              schema_version=v, match=a.match, min_distance=a.min_distance,
              count_within=a.count_within),
          from_response=lambda m: NearAggregate(m.match, _optional(m, "min_distance"),
                                                m.count_within),
          question_json=lambda q: {"kind": "simhash", "simhash_kind": q.kind,
                                   "simhash": f"{q.simhash:016x}",
                                   "within": q.max_distance}),
    Codec(GOSSIP, GossipExchange, pb.GossipRequest, pb.GossipResponse,
          to_request=lambda q, v: _versioned(q.request, v),
          from_request=_gossip_from,
          to_response=lambda a, v: _versioned(a.response, v),
          from_response=GossipAnswer,
          question_json=_gossip_json),
    Codec(PING, PingQuestion, pb.PingRequest, pb.PingResponse,
          to_request=lambda q, v: _versioned(q.request, v),
          from_request=_ping_from,
          to_response=lambda a, v: _versioned(a.response, v),
          from_response=PingAnswer,
          question_json=lambda q: {"kind": "ping", "ping_req": bool(q.request.target),
                                   "updates": len(q.request.updates)}),
    Codec(BLIND_EVALUATE, BlindEvaluateQuestion, pb.BlindEvaluateRequest,
          pb.BlindEvaluateResponse,
          to_request=lambda q, v: pb.BlindEvaluateRequest(schema_version=v, epoch=q.epoch,
                                                          blinded_elements=q.blinded),
          from_request=_blind_evaluate_from,
          to_response=lambda a, v: pb.BlindEvaluateResponse(
              schema_version=v, epoch=a.epoch, evaluated_elements=a.evaluated, proof=a.proof,
              table_version=a.table_version),
          from_response=lambda m: BlindEvaluation(m.epoch, tuple(m.evaluated_elements),
                                                  m.proof, m.table_version),
          # how many and when: never the elements (they are random, but say nothing)
          question_json=lambda q: {"kind": "blind evaluation", "epoch": q.epoch,
                                   "evaluations": len(q.blinded)}),
    Codec(BLIND_TABLE, BlindTableQuestion, pb.BlindTableRequest, pb.BlindTableResponse,
          to_request=lambda q, v: pb.BlindTableRequest(schema_version=v, epoch=q.epoch,
                                                       have_version=q.have_version,
                                                       offset=q.offset),
          from_request=lambda m: BlindTableQuestion(m.epoch, m.have_version, m.offset),
          to_response=_table_chunk_to,
          from_response=_table_chunk_from,
          question_json=lambda q: {"kind": "blind table", "epoch": q.epoch,
                                   "offset": q.offset}),
)}
_BY_QUESTION: Mapping[type[Any], Codec] = {codec.question: codec for codec in CODECS.values()}


def method_of(question: Question) -> str:
    return _BY_QUESTION[type(question)].method


def _versioned(message: Any, schema_version: int) -> Any:
    message.schema_version = schema_version
    return message


def _serialize(message: Message) -> bytes:
    return message.SerializeToString(deterministic=True)


def encode_question(question: Question, schema_version: int) -> bytes:
    """The request bytes of ``question`` (the method is `method_of`)."""
    return _serialize(_BY_QUESTION[type(question)].to_request(question, schema_version))


def decode_question(method: str, body: bytes) -> tuple[int, Question]:
    """``(schema_version, question)`` of a request body; malformed → `InvalidQuestion`."""
    codec = CODECS.get(method)
    if codec is None:
        raise InvalidQuestion(f"unknown method {method[:80]!r}")
    message = codec.request()
    try:
        message.ParseFromString(body)
    except DecodeError:
        raise InvalidQuestion("request is not decodable") from None
    question: Question = codec.from_request(message)
    return getattr(message, "schema_version"), question  # noqa: B009 - every message has it


def question_json(question: Question) -> dict[str, object]:
    """The question as JSON (audit log, CLI output)."""
    return _BY_QUESTION[type(question)].question_json(question)


def encode_answer(answer: Answer, schema_version: int, method: str) -> bytes:
    """The response bytes of ``answer`` to a ``method`` call."""
    return _serialize(CODECS[method].to_response(answer, schema_version))


def decode_answer(method: str, body: bytes) -> tuple[int, Answer]:
    """``(schema_version, answer)`` of a response body; raises ``DecodeError`` if garbled."""
    message = CODECS[method].response()
    message.ParseFromString(body)
    answer: Answer = CODECS[method].from_response(message)
    return getattr(message, "schema_version"), answer  # noqa: B009 - every message has it
