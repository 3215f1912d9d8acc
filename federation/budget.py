"""Per-peer budgets: a token bucket on requests, daily caps on distinct questions and on
blind evaluations.

The token bucket is charged before the signature check (it bounds the
signature-verification work a peer can cause), to the peer the TLS handshake
authenticated, so nobody can spend another peer's tokens. The
distinct-question budget is charged only for authenticated, well-formed
questions. Questions are opaque bytes here (the service passes a keyed hash);
`restore` reloads a day's charges kept across a restart by
`federation.ledger`. Time is injected (``now_s``); nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from federation.errors import OverBudget
from federation.privacy import DAY_S, PrivacyPolicy


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated_s: float


@dataclass(slots=True)
class _Day:
    day: int
    questions: set[bytes]
    evaluations: int = 0


class PeerBudgets:
    """Budgets of every peer (keys are trusted key ids, so the maps stay small)."""

    def __init__(self, policy: PrivacyPolicy) -> None:
        self._policy = policy
        self._buckets: dict[str, _Bucket] = {}
        self._days: dict[str, _Day] = {}

    def take_token(self, key_id: str, now_s: float) -> None:
        """Spend one request token, or raise `OverBudget`."""
        bucket = self._buckets.get(key_id)
        burst = float(self._policy.burst)
        if bucket is None:
            bucket = self._buckets[key_id] = _Bucket(burst, now_s)
        elapsed = max(0.0, now_s - bucket.updated_s)
        bucket.tokens = min(burst, bucket.tokens + elapsed * self._policy.rate_per_s)
        bucket.updated_s = max(bucket.updated_s, now_s)
        if bucket.tokens < 1.0:
            raise OverBudget(f"rate limit: {self._policy.rate_per_s:g} requests/s,"
                             f" burst {self._policy.burst}")
        bucket.tokens -= 1.0

    def charge_question(self, key_id: str, question: bytes, now_s: float) -> bool:
        """Count a distinct question for today (UTC); True when it is new (repeats are free)."""
        day = self._today(key_id, now_s)
        if question in day.questions:
            return False
        if len(day.questions) >= self._policy.daily_distinct_questions:
            raise OverBudget(f"daily budget of {self._policy.daily_distinct_questions}"
                             " distinct questions used up")
        day.questions.add(question)
        return True

    def charge_evaluations(self, key_id: str, count: int, now_s: float) -> None:
        """Count ``count`` blind evaluations for today; `OverBudget` charges nothing."""
        day = self._today(key_id, now_s)
        limit = self._policy.daily_blind_evaluations
        if day.evaluations + count > limit:
            raise OverBudget(f"daily budget of {limit} blind evaluations used up"
                             f" ({day.evaluations} used, {count} asked)")
        day.evaluations += count

    def refund_evaluations(self, key_id: str, count: int, now_s: float) -> None:
        """Undo today's charge of ``count`` evaluations (their answer was never sent)."""
        day = self._today(key_id, now_s)
        day.evaluations = max(0, day.evaluations - count)

    def restore_evaluations(self, key_id: str, day: int, count: int) -> None:
        """Reload the evaluations charged on ``day`` before a restart."""
        entry = self._days.get(key_id)
        if entry is None or entry.day != day:
            entry = self._days[key_id] = _Day(day, set())
        entry.evaluations = max(entry.evaluations, count)

    def refund_question(self, key_id: str, question: bytes, now_s: float) -> None:
        """Undo today's charge of ``question`` (its answer was never sent)."""
        self._today(key_id, now_s).questions.discard(question)

    def restore(self, key_id: str, day: int, questions: Iterable[bytes]) -> None:
        """Reload questions charged on ``day`` before a restart."""
        entry = self._days.get(key_id)
        if entry is None or entry.day != day:
            entry = self._days[key_id] = _Day(day, set())
        entry.questions.update(questions)

    def _today(self, key_id: str, now_s: float) -> _Day:
        today = int(now_s // DAY_S)
        day = self._days.get(key_id)
        if day is None or day.day != today:
            day = self._days[key_id] = _Day(today, set())
        return day
