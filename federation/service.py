"""Answering one admitted request: the transport-free core behind the gRPC server.

``handle(method, body, metadata)`` admits the request (`federation.gate`),
decodes the question, charges the daily question budget, asks the node
through the `NodeQuery` seam, shapes the aggregate through the privacy policy,
encodes and signs the answer, and writes the audit line. It raises
`FederationError` subclasses; `federation.server` turns them into statuses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from federation.audit import AuditLog
from federation.budget import PeerBudgets
from federation.config import MAX_SCHEMA_VERSION, MIN_SCHEMA_VERSION, ServerLimits
from federation.envelope import encode_envelope, sign_answer
from federation.errors import InvalidQuestion
from federation.gate import Gate, Metadata
from federation.keys import NodeKey
from federation.privacy import PrivacyPolicy, shape_near, shape_seen
from federation.trust import TrustStore
from federation.wire import (
    Answer,
    FingerprintQuestion,
    NodeInfo,
    NodeInfoQuestion,
    Question,
    SeenAnswer,
    SmtpQuestion,
    decode_question,
    encode_answer,
    question_json,
)
from node.query import MalformedQuery, NearAggregate, NodeQuery

#: Seconds since the Unix epoch; injected so tests never wait on wall-clock windows.
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Reply:
    """The response bytes and the serialized answer envelope (trailing metadata)."""

    body: bytes
    envelope: bytes


def question_key(question: Question) -> bytes:
    """Canonical bytes of a question for the distinct-question budget (case variants collide)."""
    if isinstance(question, SmtpQuestion):
        return b"smtp\x00" + question.domain.strip().rstrip(".").lower().encode()
    if isinstance(question, FingerprintQuestion):
        value = question.value.strip().lower()
        return b"fp\x00" + question.kind.encode() + b"\x00" + value.encode()
    if isinstance(question, NodeInfoQuestion):
        return b"info"
    return b"sim\x00%s\x00%d\x00%d" % (question.kind.encode(), question.simhash,
                                         question.max_distance)


class FederationService:
    """One node's answering side (transport-free; see `federation.server`)."""

    def __init__(self, *, key: NodeKey, name: str, trust: TrustStore, query: NodeQuery,
                 limits: ServerLimits, policy: PrivacyPolicy, audit: AuditLog,
                 clock: Clock = time.time) -> None:
        self._key = key
        self._name = name
        self._query = query
        self._policy = policy
        self._audit = audit
        self._clock = clock
        self._budgets = PeerBudgets(policy)
        self._gate = Gate(trust, limits, self._budgets)

    def replace_trust(self, trust: TrustStore) -> None:
        """Answer a new set of peers from now on (``serve`` reloads on SIGHUP)."""
        self._gate.replace_trust(trust)

    async def handle(self, method: str, body: bytes, metadata: Metadata) -> Reply:
        now_s = self._clock()
        admitted = self._gate.admit(method, body, metadata, now_s)
        version, question = decode_question(method, body)
        if version != admitted.envelope.schema_version:
            raise InvalidQuestion("schema_version in the request differs from the envelope's")
        if not isinstance(question, NodeInfoQuestion):
            self._budgets.charge_question(admitted.peer.key.key_id, question_key(question), now_s)
        answer = await self._answer(question)
        response = encode_answer(answer, version, method)
        envelope = sign_answer(self._key, method, version, admitted.digest, response,
                               now_ms=int(self._clock() * 1000))
        if not isinstance(question, NodeInfoQuestion):
            self._audit.record(now_s=now_s, peer=admitted.peer.name,
                               key_id=admitted.peer.key.key_id, method=method,
                               question=question_json(question), answer=_answer_json(answer))
        return Reply(response, encode_envelope(envelope))

    async def _answer(self, question: Question) -> Answer:
        if isinstance(question, NodeInfoQuestion):
            return NodeInfo(self._name, self._key.key_id, MIN_SCHEMA_VERSION, MAX_SCHEMA_VERSION)
        granularity = self._policy.time_granularity_s
        try:
            if isinstance(question, SmtpQuestion):
                found = await self._query.smtp_target(question.domain)
                return SeenAnswer(shape_seen(found, self._policy), granularity)
            if isinstance(question, FingerprintQuestion):
                found = await self._query.fingerprint(question.kind, question.value)
                return SeenAnswer(shape_seen(found, self._policy), granularity)
            if question.max_distance > self._policy.max_simhash_distance:
                raise InvalidQuestion(f"max_distance above this node's limit of"
                                      f" {self._policy.max_simhash_distance}")
            near = await self._query.simhash_near(question.kind, question.simhash,
                                                  question.max_distance)
            return shape_near(near, self._policy)
        except MalformedQuery as exc:
            raise InvalidQuestion(str(exc)) from None


def _answer_json(answer: Answer) -> dict[str, object]:
    if isinstance(answer, SeenAnswer):
        return {"seen": answer.seen.seen, "count": answer.seen.count}
    if isinstance(answer, NearAggregate):
        return {"match": answer.match, "count_within": answer.count_within}
    return {}
