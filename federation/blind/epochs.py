"""The node's OPRF key per epoch: random, kept in the federation state file, then deleted.

An epoch is ``floor(unix seconds / epoch_s)``. Its key is drawn at random the
first time it is needed and kept (``oprf_keys`` in ``federation.db``, mode
0600) so a restart evaluates with the same key peers hold the table of. A key
evaluates during its epoch and for ``grace_s`` after it (a question in flight
across the boundary), and is deleted as soon as that is over (at the first
call after it; ``secure_delete`` and a WAL checkpoint leave no copy in the
file): a table captured by a peer can be opened only by evaluations made while
its key lived. Deriving the key
from the node's Ed25519 seed instead would have kept every past key
recoverable from ``node.key``. Time is injected.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from federation.blind.oprf import KeyPair
from federation.errors import HomeFileError, StateUnavailable

_SCHEMA = "CREATE TABLE IF NOT EXISTS oprf_keys (epoch INTEGER PRIMARY KEY, secret BLOB NOT NULL)"


class EpochKeys:
    """Current and in-grace OPRF keys; ``path=None`` keeps them in memory (tests)."""

    def __init__(self, path: Path | None, *, epoch_s: int, grace_s: int) -> None:
        if not 0 <= grace_s < epoch_s:
            raise ValueError("grace_s must be 0 .. epoch_s - 1")
        self.epoch_s = epoch_s
        self.grace_s = grace_s
        self._lock = threading.Lock()
        self._cache: dict[int, KeyPair] = {}
        self._kept_from = -1  # epochs below this are deleted already
        try:
            self._db = sqlite3.connect(":memory:" if path is None else str(path),
                                       check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA busy_timeout = 5000")
            # a deleted key is overwritten in the file, not left in a free page
            self._db.execute("PRAGMA secure_delete = ON")
            self._db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise HomeFileError(f"cannot keep OPRF keys in {path}: {exc}") from None

    def epoch_at(self, now_s: float) -> int:
        return int(now_s // self.epoch_s)

    def usable(self, now_s: float) -> list[int]:
        """Epochs whose key evaluates at ``now_s``: the current one, and the previous one
        while its grace lasts (newest first)."""
        current = self.epoch_at(now_s)
        in_grace = now_s - current * self.epoch_s < self.grace_s and current > 0
        return [current, current - 1] if in_grace else [current]

    def key(self, epoch: int, now_s: float) -> KeyPair | None:
        """The key of ``epoch`` if it evaluates at ``now_s`` (made for the current epoch
        if new), else None. Keys past their grace are deleted on the way."""
        usable = self.usable(now_s)
        with self._lock:
            if usable[-1] > self._kept_from:
                self._forget_before(usable[-1])
            if epoch not in usable:
                return None
            found = self._cache.get(epoch)
            if found is not None:
                return found
            try:
                row = self._db.execute("SELECT secret FROM oprf_keys WHERE epoch = ?",
                                       (epoch,)).fetchone()
                if row is not None:
                    pair = KeyPair.from_secret_key(bytes(row[0]))
                elif epoch == usable[0]:
                    pair = KeyPair.generate()
                    self._db.execute("INSERT OR IGNORE INTO oprf_keys VALUES (?, ?)",
                                     (epoch, pair.secret_key))
                    # another process (a second serve is refused, but be exact) may have won
                    row = self._db.execute("SELECT secret FROM oprf_keys WHERE epoch = ?",
                                           (epoch,)).fetchone()
                    pair = KeyPair.from_secret_key(bytes(row[0]))
                else:
                    return None  # the previous epoch's key was never made: nothing to evaluate
            except sqlite3.Error as exc:
                raise StateUnavailable(f"cannot keep OPRF keys: {exc}") from None
            self._cache[epoch] = pair
            return pair

    def _forget_before(self, epoch: int) -> None:
        """Delete every key of an epoch before ``epoch``, in memory and in the file (and
        its write-ahead log), as soon as its grace is over."""
        try:
            self._db.execute("DELETE FROM oprf_keys WHERE epoch < ?", (epoch,))
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise StateUnavailable(f"cannot delete old OPRF keys: {exc}") from None
        for stale in [e for e in self._cache if e < epoch]:
            del self._cache[stale]
        self._kept_from = epoch

    def public_keys(self, now_s: float) -> list[tuple[int, bytes]]:
        """``(epoch, public key)`` of every key that evaluates now (for NodeInfo)."""
        found = [(epoch, self.key(epoch, now_s)) for epoch in self.usable(now_s)]
        return [(epoch, pair.public_key) for epoch, pair in found if pair is not None]

    def close(self) -> None:
        with self._lock:
            self._db.close()
