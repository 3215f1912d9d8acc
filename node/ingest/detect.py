"""Per-line format detection: every line is judged on its own, so files may mix formats."""

from __future__ import annotations

from typing import Any

import orjson

from node.event import Event, LineRejected
from node.ingest.collector import is_collector, parse_collector
from node.ingest.cowrie import is_cowrie, parse_cowrie
from node.ingest.rfc5424 import parse_rfc5424
from node.ingest.transcript import (
    is_transcript,
    looks_like_transcript,
    parse_transcript,
    parse_transcript_lenient,
)


def parse_line(raw: bytes) -> Event:
    """Parse one physical line (without its line break) into an `Event`.

    Raises `LineRejected` with a stable reason code for anything that cannot
    be an event. Blank lines are the caller's business.
    """
    if b"\x00" in raw:
        raise LineRejected("nul_byte")
    first = raw[:1]
    if first not in _FORMAT_STARTS:
        raw = _strip_lead(raw)  # a BOM or indentation some shippers add
        first = raw[:1]
    if first == b"<":
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LineRejected("invalid_utf8", f"byte {exc.start}") from None
        return parse_rfc5424(line, raw)
    if first in _JSON_STARTS:
        return _parse_json(raw)
    # the line's start as text (bytes that are not UTF-8 as \xNN), never a b'…' literal
    raise LineRejected("unknown_format", raw[:40].decode("utf-8", "backslashreplace"))


_JSON_STARTS = frozenset({b"{", b"[", b'"'})
_FORMAT_STARTS = frozenset({b"<"}) | _JSON_STARTS
_BOM = b"\xef\xbb\xbf"


def _strip_lead(raw: bytes) -> bytes:
    if raw.startswith(_BOM):
        raw = raw[len(_BOM):]
    return raw.lstrip(b" \t")


def _parse_json(raw: bytes) -> Event:
    try:
        obj: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        reason = "invalid_utf8" if "utf-8" in str(exc).lower() else "bad_json"
        if reason == "invalid_utf8" and looks_like_transcript(raw):
            return parse_transcript_lenient(raw)  # keystrokes may be any bytes
        raise LineRejected(reason, str(exc)[:80]) from None
    if not isinstance(obj, dict):
        raise LineRejected("bad_json_shape", "not an object")
    if is_transcript(obj):
        return parse_transcript(obj, raw)
    if is_cowrie(obj):
        return parse_cowrie(obj, raw)
    if is_collector(obj):
        return parse_collector(obj, raw)
    raise LineRejected("bad_json_shape", "neither a Cowrie nor a DECNET collector event")
