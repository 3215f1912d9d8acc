"""Real federation nodes for the integration suites: ingested stores, servers on port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc

from federation.audit import AuditLog
from federation.client import FederationClient
from federation.config import ServerLimits
from federation.keys import NodeKey
from federation.ledger import Ledger
from federation.privacy import PrivacyPolicy
from federation.runtime import FederationNode, start_node
from federation.service import Clock, FederationService
from federation.tls import channel_credentials, make_certificate, server_name
from federation.trust import Peer, TrustStore
from node.config import load_config
from node.ingest.pipeline import ingest_sources
from node.profile.profiler import profiler_from_config
from node.profile.stages import PROFILE_STAGES
from node.query import NodeQuery, StoreQuery
from node.store import Store
from tests.federation_helpers import FakeClock


async def ingest(home: Path, sources: Sequence[Path]) -> Store:
    """A node store filled by the real ingest pipeline and profiler."""
    home.mkdir(parents=True, exist_ok=True)
    config = load_config(home, env={})
    store = await Store.open(home / "node.db", profilers=[profiler_from_config(config)],
                             stages=PROFILE_STAGES)
    if sources:
        await ingest_sources(store, [str(s) for s in sources], batch_size=1000,
                             max_line_bytes=65536)
    return store


@dataclass
class RunningNode:
    name: str
    key: NodeKey
    node: FederationNode
    clock: FakeClock
    plaintext: bool

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.node.port}"

    @property
    def health_address(self) -> str:
        return f"127.0.0.1:{self.node.health_port}"

    @property
    def service(self) -> FederationService:
        return self.node.service

    @property
    def trust(self) -> TrustStore:
        return self.node.trust

    def trust_key(self, name: str, key: NodeKey) -> Peer:
        """Trust ``key`` (with its certificate, as `peers add` would fetch it)."""
        trust = self.node.trust
        peer = trust.add(name, f"127.0.0.1:{1 + len(trust)}", key.public.text,
                         make_certificate(key)[1])
        self.node.replace_trust(trust)
        return peer

    def as_peer(self, name: str | None = None) -> Peer:
        """How another node's trust store names this one."""
        return TrustStore().add(name or self.name, self.address, self.key.public.text,
                                make_certificate(self.key)[1])

    def channel(self, key: NodeKey) -> grpc.aio.Channel:
        """A raw channel to this node presenting ``key``'s certificate (hostile clients)."""
        if self.plaintext:
            return grpc.aio.insecure_channel(self.address)
        name = server_name(self.key.key_id)
        return grpc.aio.secure_channel(
            self.address, channel_credentials(make_certificate(self.key)[1], key),
            options=[("grpc.ssl_target_name_override", name), ("grpc.default_authority", name)])


@asynccontextmanager
async def running_node(name: str, query: NodeQuery, *, plaintext: bool = False,
                       policy: PrivacyPolicy | None = None,
                       limits: ServerLimits | None = None,
                       key: NodeKey | None = None, audit: AuditLog | None = None,
                       ledger: Ledger | None = None,
                       clock: Clock | None = None) -> AsyncIterator[RunningNode]:
    """A node on 127.0.0.1:0 (mutual TLS unless ``plaintext``); ``clock`` defaults to a fake."""
    key = key or NodeKey.generate()
    fake = FakeClock()
    started = await start_node(key=key, name=name, trust=TrustStore(), query=query,
                               listen="127.0.0.1:0", health_listen="127.0.0.1:0",
                               plaintext=plaintext, limits=limits or ServerLimits(),
                               policy=policy or PrivacyPolicy.local(),
                               audit=audit or AuditLog(None), ledger=ledger or Ledger(None),
                               clock=clock or fake)
    started.grace_s = 0.0  # tests end their calls themselves; stop at once
    async with started as node:
        yield RunningNode(name, key, node, fake, plaintext)


def trust_each_other(nodes: Sequence[RunningNode]) -> None:
    for node in nodes:
        trust = node.trust
        for other in nodes:
            if other is not node:
                trust.add(other.name, other.address, other.key.public.text,
                          make_certificate(other.key)[1])
        node.node.replace_trust(trust)


@asynccontextmanager
async def store_nodes(tmp_path: Path, logs: Mapping[str, Sequence[Path]],
                      plaintext: bool = False) -> AsyncIterator[list[RunningNode]]:
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


def client_for(node: RunningNode, *, deadline_s: float = 10.0) -> FederationClient:
    return FederationClient(node.key, plaintext=node.plaintext, deadline_s=deadline_s,
                            clock=node.clock)
