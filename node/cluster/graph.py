"""What both clustering layers share: evidence, links, candidate pairs, and the join.

Candidate pairs come from inverted indexes (every exact value → its holders)
and from the Hamming multi-index for SimHashes, never from comparing all
pairs. The join takes links strongest first, ties broken by the members'
keys, so a partition depends on the evidence alone, not on input order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from node.cluster import rarity
from node.hamming_index import HammingIndex

#: Hamming distance within which two sessions' keystroke SimHashes are the same typist.
#: bench/keystrokes.py (40 typists on the simulator's typing model): the same
#: typist typing the same text is within 3 in 100% of pairs, other typists
#: typing that text are within 6 in 0% and within 14 in 0.1-0.2%; a session's
#: SimHash follows the text as much as the hands, so other text is far (0% ≤ 6).
KEYSTROKE_DISTANCE = 6
EPSILON = 1e-9  # float sums of the same weights in another order differ in the last bit
#: Signals that describe the same thing count once per pair, by their strongest value:
#: JA3 and JA4 are two views of one TLS ClientHello, and two popular hosts fetched
#: by the same bots are one habit, not twice the evidence.
SIGNAL_CLASS = {"ja3": "tls_client", "ja4": "tls_client"}


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


def score(evidence: Iterable[Evidence]) -> float:
    """What a pair's evidence adds up to: per signal class its strongest value, summed."""
    return class_score((e.signal, e.weight) for e in evidence)


def class_score(weights: Iterable[tuple[str, float]]) -> float:
    """`score` of (signal, weight) pairs, without building evidence (called per member)."""
    best: dict[str, float] = {}
    for signal, weight in weights:
        kind = SIGNAL_CLASS.get(signal, signal)
        if weight > best.get(kind, 0.0):
            best[kind] = weight
    return sum(best.values())


def shared_values(values_of: Sequence[Collection[tuple[str, str]]],
                  links_otherwise: Sequence[bool] = (),
                  holders_of: Callable[[tuple[str, str]], int] | None = None,
                  keep: Collection[tuple[int, int]] = (),
                  ) -> dict[tuple[int, int], list[Evidence]]:
    """Evidence per member pair from the exact values they share, weighted by rarity,
    for the pairs whose shared values reach `rarity.LINK` and for those in ``keep``
    (pairs that other evidence may carry over it).

    Values held by `rarity.COMMON` members or more weigh nothing and make no
    pairs, so a stock fingerprint on a million scanners costs one dict entry.
    A member whose values together cannot reach `rarity.LINK` (and that
    cannot link some other way: ``links_otherwise``) is in no pair, since a
    pair's evidence is part of each side's: at a million observations this
    cut the candidate pairs from 7.07 M to 263 k and the identity layer from
    ~35 s to ~6 s, with the same partition. The candidate pairs are scored in
    arrays and evidence is built only for the pairs kept: the bench/ingest.py
    corpus makes 357 k candidates and 19 k links, and a list of evidence per
    candidate was the pass's largest allocation. ``holders_of`` counts a
    value's holders in the whole population when ``values_of`` is only part
    of it (an incremental pass); by default the members given are the population.
    """
    holders: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, values in enumerate(values_of):
        for item in values:
            holders[item].append(index)
    df = {item: holders_of(item) if holders_of else len(members)
          for item, members in holders.items()}
    weights = {item: rarity.weight(count) for item, count in df.items()}
    eligible = [
        (index < len(links_otherwise) and links_otherwise[index])
        or class_score((item[0], weights[item]) for item in values) + EPSILON >= rarity.LINK
        for index, values in enumerate(values_of)]
    items: list[tuple[str, str]] = []
    by_size: dict[int, tuple[list[list[int]], list[int]]] = defaultdict(lambda: ([], []))
    for item, members in holders.items():
        candidates = [m for m in members if eligible[m]] if weights[item] > 0.0 else []
        if len(candidates) >= 2:  # values of equal holder counts pair up in one array
            held, numbers = by_size[len(candidates)]
            held.append(candidates)
            numbers.append(len(items))
            items.append(item)
    pairs: dict[tuple[int, int], list[Evidence]] = defaultdict(list)
    if not items:
        return pairs
    firsts, seconds, item_ofs = [], [], []
    for size, (held, numbers) in by_size.items():
        table = np.array(held, dtype=np.int64)  # one row per value, its holders ascending
        first, second = np.triu_indices(size, 1)
        firsts.append(table[:, first].ravel())
        seconds.append(table[:, second].ravel())
        item_ofs.append(np.repeat(np.array(numbers, dtype=np.int64), len(first)))
    a, b, item_of = np.concatenate(firsts), np.concatenate(seconds), np.concatenate(item_ofs)
    kept = _reaching_link(a * len(values_of) + b, item_of, items, weights,
                          {x * len(values_of) + y for x, y in keep})
    for position in np.flatnonzero(kept).tolist():
        item = items[item_of[position]]
        pairs[(int(a[position]), int(b[position]))].append(
            Evidence(item[0], item[1], df[item], weights[item]))
    for found in pairs.values():  # the same order however the members were given
        found.sort(key=lambda e: (e.signal, e.value))
    return pairs


def _reaching_link(pair: np.ndarray, item_of: np.ndarray, items: Sequence[tuple[str, str]],
                   weights: dict[tuple[str, str], float], keep: set[int]) -> np.ndarray:
    """Which (pair, item) rows belong to a pair whose `score` reaches `rarity.LINK`
    (with a margin: the caller sums the kept evidence exactly) or is in ``keep``."""
    classes = {kind: n for n, kind in enumerate(
        sorted({SIGNAL_CLASS.get(signal, signal) for signal, _ in items}))}
    item_class = np.array([classes[SIGNAL_CLASS.get(s, s)] for s, _ in items], dtype=np.int64)
    item_weight = np.array([weights[item] for item in items], dtype=np.float64)
    key = pair * len(classes) + item_class[item_of]  # one sort key: (pair, class)
    order = np.argsort(key)
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    rows_per_class = np.diff(np.r_[starts, len(key)])
    best = np.maximum.reduceat(item_weight[item_of[order]], starts)  # per (pair, class)
    class_pair = key[starts] // len(classes)
    del key
    pair_starts = np.flatnonzero(np.r_[True, class_pair[1:] != class_pair[:-1]])
    linking = np.add.reduceat(best, pair_starts) + 1e-6 >= rarity.LINK  # per pair
    if keep:
        linking |= np.isin(class_pair[pair_starts],
                           np.fromiter(keep, dtype=np.int64, count=len(keep)))
    classes_per_pair = np.diff(np.r_[pair_starts, len(class_pair)])
    kept = np.empty(len(pair), dtype=bool)
    kept[order] = np.repeat(np.repeat(linking, classes_per_pair), rows_per_class)
    return kept


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
