"""Ingest runs: sources → lines → events → batched, idempotent store writes → a report."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from node.event import Event, LineRejected
from node.ingest.detect import parse_line
from node.ingest.reader import (
    STDIN_NAME,
    Line,
    SourceError,
    file_identity,
    follow_lines,
    iter_lines,
    open_source,
)
from node.store import PreparedBatch, ReadOffset, Store, WriteChain

#: How many rejected lines a report keeps with file and line number; the
#: per-reason counts are always complete.
MAX_REJECT_SAMPLES = 1000


@dataclass(frozen=True, slots=True)
class Rejection:
    """One rejected line: where it was and why."""

    source: str
    line: int
    reason: str
    detail: str


@dataclass(slots=True)
class IngestReport:
    """What an ingest run did, for the CLI summary and `--json`."""

    lines_read: int = 0
    blank_lines: int = 0
    events_parsed: int = 0
    events_stored: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)
    source_errors: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    #: Stopped by SIGINT/SIGTERM before the end of its sources.
    interrupted: bool = False
    #: ``--follow``: every line of the file so far is stored (until the next one arrives).
    caught_up: bool = False

    @property
    def duplicates(self) -> int:
        return self.events_parsed - self.events_stored

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    @classmethod
    def combined(cls, parts: Iterable[IngestReport]) -> IngestReport:
        """One report for sources read side by side (``--follow`` of several files)."""
        total = cls()
        for part in parts:
            total.lines_read += part.lines_read
            total.blank_lines += part.blank_lines
            total.events_parsed += part.events_parsed
            total.events_stored += part.events_stored
            total.rejected.update(part.rejected)
            room = MAX_REJECT_SAMPLES - len(total.rejections)
            total.rejections.extend(part.rejections[:max(room, 0)])
            total.source_errors.extend(part.source_errors)
            total.elapsed_s = max(total.elapsed_s, part.elapsed_s)
            total.interrupted |= part.interrupted
        return total

    def reject(self, source: str, line: int, reason: str, detail: str = "") -> None:
        self.rejected[reason] += 1
        if len(self.rejections) < MAX_REJECT_SAMPLES:
            self.rejections.append(Rejection(source, line, reason, detail))

    def as_json(self) -> dict[str, Any]:
        return {
            "lines_read": self.lines_read,
            "blank_lines": self.blank_lines,
            "events_parsed": self.events_parsed,
            "events_stored": self.events_stored,
            "duplicates": self.duplicates,
            "rejected": self.rejected_total,
            "rejected_by_reason": dict(sorted(self.rejected.items())),
            "rejections": [
                {"source": r.source, "line": r.line, "reason": r.reason, "detail": r.detail}
                for r in self.rejections
            ],
            "rejections_truncated": self.rejected_total > len(self.rejections),
            "source_errors": self.source_errors,
            "interrupted": self.interrupted,
            "elapsed_s": round(self.elapsed_s, 3),
        }


#: Batch writes queued on the store's writer thread at once. A batch that also
#: folds a journal takes a few hundred milliseconds to write; with room for
#: more than one write, the parser prepares the next batches meanwhile
#: instead of waiting.
WRITES_IN_FLIGHT = 3


class _Batcher:
    """Turns lines into events and writes them to the store in batches.

    Up to `WRITES_IN_FLIGHT` writes are queued while the next batch is parsed:
    SQLite runs on the store's writer thread and releases the GIL, so parsing
    and writing overlap on two cores. The writes form one `WriteChain`, so
    none commits after one that failed. Call `drain` before reading the report.

    Before a batch is prepared, the keys already stored (a quick probe of the
    store) and the keys of the writes in flight are dropped from it, so its
    profiles are prepared for exactly the new events and the writer never has
    to redo them.
    """

    def __init__(self, store: Store, batch_size: int, report: IngestReport) -> None:
        self._store = store
        self._batch_size = batch_size
        self._report = report
        self._events: list[Event] = []
        self._writes: deque[tuple[asyncio.Task[None], set[bytes]]] = deque()
        self._chain = WriteChain()
        self._batches = 0

    def add(self, source: str, line: Line) -> bool:
        """Parse one line; return True when a batch is full and should be flushed."""
        report = self._report
        report.lines_read += 1
        raw = line.raw
        if raw is None:
            report.reject(source, line.number, "line_too_long")
            return False
        if not raw or raw.isspace():
            report.blank_lines += 1
            return False
        try:
            self._events.append(parse_line(raw))
        except LineRejected as exc:
            report.reject(source, line.number, exc.reason, exc.detail)
            return False
        return len(self._events) >= self._batch_size

    async def flush(self, offset: ReadOffset | None = None) -> None:
        """Queue what was parsed for writing, once there is room in the queue.

        The batch is prepared (serialised, profiled) before waiting, so that
        CPU work overlaps the writes in flight.
        """
        await self.reap()
        events, self._events = self._events, []
        self._batches += 1
        if self._batches % COLLECT_EVERY_BATCHES == 0 and not gc.isenabled():
            gc.collect()  # automatic collection is off while ingesting: see ingest_tuning
        prepared, fresh_keys = None, set()
        if events:
            keys = [e.key for e in events]
            known = self._store.known_keys(keys)
            for _, queued in self._writes:
                known.update(queued.intersection(keys))
            fresh = [e for e in events if e.key not in known] if known else events
            prepared = self._store.prepare_batch(fresh)
            fresh_keys = set(keys).difference(known)
        while len(self._writes) >= WRITES_IN_FLIGHT:
            await self._wait_oldest()
        if prepared is not None or offset is not None:
            task = asyncio.create_task(self._write(prepared, len(events), offset))
            self._writes.append((task, fresh_keys))
            await asyncio.sleep(0)  # let the task hand the batch to the writer thread now

    async def reap(self) -> None:
        """Let go of finished writes without waiting for the others; re-raise a failure.

        Called at every flush (an idle poll of ``--follow`` drains), so a
        failed write stops the ingest at once rather than when the queue fills.
        """
        while self._writes and self._writes[0][0].done():
            await self._wait_oldest()

    async def drain(self) -> None:
        """Wait for every write in flight, re-raising the first error."""
        while self._writes:
            await self._wait_oldest()

    async def _wait_oldest(self) -> None:
        task, _ = self._writes.popleft()
        try:
            await task
        except BaseException:
            rest = [queued for queued, _ in self._writes]  # the chain stops them committing
            self._writes.clear()
            for queued in rest:
                queued.cancel()
            await asyncio.gather(*rest, return_exceptions=True)
            raise

    async def _write(self, prepared: PreparedBatch | None, parsed: int,
                     offset: ReadOffset | None) -> None:
        if prepared is None:  # nothing parsed, but a follow offset to commit
            prepared = self._store.prepare_batch([])
        stored = await self._store.write_prepared(prepared, offset, self._chain)
        self._report.events_parsed += parsed  # in-batch duplicates included
        self._report.events_stored += stored


#: GIL switch interval while ingesting, in seconds. The store's writer thread
#: needs the GIL back after every SQLite statement; at CPython's default 5 ms
#: it waits that long behind the parser each time, which made the writer, not
#: parsing, the bottleneck (bench: ~85k → ~120k events/s on 2 cores).
_INGEST_SWITCH_INTERVAL_S = 0.0002
#: Batches between the explicit garbage collections of an ingest (see `ingest_tuning`).
COLLECT_EVERY_BATCHES = 20


@contextlib.contextmanager
def ingest_tuning() -> Iterator[None]:
    """Tune the interpreter for the duration of an ingest; restore it afterwards.

    - A short GIL switch interval, so the writer thread gets the GIL promptly.
    - No automatic garbage collection. A batch in flight is ~100k container
      objects that outlive the young generations, so the collector kept
      promoting them and re-scanning the whole heap: about a tenth of the
      parser thread's time (bench/ingest.py: ~20.5 s → ~18.3 s per 1M lines).
      Parsed events hold no reference cycles; the few that asyncio makes per
      batch are collected every `COLLECT_EVERY_BATCHES` batches by `_Batcher`,
      and what exists at the start is frozen so those collections skip it.
    """
    previous = sys.getswitchinterval()
    outermost = gc.isenabled()  # nested (or GC already off): leave the collector alone
    sys.setswitchinterval(_INGEST_SWITCH_INTERVAL_S)
    if outermost:
        gc.disable()
        gc.freeze()
    try:
        yield
    finally:
        if outermost:
            gc.unfreeze()
            gc.enable()
        sys.setswitchinterval(previous)


async def ingest_sources(store: Store, sources: Iterable[str], *, batch_size: int,
                         max_line_bytes: int, stop: asyncio.Event | None = None,
                         report: IngestReport | None = None) -> IngestReport:
    """Ingest whole sources (files, ``.gz`` files, ``-``) once, in order.

    A source that fails mid-way is recorded in `IngestReport.source_errors`;
    what was read from it before the failure is kept and the other sources
    still run. Once ``stop`` is set (SIGINT/SIGTERM in the CLI), reading ends
    within a batch or `_STDIN_POLL_S`, what was read is written, and the
    report says ``interrupted``.
    """
    report = report if report is not None else IngestReport()  # given: a caller watches it
    started = time.perf_counter()
    batcher = _Batcher(store, batch_size, report)
    with ingest_tuning():
        await _ingest_each(batcher, report, sources, max_line_bytes, stop or asyncio.Event())
    await store.catch_up()  # the rest of the derived data, so reads after it see everything
    report.elapsed_s = time.perf_counter() - started
    return report


#: How often a stdin ingest waiting for input looks at its stop event, seconds.
_STDIN_POLL_S = 0.2
#: A stdin ingest stores what it has at least this often, however slow the writer.
_STDIN_FLUSH_S = 1.0
#: Lines after which the stdin reader thread wakes the event loop.
_STDIN_CHUNK = 1000
#: Lines read ahead of the event loop at most (then the reader thread waits).
_STDIN_BACKLOG = 8 * _STDIN_CHUNK


async def _ingest_each(batcher: _Batcher, report: IngestReport, sources: Iterable[str],
                       max_line_bytes: int, stop: asyncio.Event) -> None:
    for name in sources:
        if stop.is_set():
            break
        try:
            stream = open_source(name)
            try:
                if name == STDIN_NAME:
                    await _ingest_stdin(batcher, stream, max_line_bytes, stop)
                else:
                    for line in iter_lines(stream, max_line_bytes):
                        if batcher.add(name, line):
                            await batcher.flush()
                            if stop.is_set():
                                break
            finally:
                if name != STDIN_NAME:
                    stream.close()
        except (OSError, EOFError) as exc:  # includes SourceError and corrupt gzip
            report.source_errors.append(str(exc) if isinstance(exc, SourceError)
                                        else f"{name}: {exc}")
        await batcher.flush()
    report.interrupted = stop.is_set()
    await batcher.drain()


async def _ingest_stdin(batcher: _Batcher, stream: BinaryIO, max_line_bytes: int,
                        stop: asyncio.Event) -> None:
    """Standard input is read on a thread of its own, so a signal is seen at once.

    A blocking read on the event loop's thread would hold the loop until
    input arrived: SIGINT went unanswered for as long as the writer was quiet.
    The thread hands lines over in chunks; when input goes quiet, the loop
    takes what has arrived after `_STDIN_POLL_S`, so nothing waits for a full
    chunk. The thread is a daemon: a stopped ingest leaves it blocked in ``read``.
    """
    handoff = _LineHandoff(asyncio.get_running_loop())
    threading.Thread(target=handoff.read_all, args=(_private_reader(stream), max_line_bytes),
                     name="stdin-reader", daemon=True).start()
    flushed = time.monotonic()
    while True:
        if not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(handoff.ready.wait(), _STDIN_POLL_S)
        handoff.ready.clear()
        lines, finished = handoff.take()
        for line in lines:
            if batcher.add(STDIN_NAME, line):
                await batcher.flush()
                flushed = time.monotonic()
        if finished:
            handoff.raise_error()  # what was read before a read error is kept
            return
        if stop.is_set():
            return  # what the reader had handed over was taken above
        if time.monotonic() - flushed >= _STDIN_FLUSH_S:
            await batcher.flush()  # a slow writer: store what came so far
            flushed = time.monotonic()


def _private_reader(stream: BinaryIO) -> BinaryIO:
    """A reader of stdin's file descriptor that only the reader thread uses.

    If the thread blocked inside ``sys.stdin.buffer`` when an interrupted
    ingest exits, the interpreter's shutdown would wait for that object's lock
    and abort ("could not acquire lock … at interpreter shutdown").
    """
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):
        return stream  # not a real file (tests): nothing at shutdown touches it
    return open(fd, "rb", closefd=False)  # noqa: SIM115 - lives as long as the daemon thread


class _LineHandoff:
    """Lines from the reader thread to the event loop, at most `_STDIN_BACKLOG` waiting."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._room = threading.Condition()
        self._lines: list[Line] = []
        self._finished = False
        self._error: BaseException | None = None
        self.ready = asyncio.Event()

    def read_all(self, stream: BinaryIO, max_line_bytes: int) -> None:
        try:
            for line in iter_lines(stream, max_line_bytes):
                with self._room:
                    while len(self._lines) >= _STDIN_BACKLOG:
                        self._room.wait()
                    self._lines.append(line)
                    full = len(self._lines) % _STDIN_CHUNK == 0
                if full:
                    self._wake()
        except BaseException as exc:  # noqa: BLE001 - handed to the loop, raised there
            self._error = exc
        with self._room:
            self._finished = True
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
            self._loop.call_soon_threadsafe(self.ready.set)

    def take(self) -> tuple[list[Line], bool]:
        """The lines read so far, and whether the stream ended with them."""
        with self._room:
            lines, self._lines = self._lines, []
            finished = self._finished
            self._room.notify_all()
        return lines, finished

    def raise_error(self) -> None:
        """Re-raise, on the loop, what ended the reader thread (a read error)."""
        if self._error is not None:
            raise self._error


async def follow_source(store: Store, name: str, *, batch_size: int, max_line_bytes: int,
                        poll_interval_s: float, stop: asyncio.Event,
                        report: IngestReport | None = None) -> IngestReport:
    """Tail one growing file until ``stop`` is set, resuming from the saved offset.

    The read offset is committed with each batch, so after a crash or restart
    reading resumes exactly after the last stored line. A ``report`` given is
    updated as lines are read and stored, so a caller can watch it meanwhile.
    """
    path = Path(name)
    source_key = str(path.resolve())
    report = report if report is not None else IngestReport()
    started = time.perf_counter()
    batcher = _Batcher(store, batch_size, report)
    saved = await store.read_offset(source_key)
    device, inode = file_identity(path)
    start_pos, start_line = 0, 1
    if saved and (saved.device, saved.inode) == (device, inode) and \
            path.stat().st_size >= saved.byte_pos:
        start_pos, start_line = saved.byte_pos, saved.line_no + 1
    last: Line | None = None
    async for line in follow_lines(path, max_line_bytes, start_pos=start_pos,
                                   start_line_no=start_line, poll_interval_s=poll_interval_s,
                                   stop=stop):
        if line is not None:
            last = line
            report.caught_up = False
            if batcher.add(name, line):  # a batch is full
                await batcher.flush(_offset_after(source_key, last))
                last = None
            continue
        # caught up with the file: store what is held, wait for every write (a failed one
        # raises now) and derive what a quiet file wrote, not 50k events later
        flushed = last is not None
        if last is not None:
            await batcher.flush(_offset_after(source_key, last))
            last = None
        await batcher.drain()
        if flushed:
            await store.catch_up()
        report.caught_up = True
    if last is not None:
        await batcher.flush(_offset_after(source_key, last))
    await batcher.drain()
    await store.catch_up()
    report.elapsed_s = time.perf_counter() - started
    return report


def _offset_after(source_key: str, line: Line) -> ReadOffset:
    assert line.file_id is not None, "followed lines carry their file identity"
    device, inode = line.file_id
    return ReadOffset(source_key, device, inode, line.end_pos, line.number)
