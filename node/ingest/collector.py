"""DECNET collector JSON lines: one object per line with the event's SD fields."""

from __future__ import annotations

from typing import Any

from node.event import FORMAT_COLLECTOR, Event, LineRejected, event_key
from node.ingest.addresses import attacker_ip, canonical_ip
from node.ingest.rfc5424 import syslog_time_us
from node.ingest.timestamps import parse_time_us

_ABSENT_IP = frozenset({"", "-", "unknown", "none", "null"})  # as addresses.attacker_ip


def is_collector(obj: dict[str, Any]) -> bool:
    """Whether a decoded JSON object has the collector's shape."""
    return "event_type" in obj or "decky" in obj


def parse_collector(obj: dict[str, Any], raw: bytes) -> Event:
    """Turn a decoded collector object into an event.

    The key is taken from the embedded ``raw_line`` (the original syslog
    record) when present, so the same event ingested from the syslog file and
    from the collector is stored once.
    """
    timestamp = _text(obj, "timestamp")
    kind = _text(obj, "event_type")
    sensor = _text(obj, "decky")
    service = _text(obj, "service")
    raw_fields = obj.get("fields")
    if raw_fields is None:
        raw_fields = {}
    if not isinstance(raw_fields, dict):
        raise LineRejected("bad_json_shape", "'fields' is not an object")
    fields = {str(k): _scalar(v) for k, v in raw_fields.items()}
    msg = obj.get("msg")
    if isinstance(msg, str) and msg:
        fields.setdefault("msg", msg)

    declared = obj.get("attacker_ip")
    src: str | None
    if isinstance(declared, str) and declared.strip().lower() not in _ABSENT_IP:
        src = canonical_ip(declared)
    else:
        src = attacker_ip(fields)

    time_us = parse_time_us(timestamp, zone_required=False)
    key_source = raw
    raw_line = obj.get("raw_line")
    if isinstance(raw_line, str) and raw_line:
        record = raw_line.rstrip("\r\n")
        key_source = record.encode()
        time_us = _syslog_time(record, time_us)
    return Event(
        event_key(key_source, time_us),
        time_us,
        sensor,
        service,
        kind,
        src,
        fields,
        FORMAT_COLLECTOR,
    )


def _syslog_time(raw_line: str, fallback_us: int) -> int:
    """The precise time of the embedded syslog record (the collector drops the fraction).

    Parsed as the syslog path parses it, so a double-wrapped shell line takes the
    inner header's time there and here alike, and both paths give one key.
    """
    if not raw_line.startswith("<"):
        return fallback_us
    try:
        return syslog_time_us(raw_line)
    except LineRejected:
        return fallback_us


def _text(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value:
        raise LineRejected("bad_json_shape", f"'{name}' missing or not a string")
    return value


def _scalar(value: Any) -> str:
    """Field values are strings on the wire; tolerate numbers and booleans."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return ""
    raise LineRejected("bad_json_shape", "a field value is not a scalar")
