"""Attacker address precedence, port splitting, IPv6 forms and canonical text."""

from __future__ import annotations

import pytest

from node.event import LineRejected
from node.ingest import parse_line
from node.ingest.addresses import ATTACKER_IP_FIELDS, attacker_ip, canonical_ip

_PRECEDENCE = ("src_ip", "src", "client_ip", "remote_ip", "remote_addr", "target_ip", "ip")


def test_attacker_fields_are_in_the_documented_order() -> None:
    assert ATTACKER_IP_FIELDS == _PRECEDENCE


@pytest.mark.parametrize("position", range(len(_PRECEDENCE)))
def test_first_present_field_in_precedence_order_wins(position: int) -> None:
    # every field from `position` on is present, each with its own address
    fields = {name: f"192.0.2.{i + 1}" for i, name in enumerate(_PRECEDENCE) if i >= position}
    assert attacker_ip(fields) == f"192.0.2.{position + 1}"


@pytest.mark.parametrize("position", range(len(_PRECEDENCE)))
def test_precedence_does_not_depend_on_dict_order(position: int) -> None:
    names = [name for i, name in enumerate(_PRECEDENCE) if i >= position]
    fields = {name: f"192.0.2.{_PRECEDENCE.index(name) + 1}" for name in reversed(names)}
    assert attacker_ip(fields) == f"192.0.2.{position + 1}"


@pytest.mark.parametrize("absent", ["", " ", "-", "unknown", "Unknown", "UNKNOWN", "none", "None",
                                    "null", " - "])
def test_absent_markers_are_skipped_in_favour_of_the_next_field(absent: str) -> None:
    assert attacker_ip({"src_ip": absent, "src": "198.51.100.23"}) == "198.51.100.23"
    assert attacker_ip({"src_ip": absent}) is None


def test_no_address_fields_means_no_address() -> None:
    assert attacker_ip({}) is None
    assert attacker_ip({"dst_ip": "10.0.0.1", "source": "192.0.2.1", "IP": "192.0.2.2"}) is None


def test_present_but_invalid_field_rejects_even_if_a_later_field_is_valid() -> None:
    with pytest.raises(LineRejected) as info:
        attacker_ip({"src_ip": "not-an-ip", "ip": "192.0.2.1"})
    assert info.value.reason == "invalid_ip"


def test_smtp_src_and_prober_target_ip_are_attacker_addresses() -> None:
    smtp = parse_line(b'<134>1 2026-03-02T08:14:05Z mail-01 smtp - rcpt_to '
                      b'[relay@55555 src="198.51.100.23:4411" value="<a@b.org>"]')
    prober = parse_line(b'<134>1 2026-03-02T09:05:00Z decnet-prober prober - jarm_fingerprint '
                        b'[relay@55555 target_ip="[2001:db8::9]:443" target_port="443"]')
    assert smtp.src_ip == "198.51.100.23"
    assert prober.src_ip == "2001:db8::9"


@pytest.mark.parametrize(("value", "canonical"), [
    ("203.0.113.9", "203.0.113.9"),
    ("203.0.113.9:4411", "203.0.113.9"),
    ("203.0.113.9:0", "203.0.113.9"),
    ("203.0.113.9:65535", "203.0.113.9"),
    (" 203.0.113.9 ", "203.0.113.9"),
    ("2001:db8::9", "2001:db8::9"),
    ("2001:DB8:0:0:0:0:0:9", "2001:db8::9"),
    ("[2001:db8::9]", "2001:db8::9"),
    ("[2001:db8::9]:4411", "2001:db8::9"),
    ("[2001:0db8::0009]:1", "2001:db8::9"),
    ("::1", "::1"),
    ("[::]:22", "::"),
    ("::ffff:192.0.2.44", "192.0.2.44"),
    ("::FFFF:c000:022c", "192.0.2.44"),
    ("[::ffff:192.0.2.44]:51000", "192.0.2.44"),
    ("0:0:0:0:0:ffff:192.0.2.44", "192.0.2.44"),
    ("fe80::211:22ff:fe33:4455", "fe80::211:22ff:fe33:4455"),
    ("2001:db8::9:4411", "2001:db8::9:4411"),  # bare v6: the last group is not a port
])
def test_addresses_are_canonicalised_and_ports_split_off(value: str, canonical: str) -> None:
    assert canonical_ip(value) == canonical


@pytest.mark.parametrize("value", [
    "", "-", "unknown", "localhost", "attacker.example", "203.0.113.256", "203.0.113",
    "203.0.113.9.1", "01.2.3.4", "0x7f.0.0.1", "203.0.113.9:", "203.0.113.9:http",
    "203.0.113.9:-1", "203.0.113.9:4411:1", ":4411", "203.0.113.9 :4411",
    "203.0.113.9:65536", "203.0.113.9:99999999999", "203.0.113.9:٤٤١١",
    "[2001:db8::9", "2001:db8::9]", "[2001:db8::9]:", "[2001:db8::9]:x", "[2001:db8::9]4411",
    "[2001:db8::9]:65536", "[2001:db8::9]:4411:1", "[]", "[]:80", "2001:db8:::9",
    "2001:db8::g", "[[2001:db8::9]]", "203.0.113.9/32", "١٩٢.0.2.1",
])
def test_invalid_addresses_are_rejected(value: str) -> None:
    with pytest.raises(LineRejected) as info:
        canonical_ip(value)
    assert info.value.reason == "invalid_ip"


def test_canonical_form_is_stable_when_repeated_and_cached() -> None:
    for value in ("[2001:DB8::9]:4411", "::ffff:192.0.2.44", "203.0.113.9:80"):
        first = canonical_ip(value)
        assert canonical_ip(value) == first
        assert canonical_ip(first) == first


def test_invalid_value_stays_invalid_on_repeat() -> None:
    for _ in range(2):
        with pytest.raises(LineRejected):
            canonical_ip("203.0.113.999")
