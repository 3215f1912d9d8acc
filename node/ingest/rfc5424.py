"""DECNET RFC 5424 syslog lines, including the shell's single- and double-wrapped forms.

``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]``.
Structured-data values unescape ``\\\\``, ``\\"`` and ``\\]`` (RFC 5424
§6.3.3); a backslash before any other character stays literal, as the RFC
requires. Parameters of every SD element are merged, DECNET's own
``relay@55555`` winning over daemon-added elements such as ``timeQuality``.
"""

from __future__ import annotations

import re

from node.event import FORMAT_RFC5424, Event, LineRejected, event_key
from node.ingest.addresses import attacker_ip
from node.ingest.timestamps import parse_time_us

DECNET_SD_ID = "relay@55555"

_NIL = "-"
# PRI (0..191), version 1, then five space-separated header tokens.
_HEADER = re.compile(r"<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) ")
# The inner header of a double-wrapped line: the shell's own line minus PRI/version.
_INNER_HEADER = re.compile(r"(\d{4}-\d\d-\d\dT\S+) (\S+) (\S+) (\S+) (\S+) ")
_SD_NAME = r'[^\s="\]]{1,32}'
# Possessive quantifiers (3.11+): a value never backtracks, so a long or
# hostile value costs one linear scan.
_SD_ELEMENT = re.compile(
    rf'\[({_SD_NAME})((?: {_SD_NAME}="(?:[^"\\]++|\\.)*+")*+)\]', re.DOTALL
)
_SD_PARAM = re.compile(rf' ({_SD_NAME})="((?:[^"\\]++|\\.)*+)"', re.DOTALL)
_SD_UNESCAPE = re.compile(r'\\(["\\\]])')
_CMD_PREFIX = "CMD "
_CMD_FIELD = " cmd="


def parse_rfc5424(line: str, raw: bytes) -> Event:
    """Parse one RFC 5424 line (already decoded, line break stripped)."""
    header = _HEADER.match(line)
    if header is None:
        raise LineRejected("bad_syslog_header", line[:80])
    if int(header.group(1)) > 191:
        raise LineRejected("bad_syslog_header", f"PRI out of range: {header.group(1)}")
    timestamp, host, app, _procid, msgid = header.group(2, 3, 4, 5, 6)
    fields, msg = _parse_sd_and_msg(line, header.end())

    # Double-wrapped shell history: the runtime's header, then the shell's whole line.
    if msgid == _NIL and not fields and msg[:1].isdigit():
        inner = _INNER_HEADER.match(msg)
        if inner is not None:
            try:
                inner_fields, inner_msg = _parse_sd_and_msg(msg, inner.end())
            except LineRejected:
                pass  # not wrapped after all: an ordinary message that starts with a date
            else:
                timestamp, host, app, _procid, msgid = inner.group(1, 2, 3, 4, 5)
                fields, msg = inner_fields, inner_msg

    time_us = parse_time_us(timestamp, zone_required=True)
    if msg.startswith(_CMD_PREFIX):
        fields = _parse_shell_command(msg)
        src = attacker_ip(fields)  # `src=-` / `src=unknown` mean no address, as in SD
        kind = "command"
    else:
        src = attacker_ip(fields)
        kind = msgid if msgid != _NIL else "message"
        if msg:
            fields.setdefault("msg", msg)
    return Event(
        event_key(raw, time_us),
        time_us,
        "" if host == _NIL else host,
        "" if app == _NIL else app,
        kind,
        src,
        fields,
        FORMAT_RFC5424,
    )


def syslog_time_us(line: str) -> int:
    """The event time of an RFC 5424 record, as `parse_rfc5424` would give it.

    Cheap for the common case: only a record with a NIL MSGID can be
    double-wrapped (the shell's own time is inside), so only that one is
    parsed whole.
    """
    header = _HEADER.match(line)
    if header is not None and header.group(6) != _NIL:
        return parse_time_us(header.group(2), zone_required=True)
    return parse_rfc5424(line, b"").time_us


def _parse_sd_and_msg(line: str, pos: int) -> tuple[dict[str, str], str]:
    """Parse STRUCTURED-DATA starting at ``pos``; return (params, MSG)."""
    if line.startswith(_NIL, pos):
        pos += 1
        return {}, _message(line, pos)
    if not line.startswith("[", pos):
        raise LineRejected("bad_structured_data", f"expected '[' or '-' at column {pos + 1}")
    relay: dict[str, str] = {}
    other: dict[str, str] = {}
    while line.startswith("[", pos):
        element = _SD_ELEMENT.match(line, pos)
        if element is None:
            raise LineRejected("bad_structured_data", f"malformed SD element at column {pos + 1}")
        target = relay if element.group(1) == DECNET_SD_ID else other
        params = element.group(2)
        if "\\" in params:
            for name, value in _SD_PARAM.findall(params):
                target[name] = _SD_UNESCAPE.sub(r"\1", value) if "\\" in value else value
        else:
            target.update(_SD_PARAM.findall(params))
        pos = element.end()
    if other:
        other.update(relay)
        relay = other
    return relay, _message(line, pos)


def _message(line: str, pos: int) -> str:
    if pos == len(line):
        return ""
    if line[pos] != " ":
        raise LineRejected("bad_structured_data", f"junk after structured data at column {pos + 1}")
    return line[pos + 1 :].lstrip(" \ufeff")


def _parse_shell_command(msg: str) -> dict[str, str]:
    """``CMD uid=0 user=root src=IP pwd=/root cmd=<rest of line>`` → fields."""
    head, sep, command = msg.partition(_CMD_FIELD)
    if not sep:
        if msg.startswith("CMD cmd="):
            head, command = "CMD", msg[len("CMD cmd=") :]
        else:
            raise LineRejected("bad_shell_command", "no cmd= in CMD message")
    fields: dict[str, str] = {}
    for token in head[len(_CMD_PREFIX) :].split():
        name, eq, value = token.partition("=")
        if eq:
            fields[name] = value
    fields["cmd"] = command
    return fields
