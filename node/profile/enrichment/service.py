"""Enrichment as the node uses it: indexes loaded from configured files, PTR cached in the store."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from node.config import Config
from node.profile.enrichment.asn import AsnIndex, load_ip2asn_file, parse_ip2asn_lines
from node.profile.enrichment.ptr import (
    DISABLED,
    SKIPPED,
    PtrLookup,
    PtrResult,
    Resolver,
    should_look_up,
    system_resolver,
)
from node.profile.enrichment.rir import CountryIndex, load_rir_files, parse_rir_lines
from node.store import Store

_SAVE_PTR = """
INSERT INTO ptr_names (ip, name, status, resolved_us) VALUES (?, ?, ?, ?)
ON CONFLICT (ip) DO NOTHING
"""


@dataclass(frozen=True, slots=True)
class Enricher:
    """Country and ASN indexes plus an optional PTR lookup (None when disabled)."""

    countries: CountryIndex
    asns: AsnIndex
    ptr: PtrLookup | None

    @classmethod
    def empty(cls) -> Enricher:
        return cls(parse_rir_lines(()), parse_ip2asn_lines(()), None)

    @classmethod
    def from_config(cls, config: Config, resolver: Resolver = system_resolver) -> Enricher:
        """Load the configured files (missing ones are logged and skipped)."""
        settings = config.enrichment
        rir = [config.home_file(p) for p in settings.rir_paths]
        countries = load_rir_files(rir) if rir else parse_rir_lines(())
        asns = (load_ip2asn_file(config.home_file(settings.ip2asn_path))
                if settings.ip2asn_path.strip() else parse_ip2asn_lines(()))
        ptr = (PtrLookup(resolver, timeout_s=settings.ptr_timeout_s,
                         concurrency=settings.ptr_concurrency)
               if settings.ptr_enabled else None)
        return cls(countries, asns, ptr)

    async def describe(self, store: Store, ip: str) -> dict[str, Any]:
        """Country, AS and PTR of one address; the PTR is resolved once and cached."""
        asn = self.asns.lookup(ip)
        ptr = await self.ptr_name(store, ip)
        return {
            "country": self.countries.country(ip),
            "asn": asn.asn if asn else None,
            "as_name": asn.name if asn else None,
            "as_country": asn.country if asn else None,
            "as_prefix": asn.prefix if asn else None,
            "ptr": ptr.name,
            "ptr_status": ptr.status,
        }

    async def ptr_name(self, store: Store, ip: str) -> PtrResult:
        """The cached PTR of ``ip``, resolving (and caching) it on first use."""
        rows = await store.fetch("SELECT name, status FROM ptr_names WHERE ip = ?", (ip,))
        if rows:
            return PtrResult(rows[0][0], rows[0][1])
        if not should_look_up(ip):
            return PtrResult(None, SKIPPED)
        if self.ptr is None:
            return PtrResult(None, DISABLED)
        result = await self.ptr.resolve(ip)
        if not store.writable:  # a read-only store: resolve again next time
            return result
        async with store.transaction():
            await store.execute(_SAVE_PTR, [(ip, result.name, result.status,
                                             time.time_ns() // 1000)])
        return result
