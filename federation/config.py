"""Federation settings: frozen dataclasses per concern, loaded from the node's config file.

Sections: ``[federation]`` (`FederationSettings`), ``[limits]`` (`ServerLimits`)
and ``[privacy]`` (`federation.privacy.PrivacyPolicy`). Each field can be
overridden by ``DECNET_FED_<SECTION>_<FIELD>`` like every node setting
(`node.config.load_section`); a bad value is an error naming its field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from federation.errors import TrustStoreError
from federation.privacy import PrivacyPolicy
from federation.trust import check_address
from node.config import Config, load_section

#: Schema versions this build serves (inclusive).
MIN_SCHEMA_VERSION = 1
MAX_SCHEMA_VERSION = 1
DEFAULT_PORT = 50551


@dataclass(frozen=True, slots=True)
class FederationSettings:
    """How this node listens and asks."""

    #: ``HOST:PORT`` that `serve` listens on (``--listen`` overrides). Mutual
    #: TLS: only trusted peers complete a handshake.
    listen: str = f"0.0.0.0:{DEFAULT_PORT}"
    #: ``HOST:PORT`` of the local monitoring listener: plaintext gRPC health
    #: checking and reflection, no Federation methods. Loopback by default so
    #: only this host (the container's healthcheck) reaches it; "" turns it off.
    health_listen: str = f"127.0.0.1:{DEFAULT_PORT + 1}"
    #: ``HOST:PORT`` of the Prometheus endpoint (``/metrics``, plaintext HTTP).
    #: Loopback by default: it shows counts and peers' liveness, nothing an
    #: attacker controls, but no reason to show it to the network; "" turns it off.
    metrics_listen: str = f"127.0.0.1:{DEFAULT_PORT + 2}"
    #: Talk plaintext gRPC instead of mutual, identity-pinned TLS. Only for
    #: loopback tests: without TLS, questions and answers are readable on the
    #: path (they stay signed, so not forgeable), and anyone who can reach the
    #: port can open streams.
    plaintext: bool = False
    #: Per-peer deadline of one question, in seconds; a slower peer is reported
    #: as timed out while the others answer.
    query_deadline_s: float = 5.0
    #: Private key file, relative to the node home.
    key_path: str = "node.key"
    #: Trust store file, relative to the node home.
    peers_path: str = "peers.json"
    #: Durable replay cache and daily budgets (SQLite), relative to the node home.
    state_path: str = "federation.db"
    #: How often `serve` retries fetching the certificate of a trusted peer
    #: that was unreachable when it was added, seconds. Until it has it, that
    #: peer cannot connect to this node.
    peer_certificate_retry_s: float = 30.0

    def __post_init__(self) -> None:
        for name in ("query_deadline_s", "peer_certificate_retry_s"):
            if not 0 < getattr(self, name) <= 3600:
                raise ValueError(f"{name}: must be in (0, 3600], got {getattr(self, name)!r}")
        for name in ("listen", "health_listen", "metrics_listen"):
            value = getattr(self, name)
            if value or name == "listen":
                try:
                    check_address(value, any_port=True)
                except TrustStoreError:
                    raise ValueError(f"{name}: {value[:80]!r} must be HOST:PORT") from None


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Bounds on what one request may cost the server."""

    #: Largest request message in bytes (questions are < 300 bytes). Checked by
    #: the transport and again before anything else: RESOURCE_EXHAUSTED.
    max_request_bytes: int = 4096
    #: Largest request of a bulk method (a gossip exchange pushing records),
    #: bytes. The transport's limit is the larger of the two.
    max_bulk_request_bytes: int = 1 << 20
    #: Largest metadata (envelope included) in bytes.
    max_metadata_bytes: int = 8192
    #: Accepted distance between a request's timestamp and the server clock,
    #: seconds. Wider tolerates worse clocks but keeps more nonces in memory.
    clock_window_s: int = 120
    #: Nonces remembered at most; when full, new requests are refused
    #: (RESOURCE_EXHAUSTED) instead of forgetting live nonces.
    replay_cache_entries: int = 200_000
    #: Calls held open at once, all peers together; more are refused with
    #: RESOURCE_EXHAUSTED. gRPC's own limit is set to four times this, as a
    #: memory backstop only, so fairness is decided here, per peer.
    max_concurrent_rpcs: int = 256
    #: Calls one peer (one TLS identity; one address when plaintext) may hold
    #: open at once; its next ones are refused at once, so one peer can never
    #: take the slots others need. Lower starves bursty honest clients.
    max_streams_per_peer: int = 32
    #: HTTP/2 streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS); the
    #: client queues beyond it. Twice the per-peer share: at equal values a
    #: client keeping its full share busy races the server's stream
    #: accounting and sees refused streams (bench/query.py did).
    max_streams_per_connection: int = 64
    #: Answers computed at once for one peer; its other calls wait their
    #: turn. 1 makes peers take turns on the event loop, so one peer's burst
    #: does not delay another's question by the whole burst (bench/simhash.py:
    #: another peer's SMTP p99 86 ms → 21 ms during radius-16 bursts); higher
    #: lets one peer's calls share ledger commits at the price of fairness.
    max_answering_per_peer: int = 1
    #: A call must deliver its whole request within this many seconds of
    #: opening, else it is cancelled (DEADLINE_EXCEEDED): a stream that sends
    #: headers and never a body holds its slot no longer than this.
    request_timeout_s: float = 2.0
    #: On SIGTERM, in-flight calls get this long to finish, seconds.
    shutdown_grace_s: float = 10.0

    def __post_init__(self) -> None:
        for name in ("max_request_bytes", "max_bulk_request_bytes", "max_metadata_bytes",
                     "clock_window_s",
                     "replay_cache_entries", "max_concurrent_rpcs", "max_streams_per_peer",
                     "max_streams_per_connection", "max_answering_per_peer"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be ≥ 1, got {getattr(self, name)!r}")
        if not 0 < self.request_timeout_s <= 60:
            raise ValueError(f"request_timeout_s: must be in (0, 60], got"
                             f" {self.request_timeout_s!r}")
        if self.max_streams_per_peer > self.max_concurrent_rpcs:
            raise ValueError(f"max_streams_per_peer: {self.max_streams_per_peer} is more than"
                             f" max_concurrent_rpcs ({self.max_concurrent_rpcs})")
        if self.max_answering_per_peer > self.max_streams_per_peer:
            raise ValueError(f"max_answering_per_peer: {self.max_answering_per_peer} is more"
                             f" than max_streams_per_peer ({self.max_streams_per_peer})")
        if self.shutdown_grace_s < 0:
            raise ValueError(f"shutdown_grace_s: must be ≥ 0, got {self.shutdown_grace_s!r}")

    @property
    def clock_window_ms(self) -> int:
        return self.clock_window_s * 1000


@dataclass(frozen=True, slots=True)
class FederationConfig:
    """Everything the federation reads at start-up, plus the node config it sits in."""

    node: Config
    settings: FederationSettings = FederationSettings()
    limits: ServerLimits = ServerLimits()
    privacy: PrivacyPolicy = PrivacyPolicy()

    @property
    def key_path(self) -> Path:
        return self.node.home_file(self.settings.key_path)

    @property
    def peers_path(self) -> Path:
        return self.node.home_file(self.settings.peers_path)

    @property
    def audit_path(self) -> Path:
        return self.node.home_file(self.privacy.audit_log_path)

    @property
    def state_path(self) -> Path:
        return self.node.home_file(self.settings.state_path)


def load_federation_config(node: Config) -> FederationConfig:
    """Read ``[federation]``, ``[limits]`` and ``[privacy]`` from the node's config."""
    return FederationConfig(
        node=node,
        settings=load_section(node, "federation", FederationSettings),
        limits=load_section(node, "limits", ServerLimits),
        privacy=load_section(node, "privacy", PrivacyPolicy),
    )
