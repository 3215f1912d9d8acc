"""The derived-data mechanism: marks, steps, order between stages, crashes, the change feed."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from node.event import Event
from node.ingest.detect import parse_line
from node.profile.profiler import Profiler
from node.profile.stages import PROFILE_STAGES, keystroke_changes
from node.store import Store
from node.store.derive import Deriver, Span, reset_marks
from node.store.observations import changed_observations


def mail(second: int, ip: str) -> Event:
    return parse_line(f'<134>1 2026-03-02T08:14:{second:02d}+00:00 mail-01 smtp - rcpt_to'
                      f' [relay@55555 src="{ip}" value="<a@v.com>"]'.encode())


@dataclass
class Recording:
    """A stage that remembers its spans; ``fail_at`` makes the catch-up reaching it raise."""

    name: str
    after: tuple[str, ...] = ()
    step: int = 1000
    spans: list[Span] = field(default_factory=list)
    fail_at: int | None = None
    reach: int | None = None  # a mark to report instead of span.end

    def behind(self, conn: sqlite3.Connection, lag: int) -> int:
        return lag

    def catch_up(self, conn: sqlite3.Connection, span: Span) -> int:
        conn.execute("INSERT INTO meta (name, value) VALUES (?, ?)"
                     " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                     (self.name, str(span.end)))
        if self.fail_at is not None and span.start < self.fail_at <= span.end:
            raise RuntimeError("the stage crashed")
        self.spans.append(span)
        return span.end if self.reach is None else self.reach


@dataclass
class FeedReader:
    """A stage downstream of the keystrokes that consumes the change feed, like clustering."""

    name: str = "feed"
    after: tuple[str, ...] = ("observation_sets", "keystrokes")
    step: int = 50_000
    seen: list[list[int]] = field(default_factory=list)

    def behind(self, conn: sqlite3.Connection, lag: int) -> int:
        return lag

    def catch_up(self, conn: sqlite3.Connection, span: Span) -> int:
        self.seen.append(sorted({*changed_observations(conn, span),
                                 *keystroke_changes(conn, span)}))
        return span.end


@pytest.fixture
async def path(tmp_path: Path) -> AsyncIterator[Path]:
    yield tmp_path / "node.db"


def test_a_stage_must_come_after_the_stages_it_reads() -> None:
    with pytest.raises(ValueError, match="listed before it"):
        Deriver([Recording("b", after=("a",)), Recording("a")])
    with pytest.raises(ValueError, match="repeat"):
        Deriver([Recording("a"), Recording("a")])


async def test_a_stage_never_passes_the_stage_it_reads(path: Path) -> None:
    upstream, downstream = Recording("up", step=2), Recording("down", after=("up",), step=10)
    store = await Store.open(path, stages=[upstream, downstream])
    try:
        await store.write_batch([mail(n, "192.0.2.1") for n in range(5)])
        assert upstream.spans == [Span(0, 2, 5)]  # due in the writer; down is not
        assert downstream.spans == []
        await store.catch_up()
        assert upstream.spans[1:] == [Span(2, 4, 5), Span(4, 5, 5)]
        assert downstream.spans == [Span(0, 4, 4), Span(4, 5, 5)]  # limited by up's mark
    finally:
        await store.close()


async def test_a_crashed_step_leaves_the_mark_and_its_work_where_they_were(path: Path) -> None:
    stage = Recording("flaky", step=3, fail_at=5)
    store = await Store.open(path, stages=[stage])
    try:
        await store.write_batch([mail(n, "192.0.2.1") for n in range(7)])
        assert stage.spans == [Span(0, 3, 7)]  # the writer's step; its batch committed
        with pytest.raises(RuntimeError, match="crashed"):
            await store.catch_up()
        assert (await store.lags())["flaky"] == 4
        assert await store.fetch("SELECT value FROM meta WHERE name = 'flaky'") == [("3",)]
        stage.fail_at = None
        await store.catch_up()  # redoes the step that failed, then finishes
        assert stage.spans[1:] == [Span(3, 6, 7), Span(6, 7, 7)]
        assert await store.fetch("SELECT value FROM meta WHERE name = 'flaky'") == [("7",)]
    finally:
        await store.close()


async def test_a_stage_claiming_a_mark_it_cannot_have_reached_is_refused(path: Path) -> None:
    stage = Recording("liar", reach=99)
    store = await Store.open(path, stages=[stage])
    try:
        await store.write_batch([mail(1, "192.0.2.1")])
        with pytest.raises(RuntimeError, match="outside"):
            await store.catch_up()
        assert (await store.lags())["liar"] == 1
    finally:
        await store.close()


async def test_a_reset_stage_derives_everything_again(path: Path) -> None:
    stage = Recording("again")
    store = await Store.open(path, stages=[stage])
    try:
        await store.write_batch([mail(n, "192.0.2.1") for n in range(3)])
        await store.catch_up()
        await store.write_job(lambda conn: reset_marks(conn, ["again"]))
        assert (await store.lags())["again"] == 3
        await store.catch_up()
        assert stage.spans == [Span(0, 3, 3), Span(0, 3, 3)]
    finally:
        await store.close()


def _chunks(sid: str, text: str, start: float) -> list[Event]:
    return [parse_line(json.dumps({"sid": sid, "t": start + i * 0.11, "ch": "i",
                                   "d": ch}).encode()) for i, ch in enumerate(text)]


def _recorded(sid: str, ip: str) -> Event:
    return parse_line(f'<134>1 2026-03-02T09:12:00+00:00 web-02 sessrec - session_recorded'
                      f' [relay@55555 sid="{sid}" service="ssh" src_ip="{ip}"'
                      f' duration_s="4"]'.encode())


async def test_the_change_feed_names_only_the_observations_that_changed(path: Path) -> None:
    feed = FeedReader()
    store = await Store.open(path, profilers=[Profiler()], stages=[*PROFILE_STAGES, feed])
    try:
        await store.write_batch([mail(1, "192.0.2.1"), mail(2, "192.0.2.2"),
                                 _recorded("s1", "192.0.2.3")])
        await store.catch_up()
        ids = {row.ip: row.id for row in await store.observations()}
        assert feed.seen == [sorted(ids.values())]

        await store.write_batch([mail(3, "192.0.2.2")])  # a small ingest: one attacker
        await store.catch_up()
        assert feed.seen[1:] == [[ids["192.0.2.2"]]]

        # keystrokes of 192.0.2.3's session arrive later, in events without its address
        await store.write_batch(_chunks("s1", "cat /etc/passwd; uname -a\r", 1.0))
        await store.catch_up()
        assert feed.seen[2:] == [[ids["192.0.2.3"]]]
        assert {row.ip: row.id for row in await store.observations()} == ids  # ids are stable
    finally:
        await store.close()
