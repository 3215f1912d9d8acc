"""Every scenario end to end: simulate → ingest → cluster → score, at both levels, per seed.

The node sees only the rendered log lines, ingested by the real pipeline into
a real home's store, clustered by the derived stage at the end of the ingest.
Each scenario's ``.expected.yaml`` gives the lowest score each metric may
reach; this project's scenarios (scenarios/) must reach it at the identity
and the campaign level, and so must the shared ones (../shared/scenarios,
skipped where the checkout has none beside it).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from node.cluster.score import Scores, score
from node.home import init_home, open_store
from node.ingest.pipeline import ingest_sources
from node.profile.profiler import profiler_from_config
from node.simulate.generate import generate
from node.simulate.render import render_lines
from node.simulate.scenario import load_scenario
from node.simulate.truth import observations, partition
from tests.scenarios import SCENARIO_NAMES, shared_scenario
from tests.support import REPO

OWN = sorted(path.name.removesuffix(".yaml") for path in (REPO / "scenarios").glob("*.yaml")
             if not path.name.endswith(".expected.yaml"))
SEEDS = (1, 2, 3)


async def clustered(path: Path, seed: int, home: Path) -> dict[str, Scores]:
    """Scores of this node's clustering of one simulated scenario, per level."""
    simulation = generate(load_scenario(path), seed)
    log = home.parent / "sensors.log"
    log.write_text("\n".join(render_lines(simulation)) + "\n", encoding="utf-8")
    config = (await init_home(home)).config
    store = await open_store(config, profilers=[profiler_from_config(config)])
    try:
        report = await ingest_sources(store, [str(log)], batch_size=1000,
                                      max_line_bytes=65536)
        assert report.rejected_total == 0
        rows = {row.ip: row for row in await store.observations()}
    finally:
        await store.close()
    truth = observations(simulation)
    assert set(rows) == set(truth)
    return {
        "identity": score(partition(truth, "identity"),
                          {ip: str(rows[ip].identity_id) for ip in truth}),
        "campaign": score(partition(truth, "campaign"),
                          {ip: str(rows[ip].campaign_id) for ip in truth}),
    }


def assert_bounds(found: dict[str, Scores], expected_path: Path) -> None:
    bounds = yaml.safe_load(expected_path.read_text(encoding="utf-8"))
    for level, scores in found.items():
        for metric, bound in bounds.items():
            value = getattr(scores, metric)
            assert value >= bound["min"], f"{level} {metric} {value:.3f} < {bound['min']}"


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", OWN)
async def test_own_scenarios_reach_their_bounds(name: str, seed: int, tmp_path: Path) -> None:
    found = await clustered(REPO / "scenarios" / f"{name}.yaml", seed, tmp_path / "home")
    assert_bounds(found, REPO / "scenarios" / f"{name}.expected.yaml")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", SCENARIO_NAMES)
async def test_shared_scenarios_reach_their_bounds(name: str, seed: int,
                                                   tmp_path: Path) -> None:
    path = shared_scenario(name)
    found = await clustered(path, seed, tmp_path / "home")
    assert_bounds(found, path.with_name(f"{name}.expected.yaml"))
