"""Three real `serve` processes advertising on loopback find each other with zeroconf,
and list one another only as candidates: nobody gossips with an untrusted key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_gossip_discovery import _loopback_multicast_problem
from tests.multinode.test_gossip_federation import ENV, Node, free_port
from tests.support import json_out, run_cli, wait_for

DISCOVERY = {**ENV, "DECNET_FED_DISCOVERY_INTERFACES": "127.0.0.1",
             "DECNET_FED_DISCOVERY_REFRESH_INTERVAL_S": "0.5"}


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[Node]]:
    problem = _loopback_multicast_problem()
    if problem:
        pytest.skip(problem)
    found = [Node(f"d{i}", tmp_path / f"d{i}", free_port(), env=DISCOVERY) for i in range(3)]
    try:
        for node in found:
            run_cli(node.home, "init", "--name", node.name)
            node.key_id = json_out(run_cli(node.home, "whoami", "--json"))["key_id"]
            node.start()
        yield found
    finally:
        for node in found:
            node.stop()


def discovered(node: Node) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json_out(run_cli(node.home, "peers", "list", "--discovered",
                                                  "--json"))
    return rows


def test_discovered_nodes_are_candidates_only(nodes: list[Node]) -> None:
    def finds_the_others(node: Node) -> bool:
        return {r["key_id"] for r in discovered(node)} == {n.key_id for n in nodes
                                                            if n is not node}

    for node in nodes:
        wait_for(lambda: finds_the_others(node), f"{node.name} discovers the other two")  # noqa: B023
    rows = discovered(nodes[0])
    assert all(r["trusted"] is False for r in rows)
    assert {r["address"] for r in rows} == {f"127.0.0.1:{n.port}" for n in nodes[1:]}
    assert json_out(run_cli(nodes[0].home, "peers", "list", "--json")) == []  # not trusted
    assert all(r["status"] == "self" for r in json_out(run_cli(nodes[0].home, "members",
                                                                "--json")))
