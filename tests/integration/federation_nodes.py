"""Real federation nodes for the integration suites: ingested stores, servers on port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from federation.audit import AuditLog
from federation.client import FederationClient
from federation.config import ServerLimits
from federation.keys import NodeKey
from federation.privacy import PrivacyPolicy
from federation.server import FederationServer, start_server
from federation.service import FederationService
from federation.trust import Peer, TrustStore
from node.config import load_config
from node.ingest.pipeline import ingest_sources
from node.profile.profiler import profiler_from_config
from node.query import NodeQuery, StoreQuery
from node.store import Store
from tests.federation_helpers import FakeClock


async def ingest(home: Path, sources: Sequence[Path]) -> Store:
    """A node store filled by the real ingest pipeline and profiler."""
    home.mkdir(parents=True, exist_ok=True)
    config = load_config(home, env={})
    store = await Store.open(home / "node.db", profilers=[profiler_from_config(config)])
    if sources:
        await ingest_sources(store, [str(s) for s in sources], batch_size=1000,
                             max_line_bytes=65536)
    return store


@dataclass
class RunningNode:
    name: str
    key: NodeKey
    trust: TrustStore
    service: FederationService
    server: FederationServer
    clock: FakeClock

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def as_peer(self, name: str | None = None) -> Peer:
        """How another node's trust store names this one."""
        return TrustStore().add(name or self.name, self.address, self.key.public.text)


@asynccontextmanager
async def running_node(name: str, query: NodeQuery, *, plaintext: bool = True,
                       policy: PrivacyPolicy | None = None,
                       limits: ServerLimits | None = None,
                       key: NodeKey | None = None) -> AsyncIterator[RunningNode]:
    key = key or NodeKey.generate()
    trust = TrustStore()
    clock = FakeClock()
    limits = limits or ServerLimits()
    service = FederationService(key=key, name=name, trust=trust, query=query, limits=limits,
                                policy=policy or PrivacyPolicy.local(), audit=AuditLog(None),
                                clock=clock)
    server = await start_server(service, "127.0.0.1:0", key=key, limits=limits,
                                plaintext=plaintext)
    try:
        yield RunningNode(name, key, trust, service, server, clock)
    finally:
        await server.stop(None)


def trust_each_other(nodes: Sequence[RunningNode]) -> None:
    for node in nodes:
        for other in nodes:
            if other is not node:
                node.trust.add(other.name, other.address, other.key.public.text)


@asynccontextmanager
async def store_nodes(tmp_path: Path, logs: Mapping[str, Sequence[Path]],
                      plaintext: bool = True) -> AsyncIterator[list[RunningNode]]:
    """One running node per entry of ``logs``, each answering from its own ingested store."""
    async with AsyncExitStack() as stack:
        nodes = []
        for name, sources in logs.items():
            store = await ingest(tmp_path / name, sources)
            stack.push_async_callback(store.close)
            nodes.append(await stack.enter_async_context(
                running_node(name, StoreQuery(store), plaintext=plaintext)))
        trust_each_other(nodes)
        yield nodes


def client_for(node: RunningNode, *, plaintext: bool = True,
               deadline_s: float = 10.0) -> FederationClient:
    return FederationClient(node.key, plaintext=plaintext, deadline_s=deadline_s,
                            clock=node.clock)
