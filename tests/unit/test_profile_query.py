"""StoreQuery: the federation's view of profiles is aggregates only, same shape when unseen."""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from node.event import Event
from node.ingest.detect import parse_line
from node.profile.profiler import Profiler
from node.profile.simhash import hamming
from node.profile.stages import PROFILE_STAGES
from node.query import (
    MalformedQuery,
    NearAggregate,
    NodeQuery,
    SeenAggregate,
    StoreQuery,
    Thresholds,
    local_smtp_answer,
)
from node.store import Store

JA3 = "e7d705a3286e19ea42f587b344ee6865"


def line(text: str) -> Event:
    return parse_line(text.encode())


def corpus() -> list[Event]:
    events = [
        line('<134>1 2026-03-02T08:14:05+00:00 mail-01 smtp - rcpt_to [relay@55555'
             ' src="198.51.100.23" value="<jane@victim-co.com>"]'),
        line('<134>1 2026-03-02T08:15:05+00:00 mail-01 smtp - rcpt_to [relay@55555'
             ' src="198.51.100.24" value="<bob@Victim-Co.com>"]'),
        line('<134>1 2026-03-02T08:16:05+00:00 mail-01 smtp - rcpt_to [relay@55555'
             ' src="198.51.100.24" value="<hr@bücher.de>"]'),
        line(f'<134>1 2026-03-02T09:01:00+00:00 web-02 sniffer - tls_client_hello [relay@55555'
             f' src_ip="192.0.2.44" ja3="{JA3}"]'),
        line('<134>1 2026-03-02T08:14:10+00:00 mail-01 smtp_relay - message_stored [relay@55555'
             ' src="198.51.100.23" body_simhash="9f3c2a1b0e4d5c6f"]'),
        line('<134>1 2026-03-02T09:12:00+00:00 web-02 sessrec - session_recorded [relay@55555'
             ' sid="k1" service="ssh" src_ip="192.0.2.44" duration_s="9"]'),
    ]
    rnd, t = random.Random(3), 1.0
    for ch in "cat /etc/passwd; uname -a; id; w\r" * 2:
        t += rnd.uniform(0.05, 0.3)
        events.append(parse_line(json.dumps({"sid": "k1", "t": t, "ch": "i", "d": ch}).encode()))
    return events


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "node.db", profilers=[Profiler()], stages=PROFILE_STAGES)
    await opened.write_batch(corpus())
    await opened.catch_up()
    yield opened
    await opened.close()


async def test_store_query_satisfies_the_protocol(store: Store) -> None:
    query: NodeQuery = StoreQuery(store)  # mypy checks the protocol here
    (found,) = [v for v in await query.smtp_targets(Thresholds(1, 1))
                if v.value == "victim-co.com"]
    assert (found.count, found.distinct_attackers) == (2, 2)
    assert isinstance(await StoreQuery(store).smtp_target("victim-co.com"), SeenAggregate)


async def test_bulk_view_keeps_only_values_passing_the_thresholds_on_their_own(
        store: Store) -> None:
    query = StoreQuery(store)
    assert {v.value for v in await query.smtp_targets(Thresholds(2, 2))} == {"victim-co.com"}
    assert await query.smtp_targets(Thresholds(3, 1)) == []
    assert [v.value for v in (await query.fingerprints(Thresholds(1, 1)))["ja3"]] == [JA3]
    assert (await query.fingerprints(Thresholds(2, 1))) == {}
    mail = await query.simhashes("mail_body", Thresholds(1, 1))
    assert [int(v) for v in mail.values] == [0x9F3C2A1B0E4D5C6F]
    assert len((await query.simhashes("mail_body", Thresholds(1, 2))).values) == 0
    keystroke = await query.simhashes("keystroke", Thresholds(1, 1))
    assert len(keystroke.values) == 1 and keystroke.counts.tolist() == [1]


async def test_smtp_target_normalises_the_question(store: Store) -> None:
    found = await StoreQuery(store).smtp_target("VICTIM-CO.com.")
    assert found == SeenAggregate(True, 2, 2, 1772439245000000, 1772439305000000)
    assert (await StoreQuery(store).smtp_target("bücher.de")).count == 1


async def test_unseen_and_invalid_domains_get_the_same_answer(store: Store) -> None:
    never = await StoreQuery(store).smtp_target("never-seen.org")
    invalid = await StoreQuery(store).smtp_target("victim.test")
    assert never == invalid == SeenAggregate(False, 0, 0, None, None)


async def test_fingerprints(store: Store) -> None:
    found = await StoreQuery(store).fingerprint("ja3", JA3.upper())
    assert (found.seen, found.count, found.distinct_attackers) == (True, 1, 1)
    assert not (await StoreQuery(store).fingerprint("ja3", "0" * 32)).seen
    assert not (await StoreQuery(store).fingerprint("jarm", "0" * 62)).seen
    with pytest.raises(MalformedQuery):
        await StoreQuery(store).fingerprint("ja3", "xyz")
    with pytest.raises(MalformedQuery):
        await StoreQuery(store).fingerprint("md5", JA3)


async def test_simhash_near(store: Store) -> None:
    query = StoreQuery(store)
    mail = 0x9F3C2A1B0E4D5C6F
    assert await query.simhash_near("mail_body", mail ^ 0b111, 3) == NearAggregate(True, 3, 1)
    assert await query.simhash_near("mail_body", mail ^ 0b1111, 3) == NearAggregate(False, None, 0)
    assert await query.simhash_near("keystroke", 1, 0) == NearAggregate(False, None, 0)
    (value,) = (await store.fetch("SELECT simhash FROM keystroke_simhashes"))[0]
    keystroke = int(value, 16)
    assert keystroke != 0
    found = await query.simhash_near("keystroke", keystroke ^ 1, 2)
    assert found == NearAggregate(True, hamming(keystroke, keystroke ^ 1), 1)
    assert await query.simhash_near("keystroke", 0, 64) == NearAggregate(False, None, 0)
    for bad in [("nope", 1, 3), ("keystroke", 1 << 64, 3), ("keystroke", 1, 65)]:
        with pytest.raises(MalformedQuery):
            await query.simhash_near(*bad)


async def test_answers_carry_no_identifiers(store: Store) -> None:
    query = StoreQuery(store)
    answers: list[SeenAggregate | NearAggregate] = [
        await query.smtp_target("victim-co.com"), await query.fingerprint("ja3", JA3),
        await query.simhash_near("mail_body", 0x9F3C2A1B0E4D5C6F, 3)]
    for answer in answers:
        for field in dataclasses.fields(answer):
            value = getattr(answer, field.name)
            assert value is None or isinstance(value, bool | int), field.name


async def test_local_smtp_answer(store: Store) -> None:
    assert await local_smtp_answer(store, "Victim-Co.com") == {
        "domain": "victim-co.com", "seen": True, "count": 2,
        "first_seen": "2026-03-02T08:14:05Z", "last_seen": "2026-03-02T08:15:05Z",
    }
    assert (await local_smtp_answer(store, "nobody.net"))["seen"] is False
    with pytest.raises(MalformedQuery, match="reserved_tld"):
        await local_smtp_answer(store, "x.invalid")
