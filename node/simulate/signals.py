"""The fingerprints a scenario's labels turn into, in the shapes the sensors write (FORMATS.md).

A scenario names tools by label or raw string; sensors log hashes. These
pure functions make the hash: JA3 = MD5 of the JA3 string, HASSH = MD5 of
the tool label, a payload's SHA-256 = SHA-256 of its seed, and a JA4 built
from what a JA3 string knows (version, cipher and extension lists).
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Final

#: TLS record version of the JA3 string → JA4's two-character version.
_JA4_VERSIONS: Final = {768: "s3", 769: "10", 770: "11", 771: "12", 772: "13"}
_SUPPORTED_VERSIONS: Final = 43  # the extension that says TLS 1.3 is offered
_SNI: Final = 0
_ALPN: Final = 16


def ja3_hash(ja3: str) -> str:
    """The JA3 hash the sniffer logs: MD5 hex of the JA3 string."""
    return hashlib.md5(ja3.encode(), usedforsecurity=False).hexdigest()


def hassh_of(label: str) -> str:
    """The HASSH of a tool label (the scenario's stand-in for its algorithm lists)."""
    return hashlib.md5(label.encode(), usedforsecurity=False).hexdigest()


def ssh_banner_of(label: str) -> str:
    """A client banner unique to a tool label, so it says no more than the HASSH does."""
    return f"SSH-2.0-simclient_{hassh_of(label)[:8]}"


def payload_sha256(seed: str) -> str:
    """The SHA-256 of a payload: the same seed is the same file."""
    return hashlib.sha256(seed.encode()).hexdigest()


def ja4_of_ja3(ja3: str) -> str:
    """A TLS JA4 from a JA3 string (FoxIO's recipe where JA3 has the inputs).

    JA3 carries no ALPN value and no signature algorithms: ALPN is taken as
    ``h2`` when the extension is offered (``00`` otherwise) and the third
    part hashes the sorted extensions alone.
    """
    version_text, ciphers_text, extensions_text, _, _ = ja3.split(",")
    ciphers = [c for c in _numbers(ciphers_text) if not _is_grease(c)]
    extensions = [e for e in _numbers(extensions_text) if not _is_grease(e)]
    version = "13" if _SUPPORTED_VERSIONS in extensions \
        else _JA4_VERSIONS.get(int(version_text), "00")
    sni = "d" if _SNI in extensions else "i"
    alpn = "h2" if _ALPN in extensions else "00"
    head = f"t{version}{sni}{min(len(ciphers), 99):02d}{min(len(extensions), 99):02d}{alpn}"
    cipher_part = _truncated_sha256(sorted(f"{c:04x}" for c in ciphers))
    extension_part = _truncated_sha256(sorted(f"{e:04x}" for e in extensions
                                              if e not in (_SNI, _ALPN)))
    return f"{head}_{cipher_part}_{extension_part}"


def eui64_link_local(mac: str) -> str:
    """The fe80:: address a host with this MAC forms by EUI-64 (RFC 4291 appendix A)."""
    octets = bytes.fromhex(mac.replace(":", ""))
    iid = bytes([octets[0] ^ 0x02, octets[1], octets[2], 0xFF, 0xFE, *octets[3:]])
    return str(ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + iid))


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.split("-") if part]


def _is_grease(value: int) -> bool:
    """RFC 8701 GREASE values (0x0a0a, 0x1a1a … 0xfafa): noise JA4 leaves out."""
    return value & 0x0F0F == 0x0A0A and value >> 8 == value & 0xFF


def _truncated_sha256(items: list[str]) -> str:
    if not items:
        return "0" * 12
    return hashlib.sha256(",".join(items).encode()).hexdigest()[:12]
