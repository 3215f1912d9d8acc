"""Gossip settings: the ``[gossip]`` section of the node's config file.

Every field can be overridden by ``DECNET_FED_GOSSIP_<FIELD>``; the two an
operator tunes most also by ``DECNET_FED_GOSSIP_INTERVAL`` and
``DECNET_FED_GOSSIP_FANOUT``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from federation.gossip.discovery import DiscoveryConfig
from federation.gossip.membership import MembershipConfig
from node.config import Config, load_section

MEMBERSHIP_PROFILES: dict[str, Callable[[], MembershipConfig]] = {
    "wan": MembershipConfig.wan, "lan": MembershipConfig.lan, "local": MembershipConfig.local}
#: Short names for the settings operators tune most (``…_INTERVAL`` → ``interval_s``).
ENV_ALIASES = {"DECNET_FED_GOSSIP_INTERVAL": "DECNET_FED_GOSSIP_INTERVAL_S"}


@dataclass(frozen=True, slots=True)
class GossipConfig:
    """How often and how widely this node gossips, and what one exchange may carry."""

    #: Run gossip and membership in `serve` (discovery has its own switch:
    #: ``[discovery] interfaces``, empty by default).
    enabled: bool = True
    #: Seconds between gossip rounds. Shorter spreads records faster (a new
    #: identity reaches N nodes in about log(N)/log(fanout+1) rounds) at the
    #: cost of more calls per peer; each steady-state round is a digest only.
    interval_s: float = 10.0
    #: Peers exchanged with per round. More converges in fewer rounds and
    #: costs proportionally more digests.
    fanout: int = 3
    #: Seconds between publications of this node's own summaries (a read of
    #: the clustered store, then new record versions for what changed).
    publish_interval_s: float = 60.0
    #: Tombstones are collected this many days after they were issued. A
    #: peer whose digest of an origin is older than this is told to reset
    #: that origin (and receives its whole current state) instead of a delta.
    horizon_days: int = 30
    #: Records per delta message, at most; a larger difference takes rounds.
    max_records_per_message: int = 256
    #: Bytes of records per message, at most (well under the 1 MiB request limit).
    max_bytes_per_message: int = 512 * 1024
    #: Origins per digest message; more origins are sent in turns.
    digest_entries: int = 512
    #: Seconds one gossip call may take before the peer counts as failed.
    call_timeout_s: float = 5.0
    #: Failure-detector profile (`membership.MembershipConfig`): "wan" (probe
    #: every 5 s; operators reach each other over the internet), "lan" (1 s),
    #: or "local" (tenths of a second: tests and the demo).
    membership: str = "wan"

    def __post_init__(self) -> None:
        if self.membership not in MEMBERSHIP_PROFILES:
            raise ValueError(f"membership: must be one of {', '.join(MEMBERSHIP_PROFILES)},"
                             f" got {self.membership!r}")
        for name in ("interval_s", "publish_interval_s", "call_timeout_s"):
            if not 0 < getattr(self, name) <= 86_400:
                raise ValueError(f"{name}: must be in (0, 86400], got {getattr(self, name)!r}")
        for name, top in (("fanout", 64), ("horizon_days", 3650),
                          ("max_records_per_message", 10_000),
                          ("max_bytes_per_message", 1_000_000), ("digest_entries", 10_000)):
            if not 1 <= getattr(self, name) <= top:
                raise ValueError(f"{name}: must be in 1..{top}, got {getattr(self, name)!r}")

    @classmethod
    def local(cls) -> GossipConfig:
        """Fast rounds for tests and the demo on one machine."""
        return cls(interval_s=0.2, publish_interval_s=0.5, call_timeout_s=2.0,
                   membership="local")

    def membership_config(self) -> MembershipConfig:
        return MEMBERSHIP_PROFILES[self.membership]()


def load_gossip_config(node: Config, env: Mapping[str, str] = os.environ) -> GossipConfig:
    """``[gossip]`` with env overrides, the short aliases included."""
    merged = dict(env)
    for alias, name in ENV_ALIASES.items():
        if alias in env and name not in env:
            merged[name] = env[alias]
    return load_section(node, "gossip", GossipConfig, merged)


def load_discovery_config(node: Config, env: Mapping[str, str] = os.environ) -> DiscoveryConfig:
    """``[discovery]``: zeroconf interfaces (none by default: nothing multicasts)."""
    return load_section(node, "discovery", DiscoveryConfig, env)
