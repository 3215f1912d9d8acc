"""Shareable summaries of identities and campaigns: what gossip may publish (node side).

A group (identity or campaign) is summarised by its *distinctive* values
only: client and server fingerprints held by at most `rarity.RARE`
attackers node-wide, the values that link on their own (a stock client's
fingerprint says nothing about who is behind an identity, and would match
half the federation), keystroke
SimHashes of sessions long enough to link, mail body SimHashes; and, beside
them, the EUI-64 OUIs (vendors) it leaked. Every value must pass the
node's privacy thresholds on its own, as in answers. A group with no
distinctive value is not summarised, nor is a campaign of a single identity
(its identity's summary is the same). Lists are capped at `MAX_VALUES` per
kind (the most seen first).

Each summary carries a handle: a keyed hash of the group's id under a
secret of the store, stable across runs (so an update replaces the same
record) and unlinkable to the id without the store.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections import defaultdict
from dataclasses import dataclass

from node.cluster import rarity
from node.cluster.features import select_in
from node.cluster.identities import MIN_KEYSTROKE_SAMPLES

#: Fingerprint kinds a summary may list (the machine- and tool-level ones).
SHARED_FINGERPRINTS = ("ja3", "ja4", "ja4h", "hassh", "jarm", "tls_cert")
#: Version of the SimHash algorithms (node/profile/simhash.py).
SIMHASH_ALGORITHM_VERSION = 1
#: Version of the EUI-64 OUI extraction (node/profile/ipv6.py).
OUI_ALGORITHM_VERSION = 1
#: Values per kind in one summary, at most.
MAX_VALUES = 32
LAYERS = ("identity", "campaign")
_TABLE = {"identity": "identities", "campaign": "campaigns"}
_KINDS = ", ".join(f"'{k}'" for k in SHARED_FINGERPRINTS)


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """One identity's or campaign's shareable summary (no address, id or local name)."""

    layer: str
    handle: str
    #: (kind, algorithm version, values), kinds sorted, values sorted
    fingerprints: tuple[tuple[str, int, tuple[str, ...]], ...]
    simhashes: tuple[tuple[str, int, tuple[int, ...]], ...]
    observations: int
    first_seen_us: int
    last_seen_us: int


def group_summaries(conn: sqlite3.Connection, layer: str, min_count: int,
                    min_distinct_attackers: int) -> list[GroupSummary]:
    """Every group of ``layer`` with a distinctive value, summarised."""
    return [summary for _, summary in summaries_by_group(conn, layer, min_count,
                                                         min_distinct_attackers)]


def summaries_by_group(conn: sqlite3.Connection, layer: str, min_count: int = 1,
                       min_distinct_attackers: int = 1) -> list[tuple[int, GroupSummary]]:
    """`group_summaries` with each group's local id (for this node's own CLI only)."""
    table = _TABLE[layer]
    salt = conn.execute("SELECT value FROM meta WHERE name = 'summary_salt'").fetchone()
    if salt is None:
        return []  # a store not yet upgraded (read-only): nothing to publish
    root = f"JOIN observations AS o ON o.ip = p.ip JOIN {table} AS g ON g.id = o.id"
    group = "coalesce(g.merged_into, g.id)"
    having = (min_count, min_distinct_attackers)
    values: dict[int, dict[tuple[str, int], dict[str, int]]] = defaultdict(
        lambda: defaultdict(dict))
    distinctive: set[int] = set()
    fingerprint_sql = f"""
        WITH shared AS (
            SELECT p.kind, p.value FROM profile_fingerprints AS p {_BY_IDENTITY}
            WHERE p.kind IN ({_KINDS}) GROUP BY p.kind, p.value
            HAVING sum(p.count) >= ? AND count(DISTINCT {_ATTACKER}) >= ?
               AND count(DISTINCT {_ATTACKER}) <= {rarity.RARE})
        SELECT {group}, p.kind, p.version, p.value, p.count
        FROM profile_fingerprints AS p JOIN shared USING (kind, value) {root}"""  # noqa: S608
    for gid, kind, version, value, count in conn.execute(fingerprint_sql, having):
        _add(values[gid][(str(kind), int(version))], str(value), int(count))
        distinctive.add(gid)
    keystroke_sql = f"""
        WITH shared AS (
            SELECT k.simhash FROM keystroke_simhashes AS k
            LEFT JOIN session_links AS p USING (sid) {_BY_IDENTITY}
            WHERE k.samples >= ? AND k.simhash != '0000000000000000' GROUP BY k.simhash
            HAVING count(*) >= ? AND count(DISTINCT {_ATTACKER}) >= ?)
        SELECT {group}, k.simhash FROM keystroke_simhashes AS k JOIN shared USING (simhash)
        JOIN session_links AS p USING (sid) {root}"""  # noqa: S608
    for gid, simhash in conn.execute(keystroke_sql, (MIN_KEYSTROKE_SAMPLES, *having)):
        _add(values[gid][("keystroke", SIMHASH_ALGORITHM_VERSION)], str(simhash), 1)
        distinctive.add(gid)
    mail_sql = f"""
        WITH shared AS (
            SELECT p.simhash FROM profile_mail_simhashes AS p {_BY_IDENTITY}
            WHERE p.simhash != '0000000000000000' GROUP BY p.simhash
            HAVING sum(p.count) >= ? AND count(DISTINCT {_ATTACKER}) >= ?)
        SELECT {group}, p.simhash, p.count FROM profile_mail_simhashes AS p
        JOIN shared USING (simhash) {root}"""  # noqa: S608
    for gid, simhash, count in conn.execute(mail_sql, having):
        _add(values[gid][("mail_body", SIMHASH_ALGORITHM_VERSION)], str(simhash), int(count))
        distinctive.add(gid)
    oui_sql = f"""
        WITH shared AS (
            SELECT p.oui FROM profile_ipv6_leaks AS p {_BY_IDENTITY}
            WHERE p.kind = 'eui64' AND p.oui IS NOT NULL GROUP BY p.oui
            HAVING sum(p.count) >= ? AND count(DISTINCT {_ATTACKER}) >= ?)
        SELECT {group}, p.oui, p.count FROM profile_ipv6_leaks AS p JOIN shared USING (oui)
        {root} WHERE p.kind = 'eui64'"""  # noqa: S608
    for gid, oui, count in conn.execute(oui_sql, having):
        if gid in distinctive:
            _add(values[gid][("eui64_oui", OUI_ALGORITHM_VERSION)], str(oui), int(count))
    spans = f"""
        SELECT coalesce(g.merged_into, g.id), coalesce(i.merged_into, i.id),
               o.first_seen_us, o.last_seen_us
        FROM {table} AS g JOIN observations AS o ON o.id = g.id
        LEFT JOIN identities AS i ON i.id = g.id
        WHERE g.id IN ({{marks}}) OR g.merged_into IN ({{marks}})"""  # noqa: S608
    span: dict[int, list[int]] = {}
    identities: dict[int, set[int]] = defaultdict(set)
    for gid, identity, first, last in select_in(conn, spans, sorted(distinctive), repeat=2):
        known = span.setdefault(gid, [0, first, last])
        known[0] += 1
        known[1], known[2] = min(known[1], first), max(known[2], last)
        identities[gid].add(identity)
    key = bytes.fromhex(str(salt[0]))
    found = []
    for gid in sorted(span):
        if layer == "campaign" and len(identities[gid]) < 2:
            continue  # a campaign of one identity: its identity's summary says it all
        observations, first, last = span[gid]
        kinds = values[gid]
        found.append((int(gid), GroupSummary(
            layer, _handle(key, layer, int(gid)),
            tuple((kind, version, tuple(sorted(_top(kinds[(kind, version)]))))
                  for kind, version in sorted(kinds) if kind not in _SIMHASH_KINDS),
            tuple((kind, version, tuple(sorted(int(v, 16) for v in _top(kinds[(kind, version)]))))
                  for kind, version in sorted(kinds) if kind in _SIMHASH_KINDS),
            int(observations), int(first), int(last))))
    return found


_SIMHASH_KINDS = frozenset({"keystroke", "mail_body"})
_BY_IDENTITY = ("LEFT JOIN observations AS bo ON bo.ip = p.ip"
                " LEFT JOIN identities AS bi ON bi.id = bo.id")
_ATTACKER = "coalesce(bi.merged_into, bi.id, 'ip:' || p.ip)"


def _add(counts: dict[str, int], value: str, count: int) -> None:
    counts[value] = counts.get(value, 0) + count


def _top(counts: dict[str, int]) -> list[str]:
    """The `MAX_VALUES` most seen values (ties by value, so the choice is stable)."""
    return [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_VALUES]]


def _handle(key: bytes, layer: str, gid: int) -> str:
    return hashlib.blake2b(f"{layer}:{gid}".encode(), key=key, digest_size=16).hexdigest()
