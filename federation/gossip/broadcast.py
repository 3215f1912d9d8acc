"""Piggybacked rumours: each is sent a bounded number of times, least-sent first.

SWIM spreads membership updates by attaching them to the probes and acks it
sends anyway. An update is worth sending until it has probably reached
everyone, which epidemic spreading does in about ``log n`` rounds; memberlist's
``retransmitLimit`` sends each one ``retransmit_mult × ⌈log10(n + 1)⌉`` times.
A newer update about the same member replaces the older one (and starts again
at zero sends), so the queue never holds more than one entry per member.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


def retransmit_limit(retransmit_mult: int, n: int) -> int:
    """How many times one update is piggybacked in a cluster of ``n`` nodes."""
    return retransmit_mult * math.ceil(math.log10(max(1, n) + 1))


@dataclass(slots=True)
class _Entry(Generic[T]):
    item: T
    sends: int
    seq: int


class RetransmitQueue(Generic[T]):
    """At most one pending item per key, handed out least-sent and then newest first."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry[T]] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: str, item: T) -> None:
        """Queue ``item``, replacing whatever was pending under ``key``."""
        self._seq += 1
        self._entries[key] = _Entry(item, 0, self._seq)

    def drop(self, key: str) -> None:
        """Forget what was pending under ``key`` (a removed member)."""
        self._entries.pop(key, None)

    def take(self, limit: int, max_sends: int, exclude: str | None = None) -> list[T]:
        """Up to ``limit`` items to attach to one message; each counts as sent once.

        Least-sent first so fresh news overtakes news most peers already
        have; an item reaching ``max_sends`` is dropped.
        """
        if limit <= 0 or not self._entries:
            return []
        ranked = sorted((e.sends, -e.seq, key) for key, e in self._entries.items()
                        if key != exclude)
        out: list[T] = []
        for _, _, key in ranked[:limit]:
            entry = self._entries[key]
            out.append(entry.item)
            entry.sends += 1
            if entry.sends >= max_sends:
                del self._entries[key]
        return out
