"""The ingest write path: prepared batches written by one dedicated thread, one job each.

Every batch is one transaction: the events not stored before, their
observation aggregates, their profile rows and (in follow mode) the read
offset; the derived stages a step behind (`node.store.derive`) follow in a
transaction of their own. The
whole transaction runs as a single job on a writer thread with its own
sqlite3 connection, so SQLite (which releases the GIL) works while
the parser prepares the next batch on the other core. Issuing the ~30
statements of a batch one by one through the event loop, as aiosqlite does,
left the writer idle between statements waiting for the busy loop: 20 s of
writer wall time for 12.5 s of writer CPU per million lines.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import orjson

from node.event import Event
from node.store.derive import Deriver
from node.store.observations import UPSERT_OBSERVATIONS

T = TypeVar("T")
logger = logging.getLogger(__name__)

# The whole batch arrives as three parameters so the insert runs in one SQLite
# step with the GIL released (`executemany` would need the GIL back for every
# row and convoy behind the parser on the other core): a JSON array of each
# event's small columns, the concatenated 16-byte keys, and the concatenated
# fields objects, each row naming its slice (1-based byte offset, length).
# Keeping the fields out of the row arrays cut the insert by a third: SQLite
# re-parses a row's text for every `->>`. Known keys are ignored.
_INSERT_EVENTS = """
INSERT OR IGNORE INTO events (key, time_us, src_ip, sensor, service, kind, source_format, fields)
SELECT substr(?2, j.key * 16 + 1, 16), j.value ->> 0, j.value ->> 1, j.value ->> 2,
       j.value ->> 3, j.value ->> 4, j.value ->> 5,
       CAST(substr(?3, j.value ->> 6, j.value ->> 7) AS TEXT)
FROM json_each(?1) AS j
"""
# Rows inserted by this batch are exactly those above the highest id before it:
# ids grow monotonically and the batch holds the only write transaction.
_LAST_ID = "SELECT coalesce(max(id), 0) FROM events"
_NEW_KEYS_HEX = "SELECT group_concat(hex(key), '') FROM events WHERE id > ?"
_SAVE_OFFSET = """
INSERT INTO read_offsets (source, device, inode, byte_pos, line_no) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (source) DO UPDATE SET
    device = excluded.device, inode = excluded.inode,
    byte_pos = excluded.byte_pos, line_no = excluded.line_no
"""


class BatchProfiler(Protocol):
    """Derives profile rows from newly stored events, inside the batch transaction.

    Implementations are I/O-free: they turn events into SQL statements with
    their parameter rows, which the store runs in the same transaction as the
    events themselves, so profiles stay consistent with events after a crash.
    Only events not stored before count, so re-ingesting adds nothing. Their
    tables come from the store's migrations.

    ``prepare`` must not change the profiler's state: the store prepares a
    batch ahead, while the previous one is still being written, and drops the
    result when some events turn out to be known. ``accept`` is called once
    for the prepared batch that is actually written.

    Prefer SQL that reads its rows from ``json_each(?)`` (``value ->> 0`` …):
    the store then passes all rows as one JSON array and SQLite runs the
    statement in one step without the GIL. Other SQL runs with
    ``executemany``, which needs the GIL back for every row and so stalls
    behind the parser on the other core.
    """

    def prepare(self, events: Sequence[Event]) -> Any:
        """Profile rows of ``events`` (time-ordered, distinct), as an opaque value."""
        ...

    def accept(self, prepared: Any) -> Iterable[tuple[str, Sequence[Any]]]:
        """The (sql, parameter rows) pairs to run for a prepared batch being written."""
        ...


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """A batch made ready for `Store.write_prepared` without touching the database."""

    events: list[Event]  # distinct keys, in key (≈ time) order
    rows: bytes  # JSON array of the events' columns, fields as (offset, length)
    keys: bytes  # the 16-byte keys, concatenated in the same order
    fields: bytes  # the events' fields as JSON objects, concatenated
    profiles: list[Any]  # each profiler's prepared rows, assuming every event is new


class WriteChain:
    """Batch writes queued one behind another: once one fails, none after it commits.

    Several batches of one ingest can wait on the writer thread at once; a
    later batch (or the follow offset after it) must never be stored without
    the batches before it.
    """

    __slots__ = ("failed",)

    def __init__(self) -> None:
        self.failed = False


class ChainBroken(Exception):
    """A queued batch was not written because an earlier one of its chain failed."""


@dataclass(frozen=True, slots=True)
class ReadOffset:
    """Where a followed file was read up to, committed with the events before it."""

    source: str
    device: int
    inode: int
    byte_pos: int
    line_no: int


def prepare_batch(events: Sequence[Event], profilers: Sequence[BatchProfiler]) -> PreparedBatch:
    """Serialise a batch and prepare its profiles: pure CPU, no database access."""
    unique: dict[bytes, Event] = {}
    for event in sorted(events, key=_event_order):  # time-prefixed keys: append-like inserts
        unique.setdefault(event.key, event)  # the first copy is the one SQL keeps
    ordered = list(unique.values())
    fields = [orjson.dumps(e.fields) for e in ordered]
    rows = []
    offset = 1
    for event, text in zip(ordered, fields, strict=True):
        rows.append((event.time_us, event.src_ip, event.sensor, event.service, event.kind,
                     event.source_format, offset, len(text)))
        offset += len(text)
    profiles = [profiler.prepare(ordered) for profiler in profilers]
    return PreparedBatch(ordered, orjson.dumps(rows), b"".join(unique), b"".join(fields),
                         profiles)


class BatchWriter:
    """One sqlite3 connection owned by one thread; `write` runs a whole batch there."""

    def __init__(self, path: Path, pragmas: Sequence[str],
                 profilers: Sequence[BatchProfiler], deriver: Deriver) -> None:
        self._path = path
        self._pragmas = tuple(pragmas)
        self._profilers = tuple(profilers)
        self._deriver = deriver
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        self._conn: sqlite3.Connection | None = None

    async def _run(self, function: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def open(self) -> None:
        await self._run(self._open)

    def _open(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=True)
        for pragma in self._pragmas:
            conn.execute(pragma)
        self._conn = conn

    async def close(self) -> None:
        if self._conn is not None:
            await self._run(self._conn.close)
            self._conn = None
        self._executor.shutdown(wait=True)

    def prepare(self, events: Sequence[Event]) -> PreparedBatch:
        return prepare_batch(events, self._profilers)

    async def write(self, batch: PreparedBatch, offset: ReadOffset | None = None,
                    chain: WriteChain | None = None) -> int:
        """Write a prepared batch in one transaction; return how many events were new.

        With a ``chain``, the batch is skipped (`ChainBroken`) if an earlier
        write of that chain failed, and a failure here breaks the chain.
        """
        stored: int = await self._run(self._write_in_chain, batch, offset,
                                      chain or WriteChain())
        return stored

    async def run_job(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job(connection)`` inside one transaction on the writer thread."""
        result: T = await self._run(self._run_job, job)
        return result

    def _run_job(self, job: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn
        assert conn is not None, "BatchWriter.open() first"
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = job(conn)
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        return result

    def _write_in_chain(self, batch: PreparedBatch, offset: ReadOffset | None,
                        chain: WriteChain) -> int:
        if chain.failed:
            raise ChainBroken("not written: an earlier batch of this ingest failed")
        try:
            return self._write(batch, offset)
        except BaseException:
            chain.failed = True
            raise

    def _write(self, batch: PreparedBatch, offset: ReadOffset | None) -> int:
        conn = self._conn
        assert conn is not None, "BatchWriter.open() first"
        conn.execute("BEGIN IMMEDIATE")
        try:
            last_id = conn.execute(_LAST_ID).fetchone()[0]
            stored: int = conn.execute(_INSERT_EVENTS,
                                       (batch.rows, batch.keys, batch.fields)).rowcount
            if stored:
                profiles = batch.profiles
                if stored != len(batch.events):  # some were known: profile only the new
                    new_events = _new_events(conn, batch.events, last_id)
                    profiles = [p.prepare(new_events) for p in self._profilers]
                conn.execute(UPSERT_OBSERVATIONS, (last_id,))
                for profiler, prepared in zip(self._profilers, profiles, strict=True):
                    run_statements(conn, profiler.accept(prepared))
            if offset is not None:
                conn.execute(_SAVE_OFFSET, (offset.source, offset.device, offset.inode,
                                            offset.byte_pos, offset.line_no))
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        if stored:
            self._derive_due(conn)
        return stored

    def _derive_due(self, conn: sqlite3.Connection) -> None:
        """The stages a step behind, in a transaction of their own after the batch's.

        A failing stage never costs events: they are committed already, the
        failure is logged, and the next catch-up (end of the ingest, `serve`)
        tries again and reports it.
        """
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._deriver.run(conn, due_only=True)
            conn.execute("COMMIT")
        except Exception:
            _rollback(conn)
            logger.exception("deriving data after a batch failed; the events are stored,"
                             " the next catch-up retries")


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open: SQLite ends it by itself on some
    errors (a full disk), and a second ROLLBACK would hide the real error behind
    "cannot rollback - no transaction is active"."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _new_events(conn: sqlite3.Connection, ordered: Sequence[Event], last_id: int) -> list[Event]:
    """The events of a partly known batch that this batch inserted.

    The new keys come back as one hex string rather than one row per key.
    """
    row = conn.execute(_NEW_KEYS_HEX, (last_id,)).fetchone()
    joined = bytes.fromhex(row[0]) if row and row[0] else b""
    new_keys = {joined[i:i + 16] for i in range(0, len(joined), 16)}
    return [event for event in ordered if event.key in new_keys]


def run_statements(conn: sqlite3.Connection,
                    statements: Iterable[tuple[str, Sequence[Any]]]) -> None:
    for sql, rows in statements:
        if not rows:
            continue
        if "json_each(?" in sql:
            conn.execute(sql, (orjson.dumps(list(rows)),))
        else:
            conn.executemany(sql, rows)


def _event_order(event: Event) -> bytes:
    return event.key
