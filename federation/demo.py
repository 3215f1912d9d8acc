"""`decnet-fed demo`: a real three-node federation on loopback, in one process.

Three operators (north, east, south) each get a node home with its own
Ed25519 key, ingest their own sensor logs through the real pipeline,
profiler and clustering, serve the federation over identity-pinned TLS on
127.0.0.1, trust each other and gossip their identities' summaries until
every node holds every record. North then asks its peers the questions an
operator asks, and looks up what gossip told it without asking anyone.
What crossed the wire: aggregates and signed summaries, never attackers.
Nothing outside the demo directory is touched; no setup is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from federation.blind.asker import BLIND_TABLES_DIR, BlindQuestion, TableCache, ask_blind
from federation.blind.published import gossiped_keys
from federation.client import FederationClient
from federation.config import FederationConfig, load_federation_config
from federation.gossip.config import GossipConfig
from federation.gossip.engine import GossipEngine
from federation.gossip.index import FederatedIndex
from federation.keys import NodeKey, ensure_key_file
from federation.report import query_report
from federation.runtime import GOSSIP_FILE, FederationNode, start_configured_node
from federation.tls import make_certificate
from federation.trust import TrustStore
from federation.wire import FingerprintQuestion, SmtpQuestion
from node.home import init_home, open_store
from node.ingest.pipeline import ingest_sources
from node.profile.profiler import profiler_from_config
from node.query import StoreQuery, Thresholds
from node.simulate.generate import generate
from node.simulate.render import render_session
from node.simulate.scenario import parse_scenario
from node.simulate.signals import hassh_of
from node.store import Store

#: The demo's attackers, rendered by the simulator (`node.simulate`) and split
#: between the operators by honeypot: one rotating actor with its own SSH
#: client and typing rhythm works through honeypots of all three; another,
#: on a sticky address, only through some; scanners everywhere.
DEMO_SCENARIO = """
corpus:
  campaigns:
    - campaign:
        id: demo-ssh
        duration_days: 4
        actors:
          - id: rotating-broker
            asn: 64620
            ip_pool: rotating
            rotation_count: 6
            rotation_asns: [64620, 64621, 64622]
            hassh: "demo-broker-ssh-client"
            keystroke_profile: 7
            hours_active_utc: [1, 2, 3, 21, 22, 23]
          - id: sticky-looter
            asn: 64630
            ja3: "771,4865-4866-4867-49195-49199,0-23-65281-10-11-35-16-5-13-43-45-51,29-23-24,0"
            hassh: "demo-looter-ssh-client"
            hours_active_utc: [10, 11, 12, 13]
        phases:
          - name: exploitation
            actor: rotating-broker
            tool_signature:
              credentials: [["root", "123456"], ["admin", "admin"]]
            target_selector: { count: 6 }
          - name: discovery
            actor: rotating-broker
            target_selector: { count: 6 }
          - name: collection
            actor: sticky-looter
            target_selector: { count: 3 }
  noise:
    scanner_count: 24
"""
DEMO_SEED = 1
#: The honeypots of each operator (the simulator's decky-01 … decky-20).
HONEYPOTS = {"north": range(1, 8), "east": range(8, 15), "south": range(15, 21)}
#: A HASSH and a JA3 that the same tooling shows at several operators.
SHARED_HASSH = hassh_of("demo-broker-ssh-client")
SHARED_JA3 = "e7d705a3286e19ea42f587b344ee6865"
#: The mail target two operators saw (mail is not simulated: written below).
TARGET_DOMAIN = "corp1.com"

_SYSLOG = '<134>1 2026-03-{day}T{time}+00:00 {host} {app} - {msgid} [relay@55555 {sd}]'


def _mail(day: str, time: str, host: str, ip: str, rcpt: str) -> str:
    return _SYSLOG.format(day=day, time=time, host=host, app="smtp", msgid="rcpt_to",
                          sd=f'src="{ip}" value="<{rcpt}>"')


def _tls(day: str, time: str, host: str, ip: str, ja3: str) -> str:
    return _SYSLOG.format(day=day, time=time, host=host, app="sniffer", msgid="tls_client_hello",
                          sd=f'src_ip="{ip}" dst_port="443" ja3="{ja3}"')


#: What the mail and web sensors saw, beside the simulated SSH honeypots. North
#: and east see mail aimed at the same victim domain; north and south the same
#: TLS client.
SENSOR_LINES: dict[str, list[str]] = {
    "north": [
        _mail("02", "08:14:05.120334", "mail-01", "198.51.100.23", f"jane@{TARGET_DOMAIN}"),
        _mail("02", "08:14:06.004100", "mail-01", "198.51.100.23", f"ops@{TARGET_DOMAIN}"),
        _mail("03", "11:02:00.5", "mail-02", "198.51.100.24", "bob@unrelated.org"),
        _tls("02", "09:01:00", "web-02", "192.0.2.44", SHARED_JA3),
    ],
    "east": [
        _mail("04", "22:40:12", "mx-east", "203.0.113.61", f"payroll@{TARGET_DOMAIN}"),
    ],
    "south": [
        _tls("06", "04:00:00", "web-south", "203.0.113.7", SHARED_JA3),
    ],
}


def demo_logs() -> dict[str, list[str]]:
    """Each operator's sensor log: its share of the simulated sessions, then its mail
    and web lines (the ingest does not need them in time order)."""
    simulation = generate(parse_scenario(DEMO_SCENARIO, "demo"), DEMO_SEED)
    owner = {f"decky-{n:02d}": name for name, numbers in HONEYPOTS.items() for n in numbers}
    timed: dict[str, list[tuple[int, str]]] = {name: [] for name in HONEYPOTS}
    for session in simulation.sessions:
        timed[owner[session.honeypot]].extend(render_session(session))
    return {name: [line for _, line in sorted(lines)] + SENSOR_LINES[name]
            for name, lines in timed.items()}


#: What north asks its peers.
DEMO_QUESTIONS: tuple[BlindQuestion, ...] = (
    SmtpQuestion(TARGET_DOMAIN),
    FingerprintQuestion("hassh", SHARED_HASSH),
    FingerprintQuestion("ja3", SHARED_JA3),
)
ASKER = "north"


@dataclass(slots=True)
class DemoNode:
    """One running demo node."""

    name: str
    fed: FederationConfig
    key: NodeKey
    store: Store
    node: FederationNode
    events_stored: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.node.port}"


async def build_node(home: Path, name: str, log_lines: Sequence[str]) -> DemoNode:
    """Init a node home, ingest its logs, and start serving it on loopback over TLS."""
    config = (await init_home(home, name)).config
    fed = load_federation_config(config)
    key, _ = ensure_key_file(fed.key_path)
    log = home / "sensors.log"
    log.write_text("\n".join(log_lines) + "\n", encoding="utf-8")
    store = await open_store(config, profilers=[profiler_from_config(config)])
    try:
        report = await ingest_sources(store, [str(log)], batch_size=config.store.batch_size,
                                      max_line_bytes=config.ingest.max_line_bytes)
        node = await start_configured_node(fed, key, StoreQuery(store), listen="127.0.0.1:0",
                                           plaintext=False, health_listen="127.0.0.1:0")
    except BaseException:
        await store.close()
        raise
    return DemoNode(name, fed, key, store, node, report.events_stored)


def trust_each_other(nodes: Sequence[DemoNode]) -> None:
    """Every node trusts every other node's key and certificate at its bound address.

    The demo holds every key, so it makes each certificate itself; between
    real operators `peers add` fetches it from the peer and checks its binding.
    """
    for node in nodes:
        trust = TrustStore()
        for peer in nodes:
            if peer is not node:
                trust.add(peer.name, peer.address, peer.key.public.text,
                          make_certificate(peer.key)[1])
        trust.save(node.fed.peers_path)
        node.node.replace_trust(trust)


@contextlib.asynccontextmanager
async def running_federation(base: Path) -> AsyncIterator[list[DemoNode]]:
    """Start the three demo nodes under ``base``; stop them on exit."""
    async with contextlib.AsyncExitStack() as stack:
        nodes: list[DemoNode] = []
        for name, lines in demo_logs().items():
            node = await build_node(base / name, name, lines)
            stack.push_async_callback(node.store.close)
            node.node.grace_s = 1.0
            await stack.enter_async_context(node.node)
            nodes.append(node)
        trust_each_other(nodes)
        for node in nodes:
            node.node.start_gossip(GossipConfig.local(), StoreQuery(node.store),
                                   node.fed.node.home_file(GOSSIP_FILE), plaintext=False)
        yield nodes


async def gossip_converged(nodes: Sequence[DemoNode], deadline_s: float = 30.0) -> float:
    """Seconds until every node holds every node's records (TimeoutError past the deadline)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(deadline_s):
        while True:
            published = {n.key.key_id: _engine(n).held().get(n.key.key_id, 0) for n in nodes}
            if all(published.values()) and all(
                    _engine(n).held().get(origin, 0) == count
                    for n in nodes for origin, count in published.items()):
                return loop.time() - started
            await asyncio.sleep(0.05)


def _engine(node: DemoNode) -> GossipEngine:
    assert node.node.gossip is not None
    return node.node.gossip.engine


async def gossip_view(asker: DemoNode, nodes: Sequence[DemoNode]) -> dict[str, Any]:
    """What ``asker`` learnt from gossip: records per operator, fingerprints seen by several
    operators, and its own identities "also seen" elsewhere; nobody is asked."""
    names = {n.key.key_id: n.name for n in nodes}
    engine = _engine(asker)
    index = FederatedIndex(engine.records(), asker.key.key_id)
    summaries = await StoreQuery(asker.store).summaries("identity", Thresholds(1, 1))
    return {
        "records_held": {names[o]: count for o, count in sorted(engine.held().items())},
        "oprf_keys_from": sorted(names[o] for o in gossiped_keys(engine.records())),
        "fingerprints": [{"kind": kind, "value": value,
                          "operators": index.fingerprint(kind, value).operators}
                         for kind, value in (("hassh", SHARED_HASSH), ("ja3", SHARED_JA3))],
        "identities_also_seen": [{"operators": m.operators, "signals": list(m.signals)}
                                 for m in map(index.matches, summaries) if m.operators],
    }


async def ask_from(asker: DemoNode, nodes: Sequence[DemoNode],
                   questions: Sequence[BlindQuestion]) -> list[dict[str, Any]]:
    """``asker`` asks all its peers blind (as `query` does by default), checking each
    peer's OPRF key against the one it gossiped; one report per question."""
    peers = list(TrustStore.load(asker.fed.peers_path))
    async with FederationClient(asker.key, plaintext=False,
                                deadline_s=asker.fed.settings.query_deadline_s) as client:
        rows = await ask_blind(client, peers, questions,
                               TableCache(asker.fed.node.home / BLIND_TABLES_DIR),
                               gossiped_keys(_engine(asker).records()))
    return [query_report(q, r) for q, r in zip(questions, rows, strict=True)]


async def run_demo(base: Path, *, serve: bool) -> dict[str, Any]:
    """Run the demo under ``base``; with ``serve``, keep serving until SIGINT/SIGTERM."""
    async with running_federation(base) as nodes:
        asker = next(node for node in nodes if node.name == ASKER)
        converged_s = await gossip_converged(nodes)
        reports = await ask_from(asker, nodes, DEMO_QUESTIONS)
        gossip = {"converged_in_s": round(converged_s, 2), **await gossip_view(asker, nodes)}
        result = {
            "directory": str(base),
            "asker": ASKER,
            "nodes": [{"name": n.name, "address": n.address, "key_id": n.key.key_id,
                       "home": str(n.fed.node.home), "events_stored": n.events_stored}
                      for n in nodes],
            "questions": reports,
            "gossip": gossip,
        }
        if serve:
            await _serve_until_stopped(result)
        return result


async def _serve_until_stopped(result: dict[str, Any]) -> None:
    print("\nthe demo federation keeps serving; try, in another shell:")
    for node in result["nodes"]:
        print(f"  decnet-fed --home {node['home']} query smtp {TARGET_DOMAIN}")
    print("Ctrl-C stops it.", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


@contextlib.contextmanager
def demo_directory(chosen: str | None) -> Any:
    """``chosen`` (kept, must be empty or new) or a temporary directory (removed)."""
    if chosen is not None:
        base = Path(chosen).expanduser().resolve()
        if base.exists() and any(base.iterdir()):
            raise FileExistsError(f"{base} is not empty: give the demo a new directory")
        base.mkdir(parents=True, exist_ok=True)
        yield base
        return
    base = Path(tempfile.mkdtemp(prefix="decnet-fed-demo-"))
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)
