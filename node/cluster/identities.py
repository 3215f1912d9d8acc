"""Observations → identities (same hands): the linking rule, without I/O.

Two observations link when what they share weighs at least `rarity.LINK`:

- tool fingerprints (JA3, JA4, JA4H, HASSH), EUI-64 interface ids leaked
  over IPv6, payload hashes and C2 hosts, each weighted by how many
  observations have it (`node.cluster.rarity`);
- keystroke SimHashes of sessions with at least `MIN_KEYSTROKE_SAMPLES`
  timing samples within `graph.KEYSTROKE_DISTANCE` bits: one such pair links.

**Veto.** When both sides have a fingerprint of some tool kind and, for every
such comparable kind, their values differ, infrastructure (payload, C2) does
not link them: two operators with different tools on shared infrastructure
are two identities. The veto is checked on the pair and again between the
two groups being joined, so a third observation without fingerprints cannot
bridge them.

Weak signals (credentials, ASN, working hours, honeypots) are not inputs at
all. Links are taken strongest first, ties broken by the observations' keys
(their addresses), never by ids or input order, so the partition depends on
the evidence alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from node.cluster import rarity
from node.cluster.graph import (
    EPSILON,
    Evidence,
    Link,
    Partition,
    join,
    keystroke_pairs,
    score,
    shared_values,
)

#: Client tool fingerprint kinds: evidence, and comparable for the veto.
TOOL_KINDS = ("ja3", "ja4", "ja4h", "hassh")
#: Timing samples (digraphs) a session needs before its SimHash links anything:
#: twice the profiler's own floor (20). Two typed commands give a median of
#: ~45 samples (bench/keystrokes.py); a session below it typed too little to
#: tell hands apart on real, noisier typing than the simulator's.
MIN_KEYSTROKE_SAMPLES = 40
_INFRASTRUCTURE = frozenset({"payload", "c2"})


@dataclass(frozen=True, slots=True)
class Member:
    """One observation as the identity layer sees it.

    ``key`` orders ties (the address); ``tools`` are (kind, value) pairs of
    `TOOL_KINDS`; ``traces`` machine traces such as ("eui64", iid);
    ``infrastructure`` ("payload", sha256) and ("c2", host); ``keystrokes``
    the SimHashes of its sessions that have enough samples.
    """

    key: str
    tools: frozenset[tuple[str, str]] = frozenset()
    traces: frozenset[tuple[str, str]] = frozenset()
    infrastructure: frozenset[tuple[str, str]] = frozenset()
    keystrokes: tuple[int, ...] = ()


def cluster_identities(members: Sequence[Member],
                       holders_of: Callable[[tuple[str, str]], int] | None = None) -> Partition:
    """Partition ``members`` into identities (see the module docstring for the rule).

    ``holders_of`` gives a value's holders in the whole population when
    ``members`` is part of it (see `graph.shared_values`).
    """
    typed = keystroke_pairs([m.keystrokes for m in members])
    pairs = shared_values([(*m.tools, *m.traces, *m.infrastructure) for m in members],
                          [bool(m.keystrokes) for m in members], holders_of, typed.keys())
    for pair, distance in typed.items():
        pairs[pair].append(Evidence("keystroke", f"distance {distance}", 2, 1.0))
    tools: dict[int, dict[str, set[str]]] = {}
    for pair in pairs:
        for index in pair:
            if index not in tools:
                tools[index] = _tools_by_kind([members[index]])
    links = []
    for (a, b), found in pairs.items():
        if _vetoed(tools[a], tools[b]):
            found = [e for e in found if e.signal not in _INFRASTRUCTURE]
        total = score(found)
        if total + EPSILON >= rarity.LINK:
            links.append(Link(a, b, total, tuple(found)))

    def allow(ra: int, rb: int, link: Link) -> bool:
        return _identity_score(link) + EPSILON >= rarity.LINK or not _vetoed(tools[ra], tools[rb])

    def joined(kept: int, gone: int) -> None:
        """The joined group's tools, the smaller sets poured into the larger (the gone
        root's are never read again: keeping them held 74 MB of copies on the
        bench/ingest.py corpus)."""
        into = tools[kept]
        for kind, values in tools.pop(gone).items():
            mine = into.get(kind)
            if mine is None:
                into[kind] = values
            elif len(mine) < len(values):
                values |= mine
                into[kind] = values
            else:
                mine |= values

    return join([m.key for m in members], links, allow=allow, joined=joined)


def _identity_score(link: Link) -> float:
    """What links a pair without its shared infrastructure."""
    return score(e for e in link.evidence if e.signal not in _INFRASTRUCTURE)


def _tools_by_kind(members: Iterable[Member]) -> dict[str, set[str]]:
    tools: dict[str, set[str]] = defaultdict(set)
    for member in members:
        for kind, value in member.tools:
            tools[kind].add(value)
    return tools


def _vetoed(left: dict[str, set[str]], right: dict[str, set[str]]) -> bool:
    """Comparable tool kinds exist and every one of them differs."""
    comparable = left.keys() & right.keys()
    return bool(comparable) and all(not left[kind] & right[kind] for kind in comparable)
