"""Derived data, one mechanism: stages that follow the event log by id, one marks table.

The event log is the change feed: event ids only grow, and every derived
table is a function of the events up to some id. Each stage keeps that id,
its *mark*, in ``derived_marks``; it lags the newest event id by the
difference, and says how far behind it is in its own unit (events, or rows
of a journal). `catch_up` moves a stage forward over the events after its
mark (at most ``step`` of them per transaction, so a backlog never holds the
write lock for long), in the same transaction as the mark, so a crash
anywhere leaves each stage exactly at a mark it reached.

A stage never passes the stages it reads (``after``): its target is the
smallest of their marks. Who runs it:

- the batch writer, right after a batch in a transaction of its own, for each
  stage that is at least ``step`` behind and the stages it reads (so an ingest
  derives as it goes, and a failing stage never costs the batch its events);
- `Store.catch_up`, until no stage is behind: at the end of an ingest, when a
  followed file is caught up, and as a maintenance task of ``serve``.

Readers never write: they read the derived tables as of the stages' marks,
and `lags` says how far behind that is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

_TOP = "SELECT coalesce(max(id), 0) FROM events"
_MARKS = "SELECT stage, through FROM derived_marks"
_SET_MARK = """
INSERT INTO derived_marks (stage, through) VALUES (?, ?)
ON CONFLICT (stage) DO UPDATE SET through = excluded.through
"""


class Stage(Protocol):
    """One kind of derived data, caught up from the event log.

    ``name`` is its row in ``derived_marks`` (a stage never run is at 0, so a
    stage added by an upgrade derives everything already stored). ``step`` is
    how many events it takes per transaction, and how far `behind` it may
    fall during an ingest before the writer runs it.
    """

    @property
    def name(self) -> str: ...

    @property
    def after(self) -> tuple[str, ...]: ...

    @property
    def step(self) -> int: ...

    def behind(self, conn: sqlite3.Connection, lag: int) -> int:
        """How much work is waiting, in the unit of ``step``, given the ``lag`` in events."""
        ...

    def catch_up(self, conn: sqlite3.Connection, span: Span) -> int:
        """Derive the events in ``span`` (inside the caller's transaction); return the new mark.

        The new mark is at least ``span.end`` and at most ``span.limit``, and
        every event up to it is derived: a stage whose work cannot be cut at an
        event id (folding a whole journal) may return ``span.limit``.
        """
        ...


@dataclass(frozen=True, slots=True)
class Span:
    """Events ``start < id <= end`` to derive.

    ``limit`` is as far as the stage may reach: the newest event, or the mark
    of a stage it reads if that one is behind.
    """

    start: int
    end: int
    limit: int


class Deriver:
    """Runs an ordered set of stages (each after every stage it reads)."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        names = [stage.name for stage in stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names repeat: {names}")
        for index, stage in enumerate(stages):
            unknown = set(stage.after) - set(names[:index])
            if unknown:
                raise ValueError(f"stage {stage.name!r} reads {sorted(unknown)}, which must"
                                 " be listed before it")
        self.stages = tuple(stages)

    def lags(self, top: int, marks: dict[str, int]) -> dict[str, int]:
        """Events each stage is behind ``top``, given the marks read from ``derived_marks``."""
        return {stage.name: top - marks.get(stage.name, 0) for stage in self.stages}

    def dependents(self, names: Sequence[str]) -> list[str]:
        """``names`` and every stage that reads one of them, directly or not, in order."""
        found = set(names)
        for stage in self.stages:
            if found.intersection(stage.after):
                found.add(stage.name)
        return [stage.name for stage in self.stages if stage.name in found]

    def run(self, conn: sqlite3.Connection, *, due_only: bool) -> bool:
        """One step of every stage (``due_only``: only of those ``step`` or more behind,
        and of the stages those read, so a slow upstream never holds a due one back).

        A stage with no work waiting (``behind`` 0: an empty journal) moves its
        mark to its limit without a catch-up, so its lag says what is missing.
        Runs inside the caller's transaction; True when some stage is still behind.
        """
        top, marks = _state(conn)
        work = {stage.name: stage.behind(conn, top - marks.get(stage.name, 0))
                for stage in self.stages}
        due = {stage.name for stage in self.stages if work[stage.name] >= stage.step}
        for stage in reversed(self.stages):
            if stage.name in due:
                due.update(stage.after)
        behind = False
        for stage in self.stages:
            mark = marks.get(stage.name, 0)
            limit = min([top, *(marks.get(name, 0) for name in stage.after)])
            if limit <= mark:
                behind = behind or top > mark
                continue
            if work[stage.name] == 0:
                reached = limit
            elif due_only and stage.name not in due:
                behind = True
                continue
            else:
                end = min(limit, mark + stage.step)
                reached = stage.catch_up(conn, Span(mark, end, limit))
                if not end <= reached <= limit:
                    raise RuntimeError(f"stage {stage.name!r} moved its mark to {reached},"
                                       f" outside {end}..{limit}")
            conn.execute(_SET_MARK, (stage.name, reached))
            marks[stage.name] = reached
            behind = behind or reached < top
        return behind


def reset_marks(conn: sqlite3.Connection, names: Sequence[str]) -> None:
    """Put stages back to the start (their next catch-up derives every event again)."""
    conn.executemany("DELETE FROM derived_marks WHERE stage = ?", [(name,) for name in names])


def _state(conn: sqlite3.Connection) -> tuple[int, dict[str, int]]:
    top: int = conn.execute(_TOP).fetchone()[0]
    return top, {str(name): int(through) for name, through in conn.execute(_MARKS)}
