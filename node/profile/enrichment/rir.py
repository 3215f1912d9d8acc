"""Country of an address from RIR delegated-stats files.

Format (one file per registry, ``delegated-<rir>-extended-latest`` and the
like): ``registry|cc|type|start|value|date|status[|...]``. For ``ipv4`` rows
``value`` is the number of addresses from ``start``; for ``ipv6`` rows it is
the prefix length. The version line, ``*`` summary lines, comments and rows
without a country are skipped; a damaged row is counted and skipped.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from node.profile.enrichment.ranges import RangeIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CountryIndex:
    """Address → ISO country code (upper case), loaded from RIR files."""

    index: RangeIndex[str]
    bad_rows: int = 0

    def country(self, ip: str) -> str | None:
        """Country code of ``ip``, or None when unknown; never raises."""
        found = self.index.lookup(ip)
        return None if found is None else found[2]


def parse_rir_lines(lines: Iterable[str]) -> CountryIndex:
    """Build the index from delegated-stats lines."""
    ranges: list[tuple[int, int, int, str]] = []
    bad = 0
    for line in lines:
        if not line or line.startswith("#"):
            continue
        parts = line.rstrip("\r\n").split("|")
        if len(parts) < 7 or parts[2] not in ("ipv4", "ipv6"):
            continue  # version line, summaries, asn rows
        cc, kind, start_text, value = parts[1].strip().upper(), parts[2], parts[3], parts[4]
        if not cc or cc == "*" or start_text == "*":
            continue
        try:
            if kind == "ipv4":
                start = int(ipaddress.IPv4Address(start_text))
                count = int(value)
                if count < 1:
                    raise ValueError(value)
                ranges.append((4, start, start + count - 1, cc))
            else:
                network = ipaddress.IPv6Network(f"{start_text}/{int(value)}", strict=False)
                ranges.append((6, int(network.network_address),
                               int(network.broadcast_address), cc))
        except ValueError:
            bad += 1
    return CountryIndex(RangeIndex(ranges), bad)


def load_rir_files(paths: Iterable[Path]) -> CountryIndex:
    """Load and merge RIR files; an unreadable file is logged and skipped."""
    lines: list[str] = []
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as stream:
                lines.extend(stream)
        except OSError as exc:
            log.warning("RIR file %s not loaded: %s", path, exc.strerror or exc)
    index = parse_rir_lines(lines)
    if index.bad_rows:
        log.warning("RIR files: %d malformed rows skipped", index.bad_rows)
    return index
