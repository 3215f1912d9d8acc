"""The node's local store: one SQLite file in WAL mode, written in batches.

Invariants (they are what `kill -9` must not break):

- every event has a unique 16-byte key, so writing a batch twice stores it once;
- a batch, its observation aggregates, its profile rows and the follow-mode
  read offset are committed in one transaction, so the aggregates always
  equal what a fresh recomputation from `events` would give;
- a derived stage's tables and its mark in `derived_marks` are committed in
  one transaction, so a stage is always exactly at a mark it reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import aiosqlite

from node.errors import (
    StoreCorrupt,
    StoreError,
    StorePermissionDenied,
    StoreReadOnly,
    translate_sqlite,
)
from node.event import Event
from node.store.derive import Deriver, Stage
from node.store.observations import ObservationSets
from node.store.schema import (
    MIGRATIONS,
    PAGE_SIZE,
    SCHEMA_VERSION,
    pragmas,
    read_only_pragmas,
    split_sql,
)
from node.store.writer import (
    BatchProfiler,
    BatchWriter,
    PreparedBatch,
    ReadOffset,
    WriteChain,
)

T = TypeVar("T")



@dataclass(frozen=True, slots=True)
class ObservationRow:
    """One attacker source IP as the store aggregates it (``id`` is stable, never reused)."""

    id: int
    ip: str
    first_seen_us: int
    last_seen_us: int
    event_count: int
    services: tuple[str, ...]
    honeypots: tuple[str, ...]
    identity_id: int | None = None  # None until the first clustering pass
    campaign_id: int | None = None


_OBSERVATION_ORDER = {"last": "o.last_seen_us DESC", "first": "o.first_seen_us ASC",
                      "events": "o.event_count DESC"}
OBSERVATION_SORTS = tuple(_OBSERVATION_ORDER)


@dataclass(frozen=True, slots=True)
class ObservationFilter:
    """Which observations `Store.observations` lists, and in what order."""

    identity: int | None = None
    campaign: int | None = None
    service: str | None = None
    honeypot: str | None = None
    since_us: int | None = None  # last seen at or after
    sort: str = "last"

    def sql(self) -> tuple[list[str], tuple[Any, ...]]:
        """WHERE clauses (constant SQL) and their parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.identity is not None:
            clauses.append("coalesce(i.merged_into, i.id) = ?")
            params.append(self.identity)
        if self.campaign is not None:
            clauses.append("coalesce(c.merged_into, c.id) = ?")
            params.append(self.campaign)
        if self.service is not None:
            clauses.append("EXISTS (SELECT 1 FROM observation_services s"
                           " WHERE s.ip = o.ip AND s.service = ?)")
            params.append(self.service)
        if self.honeypot is not None:
            clauses.append("EXISTS (SELECT 1 FROM observation_honeypots h"
                           " WHERE h.ip = o.ip AND h.honeypot = ?)")
            params.append(self.honeypot)
        if self.since_us is not None:
            clauses.append("o.last_seen_us >= ?")
            params.append(self.since_us)
        return clauses, tuple(params)


@dataclass(frozen=True, slots=True)
class StoreCounts:
    """Row counts for `decnet-fed status`."""

    events: int
    observations: int


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _translated(method: Callable[Concatenate[Store, _P], Coroutine[Any, Any, _R]]
                ) -> Callable[Concatenate[Store, _P], Coroutine[Any, Any, _R]]:
    """sqlite3 errors leave the store as `StoreError`s (`node.errors`), never raw."""
    @functools.wraps(method)
    async def call(self: Store, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return await method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise translate_sqlite(exc, self.path) from exc
    return call


class Store:
    """Async handle on the node database; use `Store.open` and `close`.

    Derived tables are brought up to date by the writer and by `catch_up`,
    never by a read: reads see them as of the stages' marks (`lags`).
    """

    def __init__(self, path: Path, db: aiosqlite.Connection, writer: BatchWriter | None,
                 deriver: Deriver) -> None:
        self.path = path
        self._db = db
        self._writer = writer
        self._deriver = deriver
        self._probe: sqlite3.Connection | None = None

    @property
    def writable(self) -> bool:
        """False for a store opened with ``read_only`` (every write raises `StoreReadOnly`)."""
        return self._writer is not None

    @classmethod
    async def open(cls, path: Path, *, cache_mib: int = 64, max_size_mib: int = 0,
                   profilers: Sequence[BatchProfiler] = (), stages: Sequence[Stage] = (),
                   read_only: bool = False) -> Store:
        """Open (creating or migrating) the database at ``path``.

        ``stages`` derive data after the store's own (`ObservationSets`).
        ``max_size_mib`` > 0 caps the file (SQLite ``max_page_count``): past
        it, writes fail with `StoreFull` as on a full disk. ``read_only``
        opens an existing store for reading only (a read-only file or file
        system works); it must already have this build's schema.
        """
        deriver = Deriver([ObservationSets(), *stages])
        try:
            db = await (_connect_read_only(path) if read_only
                        else aiosqlite.connect(path, isolation_level=None))
        except sqlite3.Error as exc:
            raise translate_sqlite(exc, path) from exc
        if read_only:
            store = cls(path, db, None, deriver)
            settings = read_only_pragmas(cache_mib)
        else:
            settings = pragmas(cache_mib, max_size_mib)
            store = cls(path, db, BatchWriter(path, settings, profilers, deriver), deriver)
        try:
            await store._prepare(settings)
        except StorePermissionDenied as exc:
            await store.close()
            if not read_only and not _writable(path):  # SQLite says only "unable to open"
                raise StoreReadOnly(f"store {path} is read-only (its file, directory or file"
                                    " system): reading commands work on it; to write, make"
                                    " them writable") from exc
            raise
        except BaseException:
            await store.close()
            raise
        return store

    async def _prepare(self, settings: Sequence[str]) -> None:
        try:
            if self._writer is None:
                for pragma in settings:
                    await self._db.execute(pragma)
                await self._check_readable_version()
                return
            await self._db.execute(f"PRAGMA page_size={PAGE_SIZE}")  # new stores only
            for pragma in settings:
                await self._db.execute(pragma)
            await self._migrate()
            await self._writer.open()
        except sqlite3.Error as exc:
            raise translate_sqlite(exc, self.path) from exc

    async def _check_readable_version(self) -> None:
        version = await self._scalar("PRAGMA user_version")
        if version != SCHEMA_VERSION:
            raise StoreReadOnly(
                f"store {self.path} has schema version {version} and this build reads"
                f" {SCHEMA_VERSION}; it is read-only, so it cannot be upgraded: make it"
                " writable and run any command once" if version < SCHEMA_VERSION else
                f"store {self.path} has schema version {version}; this build knows up to"
                f" {SCHEMA_VERSION}: upgrade decnet-fed")

    async def _migrate(self) -> None:
        version = await self._scalar("PRAGMA user_version")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"store {self.path} has schema version {version}; this build knows "
                f"up to {SCHEMA_VERSION}: upgrade decnet-fed"
            )
        while version < SCHEMA_VERSION:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                for statement in split_sql(MIGRATIONS[version]):
                    await self._db.execute(statement)
                version += 1
                await self._db.execute(f"PRAGMA user_version={version}")
                await self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    await self._db.execute("ROLLBACK")
                raise

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.close()
        if self._writer is not None:
            await self._writer.close()
        await self._db.close()

    def _writing(self) -> BatchWriter:
        if self._writer is None:
            raise StoreReadOnly(f"store {self.path} was opened for reading only")
        return self._writer

    def prepare_batch(self, events: Sequence[Event]) -> PreparedBatch:
        """Serialise a batch and prepare its profiles; pure CPU, no database access.

        Split from `write_prepared` so a caller can prepare the next batch
        while the previous one is still being written.
        """
        return self._writing().prepare(events)

    async def write_batch(self, events: Sequence[Event], offset: ReadOffset | None = None) -> int:
        """Store the events not stored before; return how many were new.

        Duplicates (within the batch or against the store) are dropped. The
        optional read offset is committed in the same transaction.
        """
        return await self.write_prepared(self.prepare_batch(events), offset)

    @_translated
    async def write_prepared(self, batch: PreparedBatch, offset: ReadOffset | None = None,
                             chain: WriteChain | None = None) -> int:
        """Write a prepared batch in one transaction; return how many events were new.

        Writes are queued in call order; see `WriteChain` for queuing several.
        """
        return await self._writing().write(batch, offset, chain)

    @_translated
    async def write_job(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job(connection)`` as one transaction on the batch writer's connection.

        For bulk maintenance (derived stages, rebuilding profiles): one hop to
        the writer thread instead of one per statement, and its page cache is
        warm with the tables ingest just wrote.
        """
        return await self._writing().run_job(job)

    @_translated
    async def read_job(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job(connection)`` on a read-only connection of its own, in a thread, over
        one snapshot: bulk reads that stream their rows (summaries for gossip) without
        holding the event loop or the writer."""
        def run() -> T:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            try:
                conn.execute("PRAGMA query_only=ON")
                conn.execute("PRAGMA busy_timeout=10000")
                conn.execute("BEGIN")
                return job(conn)
            finally:
                conn.close()
        return await asyncio.to_thread(run)

    def known_keys(self, keys: Sequence[bytes]) -> set[bytes]:
        """Which of these event keys are stored already (committed ones; a snapshot read).

        Runs on the calling thread, on a read-only connection of its own: the
        probe is a few milliseconds of SQLite with the GIL released, and the
        round trip through the reader thread took three times as long while the
        writer thread competed for the GIL.
        """
        if not keys:
            return set()
        if self._probe is None:
            self._probe = sqlite3.connect(self.path, isolation_level=None)
            self._probe.execute("PRAGMA query_only=ON")
            self._probe.execute("PRAGMA busy_timeout=10000")
        try:
            rows = self._probe.execute(_KNOWN_KEYS, (b"".join(keys), len(keys))).fetchall()
        except sqlite3.Error as exc:
            raise translate_sqlite(exc, self.path) from exc
        return {keys[row[0]] for row in rows}

    @_translated
    async def read_offset(self, source: str) -> ReadOffset | None:
        """The saved follow position of ``source``, if any."""
        async with self._db.execute(
            "SELECT source, device, inode, byte_pos, line_no FROM read_offsets WHERE source = ?",
            (source,),
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else ReadOffset(*row)

    @_translated
    async def catch_up(self) -> None:
        """Bring every derived stage up to the newest stored event.

        One transaction per step of each stage, so a long backlog lets other
        writers (a concurrent ingest) in between steps.
        """
        writer = self._writing()
        if not any((await self.lags()).values()):
            return  # a read first: a quiet node takes no write lock
        while await writer.run_job(lambda conn: self._deriver.run(conn, due_only=False)):
            pass

    def dependents(self, names: Sequence[str]) -> list[str]:
        """``names`` and every derived stage of this store that reads them (to reset together)."""
        return self._deriver.dependents(names)

    @_translated
    async def lags(self) -> dict[str, int]:
        """How many events each derived stage is behind the newest stored one (a read)."""
        top = await self._scalar("SELECT coalesce(max(id), 0) FROM events")
        marks = {str(stage): int(through) for stage, through
                 in await self.fetch("SELECT stage, through FROM derived_marks")}
        return self._deriver.lags(top, marks)

    @_translated
    async def observations(self, limit: int | None = None,
                           where: ObservationFilter | None = None) -> list[ObservationRow]:
        """Observations, most recently seen first unless ``where`` sorts otherwise
        (services and honeypots as of `lags`)."""
        where = where or ObservationFilter()
        sql = (
            "SELECT o.id, o.ip, o.first_seen_us, o.last_seen_us, o.event_count,"
            " (SELECT group_concat(service, char(31)) FROM"
            "   (SELECT service FROM observation_services s WHERE s.ip = o.ip ORDER BY service)),"
            " (SELECT group_concat(honeypot, char(31)) FROM"
            "   (SELECT honeypot FROM observation_honeypots h WHERE h.ip = o.ip"
            "    ORDER BY honeypot)),"
            " coalesce(i.merged_into, i.id), coalesce(c.merged_into, c.id)"
            " FROM observations o LEFT JOIN identities i ON i.id = o.id"
            " LEFT JOIN campaigns c ON c.id = o.id"
        )
        clauses, params = where.sql()
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f" ORDER BY {_OBSERVATION_ORDER[where.sort]}, o.ip"
        if limit is not None:
            sql += " LIMIT ?"
            params = (*params, limit)
        async with self._db.execute(sql, params) as cursor:
            rows = await cursor.fetchall()
        return [
            ObservationRow(oid, ip, first, last, count, _split_list(services),
                           _split_list(honeypots), identity, campaign)
            for oid, ip, first, last, count, services, honeypots, identity, campaign in rows
        ]

    @_translated
    async def counts(self) -> StoreCounts:
        return StoreCounts(
            events=await self._scalar("SELECT count(*) FROM events"),
            observations=await self._scalar("SELECT count(*) FROM observations"),
        )

    @_translated
    async def check(self, *, full: bool) -> None:
        """`StoreCorrupt` unless SQLite's integrity check passes.

        ``full`` runs ``integrity_check`` (also cross-checks every index:
        minutes on a large store); otherwise ``quick_check`` (page structure
        only, O(size) but several times faster), what `serve` runs at start.
        """
        rows = await self.fetch("PRAGMA integrity_check(20)" if full else "PRAGMA quick_check(20)")
        problems = [str(row[0]) for row in rows if row[0] != "ok"]
        if problems:
            raise StoreCorrupt(f"store {self.path} is damaged ({'; '.join(problems)[:300]}):"
                               " restore it from a backup, or move it away and re-ingest into"
                               " a new one")

    @_translated
    async def schema_version(self) -> int:
        return await self._scalar("PRAGMA user_version")

    @_translated
    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of one query; for read models (profile views) that own their SQL."""
        async with self._db.execute(sql, params) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]

    @_translated
    async def execute(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement per parameter row (inside `transaction` for atomicity)."""
        self._writing()
        await self._db.executemany(sql, rows)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Store]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` around `fetch`/`execute` calls; rolls back on error.

        For caches (PTR names) that must read and write atomically with
        respect to a concurrent ingest.
        """
        self._writing()
        try:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                if self._db.in_transaction:
                    await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise translate_sqlite(exc, self.path) from exc

    def size_bytes(self) -> int:
        """Bytes on disk of the database with its WAL and shared-memory files."""
        total = 0
        for suffix in ("", "-wal", "-shm"):
            try:
                total += os.stat(f"{self.path}{suffix}").st_size
            except FileNotFoundError:
                pass
        return total

    async def _scalar(self, sql: str) -> int:
        async with self._db.execute(sql) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        return int(row[0])


# Index positions (into the concatenated 16-byte keys) of the keys already stored.
_KNOWN_KEYS = """
WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n + 1 < ?2)
SELECT n FROM i WHERE EXISTS (SELECT 1 FROM events WHERE key = substr(?1, n * 16 + 1, 16))
"""


def _writable(path: Path) -> bool:
    """Whether this user may write the store and create its WAL files beside it."""
    return os.access(path.parent, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))


async def _connect_read_only(path: Path) -> aiosqlite.Connection:
    """A connection that cannot write, even where SQLite could not make its WAL index.

    ``mode=ro`` needs the ``-shm`` file, or a directory to create it in; where
    neither is there (a read-only directory or file system) the store is read
    as immutable, which is exact only when no process has it open (no
    ``-shm``) and no write-ahead log holds commits the file lacks, so then it
    refuses instead.
    """
    uri = path.resolve().as_uri()
    db = await aiosqlite.connect(f"{uri}?mode=ro", uri=True, isolation_level=None)
    try:
        await db.execute("PRAGMA user_version")
        return db
    except sqlite3.OperationalError as exc:
        await db.close()
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        if code not in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN):
            raise
    wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
    if shm.exists() or (wal.exists() and wal.stat().st_size > 0):
        # a writer may be at work (or left commits in the log): an immutable
        # read could see pages change under it, or miss the last commits
        raise StoreReadOnly(f"store {path} is read-only and another process may be writing"
                            " it (its -shm or -wal file is there): make the directory"
                            " writable, or read it once that process has stopped")
    return await aiosqlite.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)


def _split_list(joined: str | None) -> tuple[str, ...]:
    return tuple(joined.split("\x1f")) if joined else ()
