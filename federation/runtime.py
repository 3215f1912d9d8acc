"""One running federation node: the service, its two listeners, and its maintenance.

`FederationNode` wires what ``serve``, the demo and the tests run: the
answering service with its durable ledger and audit log, the federation
listener (mutual TLS, or plaintext for loopback tests), the local monitoring
listener (health and reflection), and its maintenance tasks: retaking the
answer snapshot every ``answer_refresh_s``, catching the store's derived
data up every ``[store] catch_up_interval_s``, and fetching the certificate
of any trusted peer that was unreachable when it was added. ``reload`` (SIGHUP)
re-reads the trust store and reopens the audit log.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path

from federation.audit import AuditLog
from federation.blind.epochs import EpochKeys
from federation.blind.published import key_summary
from federation.blind.state import BlindAnswers
from federation.client import FederationClient, peer_certificate
from federation.config import FederationConfig, ServerLimits
from federation.errors import HomeFileError, PeerError, PinMismatch, TrustStoreError
from federation.gossip.config import GossipConfig
from federation.gossip.discovery import Advertisement, Discovery, DiscoveryConfig, DiscoveryError
from federation.gossip.engine import GossipEngine
from federation.gossip.liveness import Liveness
from federation.gossip.loop import GossipLoop
from federation.gossip.store import GossipStore
from federation.keys import NodeKey, PeerKey
from federation.ledger import Ledger
from federation.metrics import Metrics, Totals
from federation.peer_certs import PeerCertificates
from federation.privacy import PrivacyPolicy
from federation.server import GrpcServer, start_health_server, start_server
from federation.service import Clock, FederationService
from federation.tls import is_legacy_certificate
from federation.trust import Peer, TrustStore
from node.query import GroupSummary, NodeQuery, NodeTotals

logger = logging.getLogger(__name__)

#: Gossip state file in the node home.
GOSSIP_FILE = "gossip.db"


@dataclass(slots=True)
class FederationNode:
    """A started node; `stop` ends its listeners and tasks and closes its files.

    An async context manager: ``async with await start_node(...) as node:``
    stops it (with ``grace_s`` for in-flight calls) however the block ends.
    """

    key: NodeKey
    service: FederationService
    server: GrpcServer
    health_server: GrpcServer | None
    certificates: PeerCertificates | None
    trust: TrustStore
    audit: AuditLog
    ledger: Ledger
    peers_path: Path | None = None
    certificate_retry_s: float = 30.0
    grace_s: float = 10.0
    #: The home lock `start_configured_node` holds (one `serve` per home).
    lock: HomeLock | None = None
    #: Gossip and membership, when this node runs them (`start_gossip`).
    gossip: GossipLoop | None = None
    liveness: Liveness | None = None
    discovery: Discovery | None = None
    metrics: Metrics | None = None
    _tasks: set[asyncio.Task[object]] = field(default_factory=set)

    async def __aenter__(self) -> FederationNode:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop(self.grace_s)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def health_port(self) -> int | None:
        return None if self.health_server is None else self.health_server.port

    def replace_trust(self, trust: TrustStore) -> None:
        """Answer (and accept handshakes from) exactly ``trust`` from now on; gossip
        forgets the records of origins no longer trusted."""
        self.trust = trust
        self.service.replace_trust(trust)
        if self.certificates is not None:
            self.certificates.replace(trust)
        if self.gossip is not None:
            self.gossip.engine.forget_untrusted()

    def trusted_key(self, key_id: str) -> PeerKey | None:
        """The key of a trusted origin (this node's own included), else None."""
        if key_id == self.key.key_id:
            return self.key.public
        peer = self.trust.by_key_id(key_id)
        return None if peer is None else peer.key

    def start_gossip(self, config: GossipConfig, query: NodeQuery, path: Path,
                     plaintext: bool) -> GossipLoop:
        """Open the gossip file at ``path``, serve Gossip and Ping, and run gossip rounds
        and membership in the background."""
        store = GossipStore(path)
        engine = GossipEngine(self.key, store, self.trusted_key, config)

        def peers() -> list[Peer]:
            return [p for p in self.trust if plaintext or p.certificate is not None]

        membership = config.membership_config()
        self.liveness = Liveness(
            self.key.key_id, store, FederationClient(
                self.key, plaintext=plaintext, deadline_s=membership.probe_timeout_s * 4),
            peers, membership)
        self.gossip = GossipLoop(
            engine, FederationClient(self.key, plaintext=plaintext,
                                     deadline_s=config.call_timeout_s),
            peers=peers, query=query, thresholds=self.service.thresholds, config=config,
            alive=self.liveness.alive, extra_summaries=self._blind_key_summaries)
        self.service.gossip = engine
        self.service.liveness = self.liveness
        self._start(self.liveness.run())
        self._start(self.gossip.run())
        return self.gossip

    def _blind_key_summaries(self) -> list[GroupSummary]:
        """This node's OPRF keys, gossiped beside its summaries (none: no blind questions)."""
        blind = self.service.blind
        if blind is None:
            return []
        return [key_summary(blind.keys.public_keys(self.service.clock()))]

    def reload(self) -> None:
        """SIGHUP: re-read the trust store file and reopen the audit log.

        Certificates this process fetched are carried over for peers whose key
        did not change: the file does not hold them (`serve` never writes it).
        """
        self.audit.reopen()
        if self.peers_path is None:
            return
        try:
            trust = TrustStore.load(self.peers_path)
            for peer in trust.needing_certificates():
                known = self.trust.by_key_id(peer.key.key_id)
                if known is not None and known.certificate is not None \
                        and not is_legacy_certificate(known.certificate):
                    trust.set_certificate(peer.name, known.certificate)
        except TrustStoreError as exc:
            logger.error("trust store not reloaded: %s", exc)
            return
        self.replace_trust(trust)
        logger.warning("trust store reloaded: %d peers", len(trust))
        if self.certificates is not None and trust.needing_certificates():
            self._start(self.fetch_missing_certificates())

    async def fetch_missing_certificates(self) -> int:
        """Fetch and verify certificates of trusted peers that lack one or hold a version 1
        one (`TrustStore.needing_certificates`); how many were added or replaced."""
        if self.certificates is None:
            return 0
        added = 0
        for peer in self.trust.needing_certificates():
            try:
                async with asyncio.timeout(5.0):
                    pem = await peer_certificate(peer)
            except PinMismatch as exc:
                logger.warning("peer %s: %s serves another key's certificate (%s)",
                               peer.name, peer.address, exc)
                continue
            except (PeerError, TimeoutError) as exc:
                logger.info("certificate of peer %s not fetched yet: %s", peer.name, exc)
                continue
            current = self.trust.by_key_id(peer.key.key_id)  # a reload may have run meanwhile
            if current is None or current.certificate != peer.certificate \
                    or pem == peer.certificate:
                continue
            self.trust.set_certificate(current.name, pem)
            added += 1
        if added:
            self.certificates.replace(self.trust)
        return added

    async def start_discovery(self, config: DiscoveryConfig, name: str, path: Path) -> None:
        """Advertise and browse on ``config.interfaces`` (nothing when none); write the
        candidates to ``path`` every ``refresh_interval_s`` for `peers list --discovered`."""
        if not config.enabled:
            return
        discovery = Discovery(config, Advertisement(name, self.key.key_id, self.port))
        await discovery.start()
        self.discovery = discovery

        async def snapshot() -> None:
            try:
                await discovery.snapshot_to(path)
            except DiscoveryError as exc:
                logger.warning("discovered candidates not saved: %s", exc)

        await snapshot()
        self._start(_every(config.refresh_interval_s, snapshot))

    def start_metrics(self, listen: str, totals: Callable[[], Awaitable[NodeTotals]],
                      every_s: float = 15.0) -> int:
        """Serve Prometheus metrics on ``listen``; refresh the totals every ``every_s``.
        Returns the port bound."""
        metrics = self.metrics = Metrics()
        self.service.metrics = metrics
        if self.gossip is not None:
            self.gossip.metrics = self.gossip.engine.metrics = metrics

        async def refresh() -> None:
            found = await totals()
            metrics.totals = Totals(
                found.events, found.observations, found.identities, found.campaigns,
                found.field_rejections,
                self.gossip.engine.held() if self.gossip is not None else {},
                Counter(v.state.value for v in self.liveness.membership.members())
                if self.liveness is not None else {})

        port = metrics.serve(listen)
        self._start(refresh())
        self._start(_every(every_s, refresh))
        return port

    def start_maintenance(self, refresh_s: float,
                          catch_up: tuple[float, Callable[[], Awaitable[object]]] | None = None,
                          ) -> None:
        """Retake the snapshot every ``refresh_s``; fetch missing certificates meanwhile.

        ``catch_up`` is (interval, job): the store's derived stages, brought up
        to date that often, so answers lag stored events by at most that
        interval plus ``refresh_s``.
        """
        self._start(_every(refresh_s, self.service.refresh))
        if catch_up is not None:
            self._start(_every(*catch_up))
        if self.certificates is not None:
            self._start(_every(self.certificate_retry_s, self.fetch_missing_certificates))
        if self.service.blind is not None:
            self._start(self._blind_table_each_epoch())

    async def _blind_table_each_epoch(self) -> None:
        """Build each new epoch's blind table as the epoch starts, so its first asker does
        not wait for it (seconds at 100k items)."""
        blind = self.service.blind
        assert blind is not None
        while True:
            now_s = self.service.clock()
            next_epoch_s = (blind.keys.epoch_at(now_s) + 1) * blind.keys.epoch_s
            await asyncio.sleep(max(0.0, next_epoch_s - now_s) + 0.01)
            try:
                await blind.prepare(self.service.snapshot, self.service.clock())
            except Exception:
                logger.exception("blind table of the new epoch not built; its first asker"
                                 " builds it")

    def _start(self, job: Coroutine[object, None, object]) -> None:
        task: asyncio.Task[object] = asyncio.get_running_loop().create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self, grace_s: float | None) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.health_server is not None and self.health_server.health is not None:
            await self.health_server.health.enter_graceful_shutdown()  # NOT_SERVING first
        await self.server.stop(grace_s)
        if self.health_server is not None:
            await self.health_server.stop(None)
        if self.discovery is not None:
            await self.discovery.stop()  # the goodbye: peers drop this candidate now
        if self.gossip is not None:
            self.service.gossip = self.service.liveness = None
            await self.gossip.client.close()
            if self.liveness is not None:
                await self.liveness.close()
            self.gossip.engine.close()
        if self.metrics is not None:
            self.metrics.close()
        self.audit.close()
        self.ledger.close()
        if self.service.blind is not None:
            self.service.blind.keys.close()
        if self.lock is not None:
            self.lock.release()


async def _every(interval_s: float, job: Callable[[], Awaitable[object]]) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await job()
        except Exception:
            logger.exception("maintenance job failed; retrying in %g s", interval_s)


async def start_node(*, key: NodeKey, name: str, trust: TrustStore, query: NodeQuery,
                     listen: str, health_listen: str | None, plaintext: bool,
                     limits: ServerLimits, policy: PrivacyPolicy, audit: AuditLog,
                     ledger: Ledger, clock: Clock = time.time,
                     peers_path: Path | None = None,
                     certificate_retry_s: float = 30.0,
                     blind_keys_path: Path | None = None) -> FederationNode:
    """Take the first snapshot, then open both listeners (nothing is served half-ready).

    With ``policy.blind_enabled`` the node serves blind questions, its epoch keys
    kept in ``blind_keys_path`` (None: in memory, for tests).
    """
    service = FederationService(key=key, name=name, trust=trust, query=query, limits=limits,
                                policy=policy, audit=audit, ledger=ledger, clock=clock)
    if policy.blind_enabled:
        service.blind = BlindAnswers(key, EpochKeys(blind_keys_path, epoch_s=policy.blind_epoch_s,
                                                    grace_s=policy.blind_grace_s))
    try:
        await service.refresh()
    except BaseException:
        if service.blind is not None:
            service.blind.keys.close()
        raise
    certificates = None if plaintext else PeerCertificates(key, trust)
    server = await _listening("federation port", listen,
                              start_server(service, listen, limits=limits,
                                           certificates=certificates))
    try:
        health_server = await _listening("monitoring port", health_listen,
                                         start_health_server(health_listen)) \
            if health_listen else None
    except BaseException:
        await server.stop(None)
        raise
    return FederationNode(key, service, server, health_server, certificates, trust, audit,
                          ledger, peers_path, certificate_retry_s, limits.shutdown_grace_s)


class ListenError(OSError):
    """A listener could not bind its address."""


async def _listening(what: str, listen: str, starting: Awaitable[GrpcServer]) -> GrpcServer:
    """gRPC's bind failures (RuntimeError or OSError) as one `ListenError` naming the
    listener and the system's reason (gRPC's own text is a paragraph about its logs)."""
    try:
        return await starting
    except (OSError, RuntimeError):
        raise ListenError(f"cannot listen on {listen} ({what}): {_bind_failure(listen)}") \
            from None


def _bind_failure(listen: str) -> str:
    """Why ``listen`` cannot be bound, asked of the system directly."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    try:
        infos = socket.getaddrinfo(host or None, int(port), type=socket.SOCK_STREAM)
        for family, kind, proto, _, address in infos:
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(address)
    except (OSError, ValueError) as exc:
        return exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)
    return "the address could not be bound"


class HomeLock:
    """An exclusive ``flock`` on ``serve.lock`` in the home: one running node per home.

    Two nodes on one home would share the replay ledger and the audit log
    without coordination (a nonce one wrote is invisible to the other's
    memory). The kernel drops the lock when the process dies, so a crashed
    node never leaves it behind.
    """

    def __init__(self, path: Path) -> None:
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise HomeFileError(f"cannot lock the home ({path}): {exc.strerror or exc}") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise HomeFileError(f"another node is already running on this home ({path} is"
                                " locked): stop it first, or give this one its own --home"
                                ) from None
        except OSError as exc:  # e.g. ENOLCK on a file system without locks
            os.close(self._fd)
            raise HomeFileError(f"cannot lock the home ({path}): {exc.strerror or exc}") from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1


async def start_configured_node(fed: FederationConfig, key: NodeKey, query: NodeQuery, *,
                                listen: str | None = None, plaintext: bool | None = None,
                                health_listen: str | None = None) -> FederationNode:
    """`start_node` from a node home's configuration (``serve`` and the demo)."""
    with contextlib.ExitStack() as cleanup:  # undone in reverse if anything fails
        lock = HomeLock(fed.node.home / "serve.lock")
        cleanup.callback(lock.release)
        ledger = Ledger(fed.state_path)
        cleanup.callback(ledger.close)
        audit = AuditLog(fed.audit_path)
        cleanup.callback(audit.close)
        node = await start_node(
            key=key, name=fed.node.node.name, trust=TrustStore.load(fed.peers_path),
            query=query, listen=listen or fed.settings.listen,
            health_listen=fed.settings.health_listen if health_listen is None else health_listen,
            plaintext=fed.settings.plaintext if plaintext is None else plaintext,
            limits=fed.limits, policy=fed.privacy, audit=audit, ledger=ledger,
            peers_path=fed.peers_path,
            certificate_retry_s=fed.settings.peer_certificate_retry_s,
            blind_keys_path=fed.state_path)
        cleanup.pop_all()
    node.lock = lock
    return node
