"""Five real nodes (`decnet-fed serve` processes, mutual TLS on 127.0.0.1) gossiping.

Scenarios: a new identity on one node reaches all; nodes killed meanwhile
come back with their state and catch up; the records a node holds are the
origin's exact signed bytes.
"""

from __future__ import annotations

import re
import signal
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_metrics import assert_no_attacker_labels, scrape
from tests.support import (
    OFFLINE,
    REPO,
    json_out,
    read_serve_info,
    run_cli,
    spawn_cli,
    wait_for,
)

SCENARIOS = REPO / "scenarios"
#: Fast rounds and catch-up; generous budgets (five nodes gossip with each other often).
ENV = {**OFFLINE, "DECNET_FED_GOSSIP_INTERVAL": "0.3",
       "DECNET_FED_GOSSIP_PUBLISH_INTERVAL_S": "0.5",
       "DECNET_FED_STORE_CATCH_UP_INTERVAL_S": "0.3", "DECNET_FED_PRIVACY_RATE_PER_S": "1000",
       "DECNET_FED_PRIVACY_BURST": "100000", "DECNET_FED_GOSSIP_MEMBERSHIP": "local"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Node:
    name: str
    home: Path
    port: int
    key_id: str = ""
    proc: subprocess.Popen[str] | None = None
    env: dict[str, str] = field(default_factory=lambda: dict(ENV))
    host: str = "127.0.0.1"
    #: A command to run `serve` under (``ip netns exec NS``), if any.
    prefix: tuple[str, ...] = ()
    metrics_port: int = 0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> None:
        self.proc = spawn_cli(self.home, "serve", "--listen", self.address,
                              "--health-listen", "", "--metrics-listen", "127.0.0.1:0",
                              "--json", env_extra=self.env,
                              prefix=self.prefix)
        info = read_serve_info(self.proc)
        assert info["port"] == self.port
        self.metrics_port = int(info["metrics"].rpartition(":")[2])

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.communicate()
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.communicate(timeout=30)
            self.proc = None

    def records_of(self, origin: str) -> int:
        """Live summary records of ``origin`` in this node's gossip file (0 before it
        exists): not tombstones (3), not its OPRF key record (4)."""
        path = self.home / "gossip.db"
        if not path.exists():
            return 0
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
                return int(db.execute("SELECT count(*) FROM records WHERE origin = ? AND"
                                      " kind NOT IN (3, 4)", (origin,)).fetchone()[0])
        except sqlite3.OperationalError:
            return 0

    def bodies_of(self, origin: str) -> set[tuple[bytes, bytes]]:
        with sqlite3.connect(f"file:{self.home / 'gossip.db'}?mode=ro", uri=True) as db:
            return {(bytes(b), bytes(s)) for b, s in db.execute(
                "SELECT body, signature FROM records WHERE origin = ?", (origin,))}


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[list[Node]]:
    nodes = [Node(f"n{i}", tmp_path / f"n{i}", free_port()) for i in range(5)]
    try:
        join_all(nodes)
        yield nodes
    finally:
        for node in nodes:
            node.stop()


def join_all(nodes: list[Node]) -> None:
    """Initialise every node, start its `serve`, and make all of them trust each other."""
    for node in nodes:
        run_cli(node.home, "init", "--name", node.name)
        node.key_id = json_out(run_cli(node.home, "whoami", "--json"))["key_id"]
    publics = {n.name: json_out(run_cli(n.home, "whoami", "--json"))["public_key"] for n in nodes}
    for node in nodes:
        node.start()
    for node in nodes:
        for other in nodes:
            if other is not node:
                run_cli(node.home, "peers", "add", other.name, other.address,
                        "--key", publics[other.name])
        assert node.proc is not None
        node.proc.send_signal(signal.SIGHUP)  # serve reloads its trust store


def ingest_scenario(node: Node, scenario: str, seed: int) -> None:
    out = node.home.parent / f"{node.name}-{scenario}-{seed}"
    run_cli(node.home, "simulate", str(SCENARIOS / f"{scenario}.yaml"), "--seed", str(seed),
        "-o", str(out))
    run_cli(node.home, "ingest", str(out / "sensors.log"))


def test_a_new_identity_reaches_every_node_and_killed_nodes_catch_up(
        federation: list[Node]) -> None:
    nodes = federation
    ingest_scenario(nodes[0], "slow_rotator", 1)
    wait_for(lambda: all(n.records_of(nodes[0].key_id) >= 1 for n in nodes),
             "n0's identity on every node")
    exact = nodes[0].bodies_of(nodes[0].key_id)
    assert all(n.bodies_of(nodes[0].key_id) == exact for n in nodes)  # the origin's bytes

    body = scrape(nodes[0].metrics_port)  # real traffic in the labels now
    assert re.search(r'^decnet_fed_rpcs_total\{code="OK",method="Gossip"\} [1-9]', body, re.M)
    assert_no_attacker_labels(body)
    status = json_out(run_cli(nodes[0].home, "status", "--json"))
    assert {p["name"] for p in status["peers"]} == {n.name for n in nodes[1:]}
    assert all(p["status"] in ("alive", "suspect") for p in status["peers"])

    # the same attacker seen by a second operator: both report it, a third asks no one
    ingest_scenario(nodes[1], "slow_rotator", 1)
    wait_for(lambda: nodes[2].records_of(nodes[1].key_id) >= 1, "n1's report on n2")
    identity = json_out(run_cli(nodes[1].home, "identities", "--json"))[0]["id"]
    detail = json_out(run_cli(nodes[1].home, "identity", str(identity), "--json"))
    assert detail["shared"]["operators"] == 1  # n0, never named
    ja3 = next(f["value"] for f in detail["fingerprints"] if f["kind"] == "ja3")
    assert f"ja3 {ja3}" in detail["shared"]["signals"]
    shared = json_out(run_cli(nodes[1].home, "identities", "--shared", "--json"))
    assert [row["id"] for row in shared] == [identity]
    asked = json_out(run_cli(nodes[2].home, "query", "fingerprint", "ja3", ja3, "--gossiped",
                             "--json"))
    assert asked["mode"] == "gossiped" and asked["seen"] is True and asked["operators"] == 2
    never = json_out(run_cli(nodes[2].home, "query", "fingerprint", "ja3", "0" * 32,
                             "--gossiped", "--json"))
    assert never["seen"] is False and never["operators"] == 0

    nodes[1].kill()
    nodes[2].kill()
    ingest_scenario(nodes[3], "stock_tool", 2)
    alive = [nodes[0], nodes[3], nodes[4]]
    wait_for(lambda: all(n.records_of(nodes[3].key_id) >= 1 for n in alive),
             "n3's identity on the nodes still up")
    assert nodes[1].records_of(nodes[3].key_id) == 0

    wait_for(lambda: member(nodes[0], nodes[1])["status"] == "dead", "n1 declared dead")
    before = member(nodes[1], nodes[1])["incarnation"]

    nodes[1].start()
    nodes[2].start()
    assert nodes[1].records_of(nodes[0].key_id) >= 1  # its state survived the kill
    wait_for(lambda: all(n.records_of(nodes[3].key_id) >= 1 for n in nodes),
             "the restarted nodes caught up")
    wait_for(lambda: member(nodes[0], nodes[1])["status"] == "alive", "n1 alive again")
    assert member(nodes[0], nodes[1])["incarnation"] > before  # a higher incarnation won


def member(viewer: Node, of: Node) -> dict[str, Any]:
    """``of`` as ``viewer``'s `decnet-fed members` shows it."""
    rows: list[dict[str, Any]] = json_out(run_cli(viewer.home, "members", "--json"))
    return next(r for r in rows if r["key_id"] == of.key_id)
