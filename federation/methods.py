"""The method table: everything the answering side knows about each RPC, in one entry.

An entry names the method, its question type, how a question is checked and
normalised (exactly as the node stores values: the budget key is derived
from that result, so spelling variants of one question cost one slot),
whether it is charged to the daily distinct-question budget, its request
size limit, how it is answered from the snapshot, and what the audit log
keeps of the answer. The wire codec (protobuf messages) is `federation.wire`.
Adding an RPC is one entry here, one message pair there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from federation.blind.table import RECORD_BYTES
from federation.config import MAX_SCHEMA_VERSION, MIN_SCHEMA_VERSION, ServerLimits
from federation.errors import InvalidQuestion, NotServed
from federation.privacy import PrivacyPolicy
from federation.snapshot import AnswerSnapshot
from federation.wire import (
    BLIND_EVALUATE,
    BLIND_TABLE,
    FINGERPRINT_SEEN,
    GET_NODE_INFO,
    GOSSIP,
    PING,
    SIMHASH_NEAR,
    SMTP_TARGET_SEEN,
    Answer,
    BlindEvaluateQuestion,
    BlindEvaluation,
    BlindTableChunk,
    BlindTableQuestion,
    FingerprintQuestion,
    GossipAnswer,
    GossipExchange,
    NodeInfo,
    NodeInfoQuestion,
    PingAnswer,
    PingQuestion,
    Question,
    SeenAnswer,
    SimhashQuestion,
    SmtpQuestion,
)
from node.query import (
    MalformedQuery,
    NearAggregate,
    check_simhash_question,
    fingerprint_question,
    smtp_question,
)

if TYPE_CHECKING:  # the runtime wires them in; importing them here would cycle
    from federation.blind.state import BlindAnswers
    from federation.gossip.engine import GossipEngine
    from federation.gossip.liveness import Liveness


@dataclass(frozen=True, slots=True)
class Checked:
    """A well-formed question, the value it names in the node's stored form, its budget key."""

    question: Question
    stored: str | None
    budget_key: bytes


@dataclass(frozen=True, slots=True)
class Answering:
    """What an answer may draw on: the snapshot, the policy, who this node is, who asks,
    this node's gossip (None when it does not gossip), its blind answers (None when
    it does not serve blind questions) and the time."""

    snapshot: AnswerSnapshot
    policy: PrivacyPolicy
    name: str
    key_id: str
    asker: str = ""
    gossip: GossipEngine | None = None
    liveness: Liveness | None = None
    blind: BlindAnswers | None = None
    now_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Method:
    """One RPC of the answering side."""

    name: str
    question: type[Question]
    #: Counted against the daily distinct-question budget.
    charged: bool
    #: Largest request message; the server's `max_request_bytes` (for a bulk
    #: method, `max_bulk_request_bytes`) still applies.
    max_request_bytes: int
    check: Callable[[Any, PrivacyPolicy], Checked]
    #: The answer, or an awaitable of it (a ping-req waits on another node).
    answer: Callable[[Checked, Answering], Answer | Awaitable[Answer]]
    #: What the audit log keeps of an answer.
    audit: Callable[[Any], dict[str, object]]
    #: Carries records, not a question: bounded by the server's bulk limit.
    bulk: bool = False
    #: Federation upkeep (gossip, pings) a peer sends every few seconds: audited
    #: at most once a minute per peer, each line counting the calls it stands for.
    upkeep: bool = False
    #: Blind evaluations the question asks for: each is charged to the daily
    #: evaluation budget (every guess costs one).
    evaluations: Callable[[Any], int] | None = None

    def request_limit(self, limits: ServerLimits) -> int:
        """The largest request body this method accepts on a server with ``limits``."""
        server = limits.max_bulk_request_bytes if self.bulk else limits.max_request_bytes
        return min(server, self.max_request_bytes)


def _malformed_is_invalid(check: Callable[[Any, PrivacyPolicy], Checked]
                          ) -> Callable[[Any, PrivacyPolicy], Checked]:
    def checked(question: Any, policy: PrivacyPolicy) -> Checked:
        try:
            return check(question, policy)
        except MalformedQuery as exc:
            raise InvalidQuestion(str(exc)) from None
    return checked


def _check_info(question: NodeInfoQuestion, _: PrivacyPolicy) -> Checked:
    return Checked(question, None, b"info")


def _check_smtp(question: SmtpQuestion, _: PrivacyPolicy) -> Checked:
    stored = smtp_question(question.domain)
    text = stored or question.domain.strip().rstrip(".").lower()  # never stored: any form
    return Checked(question, stored, b"smtp\x00" + text.encode())


def _check_fingerprint(question: FingerprintQuestion, _: PrivacyPolicy) -> Checked:
    stored = fingerprint_question(question.kind, question.value)
    text = stored or question.value.strip().lower()
    return Checked(question, stored,
                   b"fp\x00%s\x00%s" % (question.kind.encode(), text.encode()))


def _check_simhash(question: SimhashQuestion, policy: PrivacyPolicy) -> Checked:
    check_simhash_question(question.kind, question.simhash, question.max_distance)
    if question.max_distance > policy.max_simhash_distance:
        raise InvalidQuestion(f"max_distance above this node's limit of"
                              f" {policy.max_simhash_distance}")
    return Checked(question, None, b"sim\x00%s\x00%d\x00%d" % (
        question.kind.encode(), question.simhash, question.max_distance))


def _check_gossip(question: GossipExchange, _: PrivacyPolicy) -> Checked:
    return Checked(question, None, b"gossip")


def _answer_gossip(checked: Checked, node: Answering) -> Answer:
    if node.gossip is None:
        raise NotServed("this node does not gossip")
    question = checked.question
    assert isinstance(question, GossipExchange)
    return GossipAnswer(node.gossip.answer(node.asker, question.request))


async def _answer_ping(checked: Checked, node: Answering) -> Answer:
    if node.liveness is None:
        raise NotServed("this node does not run membership")
    question = checked.question
    assert isinstance(question, PingQuestion)
    return PingAnswer(await node.liveness.answer(node.asker, question.request))


def _audit_ping(answer: PingAnswer) -> dict[str, object]:
    return {"ack": answer.response.ack}


def _audit_gossip(answer: GossipAnswer) -> dict[str, object]:
    return {"deltas": len(answer.response.deltas),
            "records": sum(len(d.records) for d in answer.response.deltas)}


def _answer_info(_: Checked, node: Answering) -> Answer:
    keys = () if node.blind is None else tuple(node.blind.keys.public_keys(node.now_s))
    return NodeInfo(node.name, node.key_id, MIN_SCHEMA_VERSION, MAX_SCHEMA_VERSION, keys)


#: Bytes of records per BlindTable answer (well under the client's 1 MiB receive limit).
TABLE_CHUNK_BYTES = 512 * 1024


def _check_blind_evaluate(question: BlindEvaluateQuestion, policy: PrivacyPolicy) -> Checked:
    if len(question.blinded) > policy.max_blind_batch:
        raise InvalidQuestion(f"more than this node's {policy.max_blind_batch} blinded"
                              " elements per request")
    return Checked(question, None, b"blind-evaluate")


def _blind(node: Answering) -> BlindAnswers:
    if node.blind is None:
        raise NotServed("this node does not serve blind questions")
    return node.blind


def _answer_blind_evaluate(checked: Checked, node: Answering) -> Answer:
    blind = _blind(node)
    question = checked.question
    assert isinstance(question, BlindEvaluateQuestion)
    evaluation = blind.evaluate(question.epoch, question.blinded, node.now_s)
    return BlindEvaluation(question.epoch, evaluation.evaluated_elements, evaluation.proof,
                           blind.table_version(question.epoch))


async def _answer_blind_table(checked: Checked, node: Answering) -> Answer:
    blind = _blind(node)
    question = checked.question
    assert isinstance(question, BlindTableQuestion)
    table = await blind.table(question.epoch, node.snapshot, node.now_s)
    header = table.header
    unchanged = question.have_version == header.version
    if not unchanged and question.offset > header.records:
        raise InvalidQuestion(f"offset past the table's {header.records} records")
    per = TABLE_CHUNK_BYTES // RECORD_BYTES
    chunk = b"" if unchanged else \
        table.records[question.offset * RECORD_BYTES:(question.offset + per) * RECORD_BYTES]
    return BlindTableChunk(header.epoch, header.oprf_public_key, header.version,
                           header.records, header.records_sha256, table.signature, unchanged,
                           question.offset, chunk)


def _audit_blind_evaluate(answer: BlindEvaluation) -> dict[str, object]:
    return {"evaluations": len(answer.evaluated)}


def _audit_blind_table(answer: BlindTableChunk) -> dict[str, object]:
    return {"records": len(answer.chunk) // RECORD_BYTES, "unchanged": answer.unchanged}


def _answer_smtp(checked: Checked, node: Answering) -> Answer:
    return SeenAnswer(node.snapshot.smtp_seen(checked.stored), node.policy.time_granularity_s)


def _answer_fingerprint(checked: Checked, node: Answering) -> Answer:
    question = checked.question
    assert isinstance(question, FingerprintQuestion)
    return SeenAnswer(node.snapshot.fingerprint_seen(question.kind, checked.stored),
                      node.policy.time_granularity_s)


def _answer_simhash(checked: Checked, node: Answering) -> Answer:
    question = checked.question
    assert isinstance(question, SimhashQuestion)
    return node.snapshot.near(question.kind, question.simhash, question.max_distance)


def _audit_seen(answer: SeenAnswer) -> dict[str, object]:
    return {"seen": answer.seen.seen, "count": answer.seen.count}


def _audit_near(answer: NearAggregate) -> dict[str, object]:
    return {"match": answer.match, "count_within": answer.count_within}


def _audit_info(answer: NodeInfo) -> dict[str, object]:
    return {"name": answer.name}


TABLE: Mapping[str, Method] = {method.name: method for method in (
    Method(GET_NODE_INFO, NodeInfoQuestion, charged=False, max_request_bytes=64,
           check=_check_info, answer=_answer_info, audit=_audit_info),
    Method(SMTP_TARGET_SEEN, SmtpQuestion, charged=True, max_request_bytes=512,
           check=_malformed_is_invalid(_check_smtp), answer=_answer_smtp, audit=_audit_seen),
    Method(FINGERPRINT_SEEN, FingerprintQuestion, charged=True, max_request_bytes=1024,
           check=_malformed_is_invalid(_check_fingerprint), answer=_answer_fingerprint,
           audit=_audit_seen),
    Method(SIMHASH_NEAR, SimhashQuestion, charged=True, max_request_bytes=128,
           check=_malformed_is_invalid(_check_simhash), answer=_answer_simhash,
           audit=_audit_near),
    Method(GOSSIP, GossipExchange, charged=False, max_request_bytes=1 << 20,
           check=_check_gossip, answer=_answer_gossip, audit=_audit_gossip, bulk=True,
           upkeep=True),
    Method(PING, PingQuestion, charged=False, max_request_bytes=16 * 1024,
           check=lambda q, _: Checked(q, None, b"ping"), answer=_answer_ping,
           audit=_audit_ping, upkeep=True),
    Method(BLIND_EVALUATE, BlindEvaluateQuestion, charged=False, max_request_bytes=4096,
           check=_check_blind_evaluate, answer=_answer_blind_evaluate,
           audit=_audit_blind_evaluate, evaluations=lambda q: len(q.blinded)),
    Method(BLIND_TABLE, BlindTableQuestion, charged=False, max_request_bytes=64,
           check=lambda q, _: Checked(q, None, b"blind-table"), answer=_answer_blind_table,
           audit=_audit_blind_table, upkeep=True),
)}


def method_named(name: str) -> Method:
    """The entry of ``name``; an unknown method is `InvalidQuestion`."""
    method = TABLE.get(name)
    if method is None:
        raise InvalidQuestion(f"unknown method {name[:80]!r}")
    return method
