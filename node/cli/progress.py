"""Progress on a terminal for the long commands: ingest, `ingest --follow`, reprofile, cluster.

The work never draws: it updates a live report, or a `Tally` through a
callback (from the store's writer thread, too), and `progress_bar` redraws
from that every ``interval_s`` on the event loop, and once at the end. A
person at a terminal sees a bar on stderr; with ``--json``, or when stderr is
a pipe or a file, nothing is written at all (`on_terminal`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Never, TextIO

from tqdm import tqdm

#: How often a bar is redrawn unless told otherwise, seconds.
REFRESH_S = 0.25


def on_terminal(args: argparse.Namespace) -> bool:
    """Whether to show progress: for a person at a terminal, never into --json, a pipe or
    a file (which would only collect the bar's redraws)."""
    return not args.json and sys.stderr.isatty()


@dataclass(frozen=True, slots=True)
class Reading:
    """What a bar shows: ``done`` of ``total`` (None: not known) in ``step``, and a ``note``."""

    done: int
    total: int | None = None
    step: str = ""
    note: str = ""


class Tally:
    """The last count a callback reported, for a bar to read.

    Each report replaces one immutable `Reading`, so callbacks may run on
    another thread (the store's writer) while the bar reads it.
    """

    def __init__(self, step: str = "") -> None:
        self.reading = Reading(0, None, step)

    def count(self, done: int, total: int) -> None:
        """``done`` of ``total`` in the current step (a ``Callable[[int, int], None]``)."""
        self.reading = Reading(done, total, self.reading.step)

    def step(self, step: str, done: int, total: int | None) -> None:
        """``done`` of ``total`` in ``step`` (a `node.cluster.stage.PassProgress`)."""
        self.reading = Reading(done, total, step)


@contextlib.asynccontextmanager
async def progress_bar(read: Callable[[], Reading], *, show: bool, unit: str = "",
                       interval_s: float = REFRESH_S,
                       file: TextIO | None = None) -> AsyncIterator[None]:
    """A bar on ``file`` (stderr) redrawn from ``read()`` every ``interval_s`` while the
    block runs, and once at its end, so the totals show however short the block was;
    nothing at all when not ``show``. It is cleared when the block ends (the command then
    prints its own summary)."""
    if not show:
        yield
        return
    bar = _Bar(unit, file or sys.stderr)

    async def redraw() -> None:
        while True:
            bar.draw(read())
            await asyncio.sleep(interval_s)

    task = asyncio.get_running_loop().create_task(redraw())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        bar.draw(read())
        bar.close()


#: A step of known size: its share, count of total and time left; of unknown size, its count
#: and rate; nothing counted yet, its time. Counts in full: tqdm's scaling shows 40 as "40.0".
_SIZED = "{l_bar}{bar}| {n:,}/{total:,} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
_UNSIZED = "{desc}{n:,}{unit} [{elapsed}, {rate_fmt}{postfix}]"
_STARTING = "{desc}[{elapsed}{postfix}]"


class _Bar:
    """Draws readings with tqdm: a bar per step, each with its own count, rate and time.

    The rate is the step's average (``smoothing=0``): a recent one stays at its last
    value while nothing arrives, and a followed file is quiet most of the time.
    """

    def __init__(self, unit: str, file: TextIO) -> None:
        self._unit = unit
        self._file = file
        self._bar: tqdm[Never] | None = None
        self._step = ""

    def draw(self, reading: Reading) -> None:
        bar = self._bar
        if bar is None or reading.step != self._step or reading.done < bar.n:
            self.close()
            self._step = reading.step
            self._bar = tqdm(desc=f"{reading.step}: " if reading.step else "",
                             total=reading.total, initial=reading.done,
                             postfix=reading.note or None, bar_format=_format(reading),
                             unit=self._unit, unit_scale=True, smoothing=0,
                             file=self._file, leave=False,
                             dynamic_ncols=True)  # drawn as it is made
            return
        bar.total = reading.total
        bar.bar_format = _format(reading)
        bar.set_postfix_str(reading.note, refresh=False)
        if not bar.update(reading.done - bar.n):  # True: it redrew
            bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _format(reading: Reading) -> str:
    if reading.total:
        return _SIZED
    return _UNSIZED if reading.done else _STARTING
