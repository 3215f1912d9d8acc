"""The store's batch write path: exactly-once events and profiles, whatever the batch mixes."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from node.errors import StoreFull
from node.event import Event
from node.ingest.detect import parse_line
from node.ingest.pipeline import follow_source, ingest_sources
from node.profile.profiler import Profiler
from node.profile.stages import PROFILE_STAGES
from node.store import Store, WriteChain
from node.store.derive import Span
from node.store.writer import ChainBroken


def mail(second: int, ip: str, domain: str) -> Event:
    return parse_line(f'<134>1 2026-03-02T08:14:{second:02d}+00:00 mail-01 smtp - rcpt_to'
                      f' [relay@55555 src="{ip}" value="<a@{domain}>"]'.encode())


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "node.db", profilers=[Profiler()], stages=PROFILE_STAGES)
    yield opened
    await opened.close()


async def smtp_rows(store: Store) -> list[tuple[Any, ...]]:
    await store.catch_up()
    return await store.fetch("SELECT ip, domain, count FROM profile_smtp_targets ORDER BY 1, 2")


async def test_a_partly_known_batch_profiles_only_its_new_events(store: Store) -> None:
    first = [mail(1, "192.0.2.1", "a.com"), mail(2, "192.0.2.2", "b.com")]
    assert await store.write_batch(first) == 2

    mixed = [*first, mail(3, "192.0.2.1", "a.com"), mail(3, "192.0.2.1", "a.com")]
    assert await store.write_batch(mixed) == 1

    assert await smtp_rows(store) == [("192.0.2.1", "a.com", 2), ("192.0.2.2", "b.com", 1)]
    observation = {row.ip: row.event_count for row in await store.observations()}
    assert observation == {"192.0.2.1": 2, "192.0.2.2": 1}


async def test_known_keys_names_exactly_the_stored_ones(store: Store) -> None:
    stored, fresh = mail(1, "192.0.2.1", "a.com"), mail(2, "192.0.2.1", "a.com")
    await store.write_batch([stored])
    assert store.known_keys([fresh.key, stored.key, fresh.key]) == {stored.key}
    assert store.known_keys([]) == set()


async def test_preparing_a_batch_leaves_the_store_and_the_profiler_untouched(
        tmp_path: Path) -> None:
    profiler = Profiler()
    opened = await Store.open(tmp_path / "node.db", profilers=[profiler], stages=PROFILE_STAGES)
    try:
        prepared = opened.prepare_batch([mail(1, "192.0.2.1", "bad domain!"),
                                         mail(2, "192.0.2.1", "ok.com")])
        assert not profiler.rejections
        assert (await opened.counts()).events == 0
        assert await opened.write_prepared(prepared) == 2
        assert sum(profiler.rejections.values()) == 1
        assert await smtp_rows(opened) == [("192.0.2.1", "ok.com", 1)]
    finally:
        await opened.close()


class _FailingProfiler:
    """Fails the write of the batch holding ``poison`` (a disk-full stand-in)."""

    def __init__(self, poison: Event) -> None:
        self.poison = poison

    def prepare(self, events: Sequence[Event]) -> bool:
        return self.poison in events

    def accept(self, prepared: bool) -> list[tuple[str, Sequence[Any]]]:
        if prepared:
            raise sqlite3.OperationalError("database or disk is full")
        return []


async def test_writes_queued_behind_a_failed_one_are_not_committed(tmp_path: Path) -> None:
    events = [mail(n, "192.0.2.1", f"d{n}.com") for n in range(4)]
    opened = await Store.open(tmp_path / "node.db", profilers=[_FailingProfiler(events[1])])
    try:
        chain = WriteChain()
        writes = [asyncio.create_task(opened.write_prepared(opened.prepare_batch([e]),
                                                            chain=chain)) for e in events]
        results = await asyncio.gather(*writes, return_exceptions=True)
        assert results[0] == 1
        assert isinstance(results[1], StoreFull)
        assert all(isinstance(r, ChainBroken) for r in results[2:])
        assert (await opened.counts()).events == 1
        assert await opened.write_batch([events[3]]) == 1  # a new chain writes again
    finally:
        await opened.close()


async def test_an_ingest_stops_at_a_failed_write_and_keeps_what_came_before(
        tmp_path: Path) -> None:
    events = [mail(n, "192.0.2.1", f"d{n}.com") for n in range(8)]
    log = tmp_path / "mail.log"
    log.write_text("".join(f'<134>1 2026-03-02T08:14:{n:02d}+00:00 mail-01 smtp - rcpt_to'
                           f' [relay@55555 src="192.0.2.1" value="<a@d{n}.com>"]\n'
                           for n in range(8)))
    opened = await Store.open(tmp_path / "node.db", profilers=[_FailingProfiler(events[2])])
    try:
        with pytest.raises(StoreFull):
            await ingest_sources(opened, [str(log)], batch_size=1, max_line_bytes=4096)
        stored = await opened.fetch("SELECT fields ->> 'value' FROM events ORDER BY id")
        assert stored == [("<a@d0.com>",), ("<a@d1.com>",)]
    finally:
        await opened.close()


async def test_readers_see_derived_sets_as_of_the_mark_and_never_write(store: Store) -> None:
    await store.write_batch([mail(1, "192.0.2.1", "a.com"), mail(2, "192.0.2.2", "b.com")])
    version = await store.fetch("PRAGMA data_version")
    rows = {row.ip: (row.services, row.honeypots) for row in await store.observations()}
    assert rows == {"192.0.2.1": ((), ()), "192.0.2.2": ((), ())}  # a step not yet due
    lags = await store.lags()
    assert lags["observation_sets"] == lags["fold:profile_smtp_targets"] == 2
    assert lags["fold:profile_c2"] == 0  # no rows waiting in an empty journal
    assert await store.fetch("PRAGMA data_version") == version  # nothing was written
    await store.catch_up()
    rows = {row.ip: (row.services, row.honeypots) for row in await store.observations()}
    assert rows == {"192.0.2.1": (("smtp",), ("mail-01",)), "192.0.2.2": (("smtp",), ("mail-01",))}
    assert set((await store.lags()).values()) == {0}


@dataclass
class _Recording:
    """A derived stage that remembers the spans it was given."""

    name: str = "recording"
    after: tuple[str, ...] = ()
    step: int = 3
    spans: list[Span] = field(default_factory=list)

    def behind(self, conn: sqlite3.Connection, lag: int) -> int:
        return lag

    def catch_up(self, conn: sqlite3.Connection, span: Span) -> int:
        self.spans.append(span)
        return span.end


async def test_the_writer_derives_a_stage_once_it_is_a_step_behind(tmp_path: Path) -> None:
    stage = _Recording()
    opened = await Store.open(tmp_path / "node.db", stages=[stage])
    try:
        await opened.write_batch([mail(1, "192.0.2.1", "a.com"), mail(2, "192.0.2.2", "b.com")])
        assert stage.spans == []
        assert (await opened.lags())["recording"] == 2
        await opened.write_batch([mail(3, "192.0.2.3", "c.com")])  # the third event since the mark
        assert stage.spans == [Span(0, 3, 3)]
        for n in range(4, 12):
            await opened.write_batch([mail(n, "192.0.2.3", "c.com")])
        assert stage.spans[1:] == [Span(3, 6, 6), Span(6, 9, 9)]
        await opened.catch_up()  # the rest, however few
        assert stage.spans[3:] == [Span(9, 11, 11)]
        assert await opened.lags() == {"observation_sets": 0, "recording": 0}
    finally:
        await opened.close()


async def test_a_schema_v4_store_keeps_its_marks_and_gets_observation_ids(
        tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    opened = await Store.open(path)
    await opened.write_batch([mail(2, "192.0.2.2", "a.com"), mail(1, "192.0.2.1", "a.com")])
    await opened.catch_up()
    await opened.close()
    with sqlite3.connect(path) as conn:  # back to v4, as an older build left it
        conn.executescript("""
            DROP TABLE identities;
            DROP TABLE campaigns;
            DROP TABLE cluster_links;
            DROP INDEX profile_ipv6_leaks_by_iid;
            DROP TABLE derived_marks;
            CREATE TABLE store_marks (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            INSERT INTO store_marks VALUES ('observation_sets', 2);
            CREATE TABLE keystroke_dirty (sid TEXT PRIMARY KEY);
            DROP INDEX keystroke_simhashes_by_change;
            ALTER TABLE keystroke_simhashes DROP COLUMN changed;
            CREATE TABLE obs4 (ip TEXT PRIMARY KEY, first_seen_us INTEGER NOT NULL,
                last_seen_us INTEGER NOT NULL, event_count INTEGER NOT NULL) WITHOUT ROWID;
            INSERT INTO obs4 SELECT ip, first_seen_us, last_seen_us, event_count
                FROM observations;
            DROP TABLE observations;
            ALTER TABLE obs4 RENAME TO observations;
            PRAGMA user_version=4;
        """)
    conn.close()
    reopened = await Store.open(path)
    try:
        assert await reopened.fetch("SELECT stage, through FROM derived_marks ORDER BY 1") == \
            [("keystrokes", 2), ("observation_sets", 2)]
        rows = await reopened.observations()
        assert [(row.id, row.ip) for row in rows] == [(2, "192.0.2.2"), (1, "192.0.2.1")]
        assert rows[0].honeypots == ("mail-01",)
    finally:
        await reopened.close()


async def test_a_follower_stops_at_a_failed_write_without_waiting_for_more_lines(
        tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text('<134>1 2026-03-02T08:14:01+00:00 mail-01 smtp - rcpt_to'
                   ' [relay@55555 src="192.0.2.1" value="<a@d1.com>"]\n')
    opened = await Store.open(tmp_path / "node.db",
                              profilers=[_FailingProfiler(mail(1, "192.0.2.1", "d1.com"))])
    try:
        with pytest.raises(StoreFull):  # no more lines come, stop is never set
            await asyncio.wait_for(follow_source(
                opened, str(log), batch_size=100, max_line_bytes=4096, poll_interval_s=0.01,
                stop=asyncio.Event()), timeout=30)
        assert await opened.read_offset(str(log.resolve())) is None
    finally:
        await opened.close()
