"""STIX 2.1 and MISP export of identities, through the projects' own libraries."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import stix2
from pymisp import MISPEvent

from tests.scenarios import ScenarioRun, run_scenario
from tests.support import REPO, run_cli


def test_a_rotator_exports_as_stix_and_misp_and_loads_back(tmp_path: Path) -> None:
    run = run_scenario_sync(tmp_path)
    stix_text = run_cli(tmp_path / "home", "export", "--format", "stix").stdout
    bundle = stix2.parse(stix_text, allow_custom=True)
    actors = [o for o in bundle.objects if o.type == "threat-actor"]
    assert len(actors) == 1
    rotator = {ip for ip, truth in run.truth.items() if truth.identity == "own-tools"}
    patterns = {o.pattern for o in bundle.objects if o.type == "indicator"}
    assert patterns == {f"[ipv4-addr:value = '{ip}']" for ip in rotator}
    assert any(f["kind"] == "hassh" for f in actors[0].x_decnet_fingerprints)

    events = json.loads(run_cli(tmp_path / "home", "export", "--format", "misp").stdout)
    assert len(events) == 1
    event = MISPEvent()
    event.load(events[0])
    assert {a.value for a in event.attributes if a.type == "ip-src"} == rotator
    assert any(a.type == "hassh-md5" for a in event.attributes)

    missing = run_cli(tmp_path / "home", "export", "--format", "stix", "--identity", "999999",
                      check=False)
    assert missing.returncode == 1 and "no identity" in missing.stderr


def run_scenario_sync(tmp_path: Path) -> ScenarioRun:
    return asyncio.run(run_scenario(REPO / "scenarios" / "stock_tool.yaml", 1, tmp_path / "home"))
