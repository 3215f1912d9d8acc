"""DECNET session transcript shards: JSONL lines tagged with a session id.

Three line shapes share a file (see FORMATS.md §3):

- ``{"sid", "t", "ch", "d"}``: a chunk; ``ch`` is ``i`` (attacker input),
  ``o`` (output) or ``r`` (resize), ``t`` seconds since the session started;
- ``{"sid", "hdr": {...}}``: the session header (size, start time, env);
- ``{"sid", "trunc": true}``: the recorder stopped writing this session.

Shard lines carry no attacker address (the ``session_recorded`` syslog event
links ``sid`` to ``src_ip``) and no absolute time per chunk, so events get
``src_ip=None`` and ``time_us`` 0 (the header's start time for headers).
Chunks may hold bytes that are not UTF-8: such a line is decoded with
replacement characters instead of being rejected.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from node.event import Event, LineRejected, event_key

FORMAT_TRANSCRIPT = "transcript"
KIND_CHUNK = "transcript_chunk"
KIND_HEADER = "transcript_header"
KIND_TRUNCATED = "transcript_truncated"
SERVICE = "sessrec"
CHANNELS = frozenset({"i", "o", "r"})
_MAX_SID = 128
_PREFIX = b'{"sid"'


def is_transcript(obj: dict[str, Any]) -> bool:
    """Whether a decoded JSON object is a transcript shard line."""
    return "sid" in obj and ("ch" in obj or "hdr" in obj or "trunc" in obj)


def looks_like_transcript(raw: bytes) -> bool:
    """Cheap test on undecodable bytes: recorders write ``sid`` first."""
    return raw.startswith(_PREFIX)


def parse_transcript_lenient(raw: bytes) -> Event:
    """Parse a shard line holding invalid UTF-8 (replacement characters for bad bytes)."""
    try:
        obj = orjson.loads(raw.decode("utf-8", errors="replace"))
    except orjson.JSONDecodeError as exc:
        raise LineRejected("bad_json", str(exc)[:80]) from None
    if not isinstance(obj, dict) or not is_transcript(obj):
        raise LineRejected("bad_json_shape", "not a transcript line")
    return parse_transcript(obj, raw)


def parse_transcript(obj: dict[str, Any], raw: bytes) -> Event:
    """Turn a decoded shard line into an event."""
    sid = obj.get("sid")
    if not isinstance(sid, str) or not sid or len(sid) > _MAX_SID:
        raise LineRejected("bad_transcript", "'sid' missing, empty or too long")
    time_us = 0
    if "ch" in obj:
        kind, fields = KIND_CHUNK, _chunk_fields(sid, obj)
    elif "hdr" in obj:
        kind, fields = KIND_HEADER, _header_fields(sid, obj["hdr"])
        time_us = int(fields.get("timestamp", "0")) * 1_000_000
    else:
        if obj.get("trunc") is not True:
            raise LineRejected("bad_transcript", "'trunc' is not true")
        kind, fields = KIND_TRUNCATED, {"sid": sid}
    return Event(event_key(raw, time_us), time_us, "", SERVICE, kind, None, fields,
                 FORMAT_TRANSCRIPT)


def _chunk_fields(sid: str, obj: dict[str, Any]) -> dict[str, str]:
    ch, t, d = obj.get("ch"), obj.get("t"), obj.get("d")
    if not isinstance(ch, str) or ch not in CHANNELS:
        raise LineRejected("bad_transcript", "'ch' is not i, o or r")
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or t < 0:
        raise LineRejected("bad_transcript", "'t' is not a non-negative number")
    if not isinstance(d, str):
        raise LineRejected("bad_transcript", "'d' is not a string")
    return {"sid": sid, "t": repr(float(t)), "ch": str(ch), "d": d}


def _header_fields(sid: str, hdr: Any) -> dict[str, str]:
    if not isinstance(hdr, dict):
        raise LineRejected("bad_transcript", "'hdr' is not an object")
    fields = {"sid": sid}
    for name in ("version", "width", "height", "timestamp"):
        value = hdr.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 40:
            fields[name] = str(value)
        elif isinstance(value, float) and math.isfinite(value) and 0 <= value < 1 << 40:
            fields[name] = str(int(value))
    env = hdr.get("env")
    if isinstance(env, dict):
        fields["env"] = orjson.dumps({str(k): str(v) for k, v in env.items()}).decode()
    return fields
