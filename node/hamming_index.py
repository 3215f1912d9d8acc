"""Hamming-distance index over 64-bit SimHashes (multi-index hashing).

"How many stored SimHashes lie within distance r of this probe?" must not cost
a pass over every stored value. Multi-index hashing (Norouzi, Punjani and
Fleet, "Fast search in Hamming space with multi-index hashing", CVPR 2012)
cuts the 64 bits into m contiguous blocks and indexes each block on its own.
By the refined pigeonhole bound, writing r = m*s + a (0 <= a < m), any value
within r of the probe is within s of it on one of the first a+1 blocks, or
within s-1 on one of the others (a block whose sub-radius would be negative
is not probed): otherwise the distance is at least (a+1)(s+1) + (m-a-1)s > r.

Layout, per block: every position sorted by its block value (and the values
in that order, so verifying a bucket reads contiguous memory), plus a
direct-address table of 2**w + 1 bucket starts, so a bucket is two reads.
Memory is 8 + 12m bytes per value (56 MB per million at m = 4) plus tables.

Query: every block value within its sub-radius of the probe's (XOR masks
built combinatorially, cached per width and sub-radius), bucket ranges read
from the table, expanded into candidate slots with repeat + arange, verified
with a popcount, deduplicated and ordered by position, all vectorised; below
radius m each probed block has a single bucket, read as a slice.

Block count (`block_count`): m = round(64 / (log2 n - 4)), clamped to 4..8,
so a bucket holds about 16 values. Plain 64 / log2 n (about one value per
bucket) gives m = 3 from a million values on, whose 21-22-bit tables (4 M
entries each) miss the cache on nearly every read; measured on the 2-core
bench machine (median of 400 probes, random hashes + 1% near-duplicates):

    n      m  radius 3  radius 16  build     numpy scan (radius 16)
    1 M    3     25 us    1669 us   587 ms   ~820 us
    1 M    4     13 us     478 us   112 ms
    1 M    5     16 us     489 us   106 ms
    4 M    3     20 us    2757 us  2469 ms   ~5.9 ms
    4 M    4     28 us    1486 us   666 ms
    16 M   3     79 us    6900 us    12 s    ~39 ms
    16 M   4     25 us    5424 us   6.4 s
    100 k  4-6   15-18 us  77-114 us  ~10 ms  ~74 us

bench/simhash.py (1,010,000 hashes, 2000 probes, chunks alternating with a
numpy scan): build 0.19-0.29 s; radius 3 p50 18 us, p99 85-100 us (scan ~1.1
ms); radius 16 p50 0.55-0.72 ms, p99 0.9-1.2 ms (scan p50 0.9-1.3 ms). Right
after an 8 MB scan has flushed the caches, radius 3 takes ~56-68 us p50.

Small sets get up to 8 blocks (8-bit blocks, 257-entry tables); there Python
and numpy call overhead (tens of microseconds) dominates either way, and
below ~100 k values a scan is about as fast as the index at radius 16.

Scan fallback: above radius 16, a radius whose estimated cost (buckets probed
plus candidates expanded, each costing `_CANDIDATE_COST` scanned values) is
at least one pass over all values is answered by verifying every position;
radius 16 and below always go through the blocks. At n = 1 M (m = 4) the
index costs ~0.57 ms at radius 16, ~1.1 ms at 18 and ~2.3 ms at 20 against
~1.0 ms for a scan, so the fallback starts at radius 18 there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Final

import numpy as np
from numpy.typing import NDArray

#: Width of the hashes this index holds.
BITS: Final = 64
#: Fewest blocks `build(blocks=...)` accepts: 3 blocks are 21-22 bits wide.
MIN_BLOCKS: Final = 3
#: Most blocks: small sets get 8-bit blocks, so tables stay at 257 entries.
MAX_BLOCKS: Final = 8
#: Widest block, so its offsets table holds at most 2**22 + 1 entries.
MAX_BLOCK_BITS: Final = -(-BITS // MIN_BLOCKS)
#: Fewest blocks `block_count` picks: 16-bit tables stay cache-resident (see above).
_RULE_MIN_BLOCKS: Final = 4
#: log2 of the values a bucket should hold on average.
_BUCKET_LOG2: Final = 4
#: Radii up to this are always answered through the blocks, never by a scan.
ALWAYS_INDEXED_RADIUS: Final = 16
#: Cost of one probed bucket or one expanded candidate, in scanned values (measured at
#: 1 M: ~8 ns per candidate for expansion, a gather that misses the cache, popcount,
#: against ~1 ns per value for the scan's xor + popcount + compare).
_CANDIDATE_COST: Final = 8.0

_MAX_VALUE: Final = (1 << BITS) - 1
_EMPTY: Final = np.empty(0, dtype=np.int64)
_EMPTY.flags.writeable = False


def _nothing() -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """No matches, as fresh arrays like every other answer (callers may write to them)."""
    return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)


def block_count(n: int) -> int:
    """Blocks for n stored values: blocks about log2(n) - 4 bits wide, ~16 values a bucket."""
    if n <= 1 << (_BUCKET_LOG2 + BITS // MAX_BLOCKS):
        return MAX_BLOCKS
    wanted = round(BITS / (math.log2(n) - _BUCKET_LOG2))
    return min(MAX_BLOCKS, max(_RULE_MIN_BLOCKS, wanted))


def block_widths(blocks: int) -> tuple[int, ...]:
    """Widths of `blocks` contiguous blocks covering 64 bits, widest first."""
    base, extra = divmod(BITS, blocks)
    return tuple(base + 1 if j < extra else base for j in range(blocks))


@cache
def _masks(width: int, radius: int) -> NDArray[np.int64]:
    """All `width`-bit XOR masks of popcount <= radius, ascending (recursion on the top bit)."""
    if radius >= width:
        masks = np.arange(1 << width, dtype=np.int64)
    elif radius == 0:
        masks = np.zeros(1, dtype=np.int64)
    else:
        top = np.int64(1 << (width - 1))
        masks = np.concatenate([_masks(width - 1, radius), _masks(width - 1, radius - 1) | top])
    masks.flags.writeable = False
    return masks


def _mask_count(width: int, radius: int) -> int:
    return sum(math.comb(width, k) for k in range(min(radius, width) + 1))


def _as_uint64(values: Sequence[int] | NDArray[np.generic]) -> NDArray[np.uint64]:
    if isinstance(values, np.ndarray):
        if values.ndim != 1 or values.dtype.kind not in "iu":
            raise ValueError(f"values must be a 1-D integer array, not {values.dtype} "
                             f"with shape {values.shape}")
        if values.dtype.kind == "i" and len(values) and int(values.min()) < 0:
            raise ValueError("values must lie in 0..2**64-1")
        return np.array(values, dtype=np.uint64)  # a copy: the caller's array may change
    for value in values:
        _check_value(value, "values")
    return np.array(values, dtype=np.uint64).reshape(len(values))


def _check_value(value: object, name: str) -> int:
    if not isinstance(value, int | np.integer) or isinstance(value, bool) \
            or not 0 <= value <= _MAX_VALUE:
        raise ValueError(f"{name} must be integers in 0..2**64-1, got {value!r}")
    return int(value)


def _check_radius(radius: object) -> int:
    """The radius as an int, 64 for anything larger (every value is within 64)."""
    if not isinstance(radius, int | np.integer) or isinstance(radius, bool) or radius < 0:
        raise ValueError(f"radius must be a non-negative integer, got {radius!r}")
    return min(int(radius), BITS)


@dataclass(frozen=True, slots=True)
class _Plan:
    """How one radius is answered: by a scan, by exact buckets, or by masked lookups."""

    scan: bool
    exact: tuple[int, ...]  # when every probed block has sub-radius 0 (radius < m): those blocks
    blocks: NDArray[np.intp]  # otherwise, the block probed by each lookup,
    masks: NDArray[np.int64]  # the XOR applied to the probe's value of that block,
    tables: NDArray[np.int64]  # and where that block's offsets start in the joint table
    distinct: bool  # a single block probed: no position can turn up twice


_ramps: list[NDArray[np.int64]] = [np.arange(0, dtype=np.int64)]


def _ramp(length: int) -> NDArray[np.int64]:
    """arange(length) as a read-only view of a shared array grown by doubling: no allocation."""
    ramp = _ramps[0]
    if length > len(ramp):
        ramp = np.arange(1 << max(length - 1, 1).bit_length(), dtype=np.int64)
        ramp.flags.writeable = False
        _ramps[0] = ramp
    return ramp[:length]


def _ordered(found: NDArray[np.int32], distances: NDArray[np.uint8], distinct: bool
             ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Matches by ascending position, each once (a value near on two blocks turns up twice)."""
    positions, near = found.astype(np.int64), distances.astype(np.int64)
    if len(positions) < 2:
        return positions, near
    if distinct:
        order = np.argsort(positions)
        return positions.take(order), near.take(order)
    positions, first = np.unique(positions, return_index=True)
    return positions, near.take(first)


_SCAN = _Plan(True, (), np.empty(0, dtype=np.intp), _EMPTY, _EMPTY, True)


class HammingIndex:
    """Immutable index over uint64 values (duplicates allowed; each has a position 0..n-1)."""

    __slots__ = ("_values", "_widths", "_cuts", "_positions", "_sorted", "_offsets", "_scan_from",
                 "_plans")

    def __init__(self, values: NDArray[np.uint64], widths: tuple[int, ...],
                 positions: NDArray[np.int32], sorted_values: NDArray[np.uint64],
                 offsets: NDArray[np.int64], scan_from_radius: int | None) -> None:
        self._values = values
        self._widths = widths
        shifts = np.cumsum((0, *widths[:-1])).tolist()
        tables = np.cumsum((0, *((1 << w) + 1 for w in widths[:-1]))).tolist()
        #: per block: (shift, width mask, start of its offsets table)
        self._cuts = tuple((shift, (1 << w) - 1, table)
                           for shift, w, table in zip(shifts, widths, tables, strict=True))
        self._positions = positions  # block j's positions sorted by block value, at j*n
        self._sorted = sorted_values  # the values in the same order, so reads are contiguous
        self._offsets = offsets  # per block 2**w + 1 bucket starts into the two arrays above
        self._scan_from = scan_from_radius
        self._plans: dict[int, _Plan] = {}

    @classmethod
    def build(cls, values: Sequence[int] | NDArray[np.generic], *, blocks: int | None = None,
              scan_from_radius: int | None = None) -> HammingIndex:
        """Index `values`; `blocks` overrides `block_count`.

        `scan_from_radius` answers radii from this value on with a scan (65: never);
        by default a cost estimate decides, and radii up to 16 are never scanned.
        """
        array = _as_uint64(values)
        n = len(array)
        if n >= 1 << 31:
            raise ValueError("at most 2**31 - 1 values")
        m = block_count(n) if blocks is None else blocks
        if not MIN_BLOCKS <= m <= MAX_BLOCKS:
            raise ValueError(f"blocks must lie in {MIN_BLOCKS}..{MAX_BLOCKS}, got {m}")
        widths = block_widths(m)
        positions = np.empty(m * n, dtype=np.int32)
        sorted_values = np.empty(m * n, dtype=np.uint64)
        offsets = np.empty(sum((1 << w) + 1 for w in widths), dtype=np.int64)
        shift = table = 0
        for j, width in enumerate(widths):
            narrow = np.uint16 if width <= 16 else np.uint32  # 16 bits sort by radix
            keys = ((array >> np.uint64(shift)) & np.uint64((1 << width) - 1)).astype(narrow)
            order = np.argsort(keys, kind="stable")  # stable: a bucket lists positions ascending
            positions[j * n:(j + 1) * n] = order
            sorted_values[j * n:(j + 1) * n] = array[order]
            bucket_starts = offsets[table:table + (1 << width) + 1]
            bucket_starts[0] = 0
            np.cumsum(np.bincount(keys, minlength=1 << width), out=bucket_starts[1:])
            bucket_starts += j * n
            shift += width
            table += (1 << width) + 1
        for frozen in (array, positions, sorted_values, offsets):
            frozen.flags.writeable = False
        return cls(array, widths, positions, sorted_values, offsets, scan_from_radius)

    def __len__(self) -> int:
        return len(self._values)

    def scans(self, radius: int) -> bool:
        """Whether `radius` is answered by verifying every position instead of the blocks."""
        return self._plan_for(_check_radius(radius)).scan

    def within(self, probe: int, radius: int) -> NDArray[np.int64]:
        """Positions (int64, ascending) of stored values with popcount(value ^ probe) <= radius."""
        return self.distances_within(probe, radius)[0]

    def distances_within(self, probe: int, radius: int
                         ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """(positions, distances) for the same matches; radii above 64 mean 64."""
        probe = _check_value(probe, "probe")
        radius = _check_radius(radius)
        if not len(self._values):
            return _nothing()
        plan = self._plan_for(radius)
        if plan.scan:
            distances = np.bitwise_count(self._values ^ np.uint64(probe))
            found = np.flatnonzero(distances <= radius)
            return found, distances[found].astype(np.int64)
        if plan.exact:
            return self._exact(probe, radius, plan)
        return self._lookup(probe, radius, plan)

    def _exact(self, probe: int, radius: int, plan: _Plan
               ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Radius < m: one bucket per probed block, read as slices (a loop over blocks)."""
        offsets, spans = self._offsets, []
        for block in plan.exact:
            shift, mask, table = self._cuts[block]
            key = table + (probe >> shift & mask)
            start, end = int(offsets[key]), int(offsets[key + 1])
            if end > start:
                spans.append(slice(start, end))
        if not spans:
            return _nothing()
        if len(spans) == 1:
            values, positions = self._sorted[spans[0]], self._positions[spans[0]]
        else:
            values = np.concatenate([self._sorted[span] for span in spans])
            positions = np.concatenate([self._positions[span] for span in spans])
        distances = np.bitwise_count(values ^ np.uint64(probe))
        hits = distances <= radius
        if len(spans) == 1:  # one bucket lists its positions ascending
            return positions[hits].astype(np.int64), distances[hits].astype(np.int64)
        return _ordered(positions[hits], distances[hits], False)

    def _lookup(self, probe: int, radius: int, plan: _Plan
                ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Every bucket within its sub-radius, its ranges expanded into candidate slots."""
        parts = np.array([probe >> shift & mask for shift, mask, _ in self._cuts], dtype=np.int64)
        keys = parts.take(plan.blocks)
        keys ^= plan.masks
        keys += plan.tables
        starts = self._offsets.take(keys)
        keys += 1
        counts = self._offsets.take(keys)
        counts -= starts
        ends = np.cumsum(counts)
        total = int(ends[-1])
        if not total:
            return _nothing()
        starts -= ends
        starts += counts  # each range's start minus the number of candidates before it
        slots = np.repeat(starts, counts)
        slots += _ramp(total)
        candidates = self._sorted.take(slots)
        candidates ^= np.uint64(probe)
        distances = np.bitwise_count(candidates)
        hits = np.flatnonzero(distances <= radius)
        return _ordered(self._positions.take(slots.take(hits)), distances.take(hits),
                        plan.distinct)

    def _plan_for(self, radius: int) -> _Plan:
        plan = self._plans.get(radius)
        if plan is None:
            plan = self._plans[radius] = self._plan(radius)
        return plan

    def _plan(self, radius: int) -> _Plan:
        m, n = len(self._widths), len(self._values)
        step, rest = divmod(radius, m)
        subs = [step if j <= rest else step - 1 for j in range(m)]
        probed = [(j, w, sub) for j, (w, sub) in enumerate(zip(self._widths, subs, strict=True))
                  if sub >= 0]
        if self._scan_from is not None:
            scan = radius >= self._scan_from
        else:
            lookups = sum(_mask_count(w, sub) for _, w, sub in probed)
            candidates = sum(_mask_count(w, sub) * n / (1 << w) for _, w, sub in probed)
            scan = radius > ALWAYS_INDEXED_RADIUS \
                and (lookups + candidates) * _CANDIDATE_COST >= n
        if scan:
            return _SCAN
        if step == 0:
            return _Plan(False, tuple(j for j, _, _ in probed), _SCAN.blocks, _EMPTY, _EMPTY,
                         len(probed) == 1)
        masks = [_masks(w, sub) for _, w, sub in probed]
        blocks = np.repeat(np.array([j for j, _, _ in probed], dtype=np.intp),
                           [len(mask) for mask in masks])
        tables = np.array([table for _, _, table in self._cuts], dtype=np.int64)
        return _Plan(False, (), blocks, np.concatenate(masks), tables.take(blocks),
                     len(probed) == 1)
