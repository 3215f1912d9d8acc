"""The textbook heuristics fail exactly where the clusterer succeeds.

Each baseline groups observations by one weak signal the clusterer refuses
to link on: the ASN, the credential list tried, the working hours, the
activity window. On the scenario built to trap it, the baseline breaches
the scenario's bound (splitting one actor, or merging unrelated ones) while
the node's own clustering of the same ingested lines scores 1.0.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from node.cluster.score import Scores, score
from node.simulate.truth import partition
from tests.scenarios import ScenarioRun, run_scenario, shared_scenario
from tests.support import REPO

Baseline = Callable[[ScenarioRun], dict[str, str]]


def by_asn(run: ScenarioRun) -> dict[str, str]:
    """One group per ASN (what ip2asn enrichment says of each address)."""
    return {ip: str(truth.asn) for ip, truth in run.truth.items()}


def by_credentials(run: ScenarioRun) -> dict[str, str]:
    """One group per set of credentials tried."""
    with sqlite3.connect(run.store_path) as conn:
        tried: dict[str, set[str]] = {}
        for ip, username, secret in conn.execute(
                "SELECT ip, username, secret FROM profile_credentials"):
            tried.setdefault(ip, set()).add(f"{username}:{secret}")
    conn.close()
    return {ip: ",".join(sorted(tried.get(ip, ()))) or f"none:{ip}" for ip in run.truth}


def by_shift(run: ScenarioRun) -> dict[str, str]:
    """One group per working shift of the first activity (night, day, evening)."""
    def shift(time_us: int) -> str:
        hour = time_us // 3_600_000_000 % 24
        return "night" if hour >= 22 or hour < 6 else "day" if hour < 14 else "evening"
    return {ip: shift(run.rows[ip].first_seen_us) for ip in run.truth}


def by_overlapping_windows(run: ScenarioRun) -> dict[str, str]:
    """Observations whose activity windows overlap, transitively, are one group."""
    spans = sorted((row.first_seen_us, row.last_seen_us, ip) for ip, row in run.rows.items())
    labels: dict[str, str] = {}
    group, reach = 0, -1
    for first, last, ip in spans:
        if first > reach:
            group += 1
        reach = max(reach, last)
        labels[ip] = str(group)
    return labels


CASES = [
    # (scenario, where, baseline, level, metric that must break)
    ("vpn_hopping", "shared", by_asn, "identity", "completeness"),
    ("slow_rotator", "own", by_asn, "identity", "completeness"),
    ("shared_wordlist", "shared", by_credentials, "campaign", "homogeneity"),
    ("multi_operator", "shared", by_shift, "campaign", "completeness"),
    ("slow_rotator", "own", by_shift, "identity", "completeness"),
    ("paused_campaign", "own", by_overlapping_windows, "campaign", "homogeneity"),
    ("shared_honeypots", "own", by_overlapping_windows, "campaign", "homogeneity"),
]


@pytest.mark.parametrize(("name", "where", "baseline", "level", "metric"), CASES,
                         ids=[f"{c[2].__name__}-{c[0]}" for c in CASES])
async def test_a_weak_signal_heuristic_fails_where_the_clusterer_succeeds(
        name: str, where: str, baseline: Baseline, level: str, metric: str,
        tmp_path: Path) -> None:
    path = REPO / "scenarios" / f"{name}.yaml" if where == "own" else shared_scenario(name)
    run = await run_scenario(path, 1, tmp_path / "home")
    truth = partition(run.truth, "identity" if level == "identity" else "campaign")
    theirs: Scores = score(truth, baseline(run))
    ours = run.scores()[level]
    assert getattr(theirs, metric) < 1.0, (baseline.__name__, theirs)
    assert ours == Scores(1.0, 1.0, 1.0, 1.0), ours
