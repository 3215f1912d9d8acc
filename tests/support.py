"""Helpers shared by the test suites (import from here, fixtures live in conftest)."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"

CliRunner = Callable[..., subprocess.CompletedProcess[str]]


def console_script() -> str:
    """The installed `decnet-fed` next to the interpreter running the tests."""
    candidate = Path(sys.executable).parent / "decnet-fed"
    if not candidate.exists():
        pytest.fail("decnet-fed console script not installed: pip install -e '.[test]'")
    return str(candidate)


def json_out(proc: subprocess.CompletedProcess[str]) -> Any:
    """Parse a command's ``--json`` stdout, failing with its stderr if it is not JSON."""
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"not JSON (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


DEADLINE_S = 60.0


def wait_for(predicate: Callable[[], bool], what: str, *, deadline_s: float = DEADLINE_S,
             poll_s: float = 0.02) -> None:
    """Poll a predicate until it holds; fail (not hang) after a generous deadline.
    ``poll_s``: the poll interval (longer when the predicate is costly, e.g. podman)."""
    deadline = time.monotonic() + deadline_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {deadline_s:g} s waiting for {what}")
        time.sleep(poll_s)


async def async_wait_for(predicate: Callable[[], bool | Awaitable[bool]], what: str, *,
                         deadline_s: float = DEADLINE_S) -> None:
    """`wait_for` for asyncio tests: the predicate may be a coroutine function."""
    deadline = time.monotonic() + deadline_s
    while True:
        holds = predicate()
        if inspect.isawaitable(holds):
            holds = await holds
        if holds:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {deadline_s:g} s waiting for {what}")
        await asyncio.sleep(0.01)  # the poll interval: other tasks run meanwhile


def read_serve_info(proc: subprocess.Popen[str]) -> dict[str, Any]:
    """The JSON object `serve --json` prints before it serves (fails with its stderr if none)."""
    assert proc.stdout is not None
    text = ""
    for line in proc.stdout:  # one pretty-printed object, then the server runs
        text += line
        if line.rstrip() == "}":
            break
    if not text:
        pytest.fail(f"serve printed nothing:\n{proc.communicate()[1]}")
    info: dict[str, Any] = json.loads(text)
    return info


def event_count(db_path: Path) -> int:
    """Events in a store, read-only, while another process may be writing it."""
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5) as db:
            return int(db.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


#: No reverse DNS in tests: PTR lookups are the one outside boundary a node has.
OFFLINE = {"DECNET_FED_ENRICHMENT_PTR_ENABLED": "0"}


def run_cli(home: Path, *args: str, check: bool = True,
            env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``decnet-fed --home HOME ARGS`` to completion, offline; fails the test on an error."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECNET_FED_")}
    proc = subprocess.run([console_script(), "--home", str(home), *args], capture_output=True,
                          text=True, timeout=120, check=False,
                          env={**env, **OFFLINE, **(env_extra or {})})
    if check and proc.returncode != 0:
        pytest.fail(f"decnet-fed {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def spawn_cli(home: Path, *args: str, env_extra: dict[str, str] | None = None,
              prefix: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    """Start ``decnet-fed --home HOME ARGS`` in the background (pipes for its output),
    under ``prefix`` if given (``ip netns exec NS``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECNET_FED_")}
    return subprocess.Popen([*prefix, console_script(), "--home", str(home), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**env, **(env_extra or {})})
