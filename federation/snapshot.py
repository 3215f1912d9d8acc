"""What peers see: a snapshot of the shareable aggregates, refreshed at an interval.

Answers come from a snapshot taken every ``[privacy] answer_refresh_s``
(default one hour), never from the live store: a question repeated inside
the interval gets the same answer, so polling learns nothing sooner than the
interval, and no question touches the database or scans anything.

Only values that pass the privacy thresholds *on their own* (``min_count``
sightings, ``min_distinct_attackers``) enter the snapshot. A value below them
contributes to no answer at all, not even to a SimHash count near it, so
asking around it and watching counts change recovers nothing
(docs/protocol.md, "No leak by difference"). SimHashes are answered through
a multi-index Hamming index (`node.hamming_index`), in microseconds to
milliseconds for the radii a policy allows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from federation.privacy import PrivacyPolicy, SharedSeen, coarsen_us
from node.hamming_index import HammingIndex
from node.query import (
    SIMHASH_KINDS,
    NearAggregate,
    NodeQuery,
    Thresholds,
    ValueAggregate,
)

NEVER_SEEN = SharedSeen(False, 0, 0, None, None)
NO_MATCH = NearAggregate(False, None, 0)


@dataclass(frozen=True, slots=True)
class SimhashTable:
    """One kind's shareable SimHashes: the index and each value's sightings."""

    index: HammingIndex
    counts: NDArray[np.int64]

    def near(self, probe: int, radius: int) -> NearAggregate:
        positions, distances = self.index.distances_within(probe, radius)
        if not len(positions):
            return NO_MATCH
        return NearAggregate(True, int(distances.min()), int(self.counts[positions].sum()))


@dataclass(frozen=True, slots=True)
class AnswerSnapshot:
    """Every shareable aggregate as of ``taken_s``; lookups only."""

    taken_s: float
    smtp: Mapping[str, SharedSeen] = field(default_factory=dict)
    fingerprints: Mapping[tuple[str, str], SharedSeen] = field(default_factory=dict)
    simhashes: Mapping[str, SimhashTable] = field(default_factory=dict)

    def smtp_seen(self, domain: str | None) -> SharedSeen:
        """``domain`` in its stored form (`node.query.smtp_question`)."""
        return NEVER_SEEN if domain is None else self.smtp.get(domain, NEVER_SEEN)

    def fingerprint_seen(self, kind: str, value: str | None) -> SharedSeen:
        return NEVER_SEEN if value is None else self.fingerprints.get((kind, value), NEVER_SEEN)

    def near(self, kind: str, probe: int, radius: int) -> NearAggregate:
        table = self.simhashes.get(kind)
        if table is None or probe == 0:
            return NO_MATCH
        return table.near(probe, radius)


def _shared(found: ValueAggregate, policy: PrivacyPolicy) -> SharedSeen:
    granularity = policy.time_granularity_s
    return SharedSeen(True, found.count, found.distinct_attackers,
                      coarsen_us(found.first_seen_us, granularity),
                      coarsen_us(found.last_seen_us, granularity))


def _passes(found: ValueAggregate, thresholds: Thresholds) -> bool:
    """Checked again here: the snapshot never trusts the seam to have filtered."""
    return found.count >= thresholds.min_count \
        and found.distinct_attackers >= thresholds.min_distinct_attackers


async def take_snapshot(query: NodeQuery, policy: PrivacyPolicy, now_s: float) -> AnswerSnapshot:
    """Read every shareable value through the seam; indexes are built off the event loop."""
    thresholds = Thresholds(policy.min_count, policy.min_distinct_attackers)
    smtp = {found.value: _shared(found, policy)
            for found in await query.smtp_targets(thresholds) if _passes(found, thresholds)}
    fingerprints = {(kind, found.value): _shared(found, policy)
                    for kind, values in (await query.fingerprints(thresholds)).items()
                    for found in values if _passes(found, thresholds)}
    simhashes: dict[str, SimhashTable] = {}
    for kind in sorted(SIMHASH_KINDS):
        found_set = await query.simhashes(kind, thresholds)
        keep = (found_set.counts >= thresholds.min_count) \
            & (found_set.distinct_attackers >= thresholds.min_distinct_attackers)
        values, counts = found_set.values[keep], found_set.counts[keep]
        index = await asyncio.to_thread(HammingIndex.build, values)
        simhashes[kind] = SimhashTable(index, counts)
    return AnswerSnapshot(now_s, smtp, fingerprints, simhashes)
