"""Open calls per peer: one peer can never hold the slots every other peer needs.

A call takes a slot when it opens (before its request arrives) and gives it
back when it ends. A peer is keyed by its TLS identity (its address when the
server runs plaintext). A peer at its share, or a server at its total, is
refused at once with `TooManyStreams`; together with the request deadline in
`federation.server` this bounds how long any slot can be held. No I/O.
"""

from __future__ import annotations

from collections import Counter

from federation.errors import TooManyStreams


class StreamSlots:
    """Counts of open calls per peer and in total."""

    def __init__(self, per_peer: int, total: int) -> None:
        self._per_peer = per_peer
        self._total = total
        self._open: Counter[str] = Counter()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def acquire(self, peer: str) -> None:
        """Take a slot for ``peer`` or raise `TooManyStreams`."""
        if self._open[peer] >= self._per_peer:
            raise TooManyStreams(f"at most {self._per_peer} open calls per peer")
        if self._count >= self._total:
            raise TooManyStreams("server busy: too many open calls; retry later")
        self._open[peer] += 1
        self._count += 1

    def release(self, peer: str) -> None:
        self._open[peer] -= 1
        if self._open[peer] <= 0:
            del self._open[peer]
        self._count -= 1
