"""The node's exception tree, and the one place sqlite3 and OS errors are translated.

::

    NodeError                        the CLI prints one line and exits 1
    ├── CommandError                 a command refused its arguments or its situation
    ├── ConfigError (ValueError)     a setting is bad; names it and where it came from
    ├── ScenarioError                a simulation scenario is unusable; names the field's path
    ├── HomeError                    the node home itself
    │   ├── HomeNotInitialised       no config.toml yet: run init
    │   └── HomeUnusable             not a directory, cannot be created, permission denied
    └── StoreError                   the SQLite store
        ├── StoreMissing             node.db deleted or zero bytes in an initialised home
        ├── StoreLocked              another process held the write lock too long
        ├── StoreFull                the disk (or the configured size limit) is full
        ├── StoreCorrupt             malformed pages; the integrity check failed
        ├── StoreReadOnly            a read-only file or file system, for a write
        └── StorePermissionDenied    the file cannot be opened by this user

Every message says what happened and what to do. `translate_sqlite` and
`translate_os` are the boundary: `node.store` and `node.home` call them where
a foreign exception arises, so nothing above them sees sqlite3 or errno.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path


class NodeError(Exception):
    """Base of every error the node reports to its operator; ``str`` is the one line."""


class CommandError(NodeError):
    """A command failed in a way the operator must hear about."""


class ConfigError(NodeError, ValueError):
    """A configuration value is missing, of the wrong type or out of range."""


class ScenarioError(NodeError):
    """A simulation scenario (`node.simulate`) is malformed; the message names the dotted path."""


class HomeError(NodeError):
    """The node home cannot be used."""


class HomeNotInitialised(HomeError, ConfigError):
    """A command needs a node home that `decnet-fed init` has not created yet."""


class HomeUnusable(HomeError):
    """The home path is not a usable directory (a file, missing parent, no permission)."""


class StoreError(NodeError):
    """The store cannot be opened or used."""


class StoreMissing(StoreError):
    """The home is initialised but its store file is gone or empty."""


class StoreLocked(StoreError):
    """Another process kept the store's write lock past the busy timeout."""


class StoreFull(StoreError):
    """The disk, or the store's configured size limit, is full."""


class StoreCorrupt(StoreError):
    """The store file is damaged."""


class StoreReadOnly(StoreError):
    """A write was attempted on a read-only store."""


class StorePermissionDenied(StoreError):
    """This user may not open the store file."""


def translate_sqlite(exc: sqlite3.Error, path: Path) -> StoreError:
    """The `StoreError` for a sqlite3 error on the store at ``path``."""
    code = getattr(exc, "sqlite_errorcode", None)
    text = str(exc)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary == sqlite3.SQLITE_FULL or "disk is full" in text:
        return StoreFull(f"store {path} is full ({text}): free disk space (or raise"
                         " [store] max_size_mib) and run the command again; what was"
                         " committed before is intact")
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in text:
        return StoreLocked(f"store {path} is locked by another process ({text}):"
                           " wait for it to finish or stop it, then retry")
    if primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) \
            or "malformed" in text or "not a database" in text:
        return StoreCorrupt(f"store {path} is damaged ({text}): restore it from a backup,"
                            " or move it away and re-ingest into a new one")
    if primary == sqlite3.SQLITE_READONLY or "readonly" in text:
        return StoreReadOnly(f"store {path} is read-only ({text}): reading commands"
                             " work on it; to write, make it and its directory writable")
    if primary in (sqlite3.SQLITE_PERM, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_AUTH):
        return StorePermissionDenied(f"cannot open store {path} ({text}): check that this"
                                     " user may read and write it and its directory")
    return StoreError(f"store {path}: {text}")


def translate_os(exc: OSError, path: Path, doing: str) -> NodeError:
    """A `HomeUnusable`/`StoreFull` for an OS error met while ``doing`` something to ``path``."""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StoreFull(f"cannot {doing} {path}: {reason}: free disk space and retry")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return HomeUnusable(f"cannot {doing} {path}: {reason}: check its owner and mode"
                            " (the home must belong to the user running decnet-fed)")
    if exc.errno == errno.ENOTDIR:
        return HomeUnusable(f"cannot {doing} {path}: a path component is a file, not a"
                            " directory: choose another --home")
    if exc.errno == errno.EROFS:
        return StoreReadOnly(f"cannot {doing} {path}: read-only file system")
    return HomeUnusable(f"cannot {doing} {path}: {reason}")
