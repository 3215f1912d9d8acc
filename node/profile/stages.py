"""The profile's derived stages: folding the journals, and per-session keystroke SimHashes.

Each plugs into the store's one mechanism (`node.store.derive`): each keeps a
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
    """Merges one profile journal into its indexed table (`node.profile.sql.Journal`).

    Batches append profile rows to the journal in their own transaction, so
    it always holds exactly the rows of the events after this stage's mark: a
    fold reaches the newest event. It is as far behind as the journal has rows
    (append-only and emptied whole, so its largest rowid counts them). One
    stage per journal, each folded at ``step`` of its own rows: folding every
    journal every 50k events took 29.9 s of writer time per 1M lines against
    20.3-22.8 s this way (more, smaller folds dirtying the same index pages,
    and bigger commits).
    """

    journal: sql.Journal
    after: tuple[str, ...] = ()
    step: int = 50_000

    @property
    def name(self) -> str:
        return f"fold:{self.journal.table}"

    def behind(self, conn: sqlite3.Connection, lag: int) -> int:
        rows: int = conn.execute(f"SELECT coalesce(max(rowid), 0)"  # noqa: S608
                                 f" FROM {self.journal.journal}").fetchone()[0]
        return rows

    def catch_up(self, conn: sqlite3.Connection, span: Span) -> int:
        conn.execute(self.journal.fold)
        conn.execute(self.journal.clear)
        return span.limit


@dataclass(frozen=True, slots=True)
class KeystrokeSimhashes:
    """Recomputes the SimHash of each session that got input chunks in the span.

    A session's chunks may span batches, files and ingest runs; recomputing
    from all its stored chunks makes the result depend on the chunks alone,
    never on the order or grouping in which they arrived. Reads the folded
    ``transcript_input``, so it runs after that journal's fold. ``step``
    250k events: a session spanning several steps is recomputed in each, so
    during an ingest fewer, larger steps cost less (50k: 3.3 s of writer time
    per 1M lines, 250k: 1.8 s).
    """

    name: str = "keystrokes"
    after: tuple[str, ...] = (f"fold:{sql.TRANSCRIPT_INPUT.table}",)
    step: int = 250_000

    def behind(self, conn: sqlite3.Connection, lag: int) -> int:
        return lag

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
PROFILE_STAGES: tuple[Stage, ...] = (*(JournalFold(journal) for journal in sql.JOURNALS),
                                     KeystrokeSimhashes())


def keystroke_changes(conn: sqlite3.Connection, span: Span) -> list[int]:
    """Ids of the observations whose sessions' keystroke SimHashes changed in ``span``.

    With `node.store.observations.changed_observations`, the change feed a
    stage that reads keystroke SimHashes (clustering) consumes.
    """
    return [row[0] for row in conn.execute(_KEYSTROKE_CHANGES, (span.start, span.end))]
