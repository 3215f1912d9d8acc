"""Rebuilding every profile from the stored events (after changing phase rules, or
after upgrading a store that holds events from before profiling existed).

The profiler normally sees each event once, as it is first stored. A rebuild
clears the profile tables and replays all stored events through a profiler in
global time order (event keys start with the event time), in one transaction:
readers see either the old profiles or the new ones, never a mix. PTR names
are kept (they do not depend on events).
"""

from __future__ import annotations

from typing import Any

import orjson

from node.ingest.event import Event
from node.profile.profiler import Profiler
from node.profile.refresh import refresh_profiles
from node.profile.sql import JOURNALS
from node.store import Store

#: Every table derived from events by the profiler (journals included).
DERIVED_TABLES: tuple[str, ...] = (
    *(journal.table for journal in JOURNALS), *(journal.journal for journal in JOURNALS),
    "profile_probe_state", "profile_rotations", "transcript_sessions", "session_links",
    "keystroke_dirty", "keystroke_simhashes", "profile_rejections",
)
_PAGE = """
SELECT key, time_us, sensor, service, kind, src_ip, fields, source_format FROM events
WHERE key > ? ORDER BY key LIMIT ?
"""


async def rebuild_profiles(store: Store, profiler: Profiler, *, batch_size: int = 10_000) -> int:
    """Clear and recompute every profile; return how many events were replayed."""
    replayed = 0
    async with store.transaction():
        for table in DERIVED_TABLES:
            await store.execute(f"DELETE FROM {table}", [()])  # noqa: S608 - constant names
        last = b""
        while True:
            rows = await store.fetch(_PAGE, (last, batch_size))
            if not rows:
                break
            events = [Event(key, time_us, sensor, service, kind, src, orjson.loads(fields), fmt)
                      for key, time_us, sensor, service, kind, src, fields, fmt in rows]
            for statement, params in profiler.statements(events):
                await store.execute(statement, _parameters(statement, params))
            replayed += len(events)
            last = rows[-1][0]
    await refresh_profiles(store)
    return replayed


def _parameters(statement: str, rows: Any) -> list[Any]:
    """The store's convention: json_each statements take all rows as one JSON array."""
    if "json_each(?" in statement:
        return [(orjson.dumps(list(rows)),)]
    return list(rows)
