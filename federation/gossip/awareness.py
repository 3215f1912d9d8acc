"""Lifeguard's Local Health Multiplier: how much this node distrusts its own timing.

A node that is slow itself (CPU starved, paused, on a congested link) sees
everybody else's acks late and would accuse healthy peers. Lifeguard counts
the signs of local trouble — failed probes, helpers that did not even send a
nack, having to refute an accusation against ourselves — and stretches this
node's probe interval and probe timeout by ``(score + 1)`` while they last;
each successful probe takes one point off. The score is clamped to
``0 ..= maximum``, so the slowest a node ever probes is ``(maximum + 1)`` times
its configured pace.
"""

from __future__ import annotations


def scale_timeout_s(timeout_s: float, score: int) -> float:
    """The timeout stretched for a node whose awareness score is ``score``."""
    return timeout_s * (score + 1)


class Awareness:
    """A clamped counter; no clock, no I/O."""

    __slots__ = ("_maximum", "_score")

    def __init__(self, maximum: int) -> None:
        if maximum < 0:
            raise ValueError(f"awareness maximum must be ≥ 0, got {maximum!r}")
        self._maximum = maximum
        self._score = 0

    @property
    def score(self) -> int:
        """0 when healthy, up to the maximum when this node's own timing is suspect."""
        return self._score

    def apply_delta(self, delta: int) -> int:
        """Add ``delta`` (negative for good news), clamp, and return the new score."""
        self._score = min(self._maximum, max(0, self._score + delta))
        return self._score

    def scale_s(self, timeout_s: float) -> float:
        """``timeout_s`` stretched by the current score."""
        return scale_timeout_s(timeout_s, self._score)
