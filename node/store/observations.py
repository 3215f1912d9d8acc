"""Observations (one per attacker source IP): their aggregates, sets, ids and change feed.

An observation gets an integer id the first time its address is stored; the
id never changes, so derived stages (clustering) keep it instead of the
address. Counters and first/last seen are upserted in each batch's
transaction; the service and honeypot sets are a derived stage
(`ObservationSets`), because adding them batch by batch dirtied pages all
over two ~400k-row tables.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from node.store.derive import Span

#: Aggregates of the events a batch inserted (``id > ?1``). New addresses get
#: the next rowid; a known one keeps its id.
UPSERT_OBSERVATIONS = """
INSERT INTO observations (ip, first_seen_us, last_seen_us, event_count)
SELECT src_ip, min(time_us), max(time_us), count(*) FROM events
WHERE id > ?1 AND src_ip IS NOT NULL GROUP BY src_ip
ON CONFLICT (ip) DO UPDATE SET
    first_seen_us = min(first_seen_us, excluded.first_seen_us),
    last_seen_us  = max(last_seen_us, excluded.last_seen_us),
    event_count   = event_count + excluded.event_count
"""
# Services and honeypots an attacker touched: our own active prober's events
# (service "prober") describe the attacker's hosts, not what the attacker
# touched. (Aggregating these in Python instead measured slower: few IPs
# repeat within a batch, so the upserts cost the same and the Python pass came
# on top. No DISTINCT: OR IGNORE drops repeats, and sorting them out first
# cost a third more.)
_ADD_SERVICES = """
INSERT OR IGNORE INTO observation_services (ip, service)
SELECT src_ip, service FROM events
WHERE id > ?1 AND id <= ?2 AND src_ip IS NOT NULL AND service NOT IN ('', 'prober')
"""
_ADD_HONEYPOTS = """
INSERT OR IGNORE INTO observation_honeypots (ip, honeypot)
SELECT src_ip, sensor FROM events
WHERE id > ?1 AND id <= ?2 AND src_ip IS NOT NULL AND sensor != '' AND service != 'prober'
"""
_CHANGED = """
SELECT DISTINCT o.id FROM events AS e JOIN observations AS o ON o.ip = e.src_ip
WHERE e.id > ?1 AND e.id <= ?2 ORDER BY o.id
"""


@dataclass(frozen=True, slots=True)
class ObservationSets:
    """The derived stage of per-observation service and honeypot sets.

    ``step`` 50k events: one catch-up of that size costs about what the
    per-batch inserts did in total, and the 1M-line ingest wrote 3.26 → 2.47 GB.
    """

    name: str = "observation_sets"
    after: tuple[str, ...] = ()
    step: int = 50_000

    def behind(self, conn: sqlite3.Connection, lag: int) -> int:
        return lag

    def catch_up(self, conn: sqlite3.Connection, span: Span) -> int:
        conn.execute(_ADD_SERVICES, (span.start, span.end))
        conn.execute(_ADD_HONEYPOTS, (span.start, span.end))
        return span.end


def changed_observations(conn: sqlite3.Connection, span: Span) -> list[int]:
    """Ids of the observations that events in ``span`` touched (the change feed), ascending.

    A stage consuming observations reads this for its span instead of every
    observation, so a pass after a small ingest touches only what changed.
    """
    return [row[0] for row in conn.execute(_CHANGED, (span.start, span.end))]
