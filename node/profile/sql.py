"""SQL of the profile tables' writes, built once; rows arrive as one JSON array (json_each).

The busiest tables are written through journals (see `Journal`): batches
append, folds merge in key order, which costs a fraction of upserting random
keys into indexed tables batch by batch.

Every statement reads its parameter rows from ``json_each(?)`` so the store
runs a whole batch of rows in one SQLite step (see `node.store.BatchProfiler`).
Counted tables share one upsert shape: count adds up, first/last seen widen.
Table and column names are constants of this module, never input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def _columns(names: Sequence[str]) -> str:
    return ", ".join(f"j.value ->> {i}" for i in range(len(names)))


@dataclass(frozen=True, slots=True)
class Journal:
    """An indexed profile table and its append-only journal (schema v3).

    Batches append to ``journal`` (`append`); `fold` merges every journal
    row into ``table`` in key order (counted tables: counts add up, first/last
    seen widen, extra columns keep their smallest value) and `clear` empties
    the journal; both run in one transaction. A counted journal row is one
    sighting: its key, extra columns and time (in ``first_seen_us``; the
    ``count`` and ``last_seen_us`` columns stay NULL), so batches send and
    SQLite parses as little as possible.
    """

    table: str
    journal: str
    keys: tuple[str, ...]
    extra: tuple[str, ...] = ()
    counted: bool = True

    @property
    def columns(self) -> tuple[str, ...]:
        tail = ("count", "first_seen_us", "last_seen_us") if self.counted else ()
        return (*self.keys, *self.extra, *tail)

    @property
    def sighting_columns(self) -> tuple[str, ...]:
        """What a batch appends per row."""
        tail = ("first_seen_us",) if self.counted else ()
        return (*self.keys, *self.extra, *tail)

    @property
    def append(self) -> str:
        names = self.sighting_columns
        return (f"INSERT INTO {self.journal} ({', '.join(names)})"  # noqa: S608
                f" SELECT {_columns(names)} FROM json_each(?) AS j")

    @property
    def fold(self) -> str:
        keys = ", ".join(self.keys)
        if not self.counted:
            return (f"INSERT OR IGNORE INTO {self.table} ({', '.join(self.columns)})"  # noqa: S608
                    f" SELECT {', '.join(self.columns)} FROM {self.journal} ORDER BY {keys}")
        extra = "".join(f", min({name})" for name in self.extra)
        keep_smallest = "".join(f", {name} = min({name}, excluded.{name})" for name in self.extra)
        return (
            f"INSERT INTO {self.table} ({', '.join(self.columns)})"  # noqa: S608
            f" SELECT {keys}{extra}, count(*), min(first_seen_us), max(first_seen_us)"
            f" FROM {self.journal} WHERE true GROUP BY {keys} ORDER BY {keys}"
            f" ON CONFLICT ({keys}) DO UPDATE SET"
            " count = count + excluded.count,"
            " first_seen_us = min(first_seen_us, excluded.first_seen_us),"
            f" last_seen_us = max(last_seen_us, excluded.last_seen_us){keep_smallest}"
        )

    @property
    def clear(self) -> str:
        return f"DELETE FROM {self.journal}"  # noqa: S608


SMTP_TARGETS = Journal("profile_smtp_targets", "j_smtp_targets", ("ip", "domain"))
FINGERPRINTS = Journal("profile_fingerprints", "j_fingerprints", ("ip", "kind", "value"),
                       ("version",))
IPV6_LEAKS = Journal("profile_ipv6_leaks", "j_ipv6_leaks", ("ip", "address"),
                     ("kind", "oui", "iid"))
CREDENTIALS = Journal("profile_credentials", "j_credentials",
                      ("ip", "username", "secret", "outcome"))
SESSIONS = Journal("profile_sessions", "j_sessions", ("ip", "session"), ("honeypot", "service"))
PHASES = Journal("profile_phases", "j_phases", ("ip", "honeypot", "phase"))
PAYLOADS = Journal("profile_payloads", "j_payloads", ("ip", "sha256", "source"))
C2 = Journal("profile_c2", "j_c2", ("ip", "host", "url", "via"))
MAIL_SIMHASHES = Journal("profile_mail_simhashes", "j_mail_simhashes", ("ip", "simhash"))
# The same command at the same microsecond in the same session is one command
# (e.g. seen through both the shell's syslog and Cowrie).
COMMANDS = Journal("profile_commands", "j_commands",
                   ("ip", "time_us", "honeypot", "session", "command"), ("phases",),
                   counted=False)
# A keystroke is (sid, t, d): the same chunk from two copies of a shard is one.
TRANSCRIPT_INPUT = Journal("transcript_input", "j_transcript_input", ("sid", "t", "d"),
                           counted=False)

JOURNALS: tuple[Journal, ...] = (
    SMTP_TARGETS, FINGERPRINTS, IPV6_LEAKS, CREDENTIALS, SESSIONS, PHASES, PAYLOADS, C2,
    MAIL_SIMHASHES, COMMANDS, TRANSCRIPT_INPUT,
)


def plain_insert(table: str, names: Sequence[str]) -> str:
    return (f"INSERT INTO {table} ({', '.join(names)}) SELECT {_columns(names)}"  # noqa: S608
            " FROM json_each(?) AS j")


# Rotation: first sightings (ip, port, probe, value, time_us) against the stored hash.
ROTATIONS_FROM_STORED = """
INSERT INTO profile_rotations (ip, port, probe, time_us, old_value, new_value)
SELECT s.ip, s.port, s.probe, j.value ->> 4, s.value, j.value ->> 3
FROM json_each(?) AS j JOIN profile_probe_state AS s
  ON s.ip = j.value ->> 0 AND s.port = j.value ->> 1 AND s.probe = j.value ->> 2
WHERE s.value != j.value ->> 3 AND s.last_seen_us <= j.value ->> 4
"""
ROTATIONS = plain_insert("profile_rotations",
                         ("ip", "port", "probe", "time_us", "old_value", "new_value"))
# (ip, port, probe, value, first_seen_us, last_seen_us); a late (older) sighting
# never replaces the current hash.
PROBE_STATE = """
INSERT INTO profile_probe_state (ip, port, probe, value, first_seen_us, last_seen_us)
SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, j.value ->> 5
FROM json_each(?) AS j WHERE true
ON CONFLICT (ip, port, probe) DO UPDATE SET
    value = CASE WHEN excluded.last_seen_us >= last_seen_us THEN excluded.value ELSE value END,
    first_seen_us = min(first_seen_us, excluded.first_seen_us),
    last_seen_us = max(last_seen_us, excluded.last_seen_us)
"""

# (sid, started_us, width, height, truncated, input_chunks)
TRANSCRIPT_SESSIONS = """
INSERT INTO transcript_sessions (sid, started_us, width, height, truncated, input_chunks)
SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, j.value ->> 5
FROM json_each(?) AS j WHERE true
ON CONFLICT (sid) DO UPDATE SET
    started_us = coalesce(excluded.started_us, started_us),
    width = coalesce(excluded.width, width),
    height = coalesce(excluded.height, height),
    truncated = max(truncated, excluded.truncated),
    input_chunks = input_chunks + excluded.input_chunks
"""
# (sid, ip, honeypot, service, time_us, duration_s); the earliest record wins.
SESSION_LINKS = """
INSERT INTO session_links (sid, ip, honeypot, service, time_us, duration_s)
SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, j.value ->> 5
FROM json_each(?) AS j WHERE true
ON CONFLICT (sid) DO UPDATE SET
    ip = excluded.ip, honeypot = excluded.honeypot, service = excluded.service,
    time_us = excluded.time_us, duration_s = excluded.duration_s
WHERE excluded.time_us < session_links.time_us
"""
REJECTIONS = """
INSERT INTO profile_rejections (reason, count)
SELECT j.value ->> 0, j.value ->> 1 FROM json_each(?) AS j WHERE true
ON CONFLICT (reason) DO UPDATE SET count = count + excluded.count
"""
