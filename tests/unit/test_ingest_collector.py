"""DECNET collector JSON lines: fields, attacker address, zoneless UTC time, shared keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from node.event import FORMAT_COLLECTOR, Event, LineRejected, event_key
from node.ingest import parse_line


def _us(text: str) -> int:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // datetime.resolution


def _line(**overrides: Any) -> bytes:
    obj: dict[str, Any] = {
        "timestamp": "2026-03-02 08:14:05", "decky": "mail-01", "service": "smtp",
        "event_type": "rcpt_to", "attacker_ip": "198.51.100.23",
        "fields": {"src": "198.51.100.23", "value": "<jane@victim-co.com>"}, "msg": "",
    }
    for name, value in overrides.items():
        if value is _DROP:
            obj.pop(name, None)
        else:
            obj[name] = value
    return json.dumps(obj).encode()


_DROP = object()


def _parse(raw: bytes) -> Event:
    return parse_line(raw)


def _rejection(raw: bytes) -> str:
    with pytest.raises(LineRejected) as info:
        parse_line(raw)
    return info.value.reason


SYSLOG = ('<134>1 2026-03-02T08:14:05.120334+00:00 mail-01 smtp - rcpt_to '
          '[relay@55555 src="198.51.100.23" value="<jane@victim-co.com>"]')
DOC_LINE = (
    '{"timestamp": "2026-03-02 08:14:05", "decky": "mail-01", "service": "smtp", '
    '"event_type": "rcpt_to", "attacker_ip": "198.51.100.23", "fields": {"src": '
    '"198.51.100.23", "value": "<jane@victim-co.com>"}, "msg": "", "raw_line": '
    + json.dumps(SYSLOG) + "}"
)


def test_documented_collector_line_is_normalised() -> None:
    event = _parse(DOC_LINE.encode())
    assert event.time_us == _us("2026-03-02T08:14:05.120334+00:00")  # precise time of raw_line
    assert (event.sensor, event.service, event.kind, event.src_ip) == (
        "mail-01", "smtp", "rcpt_to", "198.51.100.23")
    assert event.fields == {"src": "198.51.100.23", "value": "<jane@victim-co.com>"}
    assert event.source_format == FORMAT_COLLECTOR


def test_zoneless_collector_timestamp_is_utc() -> None:
    event = _parse(_line())
    assert event.time_us == _us("2026-03-02T08:14:05+00:00")


def test_collector_timestamp_with_an_offset_is_converted_to_utc() -> None:
    event = _parse(_line(timestamp="2026-03-02T10:14:05+02:00"))
    assert event.time_us == _us("2026-03-02T08:14:05+00:00")


def test_unknown_attacker_ip_falls_back_to_the_fields_and_drops_the_port() -> None:
    event = _parse(_line(attacker_ip="Unknown",
                         fields={"src": "203.0.113.61:51515", "value": "<hr@Bücher.de>"}))
    assert event.src_ip == "203.0.113.61"
    assert event.fields["value"] == "<hr@Bücher.de>"


@pytest.mark.parametrize("declared", ["Unknown", "unknown", "UNKNOWN", " Unknown ", "", "-",
                                      "None", "null", None, 0, _DROP])
def test_absent_attacker_ip_uses_field_precedence(declared: object) -> None:
    fields = {"ip": "10.0.0.9", "target_ip": "10.0.0.8", "client_ip": "192.0.2.7"}
    event = _parse(_line(attacker_ip=declared, fields=fields))
    assert event.src_ip == "192.0.2.7"


def test_unknown_attacker_ip_without_address_fields_has_no_address() -> None:
    event = _parse(_line(attacker_ip="Unknown", fields={"value": "x"}))
    assert event.src_ip is None


def test_declared_attacker_ip_wins_over_the_fields() -> None:
    event = _parse(_line(attacker_ip="::ffff:192.0.2.1", fields={"src_ip": "10.0.0.1"}))
    assert event.src_ip == "192.0.2.1"


def test_invalid_declared_attacker_ip_is_rejected() -> None:
    assert _rejection(_line(attacker_ip="198.51.100.300")) == "invalid_ip"


def test_invalid_address_in_the_fields_is_rejected() -> None:
    assert _rejection(_line(attacker_ip="Unknown", fields={"src": "mail.example"})) == "invalid_ip"


def test_numbers_booleans_and_null_in_fields_become_strings() -> None:
    event = _parse(_line(fields={"body_bytes": 812, "ratio": 0.5, "truncated": False,
                                 "self_signed": True, "note": None}))
    assert event.fields == {"body_bytes": "812", "ratio": "0.5", "truncated": "false",
                            "self_signed": "true", "note": ""}


def test_non_empty_msg_is_kept_without_overriding_a_msg_field() -> None:
    assert _parse(_line(msg="hello")).fields["msg"] == "hello"
    assert "msg" not in _parse(_line(msg="")).fields
    assert "msg" not in _parse(_line(msg=None)).fields
    assert _parse(_line(msg="outer", fields={"msg": "inner"})).fields["msg"] == "inner"


@pytest.mark.parametrize("fields", [_DROP, None, {}])
def test_missing_null_or_empty_fields_object_gives_no_fields(fields: object) -> None:
    event = _parse(_line(fields=fields, attacker_ip="192.0.2.9"))
    assert event.fields == {}
    assert event.src_ip == "192.0.2.9"


def test_unknown_top_level_keys_are_ignored() -> None:
    event = _parse(_line(extra={"nested": [1, 2]}, version=3))
    assert event.kind == "rcpt_to"


def _syslog_and_collector(syslog: str, **collector: Any) -> tuple[Event, Event]:
    via_syslog = parse_line(syslog.encode())
    via_collector = parse_line(_line(raw_line=syslog, **collector))
    return via_syslog, via_collector


def test_same_event_via_syslog_and_collector_has_the_same_key() -> None:
    via_syslog, via_collector = _syslog_and_collector(SYSLOG)
    assert via_collector.key == via_syslog.key
    assert via_collector.time_us == via_syslog.time_us
    assert parse_line(DOC_LINE.encode()).key == via_syslog.key


def test_raw_line_with_its_line_break_still_gives_the_syslog_key() -> None:
    via_syslog = parse_line(SYSLOG.encode())
    assert parse_line(_line(raw_line=SYSLOG + "\n")).key == via_syslog.key
    assert parse_line(_line(raw_line=SYSLOG + "\r\n")).key == via_syslog.key


def test_single_wrapped_shell_line_via_collector_has_the_syslog_key() -> None:
    shell = ("<14>1 2026-03-02T09:10:00.1+00:00 web-02 bash - - -  CMD uid=0 user=root "
             "src=192.0.2.44 pwd=/root cmd=cat /etc/os-release")
    via_syslog, via_collector = _syslog_and_collector(
        shell, timestamp="2026-03-02 09:10:00", decky="web-02", service="bash",
        event_type="command", attacker_ip="192.0.2.44", fields={"cmd": "cat /etc/os-release"})
    assert via_collector.key == via_syslog.key


def test_double_wrapped_shell_line_via_collector_has_the_syslog_key() -> None:
    shell = ('<14>1 2026-03-02T09:10:01.2+00:00 web-02 1 - - -  2026-03-02T09:10:01.19+00:00 '
             'web-02 bash - command [timeQuality tzKnown="1" isSynced="1"] '
             "CMD uid=0 user=root src=192.0.2.44 pwd=/ cmd=id")
    via_syslog, via_collector = _syslog_and_collector(
        shell, timestamp="2026-03-02 09:10:01", decky="web-02", service="bash",
        event_type="command", attacker_ip="192.0.2.44", fields={"cmd": "id"})
    assert via_collector.time_us == via_syslog.time_us
    assert via_collector.key == via_syslog.key


def test_different_lines_give_different_keys() -> None:
    a = parse_line(_line())
    b = parse_line(_line(fields={"src": "198.51.100.23", "value": "<john@victim-co.com>"}))
    c = parse_line(_line(raw_line=SYSLOG))
    d = parse_line(_line(raw_line=SYSLOG.replace("jane", "john")))
    assert len({a.key, b.key, c.key, d.key}) == 4


def test_without_raw_line_the_key_hashes_the_json_line_itself() -> None:
    raw = _line()
    event = parse_line(raw)
    assert event.key == event_key(raw, event.time_us)


def test_raw_line_with_an_unusable_time_falls_back_to_the_collector_time() -> None:
    event = parse_line(_line(raw_line="<134>1 yesterday mail-01 smtp - rcpt_to -"))
    assert event.time_us == _us("2026-03-02T08:14:05")
    event = parse_line(_line(raw_line="garbage"))
    assert event.time_us == _us("2026-03-02T08:14:05")


@pytest.mark.parametrize(("raw", "reason"), [
    (b"[1, 2, 3]", "bad_json_shape"),
    (b'"just a string"', "bad_json_shape"),
    (b"{}", "bad_json_shape"),
    (b'{"foo": "bar"}', "bad_json_shape"),
    (_line(timestamp=_DROP), "bad_json_shape"),
    (_line(timestamp=1772439245), "bad_json_shape"),
    (_line(timestamp=""), "bad_json_shape"),
    (_line(event_type=_DROP), "bad_json_shape"),
    (_line(event_type=["rcpt_to"]), "bad_json_shape"),
    (_line(decky=_DROP), "bad_json_shape"),
    (_line(service=_DROP), "bad_json_shape"),
    (_line(service=None), "bad_json_shape"),
    (_line(fields="src=1.2.3.4"), "bad_json_shape"),
    (_line(fields=[["src", "1.2.3.4"]]), "bad_json_shape"),
    (_line(fields=[]), "bad_json_shape"),
    (_line(fields=""), "bad_json_shape"),
    (_line(fields=0), "bad_json_shape"),
    (_line(fields=False), "bad_json_shape"),
    (_line(fields={"nested": {"a": 1}}), "bad_json_shape"),
    (_line(fields={"list": [1]}), "bad_json_shape"),
    (_line(timestamp="02/03/2026 08:14"), "bad_timestamp"),
    (_line(timestamp="2026-03-02 25:14:05"), "bad_timestamp"),
    (_line(timestamp="2026-03-02"), "bad_timestamp"),
    (_line()[:-1], "bad_json"),
    (_line()[:40], "bad_json"),
    (b"{", "bad_json"),
    (b'{"timestamp": "2026-03-02 08:14:05",}', "bad_json"),
    (b'{"a": "\\ud800"}', "bad_json"),  # lone surrogate escape
    (b'{"a": "\\x41"}', "bad_json"),
    (_line(msg="caf\u00e9").replace(b"\\u00e9", b"\xe9"), "invalid_utf8"),
    (_line().replace(b"mail-01", b"mail\x0001"), "nul_byte"),
])
def test_bad_collector_lines_are_rejected_with_a_reason(raw: bytes, reason: str) -> None:
    assert _rejection(raw) == reason
