"""Clustering as a derived stage: read the features, run both layers, write what changed.

Runs after every profile stage (it reads fingerprints, IPv6 leaks, payloads,
C2 hosts, keystroke SimHashes and phases). Ids stay put: a group's id is its
oldest member's (smallest id), a group that joins another keeps its row with
``merged_into`` pointing at the winner, a split clears the pointer, and only
rows whose group or confidence changed are written.

A pass over a span of the change feed is incremental: it re-partitions only
the *region* the changed observations can reach (`_region`), with every
value's holders counted in the whole population, which gives the partition a
full pass would give there (the property tests compare them). The first pass,
and one after a change touching a large share of the observations, is full.
The campaign layer is recomputed over the identities that carry anything a
campaign link reads (payloads, C2, phases, keystrokes): the interactive few,
not the scanners.
"""

from __future__ import annotations

import gc
import sqlite3
from collections import deque
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

from node.cluster import rarity
from node.cluster.campaigns import Crew, PhaseSpan, cluster_campaigns
from node.cluster.features import Features
from node.cluster.graph import EPSILON, KEYSTROKE_DISTANCE, Partition, score
from node.cluster.graph import Evidence as _Evidence
from node.cluster.identities import Member, cluster_identities
from node.hamming_index import HammingIndex
from node.profile.stages import keystroke_changes
from node.store.derive import Span
from node.store.observations import changed_observations

#: Version of the clustering rule, stored with every identity and campaign.
CLUSTER_SCHEMA_VERSION = 1
#: Above this share of changed observations, a full pass is cheaper than regions.
FULL_PASS_SHARE = 0.05

_UPSERT = """
INSERT INTO {table} (id, merged_into, confidence, schema_version) VALUES (?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET merged_into = excluded.merged_into,
    confidence = excluded.confidence, schema_version = excluded.schema_version
"""
_LINK = """
INSERT INTO cluster_links (layer, root, a, b, score, signal, value, df, weight)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_ACTIVE = """
SELECT ip FROM profile_payloads UNION SELECT ip FROM profile_c2
UNION SELECT ip FROM profile_phases UNION SELECT ip FROM session_links
"""
_PHASES = "SELECT ip, honeypot, phase, first_seen_us, last_seen_us FROM profile_phases"
_HolderCount = Callable[[tuple[str, str]], int]
#: Every member (id, ip, identity, first and last seen) of an identity with an active member.
_ACTIVE_MEMBERS = f"""
SELECT o.id, o.ip, coalesce(i.merged_into, i.id), o.first_seen_us, o.last_seen_us
FROM identities AS i JOIN observations AS o ON o.id = i.id
WHERE coalesce(i.merged_into, i.id) IN (
    SELECT coalesce(i2.merged_into, i2.id) FROM observations AS o2
    JOIN identities AS i2 ON i2.id = o2.id WHERE o2.ip IN ({_ACTIVE}))
"""  # noqa: S608 - constant SQL


@dataclass(frozen=True, slots=True)
class ClusterStage:
    """Identities and campaigns of every observation (a derived stage).

    ``step``: during an ingest it runs every 200k events (with the stages it
    reads) and at the end, each time over everything not yet clustered.
    """

    after: tuple[str, ...]
    name: str = "clusters"
    step: int = 200_000
    full_pass_share: float = FULL_PASS_SHARE

    def behind(self, conn: sqlite3.Connection, lag: int) -> int:
        return lag

    def catch_up(self, conn: sqlite3.Connection, span: Span) -> int:
        """One pass over everything up to the limit: the features are derived that far,
        and one pass over a long span costs less than one per step."""
        whole = Span(span.start, span.limit, span.limit)
        run_pass(conn, None if span.start == 0 else whole, self.full_pass_share)
        return span.limit


def run_pass(conn: sqlite3.Connection, span: Span | None = None,
             full_pass_share: float = FULL_PASS_SHARE) -> None:
    """Cluster what changed in ``span`` (everything when None), inside the caller's transaction.

    The garbage collector is off meanwhile: a pass builds millions of small
    objects and no cycles, and the collector's sweeps were a third of the
    1M-observation identity layer (30.3 → 19.3 s without them).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        _Pass(conn, full_pass_share).run(span)
    finally:
        if enabled:
            gc.enable()


class _Pass:
    def __init__(self, conn: sqlite3.Connection, full_pass_share: float) -> None:
        self.conn = conn
        self.full_pass_share = full_pass_share
        self.features = Features(conn)
        self.ids: dict[str, int] = {}
        self.ips: dict[int, str] = {}

    def run(self, span: Span | None) -> None:
        total = self.conn.execute("SELECT count(*) FROM observations").fetchone()[0]
        changed = None if span is None else sorted(
            {*changed_observations(self.conn, span), *keystroke_changes(self.conn, span)})
        if changed is None or len(changed) > self.full_pass_share * total:
            rows = self.conn.execute("SELECT id, ip FROM observations ORDER BY ip").fetchall()
            self._remember(rows)
            ips = [ip for _, ip in rows]
            members = self.features.load_all(ips)
            roots = self._identities(ips, members, None, full=True)
        elif changed:
            rows = self._rows(changed)
            ips = sorted(self._region([ip for _, ip in rows]))
            members = [self.features.of(ip) for ip in ips]
            roots = self._identities(ips, members, self.features.holder_count, full=False)
        else:
            return
        self._campaigns(roots, full=changed is None)

    # -- identities --

    def _identities(self, ips: Sequence[str], members: Sequence[Member],
                    holders_of: _HolderCount | None, *, full: bool) -> dict[int, int]:
        """Re-partition ``ips`` and write them; each one's id → its identity's new id."""
        partition = cluster_identities(members, holders_of)
        ids = [self._id(ip) for ip in ips]
        winners = _winners(partition, ids)
        confidence = _group_confidence(partition, winners)
        old_roots = self._roots(ids)
        _write(self.conn, "identities",
               [(oid, None if winners[i] == oid else winners[i], confidence[winners[i]])
                for i, oid in enumerate(ids)], None if full else ids)
        if full:
            self.conn.execute("DELETE FROM cluster_links WHERE layer = 'identity'")
        else:
            self.conn.executemany("DELETE FROM cluster_links WHERE layer = 'identity'"
                                  " AND root = ?", [(r,) for r in set(old_roots)])
        _write_links(self.conn, "identity", partition, ids, winners)
        return dict(zip(ids, winners, strict=True))

    def _region(self, changed: Sequence[str]) -> set[str]:
        """Every address whose identity a change to ``changed`` can alter.

        From the changed observations: all holders of their values (the
        counts of those values changed), the groups that a value now common
        used to link; from then on, through every address that can still link
        (`graph.shared_values`'s eligibility), the holders of its weighted
        values and its keystroke neighbours; and every current group touched,
        whole, so a split is seen.
        """
        region: set[str] = set()
        queue: deque[str] = deque()
        first = set(changed)
        seen_values: set[tuple[str, str]] = set()
        near = _KeystrokeNeighbours(self.features.keystrokes)

        def add(ips: Iterable[str]) -> None:
            for ip in ips:
                if ip not in region:
                    region.add(ip)
                    queue.append(ip)

        add(changed)
        while queue:
            ip = queue.popleft()
            member = self.features.of(ip)
            add(self._group_of(ip))
            values = (*member.tools, *member.traces, *member.infrastructure)
            if ip in first:
                for item in values:
                    if item in seen_values:
                        continue
                    seen_values.add(item)
                    if rarity.weight(self.features.holder_count(item)) > 0.0:
                        add(self.features.holders(item))
                    else:  # now common: the groups it linked must be undone
                        add(self._linked_through(item))
                add(near.of(member))
            elif self._eligible(member):
                for item in values:
                    if item not in seen_values and \
                            rarity.weight(self.features.holder_count(item)) > 0.0:
                        seen_values.add(item)
                        add(self.features.holders(item))
                add(near.of(member))
        return region

    def _eligible(self, member: Member) -> bool:
        evidence = (_Evidence(s, v, 0, rarity.weight(self.features.holder_count((s, v))))
                    for s, v in (*member.tools, *member.traces, *member.infrastructure))
        return bool(member.keystrokes) or score(evidence) + EPSILON >= rarity.LINK

    def _group_of(self, ip: str) -> list[str]:
        oid = self._id(ip)
        row = self.conn.execute("SELECT coalesce(merged_into, id) FROM identities WHERE id = ?",
                                (oid,)).fetchone()
        if row is None:
            return []
        rows = self.conn.execute(
            "SELECT o.id, o.ip FROM identities AS i JOIN observations AS o ON o.id = i.id"
            " WHERE i.id = ?1 OR i.merged_into = ?1", (row[0],)).fetchall()
        self._remember(rows)
        return [found for _, found in rows]

    def _linked_through(self, item: tuple[str, str]) -> list[str]:
        rows = self.conn.execute(
            "SELECT o.id, o.ip FROM cluster_links AS l JOIN identities AS i"
            " ON i.id = l.root OR i.merged_into = l.root JOIN observations AS o ON o.id = i.id"
            " WHERE l.layer = 'identity' AND l.signal = ? AND l.value = ?", item).fetchall()
        self._remember(rows)
        return [ip for _, ip in rows]

    # -- campaigns --

    def _campaigns(self, regrouped: dict[int, int], *, full: bool) -> None:
        """Campaigns of the identities that carry anything a campaign link reads.

        Rows are rewritten for their members and for ``regrouped`` (observation
        id → its identity's new id): an observation outside an active identity
        is a campaign of its own identity.
        """
        rows = self.conn.execute(_ACTIVE_MEMBERS).fetchall()
        roots = sorted({root for _, _, root, _, _ in rows})
        crews = self._crews(rows, roots, {row[0] for row in self.conn.execute(_ACTIVE)})
        partition = cluster_campaigns(crews)
        winners = _winners(partition, roots)
        campaign_of = dict(zip(roots, winners, strict=True))
        confidence = _group_confidence(partition, winners)
        wanted = {oid: campaign_of[root] for oid, _, root, _, _ in rows}
        for oid, root in regrouped.items():
            wanted.setdefault(oid, root)
        ids = sorted(wanted)
        _write(self.conn, "campaigns",
               [(oid, None if wanted[oid] == oid else wanted[oid],
                 confidence.get(wanted[oid], 1.0)) for oid in ids], None if full else ids)
        self.conn.execute("DELETE FROM cluster_links WHERE layer = 'campaign'")
        _write_links(self.conn, "campaign", partition, roots, winners)

    def _crews(self, rows: Sequence[tuple[int, str, int, int, int]], roots: Sequence[int],
               active_ips: Collection[str]) -> list[Crew]:
        slot = {root: index for index, root in enumerate(roots)}
        infrastructure: list[set[tuple[str, str]]] = [set() for _ in roots]
        keystrokes: list[list[int]] = [[] for _ in roots]
        window = [(2**63, -(2**63)) for _ in roots]
        keys = [""] * len(roots)
        root_of_ip: dict[str, int] = {}
        for _oid, ip, root, first, last in rows:
            s = slot[root]
            root_of_ip[ip] = s
            if ip in active_ips:
                member = self.features.of(ip)
                infrastructure[s].update(member.infrastructure)
                keystrokes[s].extend(member.keystrokes)
            window[s] = (min(window[s][0], first), max(window[s][1], last))
            keys[s] = min(keys[s], ip) if keys[s] else ip
        first_phase: list[dict[str, PhaseSpan]] = [{} for _ in roots]
        last_phase: list[dict[str, PhaseSpan]] = [{} for _ in roots]
        for ip, honeypot, phase, first_us, last_us in self.conn.execute(_PHASES):
            s = root_of_ip.get(ip, -1)
            if s < 0:
                continue
            known = first_phase[s].get(honeypot)
            if known is None or (first_us, phase) < (known.time_us, known.phase):
                first_phase[s][honeypot] = PhaseSpan(phase, first_us)
            known = last_phase[s].get(honeypot)
            if known is None or (last_us, phase) > (known.time_us, known.phase):
                last_phase[s][honeypot] = PhaseSpan(phase, last_us)
        return [Crew(keys[s], frozenset(infrastructure[s]), first_phase[s], last_phase[s],
                     tuple(sorted(keystrokes[s])), window[s]) for s in range(len(roots))]

    # -- ids --

    def _rows(self, ids: Sequence[int]) -> list[tuple[int, str]]:
        rows: list[tuple[int, str]] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows += self.conn.execute(
                f"SELECT id, ip FROM observations WHERE id IN ({', '.join('?' * len(chunk))})",  # noqa: S608
                chunk).fetchall()
        self._remember(rows)
        return rows

    def _remember(self, rows: Iterable[tuple[int, str]]) -> None:
        for oid, ip in rows:
            self.ids[ip] = oid
            self.ips[oid] = ip

    def _id(self, ip: str) -> int:
        oid = self.ids.get(ip)
        if oid is None:
            oid = self.conn.execute("SELECT id FROM observations WHERE ip = ?", (ip,)).fetchone()[0]
            self._remember([(oid, ip)])
        return oid

    def _roots(self, ids: Sequence[int]) -> list[int]:
        roots = []
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            roots += [row[0] for row in self.conn.execute(
                "SELECT coalesce(merged_into, id) FROM identities"  # noqa: S608
                f" WHERE id IN ({', '.join('?' * len(chunk))})", chunk)]
        return roots


class _KeystrokeNeighbours:
    """Addresses with a session near one of a member's (built on first use)."""

    def __init__(self, keystrokes: dict[str, tuple[int, ...]]) -> None:
        self._keystrokes = keystrokes
        self._index: tuple[HammingIndex, list[str]] | None = None

    def of(self, member: Member) -> list[str]:
        if not member.keystrokes:
            return []
        if self._index is None:
            owners = [ip for ip, values in self._keystrokes.items() for _ in values]
            values = [v for vs in self._keystrokes.values() for v in vs]
            self._index = (HammingIndex.build(values), owners)
        index, owners = self._index
        return [owners[p] for value in member.keystrokes
                for p in index.within(value, KEYSTROKE_DISTANCE).tolist()]


def _winners(partition: Partition, ids: Sequence[int]) -> list[int]:
    """Each member's group id: the smallest id in its group (the oldest member)."""
    smallest: dict[int, int] = {}
    for index, group in enumerate(partition.group):
        smallest[group] = min(smallest.get(group, ids[index]), ids[index])
    return [smallest[group] for group in partition.group]


def _group_confidence(partition: Partition, winners: Sequence[int]) -> dict[int, float]:
    return {winners[index]: partition.confidence[group]
            for index, group in enumerate(partition.group)}


def _write(conn: sqlite3.Connection, table: str, rows: Iterable[tuple[int, int | None, float]],
           only: Sequence[int] | None) -> None:
    """Upsert the rows whose pointer or confidence changed (``only``: the current rows to read)."""
    if only is None:
        current = {r[0]: (r[1], r[2]) for r in conn.execute(
            f"SELECT id, merged_into, confidence FROM {table}")}  # noqa: S608
    else:
        current = {}
        for start in range(0, len(only), 500):
            chunk = only[start:start + 500]
            current.update({r[0]: (r[1], r[2]) for r in conn.execute(
                f"SELECT id, merged_into, confidence FROM {table}"  # noqa: S608
                f" WHERE id IN ({', '.join('?' * len(chunk))})", chunk)})
    changed = [(oid, winner, round(confidence, 6), CLUSTER_SCHEMA_VERSION)
               for oid, winner, confidence in rows
               if current.get(oid) != (winner, round(confidence, 6))]
    conn.executemany(_UPSERT.format(table=table), changed)


def _write_links(conn: sqlite3.Connection, layer: str, partition: Partition,
                 ids: Sequence[int], winners: Sequence[int]) -> None:
    conn.executemany(_LINK, [
        (layer, winners[link.a], ids[link.a], ids[link.b], link.score, evidence.signal,
         evidence.value, evidence.df, evidence.weight)
        for link in partition.links for evidence in link.evidence])


