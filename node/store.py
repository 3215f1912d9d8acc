"""The node's local store: one SQLite file in WAL mode, written in batches.

Invariants (they are what `kill -9` must not break):

- every event has a unique 16-byte key, so writing a batch twice stores it once;
- a batch, its observation aggregates and the follow-mode read offset are
  committed in one transaction, so the aggregates always equal what a fresh
  recomputation from `events` would give.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import aiosqlite

from node.batch_writer import (
    OBSERVATION_SETS_BEHIND,
    BatchProfiler,
    BatchWriter,
    PreparedBatch,
    ReadOffset,
    WriteChain,
    catch_up_observation_sets,
)
from node.errors import StoreCorrupt, StoreError, translate_sqlite
from node.ingest.event import Event

T = TypeVar("T")

__all__ = ["BatchProfiler", "PreparedBatch", "ReadOffset", "Store", "StoreError", "WriteChain"]

#: Page size of new stores: 8 KiB pages cut the per-page cost of the WAL
#: commits and checkpoints that dominate ingest (bench: commit wall 3.7 → 2.7 s
#: per million events). Existing stores keep theirs.
_PAGE_SIZE = 8192

#: WAL pages before SQLite checkpoints on commit. The default (1000) is less
#: than one ingest batch writes, so every commit paid a checkpoint with its
#: fsyncs; 16384 pages (128 MiB at 8 KiB) lets a checkpoint amortise over
#: several batches while keeping the WAL file bounded.
_WAL_CHECKPOINT_PAGES = 16384

#: Bumped whenever the schema changes; `_MIGRATIONS[v]` upgrades v → v+1.
SCHEMA_VERSION = 4

_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    id            INTEGER PRIMARY KEY,
    key           BLOB NOT NULL UNIQUE,
    time_us       INTEGER NOT NULL,
    src_ip        TEXT,
    sensor        TEXT NOT NULL,
    service       TEXT NOT NULL,
    kind          TEXT NOT NULL,
    source_format TEXT NOT NULL,
    fields        TEXT NOT NULL  -- JSON object of the event's fields
);
CREATE TABLE IF NOT EXISTS observations (
    ip            TEXT PRIMARY KEY,
    first_seen_us INTEGER NOT NULL,
    last_seen_us  INTEGER NOT NULL,
    event_count   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS observation_services (
    ip      TEXT NOT NULL,
    service TEXT NOT NULL,
    PRIMARY KEY (ip, service)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS observation_honeypots (
    ip       TEXT NOT NULL,
    honeypot TEXT NOT NULL,
    PRIMARY KEY (ip, honeypot)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS read_offsets (
    source     TEXT PRIMARY KEY,
    device     INTEGER NOT NULL,
    inode      INTEGER NOT NULL,
    byte_pos   INTEGER NOT NULL,
    line_no    INTEGER NOT NULL
) WITHOUT ROWID;
"""

# Local profiles (node/profile, docs/profiling.md). Written only through the
# profiler inside the batch transaction, except `keystroke_*` and `ptr_names`,
# which are refreshed lazily by node/profile/keystrokes.py and views.py.
_SCHEMA_V2 = """
CREATE TABLE profile_smtp_targets (
    ip TEXT NOT NULL, domain TEXT NOT NULL, count INTEGER NOT NULL,
    first_seen_us INTEGER NOT NULL, last_seen_us INTEGER NOT NULL,
    PRIMARY KEY (ip, domain)
) WITHOUT ROWID;
CREATE INDEX profile_smtp_targets_by_domain ON profile_smtp_targets (domain);
CREATE TABLE profile_fingerprints (
    ip TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL, version INTEGER NOT NULL,
    count INTEGER NOT NULL, first_seen_us INTEGER NOT NULL, last_seen_us INTEGER NOT NULL,
    PRIMARY KEY (ip, kind, value)
) WITHOUT ROWID;
CREATE INDEX profile_fingerprints_by_value ON profile_fingerprints (kind, value);
CREATE TABLE profile_probe_state (
    ip TEXT NOT NULL, port INTEGER NOT NULL, probe TEXT NOT NULL, value TEXT NOT NULL,
    first_seen_us INTEGER NOT NULL, last_seen_us INTEGER NOT NULL,
    PRIMARY KEY (ip, port, probe)
) WITHOUT ROWID;
CREATE TABLE profile_rotations (
    id INTEGER PRIMARY KEY, ip TEXT NOT NULL, port INTEGER NOT NULL, probe TEXT NOT NULL,
    time_us INTEGER NOT NULL, old_value TEXT NOT NULL, new_value TEXT NOT NULL
);
CREATE INDEX profile_rotations_by_triple ON profile_rotations (ip, port, probe);
CREATE TABLE profile_ipv6_leaks (
    ip TEXT NOT NULL, address TEXT NOT NULL, kind TEXT NOT NULL, oui TEXT, iid TEXT,
    count INTEGER NOT NULL, first_seen_us INTEGER NOT NULL, last_seen_us INTEGER NOT NULL,
    PRIMARY KEY (ip, address)
) WITHOUT ROWID;
CREATE TABLE profile_credentials (
    ip TEXT NOT NULL, username TEXT NOT NULL, secret TEXT NOT NULL, outcome TEXT NOT NULL,
    count INTEGER NOT NULL, first_seen_us INTEGER NOT NULL, last_seen_us INTEGER NOT NULL,
    PRIMARY KEY (ip, username, secret, outcome)
) WITHOUT ROWID;
CREATE TABLE profile_sessions (
    ip TEXT NOT NULL, session TEXT NOT NULL, honeypot TEXT NOT NULL, service TEXT NOT NULL,
    count INTEGER NOT NULL, first_seen_us INTEGER NOT NULL, last_seen_us INTEGER NOT NULL,
    PRIMARY KEY (ip, session)
) WITHOUT ROWID;
CREATE TABLE profile_commands (
    ip TEXT NOT NULL, time_us INTEGER NOT NULL, honeypot TEXT NOT NULL, session TEXT NOT NULL,
    command TEXT NOT NULL, phases TEXT NOT NULL,
    PRIMARY KEY (ip, time_us, honeypot, session, command)
) WITHOUT ROWID;
CREATE TABLE profile_phases (
    ip TEXT NOT NULL, honeypot TEXT NOT NULL, phase TEXT NOT NULL,
    count INTEGER NOT NULL, first_seen_us INTEGER NOT NULL, last_seen_us INTEGER NOT NULL,
    PRIMARY KEY (ip, honeypot, phase)
) WITHOUT ROWID;
CREATE TABLE profile_payloads (
    ip TEXT NOT NULL, sha256 TEXT NOT NULL, source TEXT NOT NULL,
    count INTEGER NOT NULL, first_seen_us INTEGER NOT NULL, last_seen_us INTEGER NOT NULL,
    PRIMARY KEY (ip, sha256, source)
) WITHOUT ROWID;
CREATE INDEX profile_payloads_by_hash ON profile_payloads (sha256);
CREATE TABLE profile_c2 (
    ip TEXT NOT NULL, host TEXT NOT NULL, url TEXT NOT NULL, via TEXT NOT NULL,
    count INTEGER NOT NULL, first_seen_us INTEGER NOT NULL, last_seen_us INTEGER NOT NULL,
    PRIMARY KEY (ip, host, url, via)
) WITHOUT ROWID;
CREATE INDEX profile_c2_by_host ON profile_c2 (host);
CREATE TABLE profile_mail_simhashes (
    ip TEXT NOT NULL, simhash TEXT NOT NULL,
    count INTEGER NOT NULL, first_seen_us INTEGER NOT NULL, last_seen_us INTEGER NOT NULL,
    PRIMARY KEY (ip, simhash)
) WITHOUT ROWID;
CREATE TABLE transcript_input (
    sid TEXT NOT NULL, t REAL NOT NULL, d TEXT NOT NULL,
    PRIMARY KEY (sid, t, d)
) WITHOUT ROWID;
CREATE TABLE transcript_sessions (
    sid TEXT PRIMARY KEY, started_us INTEGER, width INTEGER, height INTEGER,
    truncated INTEGER NOT NULL, input_chunks INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE session_links (
    sid TEXT PRIMARY KEY, ip TEXT NOT NULL, honeypot TEXT NOT NULL, service TEXT NOT NULL,
    time_us INTEGER NOT NULL, duration_s REAL
) WITHOUT ROWID;
CREATE INDEX session_links_by_ip ON session_links (ip);
CREATE TABLE keystroke_dirty (sid TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE keystroke_simhashes (
    sid TEXT PRIMARY KEY, simhash TEXT NOT NULL, digraphs INTEGER NOT NULL,
    samples INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE ptr_names (
    ip TEXT PRIMARY KEY, name TEXT, status TEXT NOT NULL, resolved_us INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE profile_rejections (reason TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID
"""

# Profile journals: append-only twins of the busiest profile tables. A batch
# appends its profile rows here (cheap: no index, right-edge inserts) and a
# fold merges them into the indexed tables in key order now and then, and
# before any read (node/profile/journal.py).
_SCHEMA_V3 = """
CREATE TABLE j_smtp_targets (ip, domain, count, first_seen_us, last_seen_us);
CREATE TABLE j_fingerprints (ip, kind, value, version, count, first_seen_us, last_seen_us);
CREATE TABLE j_ipv6_leaks (ip, address, kind, oui, iid, count, first_seen_us, last_seen_us);
CREATE TABLE j_credentials (ip, username, secret, outcome, count, first_seen_us, last_seen_us);
CREATE TABLE j_sessions (ip, session, honeypot, service, count, first_seen_us, last_seen_us);
CREATE TABLE j_phases (ip, honeypot, phase, count, first_seen_us, last_seen_us);
CREATE TABLE j_payloads (ip, sha256, source, count, first_seen_us, last_seen_us);
CREATE TABLE j_c2 (ip, host, url, via, count, first_seen_us, last_seen_us);
CREATE TABLE j_mail_simhashes (ip, simhash, count, first_seen_us, last_seen_us);
CREATE TABLE j_commands (ip, time_us, honeypot, session, command, phases);
CREATE TABLE j_transcript_input (sid, t, d)
"""

# How far the per-IP service and honeypot sets have been brought up to date:
# they are added for many batches at once (node/batch_writer.py), and before
# any read of them. A store from v3 has them complete.
_SCHEMA_V4 = """
CREATE TABLE store_marks (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO store_marks (name, value) SELECT 'observation_sets', coalesce(max(id), 0) FROM events
"""

_MIGRATIONS: dict[int, str] = {0: _SCHEMA_V1, 1: _SCHEMA_V2, 2: _SCHEMA_V3, 3: _SCHEMA_V4}

@dataclass(frozen=True, slots=True)
class ObservationRow:
    """One attacker source IP as the store aggregates it."""

    ip: str
    first_seen_us: int
    last_seen_us: int
    event_count: int
    services: tuple[str, ...]
    honeypots: tuple[str, ...]


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
    """Async handle on the node database; use `Store.open` and `close`."""

    def __init__(self, path: Path, db: aiosqlite.Connection, writer: BatchWriter) -> None:
        self.path = path
        self._db = db
        self._writer = writer
        self._probe: sqlite3.Connection | None = None

    @classmethod
    async def open(cls, path: Path, *, cache_mib: int = 64, max_size_mib: int = 0,
                   profilers: Sequence[BatchProfiler] = ()) -> Store:
        """Open (creating or migrating) the database at ``path``.

        ``max_size_mib`` > 0 caps the file (SQLite ``max_page_count``): past
        it, writes fail with `StoreFull` as on a full disk.
        """
        try:
            db = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise translate_sqlite(exc, path) from exc
        pragmas = _pragmas(cache_mib, max_size_mib)
        store = cls(path, db, BatchWriter(path, pragmas, profilers))
        try:
            await store._prepare(pragmas)
        except BaseException:
            await store.close()
            raise
        return store

    async def _prepare(self, pragmas: Sequence[str]) -> None:
        try:
            await self._db.execute(f"PRAGMA page_size={_PAGE_SIZE}")  # new stores only
            for pragma in pragmas:
                await self._db.execute(pragma)
            await self._migrate()
            await self._writer.open()
        except sqlite3.Error as exc:
            raise translate_sqlite(exc, self.path) from exc

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
                for statement in _split_sql(_MIGRATIONS[version]):
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
        await self._writer.close()
        await self._db.close()

    def prepare_batch(self, events: Sequence[Event]) -> PreparedBatch:
        """Serialise a batch and prepare its profiles; pure CPU, no database access.

        Split from `write_prepared` so a caller can prepare the next batch
        while the previous one is still being written.
        """
        return self._writer.prepare(events)

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
        return await self._writer.write(batch, offset, chain)

    @_translated
    async def write_job(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job(connection)`` as one transaction on the batch writer's connection.

        For bulk maintenance (folding the profile journals, refreshing keystroke
        SimHashes): one hop to the writer thread instead of one per statement,
        and its page cache is warm with the tables ingest just wrote.
        """
        return await self._writer.run_job(job)

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
        rows = self._probe.execute(_KNOWN_KEYS, (b"".join(keys), len(keys))).fetchall()
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
    async def catch_up_observations(self) -> None:
        """Bring the per-IP service and honeypot sets up to every stored event.

        Anything that reads ``observation_services`` or ``observation_honeypots``
        calls this first; it writes only when events were stored since the last time.
        """
        if await self._scalar(OBSERVATION_SETS_BEHIND):
            await self.write_job(catch_up_observation_sets)

    @_translated
    async def observations(self, limit: int | None = None) -> list[ObservationRow]:
        """Observations, most recently seen first."""
        await self.catch_up_observations()
        sql = (
            "SELECT o.ip, o.first_seen_us, o.last_seen_us, o.event_count,"
            " (SELECT group_concat(service, char(31)) FROM"
            "   (SELECT service FROM observation_services s WHERE s.ip = o.ip ORDER BY service)),"
            " (SELECT group_concat(honeypot, char(31)) FROM"
            "   (SELECT honeypot FROM observation_honeypots h WHERE h.ip = o.ip ORDER BY honeypot))"
            " FROM observations o ORDER BY o.last_seen_us DESC, o.ip"
        )
        params: tuple[Any, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        async with self._db.execute(sql, params) as cursor:
            rows = await cursor.fetchall()
        return [
            ObservationRow(ip, first, last, count, _split_list(services), _split_list(honeypots))
            for ip, first, last, count, services, honeypots in rows
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
        await self._db.executemany(sql, rows)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Store]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` around `fetch`/`execute` calls; rolls back on error.

        For lazy refreshes (keystroke SimHashes, PTR names) that must read and
        write atomically with respect to a concurrent ingest.
        """
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            if self._db.in_transaction:
                await self._db.execute("ROLLBACK")
            raise
        await self._db.execute("COMMIT")

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


def _pragmas(cache_mib: int, max_size_mib: int = 0) -> tuple[str, ...]:
    """Per-connection settings, the same for the async reader and the batch writer."""
    limit = (f"PRAGMA max_page_count={max_size_mib * 1024 * 1024 // _PAGE_SIZE}",) \
        if max_size_mib > 0 else ()
    return (
        *limit,
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        f"PRAGMA cache_size=-{cache_mib * 1024}",
        "PRAGMA temp_store=MEMORY",
        "PRAGMA busy_timeout=10000",
        f"PRAGMA wal_autocheckpoint={_WAL_CHECKPOINT_PAGES}",
    )


def _split_sql(script: str) -> Iterable[str]:
    return (part.strip() for part in script.split(";") if part.strip())


def _split_list(joined: str | None) -> tuple[str, ...]:
    return tuple(joined.split("\x1f")) if joined else ()
