"""The privacy seam: the only view of the node that the federation may read.

Everything returned here is a frozen aggregate that is safe to share: counts,
coarse-able times, booleans. No IP, observation or identity id, honeypot name,
credential, command or mail local-part type ever appears in this module's
return values. `federation` imports this module and nothing else of `node`'s
data layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from node.ingest.timestamps import format_time_us
from node.profile.fingerprints import TYPES, validate_fingerprint
from node.profile.journal import fold_journals
from node.profile.keystrokes import refresh_keystroke_simhashes
from node.profile.rejection import Rejected
from node.profile.simhash import BITS, hamming
from node.profile.smtp import normalise_domain

if TYPE_CHECKING:
    from node.store import Store


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


#: SimHash kinds `simhash_near` answers for.
SIMHASH_KINDS = frozenset({"keystroke", "mail_body"})

_NEVER_SEEN = SeenAggregate(False, 0, 0, None, None)
_NO_SIMHASH = "0" * 16


class MalformedQuery(ValueError):
    """A question that is not well formed (unknown kind, bad value, bad distance).

    Well-formed questions about things never seen (or below any threshold)
    are not errors: they get the same "not seen" answer, so refusals are no oracle.
    """


class StoreQuery:
    """`NodeQuery` over the local profile tables; returns aggregates only.

    ``distinct_attackers`` counts observations (source IPs) until identity
    clustering exists.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    async def smtp_target(self, domain: str) -> SeenAggregate:
        normalised = normalise_domain(domain)
        if isinstance(normalised, Rejected):
            return _NEVER_SEEN
        return await self._seen(
            "SELECT sum(count), count(DISTINCT ip), min(first_seen_us), max(last_seen_us)"
            " FROM profile_smtp_targets WHERE domain = ?", (normalised,))

    async def fingerprint(self, kind: str, value: str) -> SeenAggregate:
        if kind not in TYPES:
            raise MalformedQuery(f"unknown fingerprint kind {kind!r}")
        checked = validate_fingerprint(kind, value)
        if isinstance(checked, Rejected):
            raise MalformedQuery(f"not a valid {kind} value ({checked.reason})")
        if checked is None:
            return _NEVER_SEEN
        return await self._seen(
            "SELECT sum(count), count(DISTINCT ip), min(first_seen_us), max(last_seen_us)"
            " FROM profile_fingerprints WHERE kind = ? AND value = ?", (kind, checked))

    async def simhash_near(self, kind: str, simhash: int, max_distance: int) -> NearAggregate:
        if kind not in SIMHASH_KINDS:
            raise MalformedQuery(f"unknown SimHash kind {kind!r}")
        if not 0 <= simhash < 1 << BITS:
            raise MalformedQuery("SimHash out of 64-bit range")
        if not 0 <= max_distance <= BITS:
            raise MalformedQuery(f"distance must be 0..{BITS}")
        if simhash == 0:
            return NearAggregate(False, None, 0)
        if kind == "keystroke":
            await refresh_keystroke_simhashes(self._store)
            rows = await self._store.fetch(
                "SELECT simhash FROM keystroke_simhashes WHERE simhash != ?", (_NO_SIMHASH,))
        else:
            await fold_journals(self._store)
            rows = await self._store.fetch("SELECT simhash FROM profile_mail_simhashes")
        distances = [hamming(simhash, int(value, 16)) for (value,) in rows]
        within = [d for d in distances if d <= max_distance]
        return NearAggregate(bool(within), min(within) if within else None, len(within))

    async def _seen(self, sql: str, params: tuple[str, ...]) -> SeenAggregate:
        await fold_journals(self._store)
        rows = await self._store.fetch(sql, params)
        count, distinct, first, last = rows[0]
        if not count:
            return _NEVER_SEEN
        return SeenAggregate(True, int(count), int(distinct), first, last)


async def local_smtp_answer(store: Store, domain: str) -> dict[str, object]:
    """The local answer to "was DOMAIN targeted?", for `query smtp DOMAIN --local`.

    Raises `MalformedQuery` when the question is not a valid target domain.
    """
    normalised = normalise_domain(domain)
    if isinstance(normalised, Rejected):
        raise MalformedQuery(f"{domain!r} is not a target domain ({normalised.reason})")
    found = await StoreQuery(store).smtp_target(normalised)
    return {"domain": normalised, **aggregate_json(found)}


def aggregate_json(found: SeenAggregate) -> dict[str, object]:
    """``seen``, ``count`` and first/last seen (ISO 8601 UTC) of an aggregate."""
    return {
        "seen": found.seen,
        "count": found.count,
        "first_seen": None if found.first_seen_us is None else format_time_us(found.first_seen_us),
        "last_seen": None if found.last_seen_us is None else format_time_us(found.last_seen_us),
    }
