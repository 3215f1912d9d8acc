"""Clustering as a stage of a real store: stable ids, soft merges undone by new evidence,
a re-run that changes nothing, and peers counting identities."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from node.cluster.stage import node_stages, run_pass
from node.event import Event
from node.ingest.detect import parse_line
from node.profile.profiler import Profiler
from node.profile.rebuild import rebuild_profiles
from node.query import StoreQuery, Thresholds
from node.store import Store

_STAGES = node_stages()
_PAYLOAD = "a" * 64


def hello(ip: str, ja3: str, second: int = 0) -> Event:
    return parse_line(f"<134>1 2026-03-02T09:01:{second:02d}+00:00 web-02 sniffer -"
                      f' tls_client_hello [relay@55555 src_ip="{ip}" ja3="{ja3}"]'.encode())


def rcpt(ip: str, domain: str, second: int = 0) -> Event:
    return parse_line(f"<134>1 2026-03-02T08:14:{second:02d}+00:00 mail-01 smtp - rcpt_to"
                      f' [relay@55555 src="{ip}" value="<a@{domain}>"]'.encode())


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "node.db", profilers=[Profiler()], stages=_STAGES)
    yield opened
    await opened.close()


async def identities(store: Store) -> dict[str, int | None]:
    return {row.ip: row.identity_id for row in await store.observations()}


async def test_a_merge_keeps_the_older_id_and_points_the_loser_at_it(store: Store) -> None:
    await store.write_batch([hello("198.18.0.1", "1" * 32), hello("198.18.0.2", "2" * 32, 1)])
    await store.catch_up()
    before = await identities(store)
    assert len(set(before.values())) == 2  # two tools: two identities
    await store.write_batch([hello("198.18.0.2", "1" * 32, 2)])  # .2 now also uses .1's tool
    await store.catch_up()
    after = await identities(store)
    assert after["198.18.0.1"] == after["198.18.0.2"] == before["198.18.0.1"]  # the older id
    loser = before["198.18.0.2"]
    assert await store.fetch("SELECT merged_into FROM identities WHERE id = ?", (loser,)) == \
        [(before["198.18.0.1"],)]


async def test_new_evidence_that_a_value_is_common_undoes_the_merge(store: Store) -> None:
    shared = "3" * 32
    await store.write_batch([hello("198.18.1.1", shared), hello("198.18.1.2", shared, 1)])
    await store.catch_up()
    assert len(set((await identities(store)).values())) == 1
    # 300 more sources use the same client: a stock tool, no longer a person's
    await store.write_batch([hello(f"198.19.{i // 200}.{i % 200 + 1}", shared, 2)
                             for i in range(300)])
    await store.catch_up()
    found = await identities(store)
    assert found["198.18.1.1"] != found["198.18.1.2"]
    assert await store.fetch("SELECT count(*) FROM identities WHERE merged_into IS NOT NULL") \
        == [(0,)]


async def test_a_pass_over_unchanged_data_writes_nothing(store: Store) -> None:
    await store.write_batch([hello("198.18.2.1", "4" * 32), hello("198.18.2.2", "4" * 32, 1),
                             rcpt("198.18.2.3", "corp1.net")])
    await store.catch_up()
    rows = await store.fetch("SELECT * FROM identities ORDER BY id")
    links = await store.fetch("SELECT * FROM cluster_links ORDER BY 1, 2, 3, 4, 6, 7")
    await store.write_job(run_pass)
    assert await store.fetch("SELECT * FROM identities ORDER BY id") == rows
    assert await store.fetch("SELECT * FROM cluster_links ORDER BY 1, 2, 3, 4, 6, 7") == links


async def test_peers_count_distinct_identities_not_addresses(store: Store) -> None:
    one_actor = [rcpt(f"198.18.3.{i}", "corp1.net", i) for i in range(1, 4)]
    tools = [hello(f"198.18.3.{i}", "5" * 32, i) for i in range(1, 4)]
    await store.write_batch([*one_actor, *tools, rcpt("198.18.3.9", "corp1.net", 9)])
    await store.catch_up()
    found = await StoreQuery(store).smtp_target("corp1.net")
    assert (found.count, found.distinct_attackers) == (4, 2)
    (shared,) = await StoreQuery(store).smtp_targets(Thresholds(1, 2))  # what peers are told
    assert (shared.value, shared.count, shared.distinct_attackers) == ("corp1.net", 4, 2)
    assert await StoreQuery(store).smtp_targets(Thresholds(1, 3)) == []


async def test_reprofiling_clusters_again(store: Store) -> None:
    await store.write_batch([hello("198.18.4.1", "6" * 32), hello("198.18.4.2", "6" * 32, 1)])
    await store.catch_up()
    grouped = await identities(store)
    await store.write_job(lambda conn: conn.execute("DELETE FROM identities"))  # stale
    await rebuild_profiles(store, Profiler())
    assert await identities(store) == grouped  # the clusters stage ran again
