"""Lifeguard's dynamic suspicion timeout: long when alone, shorter with each confirmation.

A peer that missed a probe is Suspect, not Dead, for a while so it can
refute. How long follows hashicorp/memberlist (``suspicion.go``):

* ``min_s = suspicion_mult × max(1, log10(n)) × probe_interval_s`` — the
  classic SWIM timeout, growing slowly with cluster size ``n`` because the
  accusation needs about ``log n`` gossip rounds to reach the suspect;
* ``max_s = suspicion_max_timeout_mult × min_s`` — where a lone accuser starts;
* ``K = suspicion_mult - 2`` independent confirmations are expected (none
  when ``n - 2 < K``: the suspect and ourselves cannot confirm), and with ``C``
  of them the timeout is ``max(min_s, max_s - (max_s - min_s) × log(C+1) / log(K+1))``.

One slow accuser therefore cannot kill a healthy peer quickly, while a peer
that many members independently fail to reach is declared Dead at about the
classic SWIM speed.
"""

from __future__ import annotations

import math


def suspicion_min_s(suspicion_mult: int, n: int, probe_interval_s: float) -> float:
    """The shortest suspicion timeout for a cluster of ``n`` nodes (ourselves included)."""
    node_scale = max(1.0, math.log10(max(1, n)))
    return suspicion_mult * node_scale * probe_interval_s


def expected_confirmations(suspicion_mult: int, n: int) -> int:
    """How many independent accusers bring the timeout down to its minimum."""
    k = suspicion_mult - 2
    if n - 2 < k:
        return 0
    return max(0, k)


def suspicion_timeout_s(confirmations: int, expected: int, min_s: float, max_s: float) -> float:
    """Total timeout after ``confirmations`` of ``expected`` independent confirmations."""
    if expected < 1:
        return min_s
    fraction = math.log(confirmations + 1.0) / math.log(expected + 1.0)
    return max(min_s, max_s - fraction * (max_s - min_s))


class Suspicion:
    """One accusation round: when it started, who accused, when it turns Dead."""

    __slots__ = ("_accusers", "_expected", "_max_s", "_min_s", "start_s")

    def __init__(self, accuser: str, start_s: float, expected: int,
                 min_s: float, max_s: float) -> None:
        self.start_s = start_s
        self._expected = expected
        self._min_s = min_s
        self._max_s = max_s
        self._accusers = {accuser}

    @property
    def confirmations(self) -> int:
        """Independent accusers besides the first one."""
        return len(self._accusers) - 1

    def confirm(self, accuser: str) -> bool:
        """Count a new accuser; False for a repeat or once the minimum is reached.

        Beyond ``K`` a confirmation changes nothing, so it is not worth
        re-gossiping either.
        """
        if self.confirmations >= self._expected or accuser in self._accusers:
            return False
        self._accusers.add(accuser)
        return True

    def deadline_s(self) -> float:
        """When the suspect is declared Dead unless it refutes first."""
        return self.start_s + suspicion_timeout_s(self.confirmations, self._expected,
                                                  self._min_s, self._max_s)
