"""What a node may gossip about its identities and campaigns: distinctive values only,
every value past the privacy thresholds, no address, and handles that are stable."""

from __future__ import annotations

import json
from pathlib import Path

from node.query import GroupSummary, StoreQuery, Thresholds
from node.store import Store
from tests.scenarios import run_scenario
from tests.support import REPO

SCENARIOS = REPO / "scenarios"


async def summaries_of(store_path: Path, layer: str,
                       thresholds: Thresholds) -> list[GroupSummary]:
    store = await Store.open(store_path)
    try:
        return list(await StoreQuery(store).summaries(layer, thresholds))
    finally:
        await store.close()


async def test_a_rotator_is_one_summary_and_stock_scanners_none(tmp_path: Path) -> None:
    run = await run_scenario(SCENARIOS / "stock_tool.yaml", 1, tmp_path / "home")
    found = await summaries_of(run.store_path, "identity", Thresholds(1, 1))
    # thirty scanners share one stock HASSH: nobody is summarised for it alone
    stock = {ip for ip, truth in run.truth.items() if truth.identity.startswith("stock-scanner")}
    assert stock, "the scenario has its scanners"
    text = json.dumps([repr(s) for s in found])
    assert not any(ip in text for ip in run.truth)  # no address ever
    rotator = [ip for ip, truth in run.truth.items() if truth.identity == "own-tools"]
    assert [s.observations for s in found] == [len(rotator)]

async def test_handles_are_stable_and_campaigns_of_one_identity_are_not_summarised(
        tmp_path: Path) -> None:
    run = await run_scenario(SCENARIOS / "slow_rotator.yaml", 1, tmp_path / "home")
    first = await summaries_of(run.store_path, "identity", Thresholds(1, 1))
    again = await summaries_of(run.store_path, "identity", Thresholds(1, 1))
    assert first == again and len(first) == 1
    assert await summaries_of(run.store_path, "campaign", Thresholds(1, 1)) == []


async def test_values_below_the_thresholds_are_left_out(tmp_path: Path) -> None:
    run = await run_scenario(SCENARIOS / "slow_rotator.yaml", 1, tmp_path / "home")
    assert await summaries_of(run.store_path, "identity", Thresholds(1, 2)) == []
