"""Three `serve` processes in network namespaces this test creates, joined by a bridge:
cutting one node's link partitions it (membership suspects it, gossip goes on
without it); restoring the link heals the partition and it converges.

Needs root and iproute2 (``ip netns``); skipped with the reason otherwise.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.multinode.test_gossip_federation import Node, ingest_scenario, join_all, member
from tests.support import wait_for

SUBNET = "10.231.77"


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def namespaced(tmp_path: Path) -> Iterator[tuple[list[Node], list[str]]]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if shutil.which("ip") is None:
        pytest.skip("iproute2 (ip) is not installed")
    tag = secrets.token_hex(2)
    bridge, namespaces, links = f"gbr{tag}", [f"gns{tag}{i}" for i in range(3)], []
    try:
        ip("link", "add", bridge, "type", "bridge")
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot create a bridge here: {exc.stderr.decode().strip()}")
    nodes: list[Node] = []
    try:
        ip("addr", "add", f"{SUBNET}.254/24", "dev", bridge)
        ip("link", "set", bridge, "up")
        for i, ns in enumerate(namespaces):
            host_end, node_end = f"gh{tag}{i}", f"gn{tag}{i}"
            ip("netns", "add", ns)
            ip("link", "add", host_end, "type", "veth", "peer", "name", node_end)
            ip("link", "set", node_end, "netns", ns)
            ip("link", "set", host_end, "master", bridge)
            ip("link", "set", host_end, "up")
            ip("-n", ns, "addr", "add", f"{SUBNET}.{i + 1}/24", "dev", node_end)
            ip("-n", ns, "link", "set", node_end, "up")
            ip("-n", ns, "link", "set", "lo", "up")
            links.append(host_end)
            nodes.append(Node(f"p{i}", tmp_path / f"p{i}", 50551, host=f"{SUBNET}.{i + 1}",
                              prefix=("ip", "netns", "exec", ns)))
        join_all(nodes)
        yield nodes, links
    finally:
        for node in nodes:
            node.stop()
        for ns in namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)


def test_a_partitioned_node_is_suspected_and_catches_up_when_the_link_returns(
        namespaced: tuple[list[Node], list[str]]) -> None:
    nodes, links = namespaced
    ingest_scenario(nodes[0], "slow_rotator", 1)
    wait_for(lambda: all(n.records_of(nodes[0].key_id) >= 1 for n in nodes), "first spread")

    ip("link", "set", links[2], "down")  # p2 is cut off; its process keeps running
    wait_for(lambda: member(nodes[0], nodes[2])["status"] in ("suspect", "dead"),
             "p0 suspects the isolated p2")
    ingest_scenario(nodes[1], "stock_tool", 2)
    wait_for(lambda: nodes[0].records_of(nodes[1].key_id) >= 1, "p1's record reaches p0")
    assert nodes[2].records_of(nodes[1].key_id) == 0  # behind the partition

    ip("link", "set", links[2], "up")
    wait_for(lambda: nodes[2].records_of(nodes[1].key_id) >= 1, "the partition heals")
    wait_for(lambda: member(nodes[0], nodes[2])["status"] == "alive", "p2 alive again")
