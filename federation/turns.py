"""Peers take turns: at most a few answers per peer are computed at once.

The node answers on one event loop. Without turns, one peer's burst of 30
calls interleaves with everyone else's, so another peer's single question
finishes only when the whole burst does (bench/simhash.py measured another
peer's SMTP p99 at 86 ms during bursts of radius-16 near-queries; with one
turn per peer, 21 ms). A waiting call costs no CPU and still holds its stream
slot (`federation.slots`), so a peer's backlog is bounded there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class PeerTurns:
    """A small semaphore per peer, created on first use and dropped when idle."""

    def __init__(self, per_peer: int) -> None:
        self._per_peer = per_peer
        self._turns: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}

    def __len__(self) -> int:
        """Peers with an answer in progress or waiting for one."""
        return len(self._turns)

    @contextlib.asynccontextmanager
    async def turn(self, peer: str) -> AsyncIterator[None]:
        """Wait for one of ``peer``'s turns and hold it for the block."""
        semaphore, users = self._turns.setdefault(
            peer, (asyncio.Semaphore(self._per_peer), [0]))
        users[0] += 1
        try:
            async with semaphore:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._turns[peer]
