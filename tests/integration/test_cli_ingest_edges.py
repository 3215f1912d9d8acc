"""Ingest edge cases through the real console script: CR-only files, signals on stdin."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.integration.test_cli_ingest import SYSLOG_LINE
from tests.support import CliRunner, console_script, event_count, json_out, wait_for


def test_a_slow_steady_stdin_writer_is_stored_without_waiting_for_a_full_batch(
        cli: CliRunner, home: Path) -> None:
    cli("init", check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECNET_FED_")}
    proc = subprocess.Popen([console_script(), "--home", str(home), "ingest", "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    assert proc.stdin is not None
    try:
        written = 0

        def trickle() -> bool:  # a line every poll, never a quiet moment
            nonlocal written
            assert proc.stdin is not None
            proc.stdin.write((SYSLOG_LINE.format(us=written, host=written % 250) + "\n").encode())
            proc.stdin.flush()
            written += 1
            return event_count(home / "node.db") > 0

        wait_for(trickle, "lines of a steady writer to be stored")
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)


def test_a_file_with_carriage_return_line_breaks_is_split_into_lines(
        cli: CliRunner, tmp_path: Path) -> None:
    log = tmp_path / "classic-mac.log"
    log.write_bytes(b"\r".join(SYSLOG_LINE.format(us=i, host=i).encode() for i in range(3)))
    cli("init", check=True)
    report = json_out(cli("ingest", "--json", str(log), check=True))
    assert (report["lines_read"], report["events_stored"], report["rejected"]) == (3, 3, 0)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_an_ingest_from_a_quiet_stdin_and_prints_the_report(
        cli: CliRunner, home: Path, sig: signal.Signals) -> None:
    cli("init", check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECNET_FED_")}
    proc = subprocess.Popen([console_script(), "--home", str(home), "ingest", "--json", "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    assert proc.stdin is not None
    proc.stdin.write("".join(SYSLOG_LINE.format(us=i, host=i) + "\n"
                             for i in range(5)).encode())
    proc.stdin.flush()  # and then the writer goes quiet, the pipe stays open
    wait_for(lambda: event_count(home / "node.db") == 5, "the lines read so far to be stored")
    proc.send_signal(sig)
    try:
        proc.wait(timeout=30)  # with the pipe still open: it must not wait for more input
        assert proc.stdout is not None and proc.stderr is not None
        out, err = proc.stdout.read(), proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait()
    assert proc.returncode == 130, err
    assert b"Fatal Python error" not in err
    report = json_out(subprocess.CompletedProcess(proc.args, 130, out.decode(), err.decode()))
    assert report["interrupted"] is True and report["events_stored"] == 5
    assert b"Traceback" not in err and b"run the same ingest again" in err
