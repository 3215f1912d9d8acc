"""What clustering reads from the profile tables: every observation's signals at once
(a full pass), or one address's and one value's holders at a time through the
tables' indexes (an incremental pass), cached for the pass."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from node.cluster import rarity
from node.cluster.identities import MIN_KEYSTROKE_SAMPLES, TOOL_KINDS, Member
from node.profile.ipv6 import EUI64

_KINDS = ", ".join(repr(k) for k in TOOL_KINDS)
_ALL = {
    "tools": f"SELECT ip, kind, value FROM profile_fingerprints WHERE kind IN ({_KINDS})",  # noqa: S608
    "traces": f"SELECT ip, 'eui64', iid FROM profile_ipv6_leaks"  # noqa: S608
              f" WHERE kind = '{EUI64}' AND iid IS NOT NULL",
    "payloads": "SELECT ip, 'payload', sha256 FROM profile_payloads",
    "c2": "SELECT ip, 'c2', host FROM profile_c2",
}
#: The same, for the addresses of ``{marks}`` (see `select_in`).
_OF_IPS = {name: sql.replace(" WHERE ", " WHERE ip IN ({marks}) AND ") if " WHERE " in sql
           else sql + " WHERE ip IN ({marks})" for name, sql in _ALL.items()}
#: Values bound per statement by `select_in` (SQLite's default limit is far
#: above; 500 keeps each statement small).
_CHUNK = 500
_HOLDERS = {
    "eui64": f"SELECT DISTINCT ip FROM profile_ipv6_leaks WHERE kind = '{EUI64}'"  # noqa: S608
             " AND iid = ?2",
    "payload": "SELECT DISTINCT ip FROM profile_payloads WHERE sha256 = ?2",
    "c2": "SELECT DISTINCT ip FROM profile_c2 WHERE host = ?2",
}
_TOOL_HOLDERS = "SELECT ip FROM profile_fingerprints WHERE kind = ?1 AND value = ?2"
_KEYSTROKES = """
SELECT l.ip, k.simhash FROM keystroke_simhashes AS k JOIN session_links AS l USING (sid)
WHERE k.samples >= ? AND k.simhash != '0000000000000000'
"""


class Features:
    """Observations' signals for one pass, read lazily and kept."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._members: dict[str, Member] = {}
        self._holders: dict[tuple[str, str], tuple[str, ...]] = {}
        self._counts: dict[tuple[str, str], int] = {}
        self._items: dict[tuple[str, str], tuple[str, str]] = {}
        self._sets: dict[frozenset[tuple[str, str]], frozenset[tuple[str, str]]] = {}
        self.keystrokes: dict[str, tuple[int, ...]] = _keystrokes(conn)

    def load_all(self, ips: Iterable[str]) -> list[Member]:
        """Every observation's member, from one scan per table (a full pass)."""
        found = self._read((name, self._conn.execute(sql)) for name, sql in _ALL.items())
        members = []
        for ip in ips:
            member = self._members[ip] = self._member(ip, found)
            members.append(member)
        return members

    def prefetch(self, ips: Iterable[str]) -> None:
        """Read the members of many addresses with a few statements per 500 of them.

        One address at a time was four statements each: 4.3 s of a 1M-observation
        incremental pass that read 164 k addresses.
        """
        wanted = list(dict.fromkeys(ip for ip in ips if ip not in self._members))
        found = self._read((name, select_in(self._conn, sql, wanted))
                           for name, sql in _OF_IPS.items())
        for ip in wanted:
            self._members[ip] = self._member(ip, found)

    def _read(self, tables: Iterable[tuple[str, Iterable[tuple[str, str, str]]]]
              ) -> dict[str, dict[str, list[tuple[str, str]]]]:
        """Table name → address → its (signal, value) items, each item one shared object:
        a stock fingerprint held by 400 k addresses is one tuple, not 400 k."""
        found: dict[str, dict[str, list[tuple[str, str]]]] = {}
        items = self._items
        for name, rows in tables:
            of_ip: dict[str, list[tuple[str, str]]] = defaultdict(list)
            for ip, signal, value in rows:
                item = (signal, value)
                of_ip[ip].append(items.setdefault(item, item))
            found[name] = of_ip
        return found

    def of(self, ip: str) -> Member:
        """One address's member."""
        if ip not in self._members:
            self.prefetch([ip])
        return self._members[ip]

    def holders(self, item: tuple[str, str]) -> tuple[str, ...]:
        """Every address that has this value."""
        found = self._holders.get(item)
        if found is None:
            signal, value = item
            sql = _HOLDERS.get(signal, _TOOL_HOLDERS)
            found = self._holders[item] = tuple(
                row[0] for row in self._conn.execute(sql, (signal, value)))
        return found

    def holder_count(self, item: tuple[str, str]) -> int:
        """How many addresses have this value, counted no further than `rarity.COMMON`
        (past it a value weighs nothing; a stock client may have a million holders)."""
        found = self._holders.get(item)
        if found is not None:
            return len(found)
        count = self._counts.get(item)
        if count is None:
            signal, value = item
            sql = _HOLDERS.get(signal, _TOOL_HOLDERS)
            count = self._counts[item] = self._conn.execute(
                f"SELECT count(*) FROM ({sql} LIMIT ?3)",  # noqa: S608 - constant SQL
                (signal, value, rarity.COMMON)).fetchone()[0]
        return count

    def _member(self, ip: str, found: dict[str, dict[str, list[tuple[str, str]]]]) -> Member:
        return Member(ip, self._set(found["tools"].get(ip, ())),
                      self._set(found["traces"].get(ip, ())),
                      self._set([*found["payloads"].get(ip, ()), *found["c2"].get(ip, ())]),
                      self.keystrokes.get(ip, ()))

    def _set(self, items: Sequence[tuple[str, str]]) -> frozenset[tuple[str, str]]:
        """One frozenset object per distinct set: most scanners hold one of a few dozen."""
        made = frozenset(items)
        return self._sets.setdefault(made, made)


def select_in(conn: sqlite3.Connection, sql: str, values: Sequence[object], *, repeat: int = 1
              ) -> Iterator[tuple[Any, ...]]:
    """Rows of ``sql`` whose ``{marks}`` (``repeat`` of them, each the same list) is bound
    to ``values``, `_CHUNK` at a time."""
    for start in range(0, len(values), _CHUNK):
        chunk = values[start:start + _CHUNK]
        yield from conn.execute(sql.format(marks=", ".join("?" * len(chunk))),
                                list(chunk) * repeat)


def _keystrokes(conn: sqlite3.Connection) -> dict[str, tuple[int, ...]]:
    """Address → SimHashes of its sessions with enough samples (few: typed sessions only)."""
    found: dict[str, list[int]] = defaultdict(list)
    for ip, simhash in conn.execute(_KEYSTROKES, (MIN_KEYSTROKE_SAMPLES,)):
        found[ip].append(int(simhash, 16))
    return {ip: tuple(sorted(values)) for ip, values in found.items()}
