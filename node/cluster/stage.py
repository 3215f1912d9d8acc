"""Clustering as a derived stage: read the features, run both layers, write the groups.

Reads what the profile stages derived (fingerprints, IPv6 leaks, payloads,
C2 hosts, keystroke SimHashes, phases), so it runs after all of them. A pass
recomputes the partition of every observation (the rule is global: one
more holder can make a value common and part a group), then writes only the
rows whose group or confidence changed, so ids stay put: a group's id is its
oldest member's (smallest id), a group that joins another keeps its row with
``merged_into`` pointing at the winner, and a split clears the pointer.
"""

from __future__ import annotations

import gc
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from node.cluster.campaigns import Crew, PhaseSpan, cluster_campaigns
from node.cluster.graph import Partition
from node.cluster.identities import MIN_KEYSTROKE_SAMPLES, TOOL_KINDS, Member, cluster_identities
from node.profile.ipv6 import EUI64
from node.store.derive import Span

#: Version of the clustering rule, stored with every identity and campaign.
CLUSTER_SCHEMA_VERSION = 1

_OBSERVATIONS = "SELECT id, ip, first_seen_us, last_seen_us FROM observations"
_TOOLS = ("SELECT ip, kind, value FROM profile_fingerprints"  # noqa: S608 - constants
          f" WHERE kind IN ({', '.join(repr(k) for k in TOOL_KINDS)})")
_TRACES = f"SELECT ip, iid FROM profile_ipv6_leaks WHERE kind = '{EUI64}' AND iid IS NOT NULL"  # noqa: S608
_PAYLOADS = "SELECT ip, sha256 FROM profile_payloads"
_C2 = "SELECT ip, host FROM profile_c2"
_KEYSTROKES = """
SELECT l.ip, k.simhash FROM keystroke_simhashes AS k JOIN session_links AS l USING (sid)
WHERE k.samples >= ? AND k.simhash != '0000000000000000'
"""
_PHASES = "SELECT ip, honeypot, phase, first_seen_us, last_seen_us FROM profile_phases"
_CURRENT = "SELECT id, merged_into, confidence FROM {table}"
_UPSERT = """
INSERT INTO {table} (id, merged_into, confidence, schema_version) VALUES (?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET merged_into = excluded.merged_into,
    confidence = excluded.confidence, schema_version = excluded.schema_version
"""
_LINK = """
INSERT INTO cluster_links (layer, root, a, b, score, signal, value, df, weight)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


@dataclass(frozen=True, slots=True)
class ClusterStage:
    """Identities and campaigns of every observation (a derived stage).

    ``step`` is large: a pass is over the whole population, so during an
    ingest it runs every million events and at the end, not per batch.
    """

    after: tuple[str, ...]
    name: str = "clusters"
    step: int = 1_000_000

    def behind(self, conn: sqlite3.Connection, lag: int) -> int:
        return lag

    def catch_up(self, conn: sqlite3.Connection, span: Span) -> int:
        run_pass(conn)
        return span.limit


def run_pass(conn: sqlite3.Connection) -> None:
    """Cluster every observation and write what changed (inside the caller's transaction).

    The garbage collector is off meanwhile: the pass builds millions of
    small objects and no cycles, and the collector's sweeps were a third of
    the 1M-observation identity layer (30.3 → 19.3 s without them).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        _run_pass(conn)
    finally:
        if enabled:
            gc.enable()


def _run_pass(conn: sqlite3.Connection) -> None:
    observations = conn.execute(_OBSERVATIONS).fetchall()
    ids = [row[0] for row in observations]
    position = {row[1]: index for index, row in enumerate(observations)}
    members = _members(conn, [row[1] for row in observations], position)
    identities = cluster_identities(members)
    identity_of = _winners(identities, ids)
    roots = sorted(set(identity_of))
    crews = _crews(conn, observations, position, members, identity_of, roots)
    # Only identities with something a campaign link reads can join a campaign;
    # the others (most scanners) are campaigns of their own without being clustered.
    active = [index for index, crew in enumerate(crews)
              if crew.infrastructure or crew.keystrokes or crew.first_phase or crew.last_phase]
    active_roots = [roots[index] for index in active]
    campaigns = cluster_campaigns([crews[index] for index in active])
    campaign_of_root = {root: root for root in roots}
    campaign_of_root.update(zip(active_roots, _winners(campaigns, active_roots), strict=True))
    identity_confidence = _group_confidence(identities, ids)
    campaign_confidence = dict.fromkeys(roots, 1.0)
    campaign_confidence.update(_group_confidence(campaigns, active_roots))
    _write(conn, "identities", [
        (oid, None if identity_of[i] == oid else identity_of[i],
         identity_confidence[identity_of[i]]) for i, oid in enumerate(ids)])
    _write(conn, "campaigns", [
        (oid, None if campaign_of_root[identity_of[i]] == oid else campaign_of_root[identity_of[i]],
         campaign_confidence[campaign_of_root[identity_of[i]]]) for i, oid in enumerate(ids)])
    conn.execute("DELETE FROM cluster_links")
    _write_links(conn, "identity", identities, ids, identity_of)
    _write_links(conn, "campaign", campaigns, active_roots,
                 [campaign_of_root[r] for r in active_roots])


def _members(conn: sqlite3.Connection, ips: Sequence[str],
             position: dict[str, int]) -> list[Member]:
    tools = _collect(conn.execute(_TOOLS), position, lambda row: (row[1], row[2]))
    traces = _collect(conn.execute(_TRACES), position, lambda row: ("eui64", row[1]))
    infrastructure = _collect(conn.execute(_PAYLOADS), position, lambda row: ("payload", row[1]))
    for index, values in _collect(conn.execute(_C2), position,
                                  lambda row: ("c2", row[1])).items():
        infrastructure.setdefault(index, set()).update(values)
    keystrokes: dict[int, list[int]] = defaultdict(list)
    for ip, simhash in conn.execute(_KEYSTROKES, (MIN_KEYSTROKE_SAMPLES,)):
        if ip in position:
            keystrokes[position[ip]].append(int(simhash, 16))
    return [Member(ip, frozenset(tools.get(i, ())), frozenset(traces.get(i, ())),
                   frozenset(infrastructure.get(i, ())), tuple(sorted(keystrokes.get(i, ()))))
            for i, ip in enumerate(ips)]


def _collect(rows: Iterable[tuple[Any, ...]], position: dict[str, int],
             item: Callable[[tuple[Any, ...]], tuple[str, str]]
             ) -> dict[int, set[tuple[str, str]]]:
    """Rows ``(ip, …)`` → per observation position, the set of ``item(row)``."""
    found: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for row in rows:
        index = position.get(row[0])
        if index is not None:
            found[index].add(item(row))
    return found


def _winners(partition: Partition, ids: Sequence[int]) -> list[int]:
    """Each member's group id: the smallest id in its group (the oldest member)."""
    smallest: dict[int, int] = {}
    for index, group in enumerate(partition.group):
        smallest[group] = min(smallest.get(group, ids[index]), ids[index])
    return [smallest[group] for group in partition.group]


def _group_confidence(partition: Partition, ids: Sequence[int]) -> dict[int, float]:
    winners = _winners(partition, ids)
    return {winners[index]: partition.confidence[group]
            for index, group in enumerate(partition.group)}


def _crews(conn: sqlite3.Connection, observations: Sequence[tuple[int, str, int, int]],
           position: dict[str, int], members: Sequence[Member],
           identity_of: Sequence[int], roots: Sequence[int]) -> list[Crew]:
    """Each identity as the campaign layer sees it: its members' signals pooled."""
    slot = {root: index for index, root in enumerate(roots)}
    infrastructure: list[set[tuple[str, str]]] = [set() for _ in roots]
    keystrokes: list[list[int]] = [[] for _ in roots]
    window = [(2**63, -(2**63)) for _ in roots]
    keys = [""] * len(roots)
    for index, (_oid, ip, first, last) in enumerate(observations):
        s = slot[identity_of[index]]
        infrastructure[s].update(members[index].infrastructure)
        keystrokes[s].extend(members[index].keystrokes)
        window[s] = (min(window[s][0], first), max(window[s][1], last))
        keys[s] = min(keys[s], ip) if keys[s] else ip
    first_phase: list[dict[str, PhaseSpan]] = [{} for _ in roots]
    last_phase: list[dict[str, PhaseSpan]] = [{} for _ in roots]
    for ip, honeypot, phase, first_us, last_us in conn.execute(_PHASES):
        found = position.get(ip)
        if found is None:
            continue
        s = slot[identity_of[found]]
        known = first_phase[s].get(honeypot)
        if known is None or (first_us, phase) < (known.time_us, known.phase):
            first_phase[s][honeypot] = PhaseSpan(phase, first_us)
        known = last_phase[s].get(honeypot)
        if known is None or (last_us, phase) > (known.time_us, known.phase):
            last_phase[s][honeypot] = PhaseSpan(phase, last_us)
    return [Crew(keys[s], frozenset(infrastructure[s]), first_phase[s], last_phase[s],
                 tuple(sorted(keystrokes[s])), window[s]) for s in range(len(roots))]


def _write(conn: sqlite3.Connection, table: str,
           rows: Iterable[tuple[int, int | None, float]]) -> None:
    """Upsert the rows whose pointer or confidence changed."""
    current = {row[0]: (row[1], row[2]) for row in conn.execute(_CURRENT.format(table=table))}
    changed = [(oid, winner, round(confidence, 6), CLUSTER_SCHEMA_VERSION)
               for oid, winner, confidence in rows
               if current.get(oid) != (winner, round(confidence, 6))]
    conn.executemany(_UPSERT.format(table=table), changed)


def _write_links(conn: sqlite3.Connection, layer: str, partition: Partition,
                 ids: Sequence[int], winners: Sequence[int]) -> None:
    rows = []
    for link in partition.links:
        for evidence in link.evidence:
            rows.append((layer, winners[link.a], ids[link.a], ids[link.b], link.score,
                         evidence.signal, evidence.value, evidence.df, evidence.weight))
    conn.executemany(_LINK, rows)
