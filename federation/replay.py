"""Freshness: the clock window and the nonce cache that refuses replays inside it.

A request is fresh when its timestamp is within ``window_ms`` of the server's
clock and its (key id, nonce) pair was not accepted before (in this process,
or before a restart: `restore` reloads what `federation.ledger` kept). A nonce only needs
remembering until its timestamp falls out of the window (after that the clock
check refuses the replay), so the cache is bounded by the window: an entry
expires at ``timestamp_ms + window_ms``. A hard ``max_entries`` cap fails
closed (`OverBudget`) rather than forgetting nonces that are still live.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from federation.errors import OutsideClockWindow, OverBudget, ReplayedRequest


def check_clock_window(timestamp_ms: int, now_ms: int, window_ms: int) -> None:
    """Raise `OutsideClockWindow` (saying stale or future) unless ``|now - ts| ≤ window``."""
    if timestamp_ms < now_ms - window_ms:
        raise OutsideClockWindow(
            f"stale timestamp: {(now_ms - timestamp_ms) // 1000} s old,"
            f" window is ±{window_ms // 1000} s")
    if timestamp_ms > now_ms + window_ms:
        raise OutsideClockWindow(
            f"future timestamp: {(timestamp_ms - now_ms) // 1000} s ahead,"
            f" window is ±{window_ms // 1000} s")


class NonceCache:
    """(key id, nonce) pairs accepted within the clock window."""

    def __init__(self, window_ms: int, max_entries: int) -> None:
        self._window_ms = window_ms
        self._max_entries = max_entries
        self._live: set[tuple[str, bytes]] = set()
        self._expiry: list[tuple[int, str, bytes]] = []

    def __len__(self) -> int:
        return len(self._live)

    def _evict(self, now_ms: int) -> None:
        while self._expiry and self._expiry[0][0] < now_ms:
            _, key_id, nonce = heapq.heappop(self._expiry)
            self._live.discard((key_id, nonce))

    def check(self, key_id: str, nonce: bytes, now_ms: int) -> None:
        """Raise `ReplayedRequest` if the nonce was accepted already (cheap, no insert)."""
        self._evict(now_ms)
        if (key_id, nonce) in self._live:
            raise ReplayedRequest("replayed nonce inside the clock window")

    def restore(self, entries: Iterable[tuple[str, bytes, int]]) -> None:
        """Reload ``(key id, nonce, expires_ms)`` entries kept across a restart."""
        for key_id, nonce, expires_ms in entries:
            if (key_id, nonce) not in self._live:
                self._live.add((key_id, nonce))
                heapq.heappush(self._expiry, (expires_ms, key_id, nonce))

    def expiry_ms(self, timestamp_ms: int) -> int:
        """When a nonce with this timestamp may be forgotten (the clock check takes over)."""
        return timestamp_ms + self._window_ms

    def remember(self, key_id: str, nonce: bytes, timestamp_ms: int, now_ms: int) -> None:
        """Accept the nonce once; a second acceptance inside the window is a replay.

        Called only after the signature verified, so forged requests cannot
        fill the cache or burn a peer's nonces.
        """
        self._evict(now_ms)
        entry = (key_id, nonce)
        if entry in self._live:
            raise ReplayedRequest("replayed nonce inside the clock window")
        if len(self._live) >= self._max_entries:
            raise OverBudget("too many requests inside the clock window; retry later")
        self._live.add(entry)
        heapq.heappush(self._expiry, (self.expiry_ms(timestamp_ms), key_id, nonce))
