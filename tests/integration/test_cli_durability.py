"""Crash safety and `--follow`: real subprocesses, real signals, real SQLite files."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from pathlib import Path

from tests.integration.test_cli_ingest import COWRIE_LINE, SYSLOG_LINE
from tests.support import CliRunner, console_script, event_count, json_out, spawn_cli, wait_for


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


def test_kill_9_mid_ingest_then_reingest_equals_one_clean_ingest(
        cli: CliRunner, home: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "big.log"
    _write_corpus(corpus, 300_000)
    cli("init", check=True)
    small_batches = {"DECNET_FED_STORE_BATCH_SIZE": "1000"}

    victim = spawn_cli(home, "ingest", str(corpus), env_extra=small_batches)
    wait_for(lambda: event_count(home / "node.db") > 5_000 or victim.poll() is not None,
              "the first batches to commit")
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"
    assert 0 < event_count(home / "node.db") < 300_000

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

    follower = spawn_cli(home, "ingest", "--follow", "--json", str(log), env_extra=fast_poll)
    wait_for(lambda: event_count(home / "node.db") == 5, "the existing lines")
    with log.open("a") as stream:
        stream.write(SYSLOG_LINE.format(us=100, host=2) + "\n")
        stream.write(SYSLOG_LINE.format(us=101, host=2)[:40])  # a line still being written
    wait_for(lambda: event_count(home / "node.db") == 6, "the appended line")
    with log.open("a") as stream:
        stream.write(SYSLOG_LINE.format(us=101, host=2)[40:] + "\n")
    wait_for(lambda: event_count(home / "node.db") == 7, "the completed partial line")
    follower.send_signal(signal.SIGTERM)
    out, err = follower.communicate(timeout=30)
    assert follower.returncode == 0, err
    first = json_out(subprocess.CompletedProcess([], 0, out, err))
    assert first["lines_read"] == 7 and first["rejected"] == 0

    with log.open("a") as out_file:
        out_file.write(SYSLOG_LINE.format(us=200, host=3) + "\n")
    follower = spawn_cli(home, "ingest", "--follow", "--json", str(log), env_extra=fast_poll)
    wait_for(lambda: event_count(home / "node.db") == 8, "the line written while stopped")
    follower.send_signal(signal.SIGTERM)
    out, err = follower.communicate(timeout=30)
    second = json_out(subprocess.CompletedProcess([], 0, out, err))
    assert second["lines_read"] == 1, "a restarted follower re-read lines it had stored"


def test_follow_restarts_at_the_top_of_a_rotated_file(
        cli: CliRunner, home: Path, tmp_path: Path) -> None:
    log = tmp_path / "rotating.log"
    log.write_text("".join(SYSLOG_LINE.format(us=i, host=1) + "\n" for i in range(3)))
    cli("init", check=True)
    follower = spawn_cli(home, "ingest", "--follow", str(log),
                      env_extra={"DECNET_FED_INGEST_FOLLOW_POLL_INTERVAL_S": "0.02"})
    try:
        wait_for(lambda: event_count(home / "node.db") == 3, "the first file")
        log.rename(tmp_path / "rotating.log.1")
        log.write_text(SYSLOG_LINE.format(us=500, host=9) + "\n")
        wait_for(lambda: event_count(home / "node.db") == 4, "the new file after rotation")
    finally:
        follower.send_signal(signal.SIGTERM)
        follower.communicate(timeout=30)
    assert follower.returncode == 0
