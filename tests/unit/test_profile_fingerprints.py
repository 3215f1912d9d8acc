"""Fingerprints are validated per type; absent values and the all-zero JARM are no signal."""

from __future__ import annotations

import pytest

from node.profile.fingerprints import EVENT_FINGERPRINTS, TYPES, validate_fingerprint
from node.profile.rejection import Rejected

JA3 = "e7d705a3286e19ea42f587b344ee6865"
JA4 = "t13d1517h2_8daaf6152771_b0da82dd1658"
JA4H = "ge11nn050000_4740ae6347b0_000000000000_000000000000"
JARM = "27d40d40d29d40d1dc42d43d00041d4689ee210389f4f6b4b5b1b93f92252d"


@pytest.mark.parametrize(("kind", "raw", "value"), [
    ("ja3", JA3, JA3),
    ("ja3", JA3.upper(), JA3),
    ("ja3", f"  {JA3}\n", JA3),
    ("ja4", JA4, JA4),
    ("ja4", JA4.upper(), JA4),
    ("ja4", "q13d0310h3_55b375c5d22e_cd85d2d88918", "q13d0310h3_55b375c5d22e_cd85d2d88918"),
    ("ja4", "d12i0000h1_000000000000_000000000000", "d12i0000h1_000000000000_000000000000"),
    ("ja4", "ts3d1517h2_8daaf6152771_b0da82dd1658", "ts3d1517h2_8daaf6152771_b0da82dd1658"),
    ("ja4h", JA4H, JA4H),
    ("ja4h", "po11cn040000_4740ae6347b0", "po11cn040000_4740ae6347b0"),
    ("hassh", "92674389fa1e47a27ddd8d9b63ecd42b", "92674389fa1e47a27ddd8d9b63ecd42b"),
    ("ssh_banner", "SSH-2.0-OpenSSH_9.6 Ubuntu-3ubuntu13", "SSH-2.0-OpenSSH_9.6 Ubuntu-3ubuntu13"),
    ("ssh_banner", "SSH-2.0-Go\r\n", "SSH-2.0-Go"),
    ("jarm", JARM, JARM),
    ("hassh_server", "b12d2871a1189eff20364cf5333619ee", "b12d2871a1189eff20364cf5333619ee"),
    ("tcpfp", "5f1c3e0b9a7d2c4e6f8a0b1c2d3e4f50", "5f1c3e0b9a7d2c4e6f8a0b1c2d3e4f50"),
    ("tls_cert", "8c1f" * 16, "8c1f" * 16),
])
def test_well_formed_values_are_canonical(kind: str, raw: str, value: str) -> None:
    assert validate_fingerprint(kind, raw) == value


@pytest.mark.parametrize(("kind", "raw"), [
    ("ja3", JA3[:-1]),
    ("ja3", JA3 + "0"),
    ("ja3", "g" * 32),
    ("ja4", "t13d1517h2_8daaf6152771"),          # two parts
    ("ja4", "x13d1517h2_8daaf6152771_b0da82dd1658"),  # protocol not t/q/d
    ("ja4", "t14d1517h2_8daaf6152771_b0da82dd1658"),  # unknown TLS version
    ("ja4", "t13x1517h2_8daaf6152771_b0da82dd1658"),  # SNI flag not d/i
    ("ja4", "t13d15a7h2_8daaf6152771_b0da82dd1658"),  # counts not digits
    ("ja4", "t13d1517h2_8daaf615277g_b0da82dd1658"),  # not hex
    ("ja4h", "ge11nn050000"),
    ("ja4h", "ge11nn05000_4740ae6347b0"),
    ("ja4h", JA4H + "_000000000000"),
    ("ssh_banner", "OpenSSH_9.6"),
    ("ssh_banner", "SSH-2.0-\x01evil"),
    ("ssh_banner", "SSH-2.0-" + "x" * 300),
    ("jarm", JARM[:-2]),
    ("tls_cert", "8c:1f:" * 10),
    ("tcpfp", "64:64240:1:1460"),
])
def test_malformed_values_are_rejected(kind: str, raw: str) -> None:
    result = validate_fingerprint(kind, raw)
    assert isinstance(result, Rejected)
    assert result.reason.startswith(f"{kind}:")


@pytest.mark.parametrize("raw", ["", "-", "  "])
def test_absent_values_are_no_signal(raw: str) -> None:
    assert validate_fingerprint("ja3", raw) is None


def test_all_zero_jarm_means_no_tls_and_is_ignored() -> None:
    assert validate_fingerprint("jarm", "0" * 62) is None


def test_unknown_kind_is_rejected() -> None:
    assert validate_fingerprint("md5", JA3) == Rejected("unknown_fingerprint_kind")


def test_every_event_field_maps_to_a_known_type() -> None:
    for pairs in EVENT_FINGERPRINTS.values():
        for _field, kind in pairs:
            assert kind in TYPES


def test_sides_and_versions() -> None:
    assert {k for k, t in TYPES.items() if t.side == "server"} == \
        {"jarm", "hassh_server", "tcpfp", "tls_cert", "ssh_server_banner"}
    assert all(t.version >= 1 for t in TYPES.values())
