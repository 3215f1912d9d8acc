"""The shared attack scenarios (../shared/scenarios), read in place and never copied in."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import REPO

SHARED_SCENARIOS = REPO.parent / "shared" / "scenarios"
SCENARIO_NAMES = ("lone_wolf", "multi_operator", "shared_wordlist", "vpn_hopping")


def shared_scenario(name: str) -> Path:
    """The path of a shared scenario; the test is skipped when the checkout has none beside it."""
    path = SHARED_SCENARIOS / f"{name}.yaml"
    if not path.exists():
        pytest.skip(f"shared scenario {path} is not present beside the repository")
    return path
