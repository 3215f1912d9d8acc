"""ASN, AS name and announced prefix of an address from an ip2asn TSV file.

Format: ``range_start \\t range_end \\t AS_number \\t country_code \\t AS_description``
with IPv4 or IPv6 text addresses (ip2asn-v4, -v6 and -combined files).
AS number 0 marks unannounced space: such rows are skipped, so those
addresses have no ASN. A damaged row is counted and skipped.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from node.profile.enrichment.ranges import RangeIndex

log = logging.getLogger(__name__)


class AsnInfo(NamedTuple):
    """Who announces an address: AS number, AS name, registry country, range as text."""

    asn: int
    name: str
    country: str
    prefix: str


@dataclass(frozen=True, slots=True)
class AsnIndex:
    """Address → `AsnInfo`, loaded from ip2asn TSV."""

    index: RangeIndex[tuple[int, str, str]]
    bad_rows: int = 0

    def lookup(self, ip: str) -> AsnInfo | None:
        """The announcing AS of ``ip``, or None; never raises."""
        found = self.index.lookup(ip)
        if found is None:
            return None
        start, end, (asn, name, country) = found
        return AsnInfo(asn, name, country, _range_text(start, end, ":" in ip))


def parse_ip2asn_lines(lines: Iterable[str]) -> AsnIndex:
    """Build the index from ip2asn TSV lines."""
    ranges: list[tuple[int, int, int, tuple[int, str, str]]] = []
    bad = 0
    for line in lines:
        text = line.rstrip("\r\n")
        if not text or text.startswith("#"):
            continue
        parts = text.split("\t")
        if len(parts) < 4:
            bad += 1
            continue
        try:
            start = ipaddress.ip_address(parts[0].strip())
            end = ipaddress.ip_address(parts[1].strip())
            asn = int(parts[2])
        except ValueError:
            bad += 1
            continue
        if start.version != end.version or asn < 0:
            bad += 1
            continue
        if asn == 0:
            continue  # not routed
        name = parts[4].strip() if len(parts) > 4 else ""
        ranges.append((start.version, int(start), int(end),
                       (asn, name, parts[3].strip().upper())))
    return AsnIndex(RangeIndex(ranges), bad)


def load_ip2asn_file(path: Path) -> AsnIndex:
    """Load an ip2asn file (``.gz`` too); unreadable → empty index, logged."""
    try:
        if path.suffix == ".gz":
            import gzip

            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as stream:
                index = parse_ip2asn_lines(stream)
        else:
            with open(path, encoding="utf-8", errors="replace") as stream:
                index = parse_ip2asn_lines(stream)
    except (OSError, EOFError) as exc:
        log.warning("ip2asn file %s not loaded: %s", path, exc)
        return parse_ip2asn_lines(())
    if index.bad_rows:
        log.warning("ip2asn file %s: %d malformed rows skipped", path, index.bad_rows)
    return index


def _range_text(start: int, end: int, v6: bool) -> str:
    """The range as a CIDR when it is one, else ``start-end``."""
    first = ipaddress.ip_address(start if not v6 else ipaddress.IPv6Address(start))
    last = ipaddress.ip_address(end if not v6 else ipaddress.IPv6Address(end))
    networks = list(ipaddress.summarize_address_range(first, last))
    if len(networks) == 1:
        return str(networks[0])
    return f"{first}-{last}"
