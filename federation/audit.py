"""The local audit log: one JSON line per answered question (who asked what, when, what we said).

Written only on the answering node and never shared. Peer-supplied strings
are already validated questions (domains, fingerprints); they are JSON
escaped and length-capped here all the same.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

logger = logging.getLogger(__name__)
_MAX_FIELD = 300


def _cap(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _MAX_FIELD:
        return value[:_MAX_FIELD] + "…"
    return value


class AuditLog:
    """Append-only JSON lines (file mode 0600); ``None`` path = keep nothing (tests only)."""

    def __init__(self, path: Path | None) -> None:
        self._out: IO[bytes] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._out = os.fdopen(fd, "ab")

    def record(self, *, now_s: float, peer: str, key_id: str, method: str,
               question: dict[str, Any], answer: dict[str, Any]) -> None:
        if self._out is None:
            return
        line = orjson.dumps({
            "time": datetime.fromtimestamp(now_s, UTC).isoformat().replace("+00:00", "Z"),
            "peer": peer, "key_id": key_id, "method": method,
            "question": {k: _cap(v) for k, v in question.items()}, "answer": answer,
        })
        try:
            self._out.write(line + b"\n")
            self._out.flush()
        except OSError as exc:  # the answer was already computed; losing audit is logged
            logger.error("audit log write failed: %s", exc)

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
