"""The durable side of admission: accepted nonces and charged questions survive a restart.

A request captured before a restart must be refused after it, and a daily
budget (of questions, or of blind evaluations) used up before a restart must
stay used up. The in-memory
`NonceCache` and `PeerBudgets` stay the fast path; this SQLite file in the
node home (``federation.db``) is what they are reloaded from. A request's
nonce (and its question charge) is committed *before* its answer is sent, so
an answer that left the node is never forgotten; a process killed between
the commit and the send only refuses a retry that was never answered.

Writes from concurrent calls share one transaction (group commit) on one
writer thread: each call awaits the commit that carries its rows. If the
commit fails (disk full, read-only home), the call is refused with
`StateUnavailable` rather than answered unrecorded.

Questions are stored as a keyed hash (BLAKE2b, 16 bytes, key kept in the
file) so the file does not repeat what peers asked; the audit log is the
record of that.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from federation.errors import HomeFileError, StateUnavailable

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS nonces (
    key_id TEXT NOT NULL, nonce BLOB NOT NULL, expires_ms INTEGER NOT NULL,
    PRIMARY KEY (key_id, nonce)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nonces_by_expiry ON nonces (expires_ms);
CREATE TABLE IF NOT EXISTS questions (
    key_id TEXT NOT NULL, day INTEGER NOT NULL, question BLOB NOT NULL,
    PRIMARY KEY (key_id, day, question)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS evaluations (
    key_id TEXT NOT NULL, day INTEGER NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (key_id, day)
) WITHOUT ROWID;
"""
#: Commits between two prunes of expired nonces and past days.
_PRUNE_EVERY = 1000


@dataclass(frozen=True, slots=True)
class NonceRow:
    key_id: str
    nonce: bytes
    expires_ms: int


@dataclass(frozen=True, slots=True)
class QuestionRow:
    key_id: str
    day: int
    question: bytes


@dataclass(frozen=True, slots=True)
class EvaluationRow:
    """Blind evaluations charged to a peer on a day (added to what is stored)."""

    key_id: str
    day: int
    count: int


@dataclass(slots=True)
class _Pending:
    nonces: list[NonceRow] = field(default_factory=list)
    questions: list[QuestionRow] = field(default_factory=list)
    evaluations: list[EvaluationRow] = field(default_factory=list)
    done: asyncio.Future[None] | None = None


class Ledger:
    """One SQLite file; `record` commits rows (grouped), `nonces`/`questions` reload them."""

    def __init__(self, path: Path | None) -> None:
        """``path=None`` keeps everything in memory (tests and benchmarks only)."""
        self._lock = threading.Lock()
        target = ":memory:" if path is None else str(path)
        if path is not None and path.is_dir():
            raise HomeFileError(f"the federation state {path} is a directory")
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.executescript(_SCHEMA)
            self._key = self._question_key()
        except sqlite3.Error as exc:
            raise HomeFileError(f"cannot use the federation state {target}: {exc}") from None
        if path is not None:
            path.chmod(0o600)
        self._pending: _Pending | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._commits = 0

    def prune(self, now_ms: int) -> None:
        """Forget expired nonces and past days (at open, then every 1000 commits)."""
        with self._lock:
            self._prune(now_ms)

    def _question_key(self) -> bytes:
        row = self._db.execute("SELECT value FROM meta WHERE name = 'question_key'").fetchone()
        if row is not None:
            return bytes(row[0])
        key = secrets.token_bytes(16)
        self._db.execute("INSERT INTO meta VALUES ('question_key', ?)", (key,))
        return key

    def question_hash(self, question: bytes) -> bytes:
        """What is stored (and compared) for a question: a keyed 16-byte hash."""
        return hashlib.blake2b(question, digest_size=16, key=self._key).digest()

    def nonces(self, now_ms: int) -> list[NonceRow]:
        """Nonces still inside their window at ``now_ms``."""
        with self._lock:
            rows = self._db.execute("SELECT key_id, nonce, expires_ms FROM nonces"
                                    " WHERE expires_ms >= ?", (now_ms,)).fetchall()
        return [NonceRow(k, bytes(n), e) for k, n, e in rows]

    def questions(self, day: int) -> list[QuestionRow]:
        """Questions charged on ``day`` (UTC days since the epoch)."""
        with self._lock:
            rows = self._db.execute("SELECT key_id, day, question FROM questions WHERE day = ?",
                                    (day,)).fetchall()
        return [QuestionRow(k, d, bytes(q)) for k, d, q in rows]

    def evaluations(self, day: int) -> list[EvaluationRow]:
        """Blind evaluations charged on ``day``, per peer."""
        with self._lock:
            rows = self._db.execute("SELECT key_id, day, count FROM evaluations WHERE day = ?",
                                    (day,)).fetchall()
        return [EvaluationRow(k, d, c) for k, d, c in rows]

    async def record(self, nonces: Sequence[NonceRow], questions: Sequence[QuestionRow],
                     now_ms: int, evaluations: Sequence[EvaluationRow] = ()) -> None:
        """Commit the rows (with whatever else is pending); `StateUnavailable` if it fails."""
        loop = asyncio.get_running_loop()
        if self._loop is None or self._loop.is_closed():
            self._loop = loop
        if loop is not self._loop:
            raise RuntimeError("a Ledger serves one event loop at a time")
        pending = self._pending
        if pending is None:
            pending = self._pending = _Pending(done=loop.create_future())
            loop.call_soon(self._flush, now_ms)
        pending.nonces.extend(nonces)
        pending.questions.extend(questions)
        pending.evaluations.extend(evaluations)
        assert pending.done is not None
        await asyncio.shield(pending.done)

    def _flush(self, now_ms: int) -> None:
        pending, self._pending = self._pending, None
        assert pending is not None and pending.done is not None
        done = pending.done
        task = asyncio.get_running_loop().run_in_executor(None, self._commit, pending, now_ms)

        def finished(result: asyncio.Future[None]) -> None:
            if done.done():
                return
            if result.cancelled():
                done.set_exception(StateUnavailable("the state commit was cancelled; retry"))
            elif (exc := result.exception()) is not None:
                done.set_exception(exc)
            else:
                done.set_result(None)
        task.add_done_callback(finished)

    def _commit(self, pending: _Pending, now_ms: int) -> None:
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany(
                        "INSERT OR IGNORE INTO nonces VALUES (?, ?, ?)",
                        [(r.key_id, r.nonce, r.expires_ms) for r in pending.nonces])
                    self._db.executemany(
                        "INSERT OR IGNORE INTO questions VALUES (?, ?, ?)",
                        [(r.key_id, r.day, r.question) for r in pending.questions])
                    self._db.executemany(
                        "INSERT INTO evaluations VALUES (?, ?, ?) ON CONFLICT (key_id, day)"
                        " DO UPDATE SET count = count + excluded.count",
                        [(r.key_id, r.day, r.count) for r in pending.evaluations])
                    self._commits += 1
                    if self._commits % _PRUNE_EVERY == 0:
                        self._prune(now_ms)
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            logger.error("federation state not saved: %s", exc)
            raise StateUnavailable("cannot record this request durably; retry later") from None

    def _prune(self, now_ms: int) -> None:
        self._db.execute("DELETE FROM nonces WHERE expires_ms < ?", (now_ms,))
        self._db.execute("DELETE FROM questions WHERE day < ?", (now_ms // 86_400_000 - 1,))
        self._db.execute("DELETE FROM evaluations WHERE day < ?", (now_ms // 86_400_000 - 1,))

    def close(self) -> None:
        with self._lock:
            self._db.close()
