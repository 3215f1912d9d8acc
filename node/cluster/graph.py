"""What both clustering layers share: evidence, links, candidate pairs, and the join.

Candidate pairs come from inverted indexes (every exact value → its holders)
and from the Hamming multi-index for SimHashes, never from comparing all
pairs. The join takes links strongest first, ties broken by the members'
keys, so a partition depends on the evidence alone, not on input order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from node.cluster import rarity
from node.hamming_index import HammingIndex

#: Hamming distance within which two sessions' keystroke SimHashes are the same typist.
KEYSTROKE_DISTANCE = 6
EPSILON = 1e-9  # float sums of the same weights in another order differ in the last bit


@dataclass(frozen=True, slots=True)
class Evidence:
    """One shared signal behind a link: what, which value, seen by how many, its weight."""

    signal: str
    value: str
    df: int
    weight: float


@dataclass(frozen=True, slots=True)
class Link:
    """Two members (by index) and the evidence between them; ``score`` is its summed weight."""

    a: int
    b: int
    score: float
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True, slots=True)
class Partition:
    """Each member's group (the index of the group's smallest-keyed member), the links
    that formed the groups, and each group's confidence (its weakest link's; 1 alone)."""

    group: tuple[int, ...]
    links: tuple[Link, ...]
    confidence: dict[int, float] = field(default_factory=dict)


def shared_values(values_of: Sequence[Iterable[tuple[str, str]]]
                  ) -> dict[tuple[int, int], list[Evidence]]:
    """Evidence per member pair from the exact values they share, weighted by rarity.

    Values held by `rarity.COMMON` members or more weigh nothing and make no
    pairs, so a stock fingerprint on a million scanners costs one dict entry.
    """
    holders: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, values in enumerate(values_of):
        for item in values:
            holders[item].append(index)
    pairs: dict[tuple[int, int], list[Evidence]] = defaultdict(list)
    for (signal, value), members in holders.items():
        w = rarity.weight(len(members))
        if w <= 0.0 or len(members) < 2:
            continue
        evidence = Evidence(signal, value, len(members), w)
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                pairs[(a, b)].append(evidence)
    return pairs


def keystroke_pairs(keystrokes: Sequence[Sequence[int]]) -> dict[tuple[int, int], int]:
    """Member pairs with sessions within `KEYSTROKE_DISTANCE`, and their closest distance."""
    owners = [index for index, values in enumerate(keystrokes) for _ in values]
    values = [value for member in keystrokes for value in member]
    found: dict[tuple[int, int], int] = {}
    if len(values) < 2:
        return found
    index = HammingIndex.build(np.array(values, dtype=np.uint64))
    for position, value in enumerate(values):
        near, distances = index.distances_within(value, KEYSTROKE_DISTANCE)
        for other, distance in zip(near.tolist(), distances.tolist(), strict=True):
            a, b = owners[position], owners[other]
            if a != b:
                pair = (min(a, b), max(a, b))
                found[pair] = min(found.get(pair, distance), distance)
    return found


def join(keys: Sequence[str], links: Iterable[Link], *,
         allow: Callable[[int, int, Link], bool] = lambda _a, _b, _link: True,
         joined: Callable[[int, int], None] = lambda _kept, _gone: None) -> Partition:
    """Union ``links`` strongest first (ties by key); ``allow`` may refuse one given both roots.

    ``joined(kept_root, gone_root)`` lets the caller merge what it tracks per group.
    """
    parent = list(range(len(keys)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def order(link: Link) -> tuple[float, str, str]:
        low, high = sorted((keys[link.a], keys[link.b]))
        return (-round(link.score, 9), low, high)

    used = []
    for link in sorted(links, key=order):
        ra, rb = root(link.a), root(link.b)
        if ra == rb or not allow(ra, rb, link):
            continue
        parent[rb] = ra
        joined(ra, rb)
        used.append(link)
    roots = [root(i) for i in range(len(keys))]
    first: dict[int, int] = {}
    for index, r in enumerate(roots):
        if r not in first or keys[index] < keys[first[r]]:
            first[r] = index
    group = tuple(first[r] for r in roots)
    confidence = {g: 1.0 for g in set(group)}
    for link in used:
        g = group[link.a]
        confidence[g] = min(confidence[g], rarity.confidence(link.score))
    return Partition(group, tuple(used), confidence)
