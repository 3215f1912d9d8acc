"""Progress on a terminal for ingest --follow, reprofile and cluster; silence elsewhere.

The bar reads what the work reports (callbacks from the re-profiling replay and
the clustering pass, the reports of a follow); these tests drive the real
functions on real stores, and the real console script with stderr a pipe (no
progress at all) and a terminal (the bar).
"""

from __future__ import annotations

import asyncio
import fcntl
import io
import os
import pty
import sqlite3
import struct
import subprocess
import termios
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from node.cli.node_commands import follow_all
from node.cli.progress import Reading, Tally, progress_bar
from node.cluster.stage import node_stages
from node.event import Event
from node.home import init_home, open_store
from node.ingest.detect import parse_line
from node.profile.profiler import Profiler
from node.profile.rebuild import rebuild_profiles
from node.store import Store
from tests.support import (
    OFFLINE,
    REPO,
    CliRunner,
    async_wait_for,
    console_script,
    event_count,
    json_out,
)

_STEPS = ["reading features", "identity layer", "writing identities", "campaign layer",
          "writing campaigns"]
_LINE = ("<134>1 2026-03-02T09:01:{second:02d}+00:00 web-02 sniffer - tls_client_hello"
         ' [relay@55555 src_ip="198.18.{net}.{host}" ja3="{ja3}"]')


def hello(index: int, ja3: str) -> Event:
    return parse_line(_LINE.format(second=index % 60, net=index // 200, host=index % 200 + 1,
                                   ja3=ja3).encode())


#: What the store's clustering pass reported, per test (the pass reports to whatever
#: the store was opened with, as `open_store(cluster_progress=)` does for the CLI).
Steps = list[tuple[str, int, int | None]]


@pytest.fixture
def steps() -> Steps:
    return []


@pytest.fixture
async def store(tmp_path: Path, steps: Steps) -> AsyncIterator[Store]:
    """A profiling store like a node's, with 30 observations: ten tools of three users each."""
    opened = await Store.open(
        tmp_path / "node.db", profilers=[Profiler()],
        stages=node_stages(on_progress=lambda step, done, total: steps.append(
            (step, done, total))))
    await opened.write_batch([hello(i, f"{i % 10:032x}") for i in range(30)])
    yield opened
    await opened.close()


def per_step(calls: list[tuple[str, int, int | None]]) -> dict[str, list[tuple[int, int | None]]]:
    found: dict[str, list[tuple[int, int | None]]] = {}
    for step, done, total in calls:
        found.setdefault(step, []).append((done, total))
    return found


def assert_counts_up_to_the_total(counts: list[tuple[int, int | None]]) -> None:
    done = [d for d, _ in counts]
    assert done == sorted(done), counts  # never backwards
    last_done, last_total = counts[-1]
    assert last_total is not None and last_done == last_total, counts


# -- the bar --

async def test_a_shown_bar_draws_each_step_with_its_totals() -> None:
    stream = io.StringIO()
    tally = Tally("replaying events")
    async with progress_bar(lambda: tally.reading, show=True, file=stream):
        tally.count(0, 1234)
        tally.count(1234, 1234)
    async with progress_bar(lambda: Reading(5000, note="4,900 events stored"), show=True,
                            unit=" lines", file=stream):
        pass
    drawn = stream.getvalue()
    assert "replaying events: 100%" in drawn and "1,234/1,234" in drawn
    assert "5,000 lines" in drawn and "4,900 events stored" in drawn


async def test_a_bar_not_shown_writes_nothing() -> None:
    stream = io.StringIO()
    tally = Tally("replaying events")
    async with progress_bar(lambda: tally.reading, show=False, interval_s=0.001, file=stream):
        for done in range(0, 101, 10):
            tally.count(done, 100)
            await asyncio.sleep(0)  # the loop runs: a hidden bar has nothing to redraw
    assert stream.getvalue() == ""


# -- the callbacks of the work --

async def test_reprofiling_reports_every_event_replayed(store: Store) -> None:
    calls: list[tuple[int, int]] = []
    replayed = await rebuild_profiles(store, Profiler(), batch_size=7,
                                      on_progress=lambda done, total: calls.append((done, total)))
    assert replayed == 30
    assert calls[0] == (0, 30) and calls[-1] == (30, 30)
    assert len(calls) == 6  # before the first of five batches, and after each
    assert_counts_up_to_the_total([(done, total) for done, total in calls])


async def test_the_clustering_pass_reports_each_step_to_its_total(store: Store,
                                                                  steps: Steps) -> None:
    await store.catch_up()  # the first pass: a full one
    found = per_step(steps)
    assert list(found) == _STEPS
    for counts in found.values():
        assert_counts_up_to_the_total(counts)
    assert found["reading features"][-1] == (30, 30)
    assert found["identity layer"][-1] == (30, 30)
    assert not any((await store.lags()).values())
    ten = await store.fetch("SELECT count(DISTINCT coalesce(merged_into, id)) FROM identities")
    assert ten == [(10,)]

    steps.clear()
    await store.write_batch([hello(40, f"{1:032x}")])  # one more user of one tool
    await store.catch_up()  # a pass over what changed
    found = per_step(steps)
    assert list(found) == ["reading what changed", *_STEPS[1:]]
    for counts in found.values():
        assert_counts_up_to_the_total(counts)

    steps.clear()
    await store.catch_up()  # nothing behind: no pass, nothing reported
    assert steps == []


async def test_reprofiling_can_report_the_clustering_pass_it_starts_over(
        store: Store, steps: Steps) -> None:
    tally = Tally("replaying events")
    await rebuild_profiles(store, Profiler(), on_progress=tally.count)
    assert list(dict.fromkeys(step for step, _, _ in steps)) == _STEPS  # a full pass again
    assert steps[-1][0] == "writing campaigns" and steps[-1][1] == steps[-1][2]


# -- ingest --follow --

async def test_following_draws_a_status_line_every_interval(tmp_path: Path) -> None:
    config = (await init_home(tmp_path / "home", "follower")).config
    log = tmp_path / "relay.log"
    log.write_text("".join(_LINE.format(second=i, net=0, host=i + 1, ja3="a" * 32) + "\n"
                           for i in range(3)) + "not a log line\n")
    store = await open_store(config)
    stream = io.StringIO()
    stop = asyncio.Event()
    follow = asyncio.create_task(follow_all(store, config, [str(log)], stop, show=True,
                                            interval_s=0.01, file=stream))
    try:
        await async_wait_for(lambda: "4 lines" in stream.getvalue()
                             and "3 events stored, 1 rejected" in stream.getvalue()
                             and "relay.log caught up" in stream.getvalue(),
                             "the status line to show the file caught up")
        with log.open("a") as more:
            more.write(_LINE.format(second=9, net=0, host=9, ja3="b" * 32) + "\n")
        await async_wait_for(lambda: "5 lines" in stream.getvalue()
                             and "4 events stored" in stream.getvalue(),
                             "the status line to show the new line")
    finally:
        stop.set()
        report = await follow
        await store.close()
    assert (report.lines_read, report.events_stored, report.rejected_total) == (5, 4, 1)


async def test_following_off_a_terminal_writes_no_status(tmp_path: Path) -> None:
    config = (await init_home(tmp_path / "home", "follower")).config
    log = tmp_path / "relay.log"
    log.write_text(_LINE.format(second=1, net=0, host=1, ja3="a" * 32) + "\n")
    store = await open_store(config)
    stream = io.StringIO()
    stop = asyncio.Event()
    follow = asyncio.create_task(follow_all(store, config, [str(log)], stop, show=False,
                                            interval_s=0.001, file=stream))
    try:
        await async_wait_for(lambda: event_count(config.store_path) == 1, "the line stored")
    finally:
        stop.set()
        report = await follow
        await store.close()
    assert report.events_stored == 1 and stream.getvalue() == ""


# -- the real commands --

@pytest.fixture
def clustered_home(cli: CliRunner, home: Path, tmp_path: Path) -> Path:
    """A home with a simulated slow rotator ingested, its clusters to be redone."""
    out = tmp_path / "sim"
    cli("simulate", str(REPO / "scenarios" / "slow_rotator.yaml"), "--seed", "3", "-o",
        str(out), check=True)
    cli("init", check=True)
    cli("ingest", str(out / "sensors.log"), check=True, env_extra=OFFLINE)
    return home


def forget_clusters(home: Path) -> None:
    """Put the clusters stage back to the start, so `cluster` has a full pass to run."""
    with sqlite3.connect(home / "node.db") as db:
        db.execute("DELETE FROM derived_marks WHERE stage = 'clusters'")


def on_a_terminal(home: Path, *args: str) -> tuple[int, str]:
    """Run ``decnet-fed --home HOME ARGS`` with stderr on a terminal (a pseudo-terminal
    120 columns wide); its exit status and what it wrote there."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECNET_FED_")}
    with subprocess.Popen([console_script(), "--home", str(home), *args],
                          stdout=subprocess.DEVNULL, stderr=follower,
                          env={**env, **OFFLINE}) as proc:
        os.close(follower)
        chunks: list[bytes] = []

        def drain() -> None:  # until the command exits and the terminal closes
            while True:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:
                    return
                if not chunk:
                    return
                chunks.append(chunk)

        reader = threading.Thread(target=drain)
        reader.start()
        status = proc.wait(timeout=120)
        reader.join(timeout=60)
    os.close(leader)
    return status, b"".join(chunks).decode()


@pytest.mark.parametrize("command", ["reprofile", "cluster"])
def test_off_a_terminal_the_commands_print_no_progress(cli: CliRunner, clustered_home: Path,
                                                       command: str) -> None:
    forget_clusters(clustered_home)
    done = cli(command, check=True, env_extra=OFFLINE)
    assert done.stderr == "" and done.stdout  # a pipe: the summary, and no bar
    assert json_lags(cli) == 0  # the pass did run


@pytest.mark.parametrize("command", ["reprofile", "cluster"])
def test_on_a_terminal_the_commands_draw_their_steps(clustered_home: Path,
                                                     command: str) -> None:
    forget_clusters(clustered_home)
    status, drawn = on_a_terminal(clustered_home, command)
    assert status == 0 and "writing campaigns: 100%" in drawn, drawn

    forget_clusters(clustered_home)
    status, drawn = on_a_terminal(clustered_home, "--json", command)
    assert status == 0 and drawn == ""  # --json: never a bar


def json_lags(cli: CliRunner) -> int:
    status = json_out(cli("status", "--json", check=True))
    return sum(status["derived_lag_events"].values())
