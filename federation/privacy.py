"""What a node is willing to say: thresholds, coarse times, budgets (the privacy policy).

Answers leave the node only through the answer snapshot
(`federation.snapshot`), which applies the thresholds to every value on its
own and coarsens the times. "Below threshold" returns exactly the "never
seen" aggregate, so a refusal is no oracle. The rate and question budgets
(enforced by `federation.budget`) bound how fast a trusted peer can enumerate
domains or fingerprints. Loaded from the ``[privacy]`` config section.
"""

from __future__ import annotations

from dataclasses import dataclass

DAY_S = 86400


@dataclass(frozen=True, slots=True)
class PrivacyPolicy:
    """Per-node answer policy. Defaults are the safe ones; `local()` is for tests/demo."""

    #: Sightings needed before ``seen=true`` (and before a SimHash counts as a
    #: match). Higher hides rare, attributable sightings at the cost of
    #: answering "not seen" for real but rare ones. 1 = answer every sighting.
    min_count: int = 1
    #: Distinct local attackers needed before ``seen=true``; raise it to never
    #: reveal that exactly one attacker did something.
    min_distinct_attackers: int = 1
    #: First/last-seen times are floored to this many seconds (86400 = UTC day).
    #: Coarser times leak less about when an attacker was active.
    time_granularity_s: int = DAY_S
    #: Largest SimHash distance a peer may ask about; a wide radius would count
    #: every local session and cost more index work per question (16 costs at
    #: most a few ms on 1M stored hashes, bench/simhash.py). Asking wider is
    #: INVALID_ARGUMENT.
    max_simhash_distance: int = 16
    #: Answers come from a snapshot retaken every this many seconds; a
    #: question repeated inside the interval gets the same answer, so polling
    #: learns of a new sighting no sooner. Shorter is fresher and leaks timing.
    answer_refresh_s: int = 3600
    #: Token-bucket refill per peer, requests per second (all methods).
    rate_per_s: float = 2.0
    #: Token-bucket size per peer: requests a peer may burst after idling.
    burst: int = 30
    #: Distinct questions (method + question) a peer may ask per UTC day; repeats
    #: are free. Bounds enumeration of domains/fingerprints.
    daily_distinct_questions: int = 500
    #: JSON-lines audit log of answered questions, relative to the node home.
    audit_log_path: str = "audit.log"
    #: Serve blind questions (docs/protocol.md, "Blind questions"): peers ask
    #: without this node learning what. Off: NodeInfo lists no OPRF key and
    #: peers ask the open way.
    blind_enabled: bool = True
    #: Seconds one OPRF key (and the blind answer table built with it) lives
    #: before the next replaces it. Shorter makes a captured table useless
    #: sooner and costs a full table download per peer per epoch.
    blind_epoch_s: int = DAY_S
    #: Seconds after an epoch ends during which its key still evaluates (a
    #: question in flight across the boundary); then the key is deleted.
    blind_grace_s: int = 600
    #: Blind evaluations a peer may ask per UTC day (each blinded element is
    #: one): every guess at a domain or fingerprint costs one, so this bounds
    #: enumeration as ``daily_distinct_questions`` does for open ones. Kept
    #: across restarts.
    daily_blind_evaluations: int = 500
    #: Blinded elements one request may carry; with the request rate this bounds
    #: evaluations per second to ``rate_per_s`` times it.
    max_blind_batch: int = 16

    def __post_init__(self) -> None:
        for name in ("min_count", "min_distinct_attackers", "time_granularity_s", "burst",
                     "daily_distinct_questions", "answer_refresh_s", "blind_epoch_s",
                     "daily_blind_evaluations", "max_blind_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be ≥ 1, got {getattr(self, name)!r}")
        if not 0 <= self.max_simhash_distance <= 64:
            raise ValueError(
                f"max_simhash_distance: must be 0..64, got {self.max_simhash_distance}")
        if not 0 <= self.blind_grace_s < self.blind_epoch_s:
            raise ValueError(f"blind_grace_s: must be 0 .. blind_epoch_s - 1, got"
                             f" {self.blind_grace_s!r}")
        if self.max_blind_batch > 1024:
            raise ValueError(f"max_blind_batch: must be ≤ 1024, got {self.max_blind_batch!r}")
        if not self.rate_per_s > 0:
            raise ValueError(f"rate_per_s: must be > 0, got {self.rate_per_s!r}")

    @classmethod
    def default(cls) -> PrivacyPolicy:
        return cls()

    @classmethod
    def local(cls) -> PrivacyPolicy:
        """Generous budgets for tests, demos and benchmarks on one machine."""
        return cls(rate_per_s=1e6, burst=1_000_000, daily_distinct_questions=1_000_000,
                   daily_blind_evaluations=1_000_000)


def coarsen_us(time_us: int | None, granularity_s: int) -> int | None:
    """Epoch microseconds → epoch seconds floored to ``granularity_s``."""
    if time_us is None:
        return None
    seconds = time_us // 1_000_000
    return seconds - seconds % granularity_s


@dataclass(frozen=True, slots=True)
class SharedSeen:
    """A `SeenAggregate` as it may leave the node: thresholded, coarse seconds."""

    seen: bool
    count: int
    distinct_attackers: int
    first_seen_s: int | None
    last_seen_s: int | None
