"""Crash safety and `--follow`: real subprocesses, real signals, real SQLite files."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.test_cli_ingest import COWRIE_LINE, SYSLOG_LINE
from tests.support import CliRunner, console_script, json_out

DEADLINE_S = 60.0


def _wait_for(predicate: Callable[[], bool], what: str) -> None:
    """Poll a predicate until it holds; fail (not hang) after a generous deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def _event_count(db_path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5) as db:
            return int(db.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def _state(home: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[str]]:
    with sqlite3.connect(home / "node.db") as db:
        events = db.execute(
            "SELECT key, time_us, src_ip, sensor, service, kind, source_format, fields"
            " FROM events ORDER BY key").fetchall()
        observations = db.execute("SELECT * FROM observations ORDER BY ip").fetchall()
        check = [row[0] for row in db.execute("PRAGMA integrity_check")]
    return events, observations, check


def _write_corpus(path: Path, lines: int) -> None:
    with path.open("w") as out:
        for i in range(lines):
            template = SYSLOG_LINE if i % 2 else COWRIE_LINE
            out.write(template.format(us=i % 1_000_000, host=i % 250, pw=f"pw{i}") + "\n")


def _spawn(home: Path, *args: str,
           env_extra: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECNET_FED_")}
    return subprocess.Popen([console_script(), "--home", str(home), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**env, **(env_extra or {})})


def test_kill_9_mid_ingest_then_reingest_equals_one_clean_ingest(
        cli: CliRunner, home: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "big.log"
    _write_corpus(corpus, 300_000)
    cli("init", check=True)
    small_batches = {"DECNET_FED_STORE_BATCH_SIZE": "1000"}

    victim = _spawn(home, "ingest", str(corpus), env_extra=small_batches)
    _wait_for(lambda: _event_count(home / "node.db") > 5_000 or victim.poll() is not None,
              "the first batches to commit")
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"
    assert 0 < _event_count(home / "node.db") < 300_000

    cli("ingest", str(corpus), check=True, env_extra=small_batches)

    clean_home = tmp_path / "clean"
    subprocess.run([console_script(), "--home", str(clean_home), "init"], check=True,
                   capture_output=True)
    subprocess.run([console_script(), "--home", str(clean_home), "ingest", str(corpus)],
                   check=True, capture_output=True)
    recovered, clean = _state(home), _state(clean_home)
    assert recovered[2] == ["ok"]
    assert len(recovered[0]) == len(clean[0]) == 300_000
    assert recovered == clean


def test_follow_tails_new_lines_and_resumes_from_the_saved_offset(
        cli: CliRunner, home: Path, tmp_path: Path) -> None:
    log = tmp_path / "growing.log"
    log.write_text("".join(SYSLOG_LINE.format(us=i, host=1) + "\n" for i in range(5)))
    cli("init", check=True)
    fast_poll = {"DECNET_FED_INGEST_FOLLOW_POLL_INTERVAL_S": "0.02"}

    follower = _spawn(home, "ingest", "--follow", "--json", str(log), env_extra=fast_poll)
    _wait_for(lambda: _event_count(home / "node.db") == 5, "the existing lines")
    with log.open("a") as out:
        out.write(SYSLOG_LINE.format(us=100, host=2) + "\n")
        out.write(SYSLOG_LINE.format(us=101, host=2)[:40])  # a line still being written
    _wait_for(lambda: _event_count(home / "node.db") == 6, "the appended line")
    with log.open("a") as out:
        out.write(SYSLOG_LINE.format(us=101, host=2)[40:] + "\n")
    _wait_for(lambda: _event_count(home / "node.db") == 7, "the completed partial line")
    follower.send_signal(signal.SIGTERM)
    out, err = follower.communicate(timeout=30)
    assert follower.returncode == 0, err
    first = json_out(subprocess.CompletedProcess([], 0, out, err))
    assert first["lines_read"] == 7 and first["rejected"] == 0

    with log.open("a") as out_file:
        out_file.write(SYSLOG_LINE.format(us=200, host=3) + "\n")
    follower = _spawn(home, "ingest", "--follow", "--json", str(log), env_extra=fast_poll)
    _wait_for(lambda: _event_count(home / "node.db") == 8, "the line written while stopped")
    follower.send_signal(signal.SIGTERM)
    out, err = follower.communicate(timeout=30)
    second = json_out(subprocess.CompletedProcess([], 0, out, err))
    assert second["lines_read"] == 1, "a restarted follower re-read lines it had stored"


def test_follow_restarts_at_the_top_of_a_rotated_file(
        cli: CliRunner, home: Path, tmp_path: Path) -> None:
    log = tmp_path / "rotating.log"
    log.write_text("".join(SYSLOG_LINE.format(us=i, host=1) + "\n" for i in range(3)))
    cli("init", check=True)
    follower = _spawn(home, "ingest", "--follow", str(log),
                      env_extra={"DECNET_FED_INGEST_FOLLOW_POLL_INTERVAL_S": "0.02"})
    try:
        _wait_for(lambda: _event_count(home / "node.db") == 3, "the first file")
        log.rename(tmp_path / "rotating.log.1")
        log.write_text(SYSLOG_LINE.format(us=500, host=9) + "\n")
        _wait_for(lambda: _event_count(home / "node.db") == 4, "the new file after rotation")
    finally:
        follower.send_signal(signal.SIGTERM)
        follower.communicate(timeout=30)
    assert follower.returncode == 0
