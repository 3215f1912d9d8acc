"""IPv6 link-local leaks: classify the interface identifier, recover the MAC OUI of EUI-64.

An EUI-64 interface identifier (RFC 4291 appendix A) is a MAC with ``ff:fe``
inserted as bytes 3-4 and the universal/local bit (0x02 of byte 0) flipped, so
the hardware vendor (OUI) survives in the address. Anything else is taken as
a stable-privacy / random identifier (RFC 7217, RFC 8981).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import NamedTuple

EUI64 = "eui64"
STABLE_PRIVACY = "stable_privacy"
UNKNOWN = "unknown"


class Ipv6Leak(NamedTuple):
    """A classified leaked address: ``address`` canonical (or the raw text when unknown)."""

    address: str
    kind: str
    oui: str | None
    iid: str | None


@lru_cache(maxsize=65536)
def classify_ipv6(text: str) -> Ipv6Leak:
    """Classify a leaked address; never raises (unparseable → ``unknown``)."""
    raw = text.strip()
    host = raw.split("%", 1)[0]  # drop a zone id (fe80::1%eth0)
    try:
        addr = ipaddress.IPv6Address(host)
    except ValueError:
        return Ipv6Leak(raw[:64], UNKNOWN, None, None)
    iid = addr.packed[8:]
    iid_hex = iid.hex()
    if iid[3] == 0xFF and iid[4] == 0xFE:
        oui = f"{iid[0] ^ 0x02:02x}:{iid[1]:02x}:{iid[2]:02x}"
        return Ipv6Leak(str(addr), EUI64, oui, iid_hex)
    return Ipv6Leak(str(addr), STABLE_PRIVACY, None, iid_hex)
