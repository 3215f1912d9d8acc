"""Rebuilding every profile from the stored events (after changing phase rules, or
after upgrading a store that holds events from before profiling existed).

The profiler normally sees each event once, as it is first stored. A rebuild
clears the profile tables and replays all stored events through a profiler in
global time order (event keys start with the event time), in one transaction
that also puts the profile's derived stages back to the start, which then
catch up: readers see the old profiles, or the new ones as far as their
stages' marks, never a mix. PTR names are kept (they do not depend on events).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import orjson

from node.event import Event
from node.profile.profiler import Profiler
from node.profile.sql import JOURNALS
from node.profile.stages import PROFILE_STAGES
from node.store import Store
from node.store.derive import reset_marks
from node.store.writer import run_statements

#: Every table derived from events by the profiler (journals included).
DERIVED_TABLES: tuple[str, ...] = (
    *(journal.table for journal in JOURNALS), *(journal.journal for journal in JOURNALS),
    "profile_probe_state", "profile_rotations", "transcript_sessions", "session_links",
    "keystroke_simhashes", "profile_rejections",
)
_COUNT = "SELECT count(*) FROM events"
_PAGE = """
SELECT key, time_us, sensor, service, kind, src_ip, fields, source_format FROM events
WHERE key > ? ORDER BY key LIMIT ?
"""


async def rebuild_profiles(store: Store, profiler: Profiler, *, batch_size: int = 10_000,
                           on_progress: Callable[[int, int], None] | None = None) -> int:
    """Clear and recompute every profile; return how many events were replayed.

    One transaction on the store's writer connection: readers see the old
    profiles or the new ones, never a half-built state. ``on_progress`` is
    told (events replayed, events stored) before the first batch and after
    each, on the writer thread, for a progress bar. The derived stages are
    then caught up (a store opened with ``cluster_progress`` reports that pass).
    """
    # every stage reading the profile (clustering) starts over too
    stages = store.dependents([stage.name for stage in PROFILE_STAGES])
    replayed: int = await store.write_job(
        lambda conn: _replay(conn, profiler, batch_size, stages, on_progress))
    await store.catch_up()
    return replayed


def _replay(conn: sqlite3.Connection, profiler: Profiler, batch_size: int,
            stages: list[str], on_progress: Callable[[int, int], None] | None) -> int:
    for table in DERIVED_TABLES:
        conn.execute(f"DELETE FROM {table}")  # noqa: S608 - constant names
    reset_marks(conn, stages)
    total = conn.execute(_COUNT).fetchone()[0] if on_progress else 0
    replayed, last = 0, b""
    while True:
        if on_progress:
            on_progress(replayed, total)
        rows = conn.execute(_PAGE, (last, batch_size)).fetchall()
        if not rows:
            return replayed
        events = [Event(key, time_us, sensor, service, kind, src, orjson.loads(fields), fmt)
                  for key, time_us, sensor, service, kind, src, fields, fmt in rows]
        run_statements(conn, profiler.statements(events))
        replayed += len(events)
        last = rows[-1][0]
