"""The profile's derived stages: folding the journals, and per-session keystroke SimHashes.

Both plug into the store's one mechanism (`node.store.derive`): each keeps a
mark in the event log and catches up from it, run by the batch writer during
an ingest, by `Store.catch_up` after it, and by ``serve``'s maintenance.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from node.ingest.transcript import FORMAT_TRANSCRIPT, KIND_CHUNK
from node.profile import sql
from node.profile.simhash import format_simhash
from node.profile.transcripts import InputChunk, keystroke_profile
from node.store.derive import Span, Stage

_KEYSTROKE_UPSERT = """
INSERT INTO keystroke_simhashes (sid, simhash, digraphs, samples, changed) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (sid) DO UPDATE SET
    simhash = excluded.simhash, digraphs = excluded.digraphs, samples = excluded.samples,
    changed = excluded.changed
"""
_SESSIONS_WITH_INPUT = """
SELECT DISTINCT fields ->> 'sid' FROM events
WHERE id > ?1 AND id <= ?2 AND kind = ?3 AND source_format = ?4 AND fields ->> 'ch' = 'i'
"""
_KEYSTROKE_CHANGES = """
SELECT DISTINCT o.id FROM keystroke_simhashes AS k
JOIN session_links AS l USING (sid) JOIN observations AS o ON o.ip = l.ip
WHERE k.changed > ?1 AND k.changed <= ?2 ORDER BY o.id
"""


@dataclass(frozen=True, slots=True)
class JournalFold:
    """Merges every profile journal into its indexed table (`node.profile.sql.Journal`).

    Batches append profile rows to the journals in their own transaction, so
    the journals always hold exactly the events after this stage's mark: a
    fold of all of them reaches the newest event. ``step``: a fold every 50k
    events costs ~0.1-0.2 s of the writer (bench/ingest.py); larger folds
    touch each page fewer times but stall the parser behind one long write.
    """

    name: str = "profile_journals"
    after: tuple[str, ...] = ()
    step: int = 50_000

    def catch_up(self, conn: sqlite3.Connection, span: Span) -> int:
        for journal in sql.JOURNALS:
            conn.execute(journal.fold)
            conn.execute(journal.clear)
        return span.top


@dataclass(frozen=True, slots=True)
class KeystrokeSimhashes:
    """Recomputes the SimHash of each session that got input chunks in the span.

    A session's chunks may span batches, files and ingest runs; recomputing
    from all its stored chunks makes the result depend on the chunks alone,
    never on the order or grouping in which they arrived. Reads the folded
    ``transcript_input``, so it runs after `JournalFold`.
    """

    name: str = "keystrokes"
    after: tuple[str, ...] = ("profile_journals",)
    step: int = 50_000

    def catch_up(self, conn: sqlite3.Connection, span: Span) -> int:
        sessions = conn.execute(_SESSIONS_WITH_INPUT,
                                (span.start, span.end, KIND_CHUNK, FORMAT_TRANSCRIPT))
        for (sid,) in sessions.fetchall():
            chunks = conn.execute("SELECT t, d FROM transcript_input WHERE sid = ?", (sid,))
            profile = keystroke_profile(InputChunk(t, d) for t, d in chunks)
            conn.execute(_KEYSTROKE_UPSERT, (sid, format_simhash(profile.simhash),
                                             profile.digraphs, profile.samples, span.end))
        return span.end


#: The profile's stages, in the order they run (each after the stages it reads).
PROFILE_STAGES: tuple[Stage, ...] = (JournalFold(), KeystrokeSimhashes())


def keystroke_changes(conn: sqlite3.Connection, span: Span) -> list[int]:
    """Ids of the observations whose sessions' keystroke SimHashes changed in ``span``.

    With `node.store.observations.changed_observations`, the change feed a
    stage that reads keystroke SimHashes (clustering) consumes.
    """
    return [row[0] for row in conn.execute(_KEYSTROKE_CHANGES, (span.start, span.end))]
