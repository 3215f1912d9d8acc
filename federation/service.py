"""Answering one admitted request: the transport-free core behind the gRPC server.

``handle(method, body, metadata, tls_peer)`` admits the request
(`federation.gate`), decodes and normalises the question (a malformed one is
refused before anything is charged), charges the daily question budget,
answers from the current answer snapshot (`federation.snapshot`) as the
method's entry in `federation.methods` says, makes the
accepted nonce and the charge durable (`federation.ledger`), signs the answer,
and writes the audit line. Every request whose sender is authenticated (by
the TLS handshake, or by its signature when plaintext) is audited, answered
or refused. It raises `FederationError` subclasses; `federation.server` turns
them into statuses.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from federation.audit import AuditLog, AuditThrottle
from federation.budget import PeerBudgets
from federation.config import ServerLimits
from federation.envelope import encode_envelope, sign_answer
from federation.errors import (
    FederationError,
    InvalidQuestion,
    OverBudget,
    StateUnavailable,
    Unauthenticated,
    status_for,
)
from federation.gate import Admitted, Gate, Metadata
from federation.keys import NodeKey
from federation.ledger import EvaluationRow, Ledger, NonceRow, QuestionRow
from federation.methods import TABLE, Answering, Checked, Method, method_named
from federation.metrics import Metrics, short_method
from federation.privacy import DAY_S, PrivacyPolicy
from federation.snapshot import AnswerSnapshot, take_snapshot
from federation.trust import TrustStore
from federation.wire import decode_question, encode_answer, question_json
from node.query import NodeQuery, Thresholds

if TYPE_CHECKING:  # the runtime wires them in; importing them here would cycle
    from federation.blind.state import BlindAnswers
    from federation.gossip.engine import GossipEngine
    from federation.gossip.liveness import Liveness

logger = logging.getLogger(__name__)

#: Seconds since the Unix epoch; injected so tests never wait on wall-clock windows.
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Reply:
    """The response bytes and the serialized answer envelope (trailing metadata)."""

    body: bytes
    envelope: bytes


class FederationService:
    """One node's answering side (transport-free; see `federation.server`)."""

    def __init__(self, *, key: NodeKey, name: str, trust: TrustStore, query: NodeQuery,
                 limits: ServerLimits, policy: PrivacyPolicy, audit: AuditLog,
                 ledger: Ledger, clock: Clock = time.time) -> None:
        self._key = key
        self._name = name
        self._trust = trust
        self._query = query
        self._policy = policy
        self._audit = audit
        self._ledger = ledger
        self._clock = clock
        self._budgets = PeerBudgets(policy)
        self._throttle = AuditThrottle()
        self._gate = Gate(trust, limits, self._budgets)
        self._limits = limits
        #: This node's gossip and membership once `serve` starts them (None: the Gossip
        #: and Ping methods are not served).
        self.gossip: GossipEngine | None = None
        self.liveness: Liveness | None = None
        #: Blind evaluations and tables (None: blind questions are not served).
        self.blind: BlindAnswers | None = None
        #: Counted and timed calls, when the node serves metrics.
        self.metrics: Metrics | None = None
        self._upkeep_audit = AuditThrottle(rate_per_s=1 / 60, burst=1)
        self._snapshot = AnswerSnapshot(clock())
        self._restore()

    def _restore(self) -> None:
        """Reload the nonces and today's question charges kept across a restart."""
        now_s = self._clock()
        self._ledger.prune(int(now_s * 1000))
        self._gate.nonces.restore((row.key_id, row.nonce, row.expires_ms)
                                  for row in self._ledger.nonces(int(now_s * 1000)))
        today = int(now_s // DAY_S)
        by_key: defaultdict[str, list[bytes]] = defaultdict(list)
        for row in self._ledger.questions(today):
            by_key[row.key_id].append(row.question)
        for key_id, questions in by_key.items():
            self._budgets.restore(key_id, today, questions)
        for evaluated in self._ledger.evaluations(today):
            self._budgets.restore_evaluations(evaluated.key_id, today, evaluated.count)

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def snapshot(self) -> AnswerSnapshot:
        return self._snapshot

    @property
    def thresholds(self) -> Thresholds:
        """What every shared value must pass on its own (answers and gossip alike)."""
        return Thresholds(self._policy.min_count, self._policy.min_distinct_attackers)

    def replace_trust(self, trust: TrustStore) -> None:
        """Answer a new set of peers from now on (``serve`` reloads on SIGHUP)."""
        self._trust = trust
        self._gate.replace_trust(trust)

    async def refresh(self) -> AnswerSnapshot:
        """Retake the answer snapshot (at start, then every ``answer_refresh_s``)."""
        self._snapshot = await take_snapshot(self._query, self._policy, self._clock())
        if self.blind is not None:
            await self.blind.prepare(self._snapshot, self._clock())
        return self._snapshot

    async def handle(self, method: str, body: bytes, metadata: Metadata, *,
                     tls_peer: str | None = None) -> Reply:
        """Answer one call (see the module docstring); counted and timed in `metrics`."""
        if self.metrics is None:
            return await self._handle(method, body, metadata, tls_peer=tls_peer)
        name = short_method(method) if method in TABLE else "unknown"
        started = time.perf_counter()
        code = "OK"
        try:
            return await self._handle(method, body, metadata, tls_peer=tls_peer)
        except FederationError as exc:
            code = status_for(exc)[0].name
            if isinstance(exc, Unauthenticated):
                self.metrics.signature_failures.inc()
            elif isinstance(exc, OverBudget):
                self.metrics.budget_refusals.inc()
            raise
        except Exception:
            code = "INTERNAL"
            raise
        finally:
            self.metrics.rpcs.labels(name, code).inc()
            self.metrics.rpc_seconds.labels(name).observe(time.perf_counter() - started)

    async def _handle(self, method: str, body: bytes, metadata: Metadata, *,
                      tls_peer: str | None = None) -> Reply:
        now_s = self._clock()
        spec = method_named(method)
        try:
            admitted = self._gate.admit(method, body, metadata, now_s, tls_peer,
                                        max_body_bytes=spec.request_limit(self._limits))
        except FederationError as exc:
            if tls_peer is not None:  # the handshake authenticated the sender
                self.audit_refusal(tls_peer, method, exc)
                if isinstance(exc, OverBudget) and spec.bulk and self.gossip is not None:
                    # gossip floods only: a ping may be a ping-req another peer caused
                    self.gossip.scores.penalise(tls_peer, "over_budget", now_s)
            raise
        checked: Checked | None = None
        charge: list[QuestionRow] = []
        evaluations: list[EvaluationRow] = []
        try:
            checked, charge = self._check_and_charge(admitted, spec, body, now_s)
            evaluations = self._charge_evaluations(admitted, spec, checked, now_s)
            answered = spec.answer(checked, Answering(
                self._snapshot, self._policy, self._name, self._key.key_id,
                admitted.peer.key.key_id, self.gossip, self.liveness, self.blind, now_s))
            answer = await answered if inspect.isawaitable(answered) else answered
            response = encode_answer(answer, admitted.envelope.schema_version, method)
            await self._ledger.record([self._nonce_row(admitted)], charge, int(now_s * 1000),
                                      evaluations)
        except FederationError as exc:
            if isinstance(exc, StateUnavailable) and charge:
                self._budgets.refund_question(charge[0].key_id, charge[0].question, now_s)
            for row in evaluations:  # nothing was evaluated for them, or it was never sent
                self._budgets.refund_evaluations(row.key_id, row.count, now_s)
            self.audit_refusal(admitted.peer.key.key_id, method, exc, checked)
            await self._keep_nonce(admitted, now_s)
            raise
        envelope = sign_answer(self._key, method, admitted.envelope.schema_version,
                               admitted.digest, response, now_ms=int(self._clock() * 1000))
        suppressed = 0
        if spec.upkeep:  # a line a minute per peer and method, counting the others
            admitted_line = self._upkeep_audit.admit(f"{admitted.peer.key.key_id} {method}",
                                                     now_s)
            if admitted_line is None:
                return Reply(response, encode_envelope(envelope))
            suppressed = admitted_line
        self._audit.record(now_s=now_s, peer=admitted.peer.name,
                           key_id=admitted.peer.key.key_id, method=method,
                           question=question_json(checked.question),
                           answer=spec.audit(answer), suppressed=suppressed)
        # what was asked stays in the audit log: the log line names the method only
        logger.log(logging.DEBUG if spec.upkeep else logging.INFO, "answered %s from %s",
                   short_method(method), admitted.peer.name)
        return Reply(response, encode_envelope(envelope))

    def _check_and_charge(self, admitted: Admitted, spec: Method, body: bytes,
                          now_s: float) -> tuple[Checked, list[QuestionRow]]:
        version, question = decode_question(spec.name, body)
        if version != admitted.envelope.schema_version:
            raise InvalidQuestion("schema_version in the request differs from the envelope's")
        checked = spec.check(question, self._policy)
        if not spec.charged:
            return checked, []
        key_id = admitted.peer.key.key_id
        hashed = self._ledger.question_hash(checked.budget_key)
        if not self._budgets.charge_question(key_id, hashed, now_s):
            return checked, []
        return checked, [QuestionRow(key_id, int(now_s // DAY_S), hashed)]

    def _charge_evaluations(self, admitted: Admitted, spec: Method, checked: Checked,
                            now_s: float) -> list[EvaluationRow]:
        if spec.evaluations is None:
            return []
        count = spec.evaluations(checked.question)
        key_id = admitted.peer.key.key_id
        self._budgets.charge_evaluations(key_id, count, now_s)
        return [EvaluationRow(key_id, int(now_s // DAY_S), count)]

    @staticmethod
    def _nonce_row(admitted: Admitted) -> NonceRow:
        return NonceRow(admitted.envelope.key_id, admitted.envelope.nonce,
                        admitted.nonce_expires_ms)

    async def _keep_nonce(self, admitted: Admitted, now_s: float) -> None:
        """A refused request's nonce is kept too, so its replay is refused after a restart."""
        try:
            await self._ledger.record([self._nonce_row(admitted)], [], int(now_s * 1000))
        except FederationError:
            pass  # the refusal stands; the ledger already logged why it could not write

    def audit_refusal(self, key_id: str, method: str, exc: FederationError,
                      checked: Checked | None = None) -> None:
        """One audit line for a refused request of an authenticated sender.

        A peer's refusals are throttled (`AuditThrottle`): a flood of refused
        calls becomes a bounded number of lines, each counting those it stands for.
        """
        now_s = self._clock()
        suppressed = self._throttle.admit(key_id, now_s)
        if suppressed is None:
            return
        peer = self._trust.by_key_id(key_id)
        code, details = status_for(exc)
        logger.info("refused %s from %s: %s%s", short_method(method) if method in TABLE
                    else "an unknown method", peer.name if peer else key_id[:16], code.name,
                    f" (and {suppressed} more like it)" if suppressed else "")
        self._audit.record(now_s=now_s, peer=peer.name if peer else "?", key_id=key_id,
                           method=method,
                           question=None if checked is None else question_json(checked.question),
                           answer=None, status=code.name, reason=details,
                           suppressed=suppressed)
