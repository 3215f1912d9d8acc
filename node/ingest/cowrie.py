"""Cowrie JSON lines. Unknown fields and eventids are tolerated, not fatal."""

from __future__ import annotations

from typing import Any

from node.event import FORMAT_COWRIE, Event, LineRejected, event_key
from node.ingest.addresses import canonical_ip
from node.ingest.timestamps import parse_time_us

_PREFIX = "cowrie."

#: eventid → (event kind, {cowrie field → event field}) for the events later
#: stages use. Renames align Cowrie with DECNET field names.
_KNOWN: dict[str, tuple[str, dict[str, str]]] = {
    "cowrie.session.connect": (
        "session_connect",
        {"src_port": "src_port", "dst_ip": "dst_ip", "dst_port": "dst_port"},
    ),
    "cowrie.client.version": ("client_version", {"version": "ssh_version"}),
    "cowrie.client.kex": ("client_kex", {"hassh": "hassh", "hasshAlgorithms": "hassh_algorithms"}),
    "cowrie.login.failed": ("login_failed", {"username": "username", "password": "password"}),
    "cowrie.login.success": ("login_success", {"username": "username", "password": "password"}),
    "cowrie.command.input": ("command", {"input": "cmd"}),
    "cowrie.command.failed": ("command_failed", {"input": "cmd"}),
    "cowrie.session.file_download": (
        "file_download",
        {"url": "url", "shasum": "shasum", "outfile": "outfile", "destfile": "destfile"},
    ),
    "cowrie.session.file_upload": (
        "file_upload",
        {"shasum": "shasum", "filename": "filename", "outfile": "outfile"},
    ),
    "cowrie.direct-tcpip.request": ("direct_tcpip", {"dst_ip": "dst_ip", "dst_port": "dst_port"}),
    "cowrie.session.closed": ("session_closed", {"duration": "duration"}),
}


def is_cowrie(obj: dict[str, Any]) -> bool:
    """Whether a decoded JSON object is a Cowrie event."""
    eventid = obj.get("eventid")
    return isinstance(eventid, str) and eventid.startswith(_PREFIX)


def parse_cowrie(obj: dict[str, Any], raw: bytes) -> Event:
    """Turn a decoded Cowrie object into an event."""
    eventid: str = obj["eventid"]
    timestamp = obj.get("timestamp")
    if not isinstance(timestamp, str):
        raise LineRejected("bad_json_shape", "'timestamp' missing or not a string")
    src_value = obj.get("src_ip")
    if not isinstance(src_value, str):
        raise LineRejected("bad_json_shape", "'src_ip' missing or not a string")
    known = _KNOWN.get(eventid)
    if known is None:
        kind = eventid[len(_PREFIX) :].replace(".", "_").replace("-", "_")
        renames: dict[str, str] = {}
    else:
        kind, renames = known
    fields: dict[str, str] = {}
    session = obj.get("session")
    if isinstance(session, str):
        fields["session"] = session
    for source, target in renames.items():
        value = obj.get(source)
        if isinstance(value, str):
            fields[target] = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            fields[target] = str(value)
    sensor = obj.get("sensor")
    protocol = obj.get("protocol")
    time_us = parse_time_us(timestamp, zone_required=True)
    return Event(
        event_key(raw, time_us),
        time_us,
        sensor if isinstance(sensor, str) else "",
        protocol if isinstance(protocol, str) and protocol else "ssh",
        kind,
        canonical_ip(src_value),
        fields,
        FORMAT_COWRIE,
    )
