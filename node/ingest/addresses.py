"""Attacker address extraction and canonicalisation."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from node.event import LineRejected

#: Field names that may carry the attacker's address, in priority order.
ATTACKER_IP_FIELDS: tuple[str, ...] = (
    "src_ip",
    "src",
    "client_ip",
    "remote_ip",
    "remote_addr",
    "target_ip",
    "ip",
)

#: Values sensors write when they do not know the address.
_ABSENT = frozenset({"", "-", "unknown", "none", "null"})

_CACHE_LIMIT = 65536
_cache: dict[str, str] = {}


def canonical_ip(value: str) -> str:
    """Return the canonical text of an address that may carry a port.

    Accepts ``a.b.c.d``, ``a.b.c.d:port``, bare IPv6, ``[v6]`` and
    ``[v6]:port``. IPv4-mapped IPv6 becomes IPv4. Raises `LineRejected`
    (``invalid_ip``) for anything else.
    """
    cached = _cache.get(value)
    if cached is not None:
        return cached
    host = value.strip()
    if host.startswith("["):
        end = host.find("]")
        if end < 0 or (end + 1 < len(host) and not _is_port_suffix(host[end + 1 :])):
            raise LineRejected("invalid_ip", _clip(value))
        host = host[1:end]
    elif host.count(":") == 1:
        host, _, port = host.partition(":")
        if not _is_port(port):
            raise LineRejected("invalid_ip", _clip(value))
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise LineRejected("invalid_ip", _clip(value)) from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    text = str(addr)
    if len(_cache) >= _CACHE_LIMIT:
        _cache.clear()
    _cache[value] = text
    return text


def attacker_ip(fields: Mapping[str, str]) -> str | None:
    """The attacker address from the first present field of `ATTACKER_IP_FIELDS`."""
    for name in ATTACKER_IP_FIELDS:
        value = fields.get(name)
        if value is not None and value.strip().lower() not in _ABSENT:
            return canonical_ip(value)
    return None


def _is_port_suffix(text: str) -> bool:
    return text.startswith(":") and _is_port(text[1:])


def _is_port(text: str) -> bool:
    """ASCII decimal 0..65535 (``str.isdigit`` alone admits any Unicode digit)."""
    return 0 < len(text) <= 5 and text.isascii() and text.isdigit() and int(text) <= 65535


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
