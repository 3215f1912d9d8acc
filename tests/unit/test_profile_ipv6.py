"""EUI-64 interface identifiers reveal the MAC OUI (U/L bit flipped); others do not."""

from __future__ import annotations

import pytest

from node.profile.ipv6 import EUI64, STABLE_PRIVACY, UNKNOWN, classify_ipv6


@pytest.mark.parametrize(("address", "oui"), [
    ("fe80::aabb:ccff:fedd:eeff", "a8:bb:cc"),
    ("fe80::211:22ff:fe33:4455", "00:11:22"),
    ("fe80::211:22ff:fe33:4455%eth1", "00:11:22"),
    ("FE80::0211:22FF:FE33:4455", "00:11:22"),
    ("2001:db8::5054:ff:fe12:3456", "52:54:00"),  # a QEMU/KVM virtual NIC
])
def test_eui64_gives_the_oui(address: str, oui: str) -> None:
    leak = classify_ipv6(address)
    assert leak.kind == EUI64
    assert leak.oui == oui


def test_eui64_keeps_the_interface_id() -> None:
    assert classify_ipv6("fe80::aabb:ccff:fedd:eeff").iid == "aabbccfffeddeeff"


@pytest.mark.parametrize("address", ["fe80::1", "fe80::a1b2:c3d4:e5f6:789", "fe80::fffe:ff00:1"])
def test_other_identifiers_are_stable_privacy(address: str) -> None:
    leak = classify_ipv6(address)
    assert leak.kind == STABLE_PRIVACY
    assert leak.oui is None


@pytest.mark.parametrize("address", ["", "fe80::zz", "192.0.2.1", "not an address", "::::"])
def test_unparseable_is_unknown(address: str) -> None:
    leak = classify_ipv6(address)
    assert leak.kind == UNKNOWN
    assert leak.oui is None
