"""The privacy seam: the only view of the node that the federation may read.

Everything returned here is a frozen aggregate that is safe to share: counts,
coarse-able times, booleans, and the shared values themselves (target
domains, fingerprints, SimHashes). No IP, observation or identity id,
honeypot name, credential, command or mail local-part type ever appears in
this module's return values (a summary's handle is a keyed hash of a group's
id, unlinkable to it without the store's secret). `federation` imports this module and nothing
else of `node`'s data layer.

The federation reads it in bulk (`NodeQuery`): at each answer refresh it takes
every value that passes the privacy thresholds *on its own* and answers peers
from that snapshot. The per-question methods of `StoreQuery` serve the local
CLI. The question normalisers (`smtp_question`, `fingerprint_question`,
`check_simhash_question`) are the node's own, so a peer's question names a
value exactly as the node stores it.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from node.cluster.summaries import LAYERS, group_summaries
from node.cluster.summaries import GroupSummary as GroupSummary  # re-exported: the seam
from node.ingest.timestamps import format_time_us
from node.profile.fingerprints import TYPES, validate_fingerprint
from node.profile.rejection import Rejected
from node.profile.simhash import BITS, hamming
from node.profile.smtp import normalise_domain

if TYPE_CHECKING:
    from node.store import Store


@dataclass(frozen=True, slots=True)
class SeenAggregate:
    """How often something was seen locally, and over what time span.

    ``distinct_attackers`` counts identities (an address not yet clustered
    counts as one of its own). Times are UTC epoch microseconds,
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


@dataclass(frozen=True, slots=True)
class ValueAggregate:
    """One stored value and its aggregate: the unit every privacy threshold applies to."""

    value: str
    count: int
    distinct_attackers: int
    first_seen_us: int
    last_seen_us: int


@dataclass(frozen=True, slots=True)
class SimhashSet:
    """Distinct SimHash values of one kind, their sightings and attackers, as parallel arrays."""

    values: NDArray[np.uint64]
    counts: NDArray[np.int64]
    distinct_attackers: NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class SharedMatch:
    """What other operators gossiped that matches one local summary: how many distinct
    operators (never which), and the signals that matched."""

    operators: int
    signals: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NodeTotals:
    """How much the node holds (metrics): counts only, and field rejections by the
    profiler's own fixed reasons."""

    events: int
    observations: int
    identities: int
    campaigns: int
    field_rejections: dict[str, int]


async def node_totals(store: Store) -> NodeTotals:
    """The node's totals, read from the store (a few counts)."""
    counts = await store.counts()
    groups = {}
    for table in ("identities", "campaigns"):
        rows = await store.fetch(f"SELECT count(*) FROM {table}"  # noqa: S608 - constant
                                 " WHERE merged_into IS NULL")
        groups[table] = int(rows[0][0])
    rejections = {str(reason): int(count) for reason, count in await store.fetch(
        "SELECT reason, count FROM profile_rejections")}
    return NodeTotals(counts.events, counts.observations, groups["identities"],
                      groups["campaigns"], rejections)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """What a single value needs before it may be shared at all."""

    min_count: int
    min_distinct_attackers: int


class NodeQuery(Protocol):
    """The federation's bulk view: every shareable value passing ``thresholds`` on its own."""

    async def smtp_targets(self, thresholds: Thresholds) -> list[ValueAggregate]:
        """Target mail domains (normalised) with their aggregates."""
        ...

    async def fingerprints(self, thresholds: Thresholds) -> dict[str, list[ValueAggregate]]:
        """Client and server fingerprints by kind (``ja3``, ``hassh`` …)."""
        ...

    async def simhashes(self, kind: str, thresholds: Thresholds) -> SimhashSet:
        """SimHashes of ``kind`` (``keystroke``, ``mail_body``); zero hashes excluded."""
        ...

    async def summaries(self, layer: str, thresholds: Thresholds) -> list[GroupSummary]:
        """Shareable summaries of the identities or campaigns with a distinctive value
        (`node.cluster.summaries`); every value passes ``thresholds`` on its own."""
        ...


#: SimHash kinds `simhash_near` answers for.
SIMHASH_KINDS = frozenset({"keystroke", "mail_body"})

_NEVER_SEEN = SeenAggregate(False, 0, 0, None, None)
_NO_SIMHASH = "0" * 16

#: Who each profile row ``p`` is from: its identity once clustered, else its address.
#: (Joins, not a correlated subquery: 1.24 s against 1.76 s over 400k fingerprint rows.)
_BY_IDENTITY = ("LEFT JOIN observations AS o ON o.ip = p.ip"
                " LEFT JOIN identities AS i ON i.id = o.id")
_ATTACKER = "coalesce(i.merged_into, i.id, 'ip:' || p.ip)"

#: Per value: sightings, distinct attackers (identities; addresses not yet
#: clustered count as their own), first and last seen; only values passing the thresholds.
_SMTP_TARGETS_SQL = f"""
SELECT p.domain, sum(p.count), count(DISTINCT {_ATTACKER}) AS attackers,
       min(p.first_seen_us), max(p.last_seen_us)
FROM profile_smtp_targets AS p {_BY_IDENTITY} GROUP BY p.domain
HAVING sum(p.count) >= ? AND attackers >= ?
"""  # noqa: S608 - constant SQL
_FINGERPRINTS_SQL = f"""
SELECT p.kind, p.value, sum(p.count), count(DISTINCT {_ATTACKER}) AS attackers,
       min(p.first_seen_us), max(p.last_seen_us)
FROM profile_fingerprints AS p {_BY_IDENTITY} GROUP BY p.kind, p.value
HAVING sum(p.count) >= ? AND attackers >= ?
"""  # noqa: S608
#: A keystroke SimHash is one session's; its attacker is the session's source
#: (a session not linked to one counts as an attacker of its own).
_KEYSTROKE_SIMHASHES_SQL = """
SELECT k.simhash, count(*),
       count(DISTINCT coalesce(i.merged_into, i.id, 'ip:' || p.ip, 'sid:' || k.sid)) AS attackers
FROM keystroke_simhashes AS k LEFT JOIN session_links AS p USING (sid)
LEFT JOIN observations AS o ON o.ip = p.ip LEFT JOIN identities AS i ON i.id = o.id
WHERE k.simhash != '0000000000000000' GROUP BY k.simhash
HAVING count(*) >= ? AND attackers >= ?
"""
_MAIL_SIMHASHES_SQL = f"""
SELECT p.simhash, sum(p.count), count(DISTINCT {_ATTACKER}) AS attackers
FROM profile_mail_simhashes AS p {_BY_IDENTITY}
WHERE p.simhash != '0000000000000000' GROUP BY p.simhash
HAVING sum(p.count) >= ? AND attackers >= ?
"""  # noqa: S608
_ONE_SMTP_TARGET = f"""
SELECT sum(p.count), count(DISTINCT {_ATTACKER}), min(p.first_seen_us), max(p.last_seen_us)
FROM profile_smtp_targets AS p {_BY_IDENTITY} WHERE p.domain = ?
"""  # noqa: S608
_ONE_FINGERPRINT = f"""
SELECT sum(p.count), count(DISTINCT {_ATTACKER}), min(p.first_seen_us), max(p.last_seen_us)
FROM profile_fingerprints AS p {_BY_IDENTITY} WHERE p.kind = ? AND p.value = ?
"""  # noqa: S608


class MalformedQuery(ValueError):
    """A question that is not well formed (unknown kind, bad value, bad distance).

    Well-formed questions about things never seen (or below any threshold)
    are not errors: they get the same "not seen" answer, so refusals are no oracle.
    """


def smtp_question(domain: str) -> str | None:
    """The stored form of a target domain; None for one that is never stored (reserved …)."""
    normalised = normalise_domain(domain)
    return None if isinstance(normalised, Rejected) else normalised


def fingerprint_question(kind: str, value: str) -> str | None:
    """The stored form of a fingerprint; None when it can never be stored; else MalformedQuery."""
    if kind not in TYPES:
        raise MalformedQuery(f"unknown fingerprint kind {kind!r}")
    checked = validate_fingerprint(kind, value)
    if isinstance(checked, Rejected):
        raise MalformedQuery(f"not a valid {kind} value ({checked.reason})")
    return checked


def check_simhash_question(kind: str, simhash: int, max_distance: int) -> None:
    """MalformedQuery unless ``kind`` is served and ``simhash``/``max_distance`` are in range."""
    if kind not in SIMHASH_KINDS:
        raise MalformedQuery(f"unknown SimHash kind {kind!r}")
    if not 0 <= simhash < 1 << BITS:
        raise MalformedQuery("SimHash out of 64-bit range")
    if not 0 <= max_distance <= BITS:
        raise MalformedQuery(f"distance must be 0..{BITS}")


class StoreQuery:
    """`NodeQuery` over the local profile tables; returns aggregates only.

    Reads only: answering a peer never writes. It sees the derived tables as of
    their stages' marks, which the writer and ``serve``'s maintenance keep
    close behind the events (docs/protocol.md, "How fresh an answer is").
    ``distinct_attackers`` counts identities.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    async def smtp_targets(self, thresholds: Thresholds) -> list[ValueAggregate]:
        rows = await self._store.fetch(_SMTP_TARGETS_SQL, _having(thresholds))
        return [ValueAggregate(str(v), int(c), int(d), int(f), int(la))
                for v, c, d, f, la in rows]

    async def fingerprints(self, thresholds: Thresholds) -> dict[str, list[ValueAggregate]]:
        found: dict[str, list[ValueAggregate]] = {}
        for kind, v, c, d, f, la in await self._store.fetch(_FINGERPRINTS_SQL,
                                                             _having(thresholds)):
            found.setdefault(str(kind), []).append(
                ValueAggregate(str(v), int(c), int(d), int(f), int(la)))
        return found

    async def simhashes(self, kind: str, thresholds: Thresholds) -> SimhashSet:
        if kind not in SIMHASH_KINDS:
            raise MalformedQuery(f"unknown SimHash kind {kind!r}")
        sql = _KEYSTROKE_SIMHASHES_SQL if kind == "keystroke" else _MAIL_SIMHASHES_SQL
        rows = await self._store.fetch(sql, _having(thresholds))
        # ~0.3 s per million rows: off the event loop, which is answering peers
        return await asyncio.to_thread(_simhash_set, rows)

    async def summaries(self, layer: str, thresholds: Thresholds) -> list[GroupSummary]:
        if layer not in LAYERS:
            raise MalformedQuery(f"unknown layer {layer!r}")
        return await self._store.read_job(functools.partial(
            group_summaries, layer=layer, min_count=thresholds.min_count,
            min_distinct_attackers=thresholds.min_distinct_attackers))

    async def smtp_target(self, domain: str) -> SeenAggregate:
        """This node's own aggregate for one domain (the local CLI; no thresholds)."""
        normalised = smtp_question(domain)
        if normalised is None:
            return _NEVER_SEEN
        return await self._seen(_ONE_SMTP_TARGET, (normalised,))

    async def fingerprint(self, kind: str, value: str) -> SeenAggregate:
        """This node's own aggregate for one fingerprint (the local CLI; no thresholds)."""
        checked = fingerprint_question(kind, value)
        if checked is None:
            return _NEVER_SEEN
        return await self._seen(_ONE_FINGERPRINT, (kind, checked))

    async def simhash_near(self, kind: str, simhash: int, max_distance: int) -> NearAggregate:
        """This node's own SimHashes near a probe (the local CLI; no thresholds)."""
        check_simhash_question(kind, simhash, max_distance)
        if simhash == 0:
            return NearAggregate(False, None, 0)
        if kind == "keystroke":
            rows = await self._store.fetch(
                "SELECT simhash FROM keystroke_simhashes WHERE simhash != ?", (_NO_SIMHASH,))
        else:
            rows = await self._store.fetch("SELECT simhash FROM profile_mail_simhashes")
        distances = [hamming(simhash, int(value, 16)) for (value,) in rows]
        within = [d for d in distances if d <= max_distance]
        return NearAggregate(bool(within), min(within) if within else None, len(within))

    async def _seen(self, sql: str, params: tuple[str, ...]) -> SeenAggregate:
        rows = await self._store.fetch(sql, params)
        count, distinct, first, last = rows[0]
        if not count:
            return _NEVER_SEEN
        return SeenAggregate(True, int(count), int(distinct), first, last)


def _simhash_set(rows: list[tuple[Any, ...]]) -> SimhashSet:
    values = np.fromiter((int(v, 16) for v, _, _ in rows), dtype=np.uint64, count=len(rows))
    counts = np.fromiter((int(c) for _, c, _ in rows), dtype=np.int64, count=len(rows))
    distinct = np.fromiter((int(d) for _, _, d in rows), dtype=np.int64, count=len(rows))
    return SimhashSet(values, counts, distinct)


def _having(thresholds: Thresholds) -> tuple[int, int]:
    return thresholds.min_count, thresholds.min_distinct_attackers


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
