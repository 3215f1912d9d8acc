"""Lazy refresh of per-session keystroke SimHashes.

A session's input chunks may span batches, files and ingest runs, so the
profiler only stores chunks and marks the session dirty (same transaction as
the events). This refresh recomputes every dirty session from all its stored
chunks and clears the mark, in one write transaction: the result depends on
the chunks alone, never on the order or grouping in which they arrived.
Readers call it before using keystroke SimHashes; ingest calls it at the end.
"""

from __future__ import annotations

import sqlite3

from node.profile.journal import fold_journals
from node.profile.simhash import format_simhash
from node.profile.transcripts import InputChunk, keystroke_profile
from node.store import Store

_UPSERT = """
INSERT INTO keystroke_simhashes (sid, simhash, digraphs, samples) VALUES (?, ?, ?, ?)
ON CONFLICT (sid) DO UPDATE SET
    simhash = excluded.simhash, digraphs = excluded.digraphs, samples = excluded.samples
"""
#: Sessions recomputed per transaction, so a huge backlog does not hold the write lock long.
_SESSIONS_PER_TRANSACTION = 500


async def refresh_keystroke_simhashes(store: Store) -> int:
    """Recompute the SimHash of every dirty session; return how many were refreshed.

    Folds the profile journals first: chunks may still sit in the journal.
    Each group of sessions is one transaction on the store's writer connection.
    """
    await fold_journals(store)
    refreshed = 0
    while True:
        done = await store.write_job(_refresh_dirty_sessions)
        refreshed += done
        if done < _SESSIONS_PER_TRANSACTION:
            return refreshed


def _refresh_dirty_sessions(conn: sqlite3.Connection) -> int:
    dirty = conn.execute("SELECT sid FROM keystroke_dirty LIMIT ?",
                         (_SESSIONS_PER_TRANSACTION,)).fetchall()
    for (sid,) in dirty:
        chunks = conn.execute("SELECT t, d FROM transcript_input WHERE sid = ?", (sid,))
        profile = keystroke_profile(InputChunk(t, d) for t, d in chunks)
        conn.execute(_UPSERT, (sid, format_simhash(profile.simhash), profile.digraphs,
                               profile.samples))
    conn.executemany("DELETE FROM keystroke_dirty WHERE sid = ?", dirty)
    return len(dirty)
