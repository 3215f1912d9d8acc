"""A misbehaviour score per peer: penalties that heal with time, and a cool-down.

Every peer starts at ``max_score``. Each offence subtracts its reason's
penalty (a forged signature costs far more than an over-budget burst, which
honest peers produce); the score climbs back linearly at ``recovery_per_s``
and never above the maximum, nor below ``min_score`` (so even a flood of
offences heals in bounded time). An offence that leaves the score below
``ignore_below`` (re)starts a cool-down of ``cooldown_s`` during which the
gossip loop neither pulls from nor relays for that peer. Once the cool-down
is over the peer is heard again even if still below the threshold — on
probation: its next offence ignores it again at once.

No clock, no I/O: time comes in as ``now_s``. Keys are trusted key ids, so the
map stays as small as the trust store; `forget` drops a removed peer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

#: What a peer can be penalised for.
Offence = Literal["invalid_signature", "replayed", "malformed_record",
                  "untrusted_origin", "over_budget"]
OFFENCES: tuple[Offence, ...] = get_args(Offence)


@dataclass(frozen=True, slots=True)
class PeerScoreConfig:
    """Penalties, recovery and the cool-down; defaults heal a clean slate in an hour."""

    #: A fresh or fully healed peer's score; penalties are out of this.
    max_score: float = 100.0
    #: Floor of the score: bounds how long the worst peer takes to heal,
    #: (max_score - min_score) / recovery_per_s (two hours by default).
    min_score: float = -100.0
    #: An offence leaving the score below this starts the cool-down. At 0 a
    #: clean peer is ignored at its 3rd forged signature or 11th malformed
    #: record in quick succession.
    ignore_below: float = 0.0
    #: Points regained per second: 100 an hour, so occasional honest mistakes
    #: (a few malformed or over-budget messages a day) never add up.
    recovery_per_s: float = 100.0 / 3600.0
    #: Seconds a peer stays ignored after its last offence below the threshold.
    #: Longer starves an abuser more, and an honest-but-buggy peer too.
    cooldown_s: float = 600.0
    #: A record whose origin signature does not verify: forged or corrupted on
    #: purpose (the transport is authenticated, so not line noise).
    invalid_signature_penalty: float = 40.0
    #: A message replayed inside the freshness window: deliberate or badly broken.
    replayed_penalty: float = 25.0
    #: A record that does not decode or breaks the schema: a bug more often than
    #: malice, so a medium cost.
    malformed_record_penalty: float = 10.0
    #: Relaying records of an origin we do not trust: the peer may trust it
    #: legitimately, so a light cost that only repeated relaying adds up.
    untrusted_origin_penalty: float = 5.0
    #: Exceeding a rate or size budget: honest peers burst, so the lightest.
    over_budget_penalty: float = 2.0

    def __post_init__(self) -> None:
        if not self.min_score <= self.ignore_below <= self.max_score:
            raise ValueError(f"ignore_below: must be within [min_score, max_score],"
                             f" got {self.ignore_below!r}")
        for name in ("recovery_per_s", "cooldown_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be > 0, got {getattr(self, name)!r}")
        for offence in OFFENCES:
            if self.penalty(offence) < 0:
                raise ValueError(f"{offence}_penalty: must be ≥ 0,"
                                 f" got {self.penalty(offence)!r}")

    def penalty(self, offence: Offence) -> float:
        """Points one ``offence`` costs."""
        value: float = getattr(self, f"{offence}_penalty")
        return value


@dataclass(frozen=True, slots=True)
class PeerScoreView:
    """One peer's standing, for ``status`` and ``peers`` output."""

    peer_id: str
    score: float
    ignored: bool
    ignored_until_s: float | None
    offences: int
    last_offence: Offence | None


@dataclass(slots=True)
class _Score:
    score: float
    updated_s: float
    ignored_until_s: float | None = None
    offences: int = 0
    last_offence: Offence | None = None


class PeerScores:
    """Scores of every peer that ever misbehaved (others are implicitly perfect)."""

    def __init__(self, config: PeerScoreConfig) -> None:
        self._config = config
        self._scores: dict[str, _Score] = {}

    def __len__(self) -> int:
        return len(self._scores)

    def penalise(self, peer_id: str, offence: Offence, now_s: float) -> float:
        """Charge one offence; returns the new score."""
        if offence not in OFFENCES:
            raise ValueError(f"unknown offence {offence!r}")
        c = self._config
        entry = self._scores.get(peer_id)
        if entry is None:
            entry = self._scores[peer_id] = _Score(c.max_score, now_s)
        self._heal(entry, now_s)
        entry.score = max(c.min_score, entry.score - c.penalty(offence))
        entry.offences += 1
        entry.last_offence = offence
        if entry.score < c.ignore_below:
            entry.ignored_until_s = now_s + c.cooldown_s
        return entry.score

    def score(self, peer_id: str, now_s: float) -> float:
        """The peer's current score (``max_score`` if it never misbehaved)."""
        entry = self._scores.get(peer_id)
        if entry is None:
            return self._config.max_score
        self._heal(entry, now_s)
        return entry.score

    def ignored(self, peer_id: str, now_s: float) -> bool:
        """Whether the gossip loop should leave this peer out right now."""
        entry = self._scores.get(peer_id)
        return (entry is not None and entry.ignored_until_s is not None
                and now_s < entry.ignored_until_s)

    def view(self, peer_id: str, now_s: float) -> PeerScoreView:
        """The peer's standing; a never-penalised peer reads as a clean slate."""
        entry = self._scores.get(peer_id)
        if entry is None:
            return PeerScoreView(peer_id, self._config.max_score, False, None, 0, None)
        self._heal(entry, now_s)
        ignored = self.ignored(peer_id, now_s)
        return PeerScoreView(peer_id, entry.score, ignored,
                             entry.ignored_until_s if ignored else None,
                             entry.offences, entry.last_offence)

    def forget(self, peer_id: str) -> None:
        """Drop a peer's record (trust revoked)."""
        self._scores.pop(peer_id, None)

    def _heal(self, entry: _Score, now_s: float) -> None:
        elapsed_s = max(0.0, now_s - entry.updated_s)  # a clock step back heals nothing
        entry.score = min(self._config.max_score,
                          entry.score + elapsed_s * self._config.recovery_per_s)
        entry.updated_s = max(entry.updated_s, now_s)
