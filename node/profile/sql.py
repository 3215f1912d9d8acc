"""SQL of the profile tables' writes, built once; rows arrive as one JSON array (json_each).

Every statement reads its parameter rows from ``json_each(?)`` so the store
runs a whole batch of rows in one SQLite step (see `node.store.BatchProfiler`).
Counted tables share one upsert shape: count adds up, first/last seen widen.
Table and column names are constants of this module, never input.
"""

from __future__ import annotations

from collections.abc import Sequence


def _columns(names: Sequence[str]) -> str:
    return ", ".join(f"j.value ->> {i}" for i in range(len(names)))


def counted_upsert(table: str, keys: Sequence[str], extra: Sequence[str] = ()) -> str:
    """Upsert of ``keys + extra + (count, first_seen_us, last_seen_us)`` rows."""
    names = (*keys, *extra, "count", "first_seen_us", "last_seen_us")
    return (
        f"INSERT INTO {table} ({', '.join(names)}) SELECT {_columns(names)}"  # noqa: S608
        f" FROM json_each(?) AS j WHERE true ON CONFLICT ({', '.join(keys)}) DO UPDATE SET"
        " count = count + excluded.count,"
        " first_seen_us = min(first_seen_us, excluded.first_seen_us),"
        " last_seen_us = max(last_seen_us, excluded.last_seen_us)"
    )


def plain_insert(table: str, names: Sequence[str], *, or_ignore: bool = False) -> str:
    verb = "INSERT OR IGNORE" if or_ignore else "INSERT"
    return (f"{verb} INTO {table} ({', '.join(names)}) SELECT {_columns(names)}"  # noqa: S608
            " FROM json_each(?) AS j")


SMTP_TARGETS = counted_upsert("profile_smtp_targets", ("ip", "domain"))
FINGERPRINTS = counted_upsert("profile_fingerprints", ("ip", "kind", "value"), ("version",))
IPV6_LEAKS = counted_upsert("profile_ipv6_leaks", ("ip", "address"), ("kind", "oui", "iid"))
CREDENTIALS = counted_upsert("profile_credentials", ("ip", "username", "secret", "outcome"))
SESSIONS = counted_upsert("profile_sessions", ("ip", "session"), ("honeypot", "service"))
PHASES = counted_upsert("profile_phases", ("ip", "honeypot", "phase"))
PAYLOADS = counted_upsert("profile_payloads", ("ip", "sha256", "source"))
C2 = counted_upsert("profile_c2", ("ip", "host", "url", "via"))
MAIL_SIMHASHES = counted_upsert("profile_mail_simhashes", ("ip", "simhash"))
# The same command at the same microsecond in the same session is one command
# (e.g. seen through both the shell's syslog and Cowrie).
COMMANDS = plain_insert("profile_commands",
                        ("ip", "time_us", "honeypot", "session", "command", "phases"),
                        or_ignore=True)

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

# A keystroke is (sid, t, d): the same chunk from two copies of a shard is one.
TRANSCRIPT_INPUT = plain_insert("transcript_input", ("sid", "t", "d"), or_ignore=True)
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
KEYSTROKE_DIRTY = ("INSERT OR IGNORE INTO keystroke_dirty (sid)"
                   " SELECT j.value ->> 0 FROM json_each(?) AS j")
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
