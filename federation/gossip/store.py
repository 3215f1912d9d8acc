"""Where gossip state survives restarts: ``gossip.db`` in the node home (SQLite, WAL).

It keeps every origin's records as they arrived (exact bytes and
signature), each origin's watermark and collected-through version, this
node's own publications (summary handle → record id, the digest of what was
published, its version), and two counters that must only grow: the next
version this node issues and its membership incarnation. Records are
written in the same transaction as the watermark that covers them, so a
crash never leaves a watermark claiming records the file lacks.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from federation.gossip.record import Kind, Record

_SCHEMA = """
CREATE TABLE IF NOT EXISTS origins (
    origin TEXT PRIMARY KEY, watermark INTEGER NOT NULL, collected_through INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    origin TEXT NOT NULL, record_id BLOB NOT NULL, version INTEGER NOT NULL,
    kind INTEGER NOT NULL, issued_day INTEGER NOT NULL, schema_minor INTEGER NOT NULL,
    body BLOB NOT NULL, signature BLOB NOT NULL,
    PRIMARY KEY (origin, record_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS published (
    handle TEXT PRIMARY KEY, record_id BLOB NOT NULL, digest BLOB,
    version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS members (
    peer TEXT PRIMARY KEY, state TEXT NOT NULL, incarnation INTEGER NOT NULL,
    since_s REAL NOT NULL, last_ok_s REAL, score REAL, last_sync_s REAL,
    records_in INTEGER NOT NULL DEFAULT 0, refused INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class Publication:
    """One of this node's summaries as last published (``digest`` None: withdrawn)."""

    record_id: bytes
    digest: bytes | None
    version: int


@dataclass(frozen=True, slots=True)
class MemberRow:
    """One peer as the running node sees it (written for `decnet-fed members`)."""

    peer: str
    state: str
    incarnation: int
    since_s: float
    last_ok_s: float | None
    score: float | None = None
    last_sync_s: float | None = None
    records_in: int = 0
    refused: int = 0


@dataclass(frozen=True, slots=True)
class OriginRow:
    origin: str
    watermark: int
    collected_through: int
    records: tuple[Record, ...]


class GossipStore:
    """The gossip file; every method is one short transaction."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """``read_only``: the CLI's view of a file a running `serve` writes."""
        self.path = path
        if read_only:
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout=10000")
            return
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def origins(self) -> list[OriginRow]:
        """Every origin with its records, as last saved."""
        records: dict[str, list[Record]] = {}
        for row in self._db.execute(
                "SELECT origin, record_id, version, kind, issued_day, schema_minor, body,"
                " signature FROM records ORDER BY origin, version"):
            origin, rid, version, kind, day, minor, body, signature = row
            records.setdefault(origin, []).append(Record(
                bytes(body), bytes(signature), origin, version, bytes(rid), Kind(kind), day,
                minor))
        return [OriginRow(origin, watermark, collected, tuple(records.get(origin, ())))
                for origin, watermark, collected in self._db.execute(
                    "SELECT origin, watermark, collected_through FROM origins")]

    def save(self, origin: str, watermark: int, collected_through: int,
             stored: Iterable[Record], *, reset: bool = False,
             dropped: Iterable[Record] = ()) -> None:
        """Records stored for ``origin`` and the watermark that now covers them, atomically.

        ``reset`` drops the origin's other records first; ``dropped`` are
        collected tombstones.
        """
        with self._transaction():
            self._save(origin, watermark, collected_through, stored, reset, dropped)

    def _save(self, origin: str, watermark: int, collected_through: int,
              stored: Iterable[Record], reset: bool = False,
              dropped: Iterable[Record] = ()) -> None:
        if reset:
            self._db.execute("DELETE FROM records WHERE origin = ?", (origin,))
        self._db.executemany("DELETE FROM records WHERE origin = ? AND record_id = ?",
                             [(origin, r.record_id) for r in dropped])
        self._db.executemany(
            "INSERT INTO records (origin, record_id, version, kind, issued_day,"
            " schema_minor, body, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (origin, record_id) DO UPDATE SET version = excluded.version,"
            " kind = excluded.kind, issued_day = excluded.issued_day,"
            " schema_minor = excluded.schema_minor, body = excluded.body,"
            " signature = excluded.signature WHERE excluded.version > records.version"
            " OR (excluded.version = records.version AND excluded.body > records.body)",
            [(origin, r.record_id, r.version, int(r.kind), r.issued_day, r.schema_minor,
              r.body, r.signature) for r in stored])
        self._db.execute(
            "INSERT INTO origins (origin, watermark, collected_through) VALUES (?, ?, ?)"
            " ON CONFLICT (origin) DO UPDATE SET watermark = excluded.watermark,"
            " collected_through = excluded.collected_through",
            (origin, watermark, collected_through))

    def held(self) -> dict[str, tuple[int, int]]:
        """Per origin: (live records, watermark)."""
        live = dict(self._db.execute("SELECT origin, count(*) FROM records WHERE kind != ?"
                                     " GROUP BY origin", (int(Kind.TOMBSTONE),)).fetchall())
        return {origin: (int(live.get(origin, 0)), int(watermark)) for origin, watermark
                in self._db.execute("SELECT origin, watermark FROM origins")}

    def forget(self, origin: str) -> None:
        """Drop an origin that is no longer trusted."""
        with self._transaction():
            self._db.execute("DELETE FROM records WHERE origin = ?", (origin,))
            self._db.execute("DELETE FROM origins WHERE origin = ?", (origin,))

    # -- this node's own publications --

    def publications(self) -> dict[str, Publication]:
        return {handle: Publication(bytes(rid), None if digest is None else bytes(digest),
                                    version)
                for handle, rid, digest, version in self._db.execute(
                    "SELECT handle, record_id, digest, version FROM published")}

    def publish(self, origin: str, published: Iterable[tuple[str, Publication, Record]]
                ) -> None:
        """New versions of this node's records (handle, publication, signed record), with
        the version counter after them, in one transaction."""
        items = list(published)
        if not items:
            return
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO published (handle, record_id, digest, version)"
                " VALUES (?, ?, ?, ?)",
                [(handle, p.record_id, p.digest, p.version) for handle, p, _ in items])
            top = max(record.version for _, _, record in items)
            self._set_counter("next_version", top + 1)
            self._save(origin, top, self.collected_through(origin),
                       [record for _, _, record in items])

    def forget_publications(self) -> None:
        """Publish every summary again, as new records (after a lost file)."""
        with self._transaction():
            self._db.execute("DELETE FROM published")

    def collected_through(self, origin: str) -> int:
        row = self._db.execute("SELECT collected_through FROM origins WHERE origin = ?",
                               (origin,)).fetchone()
        return 0 if row is None else int(row[0])

    # -- the member table (written by the running node, read by the CLI) --

    def save_members(self, incarnation: int, rows: Iterable[MemberRow]) -> None:
        rows = list(rows)
        with self._transaction():
            current = {r.peer for r in rows}
            self._db.executemany("DELETE FROM members WHERE peer = ?",
                                 [(p,) for (p,) in self._db.execute("SELECT peer FROM members")
                                  if p not in current])
            self._db.executemany(
                "INSERT INTO members (peer, state, incarnation, since_s, last_ok_s)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (peer) DO UPDATE SET"
                " state = excluded.state, incarnation = excluded.incarnation,"
                " since_s = excluded.since_s, last_ok_s = excluded.last_ok_s",
                [(r.peer, r.state, r.incarnation, r.since_s, r.last_ok_s) for r in rows])
            self._set_counter("incarnation", incarnation)

    def members(self) -> list[MemberRow]:
        return [MemberRow(*row) for row in self._db.execute(
            "SELECT peer, state, incarnation, since_s, last_ok_s, score, last_sync_s,"
            " records_in, refused FROM members ORDER BY peer")]

    def update_sync(self, rows: Iterable[tuple[str, float | None, float | None, int, int]]
                    ) -> None:
        """Per peer: (key id, score, last sync, records in, refused) from the gossip loop."""
        with self._transaction():
            self._db.executemany(
                "UPDATE members SET score = ?, last_sync_s = ?, records_in = ?, refused = ?"
                " WHERE peer = ?", [(score, last, n, refused, peer)
                                    for peer, score, last, n, refused in rows])

    # -- counters that only grow --

    def counter(self, name: str, default: int) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return default if row is None else int(row[0])

    def bump_counter(self, name: str, at_least: int) -> int:
        """Raise ``name`` to ``at_least`` (never lower it); its value after."""
        with self._transaction():
            value = max(self.counter(name, 0), at_least)
            self._set_counter(name, value)
        return value

    def _set_counter(self, name: str, value: int) -> None:
        self._db.execute("INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name)"
                         " DO UPDATE SET value = max(value, excluded.value)", (name, value))

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on error (nested use is not supported)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")
