"""The local audit log: one JSON line per authenticated request, answered or refused.

Written only on the answering node and never shared: who asked (peer name,
key id), when, which method, the question, and what was answered, or the
status and reason of a refusal. Peer-supplied strings are already validated
questions (domains, fingerprints); they are JSON escaped and length-capped
here all the same. `reopen` (``serve`` calls it on SIGHUP) starts writing to
the path again, so logrotate's move-then-signal works.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from federation.errors import HomeFileError
from federation.keys import refuse_writable_by_others

logger = logging.getLogger(__name__)
_MAX_FIELD = 300


def _cap(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _MAX_FIELD:
        return value[:_MAX_FIELD] + "…"
    return value


class AuditThrottle:
    """At most ``rate_per_s`` refusal lines per peer (burst ``burst``); the rest are counted.

    A peer that floods refused calls would otherwise grow the log without
    bound (the review measured ~20 GiB/day from one peer). The next line
    written for that peer carries ``suppressed``: how many it stands for.
    """

    def __init__(self, rate_per_s: float = 10.0, burst: int = 100) -> None:
        self._rate_per_s = rate_per_s
        self._burst = float(burst)
        self._state: dict[str, list[float]] = {}  # key id → [tokens, updated_s, suppressed]

    def admit(self, key_id: str, now_s: float) -> int | None:
        """None to drop this line; else how many lines were dropped before it."""
        state = self._state.setdefault(key_id, [self._burst, now_s, 0.0])
        state[0] = min(self._burst, state[0] + max(0.0, now_s - state[1]) * self._rate_per_s)
        state[1] = max(state[1], now_s)
        if state[0] < 1.0:
            state[2] += 1
            return None
        state[0] -= 1.0
        dropped, state[2] = int(state[2]), 0.0
        return dropped


class AuditLog:
    """Append-only JSON lines (file mode 0600); ``None`` path = keep nothing (tests only)."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._out: IO[bytes] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            refuse_writable_by_others(path, "audit log")
            try:
                self._out = self._open(path)
            except OSError as exc:
                raise HomeFileError(f"cannot open the audit log {path}:"
                                    f" {exc.strerror or exc}") from None

    @staticmethod
    def _open(path: Path) -> IO[bytes]:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return os.fdopen(fd, "ab")

    def record(self, *, now_s: float, peer: str, key_id: str, method: str,
               question: dict[str, Any] | None, answer: dict[str, Any] | None,
               status: str = "OK", reason: str | None = None, suppressed: int = 0) -> None:
        if self._out is None:
            return
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(now_s, UTC).isoformat().replace("+00:00", "Z"),
            "peer": peer, "key_id": key_id, "method": method, "status": status,
        }
        if question is not None:
            entry["question"] = {k: _cap(v) for k, v in question.items()}
        if answer is not None:
            entry["answer"] = answer
        if reason is not None:
            entry["reason"] = _cap(reason)
        if suppressed:
            entry["suppressed"] = suppressed
        try:
            self._out.write(orjson.dumps(entry) + b"\n")
            self._out.flush()
        except OSError as exc:  # the answer was already computed; losing audit is logged
            logger.error("audit log write failed: %s", exc)

    def reopen(self) -> None:
        """Close and reopen the path (after logrotate moved or removed the file)."""
        if self._path is None:
            return
        try:
            fresh = self._open(self._path)
        except OSError as exc:
            logger.error("audit log not reopened, still writing the old file: %s", exc)
            return
        old, self._out = self._out, fresh
        if old is not None:
            old.close()

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
