"""Shared fixtures: run the real console script against a throw-away node home."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.support import CliRunner, console_script

# Property tests assert behaviour, never speed: a cold first example on a busy
# CI machine must not fail on hypothesis's default 200 ms deadline.
settings.register_profile("decnet-fed", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("decnet-fed")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def cli(home: Path) -> CliRunner:
    """``cli("ingest", path, input=...)`` runs ``decnet-fed --home HOME ...``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECNET_FED_")}

    def run(*args: str, input: str | bytes | None = None, check: bool = False,
            env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        text = not isinstance(input, bytes)
        proc = subprocess.run(
            [console_script(), "--home", str(home), *args],
            input=input, capture_output=True, text=text, timeout=120, check=False,
            env={**env, **(env_extra or {})},
        )
        if not text:
            proc = subprocess.CompletedProcess(proc.args, proc.returncode,
                                               proc.stdout.decode(), proc.stderr.decode())
        if check and proc.returncode != 0:
            pytest.fail(f"decnet-fed {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
        return proc

    return run
