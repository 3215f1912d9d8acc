"""PTR names of attacker addresses: asynchronous, bounded, once per address, never raising.

The resolver is injected (a coroutine function ``ip → name | None``) so tests
use a fake and the node can be run fully offline (``[enrichment]
ptr_enabled = false``). Private, loopback, link-local, multicast, reserved and
unspecified addresses are never looked up: their PTR says nothing about the
attacker and the query would leak to the local resolver.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import NamedTuple

log = logging.getLogger(__name__)

Resolver = Callable[[str], Awaitable[str | None]]

OK = "ok"
NO_NAME = "no_name"
TIMEOUT = "timeout"
ERROR = "error"
SKIPPED = "skipped"
DISABLED = "disabled"
_MAX_NAME = 253


class PtrResult(NamedTuple):
    """Outcome of one lookup: ``status`` is one of ok/no_name/timeout/error/skipped."""

    name: str | None
    status: str


def should_look_up(ip: str) -> bool:
    """False for addresses whose PTR must not be asked (see module docstring)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return not (addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_multicast
                or addr.is_reserved or addr.is_unspecified)


async def system_resolver(ip: str) -> str | None:
    """The operating system's reverse lookup (``getnameinfo`` with NI_NAMEREQD)."""
    loop = asyncio.get_running_loop()
    try:
        host, _port = await loop.getnameinfo((ip, 0), socket.NI_NAMEREQD)
    except socket.gaierror:
        return None
    return host


class PtrLookup:
    """Resolves each address at most once per instance, ``concurrency`` at a time."""

    def __init__(self, resolver: Resolver = system_resolver, *, timeout_s: float = 2.0,
                 concurrency: int = 16) -> None:
        self._resolver = resolver
        self._timeout_s = timeout_s
        self._semaphore = asyncio.Semaphore(concurrency)
        self._done: dict[str, asyncio.Task[PtrResult]] = {}

    async def resolve(self, ip: str) -> PtrResult:
        """The PTR of one address; the same task answers repeated asks."""
        if not should_look_up(ip):
            return PtrResult(None, SKIPPED)
        task = self._done.get(ip)
        if task is None:
            task = asyncio.ensure_future(self._resolve_once(ip))
            self._done[ip] = task
        return await asyncio.shield(task)

    async def resolve_many(self, ips: Iterable[str]) -> dict[str, PtrResult]:
        unique = list(dict.fromkeys(ips))
        results = await asyncio.gather(*(self.resolve(ip) for ip in unique))
        return dict(zip(unique, results, strict=True))

    async def _resolve_once(self, ip: str) -> PtrResult:
        async with self._semaphore:
            try:
                name = await asyncio.wait_for(self._resolver(ip), self._timeout_s)
            except TimeoutError:
                return PtrResult(None, TIMEOUT)
            except Exception as exc:  # noqa: BLE001 - a resolver must never break a profile
                log.debug("PTR lookup of %s failed: %s", ip, exc)
                return PtrResult(None, ERROR)
        if not name:
            return PtrResult(None, NO_NAME)
        return PtrResult(name.rstrip(".").lower()[:_MAX_NAME], OK)
