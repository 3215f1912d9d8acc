"""When sessions start: inside an actor's active hours and days, in phase order, spread out.

Times are seconds from the simulation's base date (day 0, 00:00 UTC); the
wall clock is never read. A session starts at or after the end of the
campaign's previous session (phases run in declaration order, sessions one
after another). Its start hour is always one of the actor's hours, on one
of its days; jitter moves a start only where it stays inside that hour and
after the previous session. The generator first aims each session at a
target spread evenly over the campaign's days (`spread_targets`); when that
leaves a later phase no active hour, it packs the sessions as early as
they can go instead, and only a campaign that cannot fit even then is an error.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterable
from typing import Final

DAY_S: Final = 86_400
HOUR_S: Final = 3_600
#: A start is kept this far inside its hour, so rounding to microseconds never leaves it.
_MARGIN_S: Final = 0.001


class ActiveHours:
    """The hour-long slots (a day and an hour) in which one actor may start a session.

    Kept as its sorted days and hours, not as the list of slots: a year of
    days times 24 hours for each of thousands of actors would be a lot of
    memory for a hostile scenario to ask for.
    """

    def __init__(self, days: Iterable[int], hours: Iterable[int]) -> None:
        self._days = sorted(set(days))
        self._hours = sorted(set(hours))

    def __bool__(self) -> bool:
        return bool(self._days and self._hours)

    def start_at_or_after(self, earliest_s: float, rng: random.Random, *,
                          jitter_s: float, entry_s: float) -> float | None:
        """A start time ≥ ``earliest_s`` inside an active slot, or None if none is left.

        Inside the slot that holds ``earliest_s`` the start is ``earliest_s``;
        a later slot is entered at a random moment of its first ``entry_s``
        seconds. The jitter (± ``jitter_s``) is kept only where it leaves the
        start in its slot and not before ``earliest_s``.
        """
        slot = self._first_slot_ending_after(earliest_s)
        if slot is None:
            return None
        start = earliest_s if slot <= earliest_s else slot + rng.uniform(0, entry_s)
        if jitter_s:
            jittered = start + rng.uniform(-jitter_s, jitter_s)
            if max(slot, earliest_s) <= jittered < slot + HOUR_S:
                start = jittered
        return min(start, slot + HOUR_S - _MARGIN_S)

    def any_start(self, rng: random.Random) -> float:
        """A random start in a random slot (for scanners, which keep no order)."""
        return rng.choice(self._days) * DAY_S + rng.choice(self._hours) * HOUR_S \
            + rng.uniform(0, HOUR_S - _MARGIN_S)

    def _first_slot_ending_after(self, moment_s: float) -> int | None:
        """Start (seconds) of the earliest active slot whose hour ends after ``moment_s``."""
        if not self:
            return None
        after = moment_s - HOUR_S  # the slot must start after this
        i = bisect.bisect_left(self._days, math.floor(after / DAY_S))
        if i < len(self._days) and self._days[i] * DAY_S <= after:
            day = self._days[i]
            j = bisect.bisect_right(self._hours, (after - day * DAY_S) / HOUR_S)
            if j < len(self._hours):
                return day * DAY_S + self._hours[j] * HOUR_S
            i += 1
        if i == len(self._days):
            return None
        return self._days[i] * DAY_S + self._hours[0] * HOUR_S


def spread_targets(count: int, span_s: float, rng: random.Random) -> list[float]:
    """``count`` increasing target times, one in each equal share of ``span_s``."""
    share = span_s / count if count else span_s
    return [(i + rng.random()) * share for i in range(count)]
