"""The store's schema: tables, migrations between versions, per-connection settings.

`SCHEMA_VERSION` is SQLite's ``user_version``; `MIGRATIONS[v]` takes a store
from version v to v + 1 (docs/events.md has the history).
"""

from __future__ import annotations

from collections.abc import Iterable

#: Page size of new stores: 8 KiB pages cut the per-page cost of the WAL
#: commits and checkpoints that dominate ingest (bench: commit wall 3.7 → 2.7 s
#: per million events). Existing stores keep theirs.
PAGE_SIZE = 8192

#: WAL pages before SQLite checkpoints on commit. The default (1000) is less
#: than one ingest batch writes, so every commit paid a checkpoint with its
#: fsyncs; 16384 pages (128 MiB at 8 KiB) lets a checkpoint amortise over
#: several batches while keeping the WAL file bounded.
_WAL_CHECKPOINT_PAGES = 16384

#: Bumped whenever the schema changes; `MIGRATIONS[v]` upgrades v → v+1.
SCHEMA_VERSION = 7

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
# profiler inside the batch transaction, except `keystroke_simhashes` (a derived
# stage, node/profile/stages.py) and `ptr_names` (a cache of DNS answers).
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
# derived stage folds them into the indexed tables in key order now and then
# (node/profile/stages.py).
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

# How far the per-IP service and honeypot sets had been brought up to date
# (replaced by `derived_marks` in v5). A store from v3 has them complete.
_SCHEMA_V4 = """
CREATE TABLE store_marks (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO store_marks (name, value) SELECT 'observation_sets', coalesce(max(id), 0) FROM events
"""

# One mechanism for derived data (node/store/derive.py): every stage's mark in
# `derived_marks`, which replaces `store_marks` and the `keystroke_dirty` list
# (a v4 store with dirty sessions recomputes every session once). Observations
# get integer ids (rowids, in first-seen order for a migrated store), and a
# keystroke SimHash remembers the mark at which it last changed (the feed
# clustering reads). The journals' mark starts at 0: their first catch-up
# folds whatever they hold.
_SCHEMA_V5 = """
CREATE TABLE derived_marks (stage TEXT PRIMARY KEY, through INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO derived_marks (stage, through)
    SELECT 'observation_sets', value FROM store_marks WHERE name = 'observation_sets';
INSERT INTO derived_marks (stage, through)
    SELECT 'keystrokes', CASE WHEN EXISTS (SELECT 1 FROM keystroke_dirty) THEN 0
                              ELSE coalesce(max(id), 0) END FROM events;
DROP TABLE store_marks;
DROP TABLE keystroke_dirty;
ALTER TABLE keystroke_simhashes ADD COLUMN changed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX keystroke_simhashes_by_change ON keystroke_simhashes (changed);
CREATE TABLE observations_v5 (
    id            INTEGER PRIMARY KEY,
    ip            TEXT NOT NULL UNIQUE,
    first_seen_us INTEGER NOT NULL,
    last_seen_us  INTEGER NOT NULL,
    event_count   INTEGER NOT NULL
);
INSERT INTO observations_v5 (ip, first_seen_us, last_seen_us, event_count)
    SELECT ip, first_seen_us, last_seen_us, event_count FROM observations
    ORDER BY first_seen_us, ip;
DROP TABLE observations;
ALTER TABLE observations_v5 RENAME TO observations
"""

# Identities and campaigns (node/cluster). An identity is founded by one
# observation and has its id; a campaign by one identity and has its id. A
# group that joins another keeps its row with `merged_into` pointing straight
# at the winner (always a smaller id, so no cycles); a split clears it.
# Observations are never re-pointed: an observation's identity is its own
# row resolved through `merged_into`, and likewise its campaign. The links
# that formed each group are kept to explain it.
_SCHEMA_V6 = """
CREATE TABLE identities (
    id INTEGER PRIMARY KEY, merged_into INTEGER, confidence REAL NOT NULL,
    schema_version INTEGER NOT NULL
);
CREATE INDEX identities_by_winner ON identities (merged_into);
CREATE TABLE campaigns (
    id INTEGER PRIMARY KEY, merged_into INTEGER, confidence REAL NOT NULL,
    schema_version INTEGER NOT NULL
);
CREATE INDEX campaigns_by_winner ON campaigns (merged_into);
CREATE TABLE cluster_links (
    layer TEXT NOT NULL, root INTEGER NOT NULL, a INTEGER NOT NULL, b INTEGER NOT NULL,
    score REAL NOT NULL, signal TEXT NOT NULL, value TEXT NOT NULL, df INTEGER NOT NULL,
    weight REAL NOT NULL
);
CREATE INDEX cluster_links_by_root ON cluster_links (layer, root);
CREATE INDEX cluster_links_by_value ON cluster_links (signal, value);
CREATE INDEX profile_ipv6_leaks_by_iid ON profile_ipv6_leaks (iid)
"""

# A secret of this store that keys the opaque handles of shareable summaries
# (node/cluster/summaries.py): stable for one node, unlinkable to its ids elsewhere.
_SCHEMA_V7 = """
INSERT OR IGNORE INTO meta (name, value) VALUES ('summary_salt', lower(hex(randomblob(32))))
"""

MIGRATIONS: dict[int, str] = {0: _SCHEMA_V1, 1: _SCHEMA_V2, 2: _SCHEMA_V3, 3: _SCHEMA_V4,
                              4: _SCHEMA_V5, 5: _SCHEMA_V6, 6: _SCHEMA_V7}


def pragmas(cache_mib: int, max_size_mib: int = 0) -> tuple[str, ...]:
    """Per-connection settings, the same for the async reader and the batch writer."""
    limit = (f"PRAGMA max_page_count={max_size_mib * 1024 * 1024 // PAGE_SIZE}",) \
        if max_size_mib > 0 else ()
    return (
        *limit,
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        f"PRAGMA cache_size=-{cache_mib * 1024}",
        "PRAGMA temp_store=MEMORY",
        # a writer waits this long for another's transaction: a full clustering
        # pass of a million observations holds the lock for ~20 s
        "PRAGMA busy_timeout=60000",
        f"PRAGMA wal_autocheckpoint={_WAL_CHECKPOINT_PAGES}",
    )


def read_only_pragmas(cache_mib: int) -> tuple[str, ...]:
    """Settings of a connection that only reads (it may not even change the journal mode)."""
    return (
        "PRAGMA query_only=ON",
        f"PRAGMA cache_size=-{cache_mib * 1024}",
        "PRAGMA busy_timeout=10000",
    )


def split_sql(script: str) -> Iterable[str]:
    return (part.strip() for part in script.split(";") if part.strip())
