"""Helpers shared by the test suites (import from here, fixtures live in conftest)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
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
