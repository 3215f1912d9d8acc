"""The privacy seam: the only view of the node that the federation may read.

Everything returned here is a frozen aggregate that is safe to share: counts,
coarse-able times, booleans. No IP, observation or identity id, honeypot name,
credential, command or mail local-part type ever appears in this module's
return values. `federation` imports this module and nothing else of `node`'s
data layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SeenAggregate:
    """How often something was seen locally, and over what time span.

    ``distinct_attackers`` counts identities once clustering exists,
    observations (source IPs) until then. Times are UTC epoch microseconds,
    ``None`` when never seen; callers coarsen them before sharing.
    """

    seen: bool
    count: int
    distinct_attackers: int
    first_seen_us: int | None
    last_seen_us: int | None


@dataclass(frozen=True, slots=True)
class NearAggregate:
    """Whether any local SimHash lies within a Hamming distance of a probe value."""

    match: bool
    min_distance: int | None
    count_within: int


class NodeQuery(Protocol):
    """Aggregate-only questions the federation may ask the node."""

    async def smtp_target(self, domain: str) -> SeenAggregate:
        """Mail targeting of ``domain`` (already normalised by the caller or here)."""
        ...

    async def fingerprint(self, kind: str, value: str) -> SeenAggregate:
        """Sightings of a client/server fingerprint (``ja3``, ``ja4``, ``hassh`` …)."""
        ...

    async def simhash_near(self, kind: str, simhash: int, max_distance: int) -> NearAggregate:
        """Local SimHashes of ``kind`` (``keystroke``, ``mail_body``) near ``simhash``."""
        ...
