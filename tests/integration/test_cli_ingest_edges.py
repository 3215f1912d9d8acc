"""Ingest edge cases through the real console script: CR-only files, signals on stdin."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.integration.test_cli_ingest import SYSLOG_LINE
from tests.support import CliRunner, console_script, event_count, json_out, wait_for


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
        out, err = proc.communicate(timeout=30)  # it must not wait for more input
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdin.close()
    assert proc.returncode == 130, err
    report = json_out(subprocess.CompletedProcess(proc.args, 130, out.decode(), err.decode()))
    assert report["interrupted"] is True and report["events_stored"] == 5
    assert b"Traceback" not in err and b"run the same ingest again" in err
