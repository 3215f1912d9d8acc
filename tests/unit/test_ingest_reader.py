"""Bounded line reading: line breaks, overlong lines in bounded memory, sources, follow mode."""

from __future__ import annotations

import asyncio
import gzip
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO, cast

import pytest

from node.event import LineRejected
from node.ingest import parse_line
from node.ingest.reader import (
    Line,
    SourceError,
    check_readable,
    file_identity,
    follow_lines,
    iter_lines,
    open_source,
)

TEN_MIB = 10 * 1024 * 1024
GOOD = (b'<134>1 2026-03-02T08:14:05.120334+00:00 mail-01 smtp - rcpt_to '
        b'[relay@55555 src="198.51.100.23" value="<jane@victim-co.com>"]')


class LazyStream:
    """A binary stream of literal parts and long runs of one byte, never materialising a run.

    Records the largest size any ``readline`` asked for and returned, so tests can
    assert structurally that the reader never holds a long line in memory.
    """

    def __init__(self, *parts: bytes | tuple[bytes, int]) -> None:
        self._parts: list[bytes | tuple[bytes, int]] = [p for p in parts if p]
        self.largest_request = 0
        self.largest_chunk = 0
        self.bytes_served = 0

    def read1(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes, across line breaks (what a buffered reader asks for)."""
        return self._serve(size, to_newline=False)

    def readline(self, size: int = -1) -> bytes:
        return self._serve(size, to_newline=True)

    def _serve(self, size: int | None, *, to_newline: bool) -> bytes:
        if size is None or size < 0:
            raise AssertionError("unbounded read: a long line would be read whole")
        self.largest_request = max(self.largest_request, size)
        out = bytearray()
        while self._parts and len(out) < size:
            part = self._parts[0]
            room = size - len(out)
            if isinstance(part, tuple):
                byte, count = part
                taken = min(room, count)
                out += byte * taken
                if taken == count:
                    self._parts.pop(0)
                else:
                    self._parts[0] = (byte, count - taken)
                continue
            newline = part.find(b"\n") if to_newline else -1
            end = len(part) if newline < 0 else newline + 1
            taken = min(room, end)
            out += part[:taken]
            if part[taken:]:
                self._parts[0] = part[taken:]
            else:
                self._parts.pop(0)
            if newline >= 0 and taken == end:
                break
        self.largest_chunk = max(self.largest_chunk, len(out))
        self.bytes_served += len(out)
        return bytes(out)


def _lines(data: bytes, max_line_bytes: int = 1024, first_line_no: int = 1) -> list[Line]:
    return list(iter_lines(io.BytesIO(data), max_line_bytes, first_line_no))


def _raws(data: bytes, max_line_bytes: int = 1024) -> list[bytes | None]:
    return [line.raw for line in _lines(data, max_line_bytes)]


def test_lines_are_numbered_and_stripped_of_their_line_breaks() -> None:
    lines = _lines(b"one\ntwo\r\nthree\n")
    assert [(line.number, line.raw) for line in lines] == [(1, b"one"), (2, b"two"), (3, b"three")]
    assert [line.end_pos for line in lines] == [4, 9, 15]
    assert all(line.file_id is None for line in lines)


def test_last_line_without_a_line_break_is_still_read() -> None:
    assert _raws(b"one\ntwo") == [b"one", b"two"]
    assert _raws(b"one\ntwo\r") == [b"one", b"two"]
    assert _lines(b"one\ntwo")[-1].end_pos == 7


def test_blank_lines_are_kept_as_empty_lines() -> None:
    assert _raws(b"\n\r\nx\n\n") == [b"", b"", b"x", b""]


def test_empty_stream_has_no_lines() -> None:
    assert _lines(b"") == []


def test_numbering_can_start_at_a_resume_point() -> None:
    assert [line.number for line in _lines(b"a\nb\n", first_line_no=41)] == [41, 42]


def test_bare_carriage_returns_inside_a_line_are_kept() -> None:
    assert _raws(b"a\rb\nc\r\r\n") == [b"a\rb", b"c"]


def test_line_of_exactly_the_limit_is_kept_and_one_byte_more_is_overlong() -> None:
    assert _raws(b"x" * 16 + b"\n" + b"y" * 17 + b"\n" + b"z\n", 16) == [b"x" * 16, None, b"z"]
    assert _raws(b"x" * 16, 16) == [b"x" * 16]
    assert _raws(b"x" * 17, 16) == [None]


def test_crlf_line_of_exactly_the_limit_is_kept() -> None:
    assert _raws(b"x" * 16 + b"\r\n" + b"z\r\n", 16) == [b"x" * 16, b"z"]
    assert _raws(b"x" * 16 + b"\r", 16) == [b"x" * 16]
    assert _raws(b"x" * 17 + b"\r\n" + b"z\r\n", 16) == [None, b"z"]


def test_overlong_line_is_rejected_without_losing_the_next_line() -> None:
    stream = LazyStream(GOOD + b"\n", (b"A", TEN_MIB), b"\n", GOOD + b"\r\n", b"tail")
    lines = list(iter_lines(cast(BinaryIO, stream), 4096))
    assert [line.raw for line in lines] == [GOOD, None, GOOD, b"tail"]
    assert [line.number for line in lines] == [1, 2, 3, 4]
    assert lines[1].end_pos == len(GOOD) + 1 + TEN_MIB + 1
    assert lines[-1].end_pos == stream.bytes_served == 2 * len(GOOD) + 3 + TEN_MIB + 1 + 4
    # memory stays bounded: no read ever asked for or returned more than a skip chunk
    assert stream.largest_request <= 64 * 1024
    assert stream.largest_chunk <= 64 * 1024
    assert parse_line(cast(bytes, lines[2].raw)).src_ip == "198.51.100.23"


def test_overlong_last_line_without_a_line_break_is_one_rejected_line() -> None:
    stream = LazyStream(b"ok\n", (b"B", TEN_MIB))
    lines = list(iter_lines(cast(BinaryIO, stream), 256))
    assert [line.raw for line in lines] == [b"ok", None]
    assert lines[-1].end_pos == 3 + TEN_MIB
    assert stream.largest_chunk <= 64 * 1024


def test_consecutive_overlong_lines_are_each_reported_once() -> None:
    stream = LazyStream((b"C", 200_000), b"\n", (b"D", 300), b"\n", b"\n", b"ok\n")
    assert [line.raw for line in iter_lines(cast(BinaryIO, stream), 256)] == [
        None, None, b"", b"ok"]


def test_overlong_line_in_a_real_file_does_not_lose_neighbours(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    with path.open("wb") as out:
        out.write(GOOD + b"\n")
        out.write(b"\x00" * TEN_MIB + b"\n")
        out.write(GOOD + b"\n")
    with open_source(str(path)) as stream:
        raws = [line.raw for line in iter_lines(stream, 65536)]
    assert raws == [GOOD, None, GOOD]


def test_gzip_sources_are_decompressed(tmp_path: Path) -> None:
    path = tmp_path / "syslog.1.gz"
    with gzip.open(path, "wb") as out:
        out.write(GOOD + b"\n" + b"x" * 5000 + b"\n" + GOOD)
    with open_source(str(path)) as stream:
        assert [line.raw for line in iter_lines(stream, 4096)] == [GOOD, None, GOOD]


def test_stdin_name_opens_standard_input() -> None:
    import sys

    assert open_source("-") is sys.stdin.buffer
    check_readable("-")  # does not raise


def test_missing_file_and_directory_are_source_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        check_readable(str(tmp_path / "absent.log"))
    with pytest.raises(SourceError, match="is a directory"):
        check_readable(str(tmp_path))
    with pytest.raises(SourceError):
        open_source(str(tmp_path / "absent.log"))
    with pytest.raises(SourceError):
        open_source(str(tmp_path / "absent.log.gz"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_unreadable_file_is_a_source_error(tmp_path: Path) -> None:
    path = tmp_path / "secret.log"
    path.write_bytes(b"x\n")
    path.chmod(0)
    with pytest.raises(SourceError, match="permission denied"):
        check_readable(str(path))


def test_lines_read_then_parsed_reject_bad_input_with_reasons() -> None:
    data = b"\n".join([GOOD, b"\xff\xfe<junk", b"<134>1 trunc", GOOD.replace(b"jane", b"j\x00")])
    reasons: list[str | None] = []
    for line in _lines(data):
        assert line.raw is not None
        try:
            parse_line(line.raw)
            reasons.append(None)
        except LineRejected as exc:
            reasons.append(exc.reason)
    assert reasons == [None, "unknown_format", "bad_syslog_header", "nul_byte"]


# --- follow mode -------------------------------------------------------------------------


async def _until_idle(items: AsyncIterator[Line | None]) -> list[bytes | None]:
    """Lines up to the next idle marker (``None`` item)."""
    out: list[bytes | None] = []
    async for item in items:
        if item is None:
            return out
        out.append(item.raw)
    return out


def _follow(path: Path, stop: asyncio.Event, max_line_bytes: int = 1024,
            start_pos: int = 0, start_line_no: int = 1) -> AsyncIterator[Line | None]:
    return follow_lines(path, max_line_bytes, start_pos=start_pos, start_line_no=start_line_no,
                        poll_interval_s=0.01, stop=stop)


async def test_follow_yields_complete_lines_then_new_ones_as_they_arrive(tmp_path: Path) -> None:
    path = tmp_path / "live.log"
    path.write_bytes(b"one\ntwo\npar")
    stop = asyncio.Event()
    lines = _follow(path, stop)
    assert await _until_idle(lines) == [b"one", b"two"]  # the partial line waits
    with path.open("ab") as out:
        out.write(b"tial\r\nthree\n")
    assert await _until_idle(lines) == [b"partial", b"three"]
    stop.set()
    assert [item async for item in lines] == []


async def test_follow_reports_line_numbers_positions_and_file_identity(tmp_path: Path) -> None:
    path = tmp_path / "live.log"
    path.write_bytes(b"a\nbb\n")
    stop = asyncio.Event()
    seen: list[Line] = []
    async for item in _follow(path, stop, start_pos=2, start_line_no=7):
        if item is None:
            stop.set()
            continue
        seen.append(item)
    assert [(line.number, line.raw, line.end_pos) for line in seen] == [(7, b"bb", 5)]
    assert seen[0].file_id == file_identity(path)


async def test_follow_skips_an_overlong_line_without_losing_the_next(tmp_path: Path) -> None:
    path = tmp_path / "live.log"
    path.write_bytes(b"ok\n" + b"L" * 5000)
    stop = asyncio.Event()
    lines = _follow(path, stop, max_line_bytes=64)
    assert await _until_idle(lines) == [b"ok"]
    with path.open("ab") as out:
        out.write(b"L" * 5000 + b"\n" + b"good\n")
    assert await _until_idle(lines) == [None, b"good"]
    stop.set()
    assert [item async for item in lines] == []


async def test_follow_crlf_line_of_exactly_the_limit_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "live.log"
    path.write_bytes(b"x" * 64 + b"\r\n" + b"y" * 65 + b"\r\nz\n")
    stop = asyncio.Event()
    lines = _follow(path, stop, max_line_bytes=64)
    assert await _until_idle(lines) == [b"x" * 64, None, b"z"]
    stop.set()
    assert [item async for item in lines] == []


async def test_follow_restarts_from_the_top_of_a_rotated_file(tmp_path: Path) -> None:
    path = tmp_path / "live.log"
    path.write_bytes(b"old-1\nold-2\n")
    stop = asyncio.Event()
    lines = _follow(path, stop)
    assert await _until_idle(lines) == [b"old-1", b"old-2"]
    path.rename(tmp_path / "live.log.1")
    path.write_bytes(b"new-1\n")
    # the first idle pass notices the new file; the next lines come from its start
    collected = await _until_idle(lines) + await _until_idle(lines)
    assert collected == [b"new-1"]
    stop.set()
    assert [item async for item in lines] == []


async def test_follow_restarts_when_the_file_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "live.log"
    path.write_bytes(b"first line\nsecond line\n")
    stop = asyncio.Event()
    lines = _follow(path, stop)
    assert await _until_idle(lines) == [b"first line", b"second line"]
    with path.open("r+b") as out:
        out.truncate(0)
        out.write(b"again\n")
    collected = await _until_idle(lines) + await _until_idle(lines)
    assert collected == [b"again"]
    stop.set()
    assert [item async for item in lines] == []


async def test_follow_of_a_missing_file_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError):
        await anext(_follow(tmp_path / "absent.log", asyncio.Event()))


async def test_follow_reads_lines_written_just_before_rotation(tmp_path: Path) -> None:
    path = tmp_path / "live.log"
    path.write_bytes(b"old-1\n")
    stop = asyncio.Event()
    lines = _follow(path, stop)
    assert await _until_idle(lines) == [b"old-1"]
    with path.open("ab") as out:  # the writer's last lines, then logrotate moves the file
        out.write(b"old-2\nold-3\n")
    path.rename(tmp_path / "live.log.1")
    path.write_bytes(b"new-1\n")
    collected = await _until_idle(lines) + await _until_idle(lines)
    assert collected == [b"old-2", b"old-3", b"new-1"]
    stop.set()
    assert [item async for item in lines] == []


def test_a_stray_carriage_return_before_a_long_first_line_does_not_make_a_cr_only_file() -> None:
    data = b"x" * 100 + b"\r" + b"y" * 70_000 + b"\n" + b"a\r\nb\r\n"
    assert _raws(data, 100_000) == [b"x" * 100 + b"\r" + b"y" * 70_000, b"a", b"b"]


def test_a_crlf_late_in_a_cr_only_file_is_one_line_break() -> None:
    lines = [b"%04d" % i + b"l" * 996 for i in range(80)]  # 80 KB of CR-only lines first
    data = b"\r".join(lines) + b"\r\nfour\r"
    assert _raws(data, 4096) == [*lines, b"four"]
