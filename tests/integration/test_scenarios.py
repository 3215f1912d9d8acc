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

from node.cluster.score import Scores
from tests.scenarios import SCENARIO_NAMES, run_scenario, shared_scenario
from tests.support import REPO

OWN = sorted(path.name.removesuffix(".yaml") for path in (REPO / "scenarios").glob("*.yaml")
             if not path.name.endswith(".expected.yaml"))
SEEDS = (1, 2, 3)


def assert_bounds(found: dict[str, Scores], expected_path: Path) -> None:
    bounds = yaml.safe_load(expected_path.read_text(encoding="utf-8"))
    for level, scores in found.items():
        for metric, bound in bounds.items():
            value = getattr(scores, metric)
            assert value >= bound["min"], f"{level} {metric} {value:.3f} < {bound['min']}"


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", OWN)
async def test_own_scenarios_reach_their_bounds(name: str, seed: int, tmp_path: Path) -> None:
    found = (await run_scenario(REPO / "scenarios" / f"{name}.yaml", seed,
                                tmp_path / "home")).scores()
    assert_bounds(found, REPO / "scenarios" / f"{name}.expected.yaml")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", SCENARIO_NAMES)
async def test_shared_scenarios_reach_their_bounds(name: str, seed: int,
                                                   tmp_path: Path) -> None:
    path = shared_scenario(name)
    found = (await run_scenario(path, seed, tmp_path / "home")).scores()
    assert_bounds(found, path.with_name(f"{name}.expected.yaml"))
