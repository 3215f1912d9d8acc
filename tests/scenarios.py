"""The shared attack scenarios (../shared/scenarios), read in place and never copied in."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from node.cluster.score import Scores, score
from node.home import init_home, open_store
from node.ingest.pipeline import ingest_sources
from node.profile.profiler import profiler_from_config
from node.simulate.generate import generate
from node.simulate.render import render_lines
from node.simulate.scenario import load_scenario
from node.simulate.truth import Truth, observations, partition
from node.store import ObservationRow
from tests.support import REPO

SHARED_SCENARIOS = REPO.parent / "shared" / "scenarios"
SCENARIO_NAMES = ("lone_wolf", "multi_operator", "shared_wordlist", "vpn_hopping")


def shared_scenario(name: str) -> Path:
    """The path of a shared scenario; the test is skipped when the checkout has none beside it."""
    path = SHARED_SCENARIOS / f"{name}.yaml"
    if not path.exists():
        pytest.skip(f"shared scenario {path} is not present beside the repository")
    return path


@dataclass(frozen=True)
class ScenarioRun:
    """One scenario simulated and ingested by a real node: its truth and what the node made."""

    truth: dict[str, Truth]
    rows: dict[str, ObservationRow]
    store_path: Path

    def scores(self) -> dict[str, Scores]:
        """This node's clustering scored against the truth, per level."""
        return {
            level: score(partition(self.truth, level),
                         {ip: str(self.rows[ip].identity_id if level == "identity"
                                  else self.rows[ip].campaign_id) for ip in self.truth})
            for level in ("identity", "campaign")
        }


async def run_scenario(path: Path, seed: int, home: Path) -> ScenarioRun:
    """Simulate ``path`` with ``seed``, ingest the lines into a new home, cluster (at its end)."""
    simulation = generate(load_scenario(path), seed)
    log = home.parent / "sensors.log"
    log.write_text("\n".join(render_lines(simulation)) + "\n", encoding="utf-8")
    config = (await init_home(home)).config
    store = await open_store(config, profilers=[profiler_from_config(config)])
    try:
        report = await ingest_sources(store, [str(log)], batch_size=1000, max_line_bytes=65536)
        assert report.rejected_total == 0
        rows = {row.ip: row for row in await store.observations()}
    finally:
        await store.close()
    truth = observations(simulation)
    assert set(rows) == set(truth)
    return ScenarioRun(truth, rows, config.store_path)
