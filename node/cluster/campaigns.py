"""Identities → campaigns (same operation): the linking rule, without I/O.

Two identities link when

- the infrastructure they share (payload hashes, C2 hosts), weighted by how
  many identities use it (`node.cluster.rarity`), reaches `rarity.LINK`: a
  public code host every bot fetches from links nobody, a rare C2 links
  the crews that share it, whatever their tools;
- one hands over to the other: its last phase on a honeypot is
  command-and-control or persistence, and the other's first phase on the
  same honeypot is discovery or lateral movement, 0 to `HANDOFF_S` later:
  a link when unambiguous, 1/(r+1) of one when r other identities could as
  well have given or taken it;
- their sessions' keystroke SimHashes are near (the identity layer's
  distance) and their activity windows overlap.

Only differences between times are used, never their absolute values, and
no edge decays with age: a campaign that pauses for weeks stays one. Links
are taken strongest first with ties broken by the identities' keys, so the
partition does not depend on input order.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from node.cluster import rarity
from node.cluster.graph import (
    EPSILON,
    Evidence,
    Link,
    Partition,
    class_score,
    join,
    keystroke_pairs,
    score,
    shared_values,
)

#: Longest gap from one identity's hand-over phase to the other's first phase.
HANDOFF_S = 24 * 3600
#: What one unambiguous hand-over on one honeypot weighs: a link. (At 0.5, so
#: that a second hand-over or other evidence was needed, bench/cluster.py
#: recovered 498 of 638 planted campaigns instead of 625.)
HANDOFF_WEIGHT = 1.0
#: A hand-over with more possible givers or takers than this is not considered:
#: it would weigh under 0.03, and a honeypot where thousands of bots run
#: `uname` after others' `wget` would otherwise make millions of pairs.
MAX_RIVALS = 16
HANDS_OVER = frozenset({"command_and_control", "persistence"})
TAKES_OVER = frozenset({"discovery", "lateral_movement"})


@dataclass(frozen=True, slots=True)
class PhaseSpan:
    """An identity's first or last phase on one honeypot, and when (epoch µs)."""

    phase: str
    time_us: int


@dataclass(frozen=True, slots=True)
class Crew:
    """One identity as the campaign layer sees it (``key`` orders ties)."""

    key: str
    infrastructure: frozenset[tuple[str, str]] = frozenset()
    first_phase: dict[str, PhaseSpan] = field(default_factory=dict)  # honeypot → first
    last_phase: dict[str, PhaseSpan] = field(default_factory=dict)  # honeypot → last
    keystrokes: tuple[int, ...] = ()
    window_us: tuple[int, int] = (0, 0)  # first and last seen


def infrastructure_links(values: Iterable[tuple[str, str]],
                         holders_of: Callable[[tuple[str, str]], int]) -> bool:
    """Whether an identity's infrastructure, weighted by ``holders_of`` (identities
    holding each value), could reach a link: the identities that cannot, and have no
    phases or keystrokes either, are campaigns of their own without clustering."""
    weights = ((signal, rarity.weight(holders_of((signal, value)))) for signal, value in values)
    return class_score(weights) + EPSILON >= rarity.LINK


def cluster_campaigns(crews: Sequence[Crew],
                      holders_of: Callable[[tuple[str, str]], int] | None = None) -> Partition:
    """Partition identities into campaigns (see the module docstring for the rule).

    ``holders_of`` counts a value's holders among all identities when
    ``crews`` are only those that can link (see `graph.shared_values`).
    """
    handoffs = _handoffs(crews)
    typed = {(a, b): distance
             for (a, b), distance in keystroke_pairs([c.keystrokes for c in crews]).items()
             if _overlap(crews[a].window_us, crews[b].window_us)}
    evidence = shared_values([c.infrastructure for c in crews],
                             [bool(c.keystrokes or c.first_phase or c.last_phase) for c in crews],
                             holders_of, handoffs.keys() | typed.keys())
    for pair, handovers in handoffs.items():
        weight = min(1.0, sum(HANDOFF_WEIGHT / (rivals + 1) for _, rivals in handovers))
        evidence[pair].append(Evidence("handoff", "; ".join(d for d, _ in handovers),
                                       len(handovers), weight))
    for pair, distance in typed.items():
        evidence[pair].append(Evidence("keystroke", f"distance {distance},"
                                       " overlapping activity", 2, 1.0))
    links = []
    for (a, b), found in evidence.items():
        total = score(found)
        if total + EPSILON >= rarity.LINK:
            links.append(Link(a, b, total, tuple(found)))
    return join([c.key for c in crews], links)


def _handoffs(crews: Sequence[Crew]) -> dict[tuple[int, int], list[tuple[str, int]]]:
    """Pairs where one crew's hand-over phase on a honeypot precedes the other's take-over.

    Per pair, each honeypot's hand-over with how many rivals it had: other
    crews that could equally have given or taken it on that honeypot in the
    same window. A hand-over with ``r`` rivals weighs `HANDOFF_WEIGHT`/(r+1),
    so on a busy honeypot coincidences count for little (the 1M-observation
    bench merged 13 of 638 planted campaigns through coincidental hand-overs
    at a flat weight of 1).
    """
    givers: dict[str, list[tuple[int, int]]] = defaultdict(list)  # honeypot → (time, crew)
    takers: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for index, crew in enumerate(crews):
        for honeypot, span in crew.last_phase.items():
            if span.phase in HANDS_OVER:
                givers[honeypot].append((span.time_us, index))
        for honeypot, span in crew.first_phase.items():
            if span.phase in TAKES_OVER:
                takers[honeypot].append((span.time_us, index))
    window = HANDOFF_S * 1_000_000
    matches: list[tuple[str, int, int, int]] = []  # honeypot, giver, taker, gap
    for honeypot, gives in givers.items():
        takes = sorted(takers.get(honeypot, ()))
        times = [t for t, _ in takes]
        gives_at = sorted(t for t, _ in gives)
        for given_us, giver in gives:
            start = bisect.bisect_left(times, given_us)
            end = bisect.bisect_right(times, given_us + window)
            if end - start > MAX_RIVALS:
                continue  # a busy honeypot: none of these could weigh anything
            for taken_us, taker in takes[start:end]:
                rivals = (bisect.bisect_right(gives_at, taken_us)
                          - bisect.bisect_left(gives_at, taken_us - window))
                if taker != giver and rivals <= MAX_RIVALS:
                    matches.append((honeypot, giver, taker, taken_us - given_us))
    takers_of: dict[tuple[str, int], int] = defaultdict(int)
    givers_of: dict[tuple[str, int], int] = defaultdict(int)
    for honeypot, giver, taker, _gap in matches:
        takers_of[(honeypot, giver)] += 1
        givers_of[(honeypot, taker)] += 1
    found: dict[tuple[int, int], list[tuple[str, int]]] = defaultdict(list)
    for honeypot, giver, taker, gap in sorted(matches):
        rivals = max(takers_of[(honeypot, giver)], givers_of[(honeypot, taker)]) - 1
        pair = (min(giver, taker), max(giver, taker))
        found[pair].append((f"{crews[giver].last_phase[honeypot].phase} →"
                            f" {crews[taker].first_phase[honeypot].phase} on {honeypot},"
                            f" {gap // 60_000_000} min later", rivals))
    return found


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


