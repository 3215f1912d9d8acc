"""Bounded line reading from files, gzip files, standard input, and growing files.

A line longer than the limit is skipped in fixed-size chunks, so a 10 MiB line
never sits in memory whole; it is reported as one ``line_too_long`` line.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

_SKIP_CHUNK = 64 * 1024
STDIN_NAME = "-"


class SourceError(OSError):
    """A source that cannot be opened or read (missing, unreadable, corrupt gzip)."""


class Line(NamedTuple):
    """One physical line: ``raw`` without its line break, or ``None`` if too long.

    A NamedTuple: one is built per line read, and a frozen dataclass costs
    several times more to construct.
    """

    number: int
    raw: bytes | None
    end_pos: int  # byte offset just past this line (follow-mode resume point)
    file_id: tuple[int, int] | None = None  # (device, inode) when following a file


def check_readable(name: str) -> None:
    """Raise `SourceError` with a clear message unless ``name`` can be read."""
    if name == STDIN_NAME:
        return
    path = Path(name)
    if not path.exists():
        raise SourceError(f"{name}: no such file")
    if path.is_dir():
        raise SourceError(f"{name}: is a directory")
    if not os.access(path, os.R_OK):
        raise SourceError(f"{name}: permission denied")


def open_source(name: str) -> BinaryIO:
    """Open a source for binary reading: ``-`` is stdin, ``*.gz`` is decompressed."""
    if name == STDIN_NAME:
        return sys.stdin.buffer
    try:
        if name.endswith(".gz"):
            return gzip.open(name, "rb")  # type: ignore[return-value]
        return open(name, "rb", buffering=1 << 20)  # noqa: SIM115
    except OSError as exc:
        raise SourceError(f"{name}: {exc.strerror or exc}") from exc


#: Bytes looked at to tell a CR-only file (classic Mac line breaks) from the rest.
_SNIFF_BYTES = 64 * 1024


class _Sniffed(io.RawIOBase):
    """The bytes already read to sniff the line breaks, then the rest of the stream.

    With ``cr_only``, every CR (or a CRLF, should one appear later) becomes one
    LF. Byte offsets then count a CRLF as one byte; only `--follow` resumes
    from offsets, and it reads plain LF files.
    """

    def __init__(self, head: bytes, rest: BinaryIO, *, cr_only: bool) -> None:
        self._head = head
        self._rest = rest
        self._cr_only = cr_only
        self._after_cr = False  # the last block ended in CR: a LF starting the next is its pair

    def readable(self) -> bool:
        return True

    def _read(self, size: int) -> bytes:
        if self._head:
            data, self._head = self._head[:size], self._head[size:]
            return data
        rest = self._rest
        return rest.read1(size) if hasattr(rest, "read1") else rest.read(size)

    def readinto(self, buffer: Any) -> int:
        while True:
            data = self._read(len(buffer))
            if not data or not self._cr_only:
                break
            if self._after_cr and data.startswith(b"\n"):
                data = data[1:]
            self._after_cr = data.endswith(b"\r")
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if data:  # empty only when a block was the LF of a CRLF: read on
                break
        buffer[:len(data)] = data
        return len(data)


def _line_breaks_of(stream: BinaryIO) -> BinaryIO:
    """``stream`` re-read so that lines end at LF, or at CR in a CR-only stream.

    A CR-only stream (classic Mac line breaks) is one whose first bytes hold
    CRs and no LF; without this it would be one (rejected) line. Streams that
    mix lone CRs with LFs keep LF as their line break. Reads at most one
    buffer's worth at a time, so a slow pipe is not waited on for more.
    """
    peek = getattr(stream, "peek", None)
    if peek is not None and b"\n" in peek(_SNIFF_BYTES)[:_SNIFF_BYTES]:
        return stream  # the common case, decided without re-reading a byte
    read = stream.read1 if hasattr(stream, "read1") else stream.read
    head = b""
    while len(head) < _SNIFF_BYTES and b"\n" not in head:
        more = read(_SNIFF_BYTES - len(head))
        if not more:
            break
        head += more
    cr_only = head.count(b"\r") >= 2 and b"\n" not in head  # one stray CR is not a format
    return io.BufferedReader(_Sniffed(head, stream, cr_only=cr_only), _SKIP_CHUNK)


def iter_lines(stream: BinaryIO, max_line_bytes: int, first_line_no: int = 1) -> Iterator[Line]:
    """Yield every line of ``stream``; `Line.raw` is ``None`` for overlong lines.

    Lines end at LF (a CR before it is dropped), or at CR in a CR-only file.
    """
    readline = _line_breaks_of(stream).readline
    number = first_line_no - 1
    pos = 0
    limit = max_line_bytes + 2  # room for a CRLF: the limit is on the line without its break
    while True:
        chunk = readline(limit)
        if not chunk:
            return
        number += 1
        pos += len(chunk)
        if chunk[-1:] == b"\n":
            raw = chunk.rstrip(b"\r\n")
        elif len(chunk) < limit:  # last line without a line break
            raw = chunk.rstrip(b"\r")
        else:
            pos += _skip_rest_of_line(readline)
            yield Line(number, None, pos)
            continue
        yield Line(number, raw if len(raw) <= max_line_bytes else None, pos)


def _skip_rest_of_line(readline: object) -> int:
    skipped = 0
    while True:
        rest = readline(_SKIP_CHUNK)  # type: ignore[operator]
        skipped += len(rest)
        if not rest or rest[-1:] == b"\n":
            return skipped


async def follow_lines(
    path: Path,
    max_line_bytes: int,
    *,
    start_pos: int,
    start_line_no: int,
    poll_interval_s: float,
    stop: asyncio.Event,
) -> AsyncIterator[Line | None]:
    """Tail a growing file from ``start_pos``; yield lines, and ``None`` when idle.

    Only complete lines are yielded: a trailing partial line is re-read once
    its line break arrives. When the file is replaced (new inode) or truncated
    below the read position, reading restarts at its beginning; a replaced
    file's last complete lines are read first. The ``None``
    items tell the caller it has caught up, so it can flush what it holds.
    """
    stream, file_id = _open_at(path, start_pos)
    pos, number = start_pos, start_line_no - 1
    limit = max_line_bytes + 2  # room for a CRLF, as in `iter_lines`
    skipping = draining = False
    try:
        while not stop.is_set():
            chunk = stream.readline(limit)
            if chunk and chunk[-1:] == b"\n":
                pos += len(chunk)
                if skipping:
                    skipping = False
                    number += 1
                    yield Line(number, None, pos, file_id)
                    continue
                number += 1
                raw = chunk.rstrip(b"\r\n")
                yield Line(number, raw if len(raw) <= max_line_bytes else None, pos, file_id)
                continue
            if len(chunk) >= limit:  # an overlong line: drop what we have, keep skipping
                pos += len(chunk)
                skipping = True
                continue
            stream.seek(pos)  # partial line: wait for the rest
            if not draining:
                yield None
                if not _replaced(path, file_id, pos):
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=poll_interval_s)
                    except TimeoutError:
                        pass
                    continue
                if os.fstat(stream.fileno()).st_size > pos:
                    draining = True  # lines written just before rotation: read them first
                    continue
            stream.close()
            stream, file_id = _open_at(path, 0)
            pos, number, skipping, draining = 0, 0, False, False
    finally:
        stream.close()


def file_identity(path: Path) -> tuple[int, int]:
    """(device, inode) of a file, which tells a rotated file from the one we read."""
    info = path.stat()
    return info.st_dev, info.st_ino


def _open_at(path: Path, pos: int) -> tuple[BinaryIO, tuple[int, int]]:
    try:
        stream = open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise SourceError(f"{path}: {exc.strerror or exc}") from exc
    stream.seek(pos)
    info = os.fstat(stream.fileno())
    return stream, (info.st_dev, info.st_ino)


def _replaced(path: Path, file_id: tuple[int, int], pos: int) -> bool:
    try:
        info = path.stat()
    except FileNotFoundError:
        return False  # rotated away and not yet recreated: keep the old handle
    return (info.st_dev, info.st_ino) != file_id or info.st_size < pos
