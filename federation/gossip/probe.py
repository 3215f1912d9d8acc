"""One probe at a time: whom to ping next, and a ping that escalates to helpers.

SWIM picks probe targets round-robin over an order reshuffled at every pass
(not uniformly at random), which bounds how long a failed member can go
unprobed to two passes. A probe is direct until ``direct_deadline_s``; then
up to ``k`` helpers ping the target for us until ``deadline_s``, the end of
the probe interval. Lifeguard's nacks: a helper that cannot reach the target
says so before our deadline, which proves that *we* can still hear; helpers
that stay silent suggest the problem is local, and raise our awareness.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Probe:
    """Ping ``target`` directly; report with `Membership.probe_result`."""

    target: str
    deadline_s: float


@dataclass(frozen=True, slots=True)
class IndirectProbe:
    """Ask each of ``via`` to ping ``target``; report acks and `Membership.nack`s."""

    target: str
    via: tuple[str, ...]
    deadline_s: float


@dataclass(slots=True)
class ProbeRound:
    """The probe in flight."""

    target: str
    direct_deadline_s: float
    deadline_s: float
    helpers: tuple[str, ...] = ()
    nacks: set[str] = field(default_factory=set)
    indirect: bool = False

    def next_deadline_s(self) -> float:
        """When this probe next needs attention."""
        return self.deadline_s if self.indirect else self.direct_deadline_s

    def go_indirect(self, candidates: Iterable[str], k: int,
                    rng: random.Random) -> IndirectProbe | None:
        """Pick up to ``k`` helpers at random; None when there is nobody to ask."""
        self.indirect = True
        pool = sorted(p for p in candidates if p != self.target)
        self.helpers = tuple(rng.sample(pool, min(k, len(pool))))
        return IndirectProbe(self.target, self.helpers, self.deadline_s) if self.helpers else None

    def nack(self, via: str) -> None:
        """Count a nack, only from a helper we asked."""
        if via in self.helpers:
            self.nacks.add(via)

    def failure_awareness_delta(self) -> int:
        """Lifeguard's penalty for a failed probe: one per missing nack (1 with no helpers)."""
        if not self.helpers:
            return 1
        return len(self.helpers) - len(self.nacks)


class ProbeOrder:
    """Round-robin over a shuffled order of members, reshuffled at each pass."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._order: list[str] = []
        self._index = 0

    def add(self, peer_id: str) -> None:
        """Insert a new member at a random place, so it is probed within this pass."""
        self._order.insert(self._rng.randint(self._index, len(self._order)), peer_id)

    def next(self, members: Iterable[str], eligible: Callable[[str], bool]) -> str | None:
        """The next eligible member (members gone since the shuffle are skipped)."""
        for _ in range(2):
            while self._index < len(self._order):
                peer_id = self._order[self._index]
                self._index += 1
                if eligible(peer_id):
                    return peer_id
            self._order = sorted(members)
            self._rng.shuffle(self._order)
            self._index = 0
        return None
