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
The campaign layer is recomputed over the identities that can link there
(phases, keystrokes, or infrastructure weighing a link): the interactive
few, not the scanners.
"""

from __future__ import annotations

import gc
import sqlite3
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

from node.cluster import rarity
from node.cluster.campaigns import Crew, PhaseSpan, cluster_campaigns, infrastructure_links
from node.cluster.features import Features, select_in
from node.cluster.graph import EPSILON, KEYSTROKE_DISTANCE, Partition, class_score
from node.cluster.identities import Member, cluster_identities
from node.hamming_index import HammingIndex
from node.profile.stages import PROFILE_STAGES, keystroke_changes
from node.store.derive import Span, Stage
from node.store.observations import ObservationSets, changed_observations

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
#: (observation id, signal, value) of all payloads and C2 hosts: one scan each.
_ACTIVE_INFRASTRUCTURE = """
SELECT o.id, 'payload', p.sha256 FROM profile_payloads AS p JOIN observations AS o ON o.ip = p.ip
UNION SELECT o.id, 'c2', c.host FROM profile_c2 AS c JOIN observations AS o ON o.ip = c.ip
"""
_PHASES = """
SELECT o.id, p.honeypot, p.phase, p.first_seen_us, p.last_seen_us
FROM profile_phases AS p JOIN observations AS o ON o.ip = p.ip
"""
_HolderCount = Callable[[tuple[str, str]], int]
#: Told ``(step, done, total)`` as a pass works, on the thread running it (the store's
#: writer): each step is reported at its start with ``done`` 0 and at its end with
#: ``done == total``; ``total`` is None until it is known.
PassProgress = Callable[[str, int, int | None], None]


@dataclass(frozen=True, slots=True)
class ClusterStage:
    """Identities and campaigns of every observation (a derived stage).

    ``step``: during an ingest it runs every million events (with the stages
    it reads) and at the end, each time over everything not yet clustered: a
    pass over a large change is a full one, so more often only repeats it.
    """

    after: tuple[str, ...]
    name: str = "clusters"
    step: int = 1_000_000
    full_pass_share: float = FULL_PASS_SHARE
    on_progress: PassProgress | None = field(default=None, compare=False)

    def behind(self, conn: sqlite3.Connection, lag: int) -> int:
        return lag

    def catch_up(self, conn: sqlite3.Connection, span: Span) -> int:
        """One pass over everything up to the limit: the features are derived that far,
        and one pass over a long span costs less than one per step."""
        whole = Span(span.start, span.limit, span.limit)
        run_pass(conn, None if span.start == 0 else whole, self.full_pass_share,
                 self.on_progress)
        return span.limit


def node_stages(full_pass_share: float = FULL_PASS_SHARE,
                on_progress: PassProgress | None = None) -> tuple[Stage, ...]:
    """What a profiling node derives after its own sets, in order: the profile's
    stages, then clustering, which reads all of them (and reports to ``on_progress``)."""
    reads = (ObservationSets().name, *(stage.name for stage in PROFILE_STAGES))
    return (*PROFILE_STAGES, ClusterStage(after=reads, full_pass_share=full_pass_share,
                                          on_progress=on_progress))


def run_pass(conn: sqlite3.Connection, span: Span | None = None,
             full_pass_share: float = FULL_PASS_SHARE,
             on_progress: PassProgress | None = None) -> None:
    """Cluster what changed in ``span`` (everything when None), inside the caller's transaction.

    The garbage collector is off meanwhile: a pass builds millions of small
    objects and no cycles, and the collector's sweeps were a third of the
    1M-observation identity layer (30.3 → 19.3 s without them). ``on_progress``
    is told each step (`PassProgress`), for a progress bar.
    """
    with paused_gc():
        _Pass(conn, full_pass_share, on_progress).run(span)


@contextmanager
def paused_gc() -> Iterator[None]:
    """The garbage collector off for a block, as `run_pass` runs both layers."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Pass:
    def __init__(self, conn: sqlite3.Connection, full_pass_share: float,
                 on_progress: PassProgress | None = None) -> None:
        self.conn = conn
        self.full_pass_share = full_pass_share
        self.ids: dict[str, int] = {}
        self.ips: dict[int, str] = {}
        self._progress = on_progress or _unwatched

    @contextmanager
    def _step(self, name: str, total: int) -> Iterator[None]:
        """Report a step of ``total`` items at its start and at its end."""
        self._progress(name, 0, total)
        yield
        self._progress(name, total, total)

    @cached_property
    def features(self) -> Features:
        """Built on first use: a pass with nothing changed reads nothing."""
        return Features(self.conn)

    def run(self, span: Span | None) -> None:
        total = self.conn.execute("SELECT count(*) FROM observations").fetchone()[0]
        changed = None if span is None else sorted(
            {*changed_observations(self.conn, span), *keystroke_changes(self.conn, span)})
        if changed is None or len(changed) > self.full_pass_share * total:
            with self._step("reading features", total):
                rows = self.conn.execute("SELECT id, ip FROM observations ORDER BY ip").fetchall()
                self._remember(rows)
                ips = [ip for _, ip in rows]
                members = self.features.load_all(ips)
            roots = self._identities(ips, members, None, full=True)
        elif changed:
            with self._step("reading what changed", len(changed)):
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
        with self._step("identity layer", len(members)):
            partition = cluster_identities(members, holders_of)
        with self._step("writing identities", len(ips)):
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
        visited: set[str] = set()
        queue: deque[str] = deque()
        first = set(changed)
        seen_values: set[tuple[str, str]] = set()
        near = _KeystrokeNeighbours(self.features.keystrokes)
        groups = _Groups.load(self.conn)

        def add(ips: Iterable[str]) -> None:
            new = [ip for ip in ips if ip not in visited]
            visited.update(new)
            queue.extend(new)
            if len(new) > 8:  # read them together, not one by one when popped
                self.features.prefetch(new)
                self._ids_of(new)

        add(changed)
        while queue:
            ip = queue.popleft()
            member = self.features.of(ip)
            oid = self._id(ip)
            root = groups.root(oid)
            grouped = root != oid or root in groups.members_of
            eligible = self._eligible(member)
            if not (ip in first or grouped or eligible):
                continue  # alone and unable to link anyone: it stays alone
            region.add(ip)
            if grouped:
                add(self._addresses(groups.members(root)))
            values = (*member.tools, *member.traces, *member.infrastructure)
            for item in values:
                if item in seen_values:
                    continue
                weighted = rarity.weight(self.features.holder_count(item)) > 0.0
                if ip in first:
                    seen_values.add(item)
                    if weighted:
                        add(self.features.holders(item))
                    else:  # now common: the groups it linked must be undone
                        add(self._linked_through(item))
                elif eligible and weighted:
                    seen_values.add(item)
                    add(self.features.holders(item))
            if ip in first or eligible:
                add(near.of(member))
        return region

    def _eligible(self, member: Member) -> bool:
        if member.keystrokes:
            return True
        weights = ((s, rarity.weight(self.features.holder_count((s, v))))
                   for s, v in (*member.tools, *member.traces, *member.infrastructure))
        return class_score(weights) + EPSILON >= rarity.LINK

    def _ids_of(self, ips: Sequence[str]) -> None:
        self._remember(select_in(self.conn, "SELECT id, ip FROM observations WHERE ip IN ({marks})",
                                 [ip for ip in ips if ip not in self.ids]))

    def _addresses(self, ids: Sequence[int]) -> list[str]:
        missing = [oid for oid in ids if oid not in self.ips]
        if missing:
            self._rows(missing)
        return [self.ips[oid] for oid in ids]

    def _linked_through(self, item: tuple[str, str]) -> list[str]:
        rows = self.conn.execute(
            "SELECT o.id, o.ip FROM cluster_links AS l JOIN identities AS i"
            " ON i.id = l.root OR i.merged_into = l.root JOIN observations AS o ON o.id = i.id"
            " WHERE l.layer = 'identity' AND l.signal = ? AND l.value = ?", item).fetchall()
        self._remember(rows)
        return [ip for _, ip in rows]

    # -- campaigns --

    def _campaigns(self, regrouped: dict[int, int], *, full: bool) -> None:
        """Campaigns of the identities that can link at that layer.

        Those with phases or keystrokes, or infrastructure whose weight over
        all identities reaches a link; every other identity is a campaign of
        its own (at a million observations 2.4 k of the 263 k identities with
        any infrastructure could link). Rows are rewritten for the members of
        the identities clustered, for ``regrouped`` (observation id → its
        identity's new id) and for those that were in a shared campaign.
        """
        self._progress("campaign layer", 0, None)  # how many can link: known once read
        groups = _Groups.load(self.conn)
        infrastructure: dict[int, set[tuple[str, str]]] = {}  # identity → its values
        holders: dict[tuple[str, str], set[int]] = {}
        for oid, signal, value in self.conn.execute(_ACTIVE_INFRASTRUCTURE):
            root = groups.root(oid)
            infrastructure.setdefault(root, set()).add((signal, value))
            holders.setdefault((signal, value), set()).add(root)
        count = {item: len(roots) for item, roots in holders.items()}
        phases = self._phases(groups)
        keystrokes: dict[int, list[int]] = {}
        for ip, values in self.features.keystrokes.items():
            keystrokes.setdefault(groups.root(self._id(ip)), []).extend(values)
        eligible = sorted(
            {*phases, *keystrokes}
            | {root for root, values in infrastructure.items()
               if infrastructure_links(values, count.__getitem__)})
        members = {root: groups.members(root) for root in eligible}
        windows = self._windows([oid for ids in members.values() for oid in ids])
        no_phases: tuple[dict[str, PhaseSpan], dict[str, PhaseSpan]] = ({}, {})
        crews = [Crew(min(self.ips[oid] for oid in members[root]),
                      frozenset(infrastructure.get(root, ())),
                      phases.get(root, no_phases)[0], phases.get(root, no_phases)[1],
                      tuple(sorted(keystrokes.get(root, ()))),
                      (min(windows[oid][0] for oid in members[root]),
                       max(windows[oid][1] for oid in members[root])))
                 for root in eligible]
        with self._step("campaign layer", len(crews)):
            partition = cluster_campaigns(crews, count.__getitem__)
        winners = _winners(partition, eligible)
        campaign_of = dict(zip(eligible, winners, strict=True))
        confidence = _group_confidence(partition, winners)
        wanted = {oid: campaign_of[root] for root in eligible for oid in members[root]}
        shared = [] if full else [row[0] for row in self.conn.execute(
            "SELECT id FROM campaigns WHERE merged_into IS NOT NULL")]
        for oid in (*regrouped, *shared):
            wanted.setdefault(oid, groups.root(oid))
        rows = [(oid, None if wanted[oid] == oid else wanted[oid],
                 confidence.get(wanted[oid], 1.0)) for oid in sorted(wanted)]
        if full:  # every observation: those not clustered here are campaigns of their own
            rows += [(oid, None if groups.root(oid) == oid else groups.root(oid), 1.0)
                     for (oid,) in self.conn.execute("SELECT id FROM observations")
                     if oid not in wanted]
        with self._step("writing campaigns", len(rows)):
            _write(self.conn, "campaigns", rows, None if full else sorted(wanted))
            self.conn.execute("DELETE FROM cluster_links WHERE layer = 'campaign'")
            _write_links(self.conn, "campaign", partition, eligible, winners)

    def _phases(self, groups: _Groups) -> dict[int, tuple[dict[str, PhaseSpan],
                                                          dict[str, PhaseSpan]]]:
        """Per identity, its first and its last phase on each honeypot."""
        found: dict[int, tuple[dict[str, PhaseSpan], dict[str, PhaseSpan]]] = {}
        for oid, honeypot, phase, first_us, last_us in self.conn.execute(_PHASES):
            first, last = found.setdefault(groups.root(oid), ({}, {}))
            known = first.get(honeypot)
            if known is None or (first_us, phase) < (known.time_us, known.phase):
                first[honeypot] = PhaseSpan(phase, first_us)
            known = last.get(honeypot)
            if known is None or (last_us, phase) > (known.time_us, known.phase):
                last[honeypot] = PhaseSpan(phase, last_us)
        return found

    def _windows(self, ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        found: dict[int, tuple[int, int]] = {}
        for oid, ip, first, last in select_in(
                self.conn, "SELECT id, ip, first_seen_us, last_seen_us FROM observations"
                " WHERE id IN ({marks})", ids):
            found[oid] = (first, last)
            self._remember([(oid, ip)])
        return found

    # -- ids --

    def _rows(self, ids: Sequence[int]) -> list[tuple[int, str]]:
        rows = [(int(oid), str(ip)) for oid, ip in select_in(
            self.conn, "SELECT id, ip FROM observations WHERE id IN ({marks})", ids)]
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
        return [row[0] for row in select_in(
            self.conn, "SELECT coalesce(merged_into, id) FROM identities WHERE id IN ({marks})",
            ids)]


@dataclass(frozen=True, slots=True)
class _Groups:
    """The current multi-member identities, loaded once (singletons are their own root)."""

    root_of: dict[int, int]
    members_of: dict[int, list[int]]

    @classmethod
    def load(cls, conn: sqlite3.Connection) -> _Groups:
        root_of: dict[int, int] = {}
        members_of: dict[int, list[int]] = {}
        for oid, root in conn.execute(
                "SELECT id, merged_into FROM identities WHERE merged_into IS NOT NULL"):
            root_of[oid] = root
            members_of.setdefault(root, [root]).append(oid)
        return cls(root_of, members_of)

    def root(self, oid: int) -> int:
        return self.root_of.get(oid, oid)

    def members(self, root: int) -> list[int]:
        return self.members_of.get(root, [root])


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


def _unwatched(step: str, done: int, total: int | None) -> None:
    """The `PassProgress` of a pass no one watches."""


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
        current = {r[0]: (r[1], r[2]) for r in select_in(
            conn, f"SELECT id, merged_into, confidence FROM {table}"  # noqa: S608
            " WHERE id IN ({marks})", only)}
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


