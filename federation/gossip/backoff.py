"""When to try a Dead peer again: exponential backoff with a cap and jitter.

Members come from the trust store, not from gossip, so a Dead member is not
forgotten: it is pinged again after ``min(max_s, base_s × 2^attempt)`` seconds,
shortened by up to ``jitter`` of itself so that nodes which lost the same peer
at the same moment do not all knock at once when it returns.
"""

from __future__ import annotations

#: Exponents past this already exceed any sane cap; it keeps ``2.0 ** n`` finite.
_MAX_EXPONENT = 60


def retry_delay_s(attempt: int, base_s: float, max_s: float, jitter: float, u: float) -> float:
    """Delay before retry ``attempt`` (0 first); ``u`` is a uniform draw in ``[0, 1)``."""
    ceiling = min(max_s, base_s * 2.0 ** min(max(0, attempt), _MAX_EXPONENT))
    return ceiling * (1.0 - jitter * u)


class DeadRetry:
    """The retry pings of one Dead member: at most one out at a time."""

    __slots__ = ("attempt", "deadline_s", "next_s")

    def __init__(self, next_s: float) -> None:
        self.attempt = 0
        self.next_s = next_s
        self.deadline_s: float | None = None  # a retry ping is out until then

    def due_s(self) -> float:
        """When this needs attention: the ping's deadline, else the next ping."""
        return self.next_s if self.deadline_s is None else self.deadline_s

    def start(self, now_s: float, timeout_s: float) -> float | None:
        """The deadline of a retry ping to send now, or None when none is due."""
        if self.deadline_s is not None or now_s < self.next_s:
            return None
        self.deadline_s = now_s + timeout_s
        return self.deadline_s

    def failed(self, now_s: float, delay_s: float) -> None:
        """No answer: the next ping after ``delay_s`` (the caller's next backoff step)."""
        self.attempt += 1
        self.deadline_s = None
        self.next_s = now_s + delay_s

    def answered(self, now_s: float, base_s: float) -> None:
        """It answers but has not refuted yet: keep knocking, at the base pace."""
        self.attempt = 0
        self.deadline_s = None
        self.next_s = now_s + base_s
