"""The store's batch write path: exactly-once events and profiles, whatever the batch mixes."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from node.errors import StoreFull
from node.event import Event
from node.ingest.detect import parse_line
from node.ingest.pipeline import follow_source, ingest_sources
from node.profile.journal import fold_journals
from node.profile.profiler import Profiler
from node.store import Store, WriteChain
from node.store import writer as batch_writer
from node.store.writer import ChainBroken


def mail(second: int, ip: str, domain: str) -> Event:
    return parse_line(f'<134>1 2026-03-02T08:14:{second:02d}+00:00 mail-01 smtp - rcpt_to'
                      f' [relay@55555 src="{ip}" value="<a@{domain}>"]'.encode())


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "node.db", profilers=[Profiler()])
    yield opened
    await opened.close()


async def smtp_rows(store: Store) -> list[tuple[Any, ...]]:
    await fold_journals(store)
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
    profiler = Profiler(fold_journal_rows=1)
    opened = await Store.open(tmp_path / "node.db", profilers=[profiler])
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


async def test_observation_sets_are_complete_for_readers_between_catch_ups(store: Store) -> None:
    await store.write_batch([mail(1, "192.0.2.1", "a.com"), mail(2, "192.0.2.2", "b.com")])
    assert await store.fetch("SELECT count(*) FROM observation_services") == [(0,)]  # deferred
    rows = {row.ip: (row.services, row.honeypots) for row in await store.observations()}
    assert rows == {"192.0.2.1": (("smtp",), ("mail-01",)), "192.0.2.2": (("smtp",), ("mail-01",))}


async def test_the_writer_catches_the_observation_sets_up_every_n_events(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_writer, "OBSERVATION_SETS_EVERY", 3)
    await store.write_batch([mail(1, "192.0.2.1", "a.com"), mail(2, "192.0.2.2", "b.com")])
    assert await store.fetch("SELECT count(*) FROM observation_honeypots") == [(0,)]
    await store.write_batch([mail(3, "192.0.2.3", "c.com")])  # the third event since the mark
    assert await store.fetch("SELECT count(*) FROM observation_honeypots") == [(3,)]
    assert await store.fetch("SELECT value FROM store_marks") == [(3,)]


async def test_a_schema_v3_store_keeps_its_complete_observation_sets(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    opened = await Store.open(path)
    await opened.write_batch([mail(1, "192.0.2.1", "a.com")])
    await opened.catch_up_observations()
    await opened.close()
    with sqlite3.connect(path) as conn:  # back to v3, as an older build left it
        conn.execute("DROP TABLE store_marks")
        conn.execute("PRAGMA user_version=3")
    conn.close()
    reopened = await Store.open(path)
    try:
        assert await reopened.fetch("SELECT value FROM store_marks") == [(1,)]
        assert (await reopened.observations())[0].honeypots == ("mail-01",)
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
