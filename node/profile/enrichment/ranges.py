"""Sorted, non-overlapping address ranges with binary-search lookup."""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable
from typing import Generic, TypeVar

V = TypeVar("V")
_NESTING_LOOKBACK = 8


def address_key(ip: str) -> tuple[int, int] | None:
    """(version, integer) of an address, None if it is not one."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.version, int(addr)


class RangeIndex(Generic[V]):
    """Immutable index of [start, end] integer ranges per IP version → value.

    Where ranges nest, the one starting later (the more specific block in
    practice) wins; lookups are O(log n).
    """

    def __init__(self, ranges: Iterable[tuple[int, int, int, V]]) -> None:
        by_version: dict[int, list[tuple[int, int, V]]] = {4: [], 6: []}
        for version, start, end, value in ranges:
            if start <= end:
                by_version.setdefault(version, []).append((start, end, value))
        self._starts: dict[int, list[int]] = {}
        self._rows: dict[int, list[tuple[int, int, V]]] = {}
        for version, rows in by_version.items():
            rows.sort(key=lambda row: (row[0], row[1]))
            self._rows[version] = rows
            self._starts[version] = [row[0] for row in rows]

    def __len__(self) -> int:
        return sum(len(rows) for rows in self._rows.values())

    def lookup(self, ip: str) -> tuple[int, int, V] | None:
        """The (start, end, value) containing ``ip``, or None."""
        key = address_key(ip)
        if key is None:
            return None
        version, number = key
        starts = self._starts.get(version)
        if not starts:
            return None
        i = bisect.bisect_right(starts, number) - 1
        rows = self._rows[version]
        # Nested blocks: the innermost starts last; look back a few rows for an
        # enclosing one when the nearest start does not cover the address.
        for j in range(i, max(i - _NESTING_LOOKBACK, -1), -1):
            start, end, value = rows[j]
            if start <= number <= end:
                return start, end, value
        return None
