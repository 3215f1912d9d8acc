"""Prometheus metrics of a running node, served on loopback by default.

Names are prefixed ``decnet_fed_``. No label ever carries an IP, domain,
username or any other attacker- or peer-controlled value: labels are method
names and status codes from the contract, rejection reasons from the code's
own fixed set, member states, and the key ids of *trusted* origins (the
operator's trust store, not what peers say).

Counters and histograms are updated where things happen (the service, the
gossip engine and loop); store and gossip totals are read when scraped, from
a snapshot the node refreshes in its maintenance (a scrape never touches the
store).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

PREFIX = "decnet_fed"
#: RPC latency buckets, seconds: answers are milliseconds, gossip pushes longer.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(slots=True)
class Totals:
    """What the node last read of itself (store and gossip), for the scrape."""

    events: int = 0
    observations: int = 0
    identities: int = 0
    campaigns: int = 0
    field_rejections: Mapping[str, int] = field(default_factory=dict)
    records_per_origin: Mapping[str, int] = field(default_factory=dict)
    members: Mapping[str, int] = field(default_factory=dict)  # state → count


class _TotalsCollector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        totals = self._metrics.totals
        for name, value, doc in (
                ("events", totals.events, "Events stored."),
                ("observations", totals.observations, "Attacker observations (source IPs)."),
                ("identities", totals.identities, "Identities (groups of observations)."),
                ("campaigns", totals.campaigns, "Campaigns (groups of identities).")):
            yield GaugeMetricFamily(f"{PREFIX}_{name}", doc, value=value)
        yield _labelled("field_rejections", "Event fields rejected by the profiler, by reason.",
                        "reason", sorted(totals.field_rejections.items()))
        yield _labelled("gossip_records", "Gossip records held, by trusted origin key id.",
                        "origin", sorted(totals.records_per_origin.items()))
        yield _labelled("peers", "Trusted peers by membership state.", "state",
                        [(state, totals.members.get(state, 0))
                         for state in ("alive", "suspect", "dead")])


def _labelled(name: str, doc: str, label: str,
              values: Iterable[tuple[str, int]]) -> GaugeMetricFamily:
    """A gauge per label value (each one this node's own, never attacker-chosen)."""
    family = GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=[label])
    for value, count in values:
        family.add_metric([value], count)
    return family


class Metrics:
    """One node's metrics in a registry of its own (tests run several nodes per process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.totals = Totals()
        self.rpcs = Counter(f"{PREFIX}_rpcs", "Federation calls answered or refused.",
                            ["method", "code"], registry=self.registry)
        self.rpc_seconds = Histogram(f"{PREFIX}_rpc_seconds", "Time to answer a call.",
                                     ["method"], buckets=LATENCY_BUCKETS,
                                     registry=self.registry)
        self.signature_failures = Counter(
            f"{PREFIX}_signature_failures", "Calls refused as unauthenticated.",
            registry=self.registry)
        self.budget_refusals = Counter(
            f"{PREFIX}_budget_refusals", "Calls refused over a rate or question budget.",
            registry=self.registry)
        self.gossip_rounds = Counter(f"{PREFIX}_gossip_rounds", "Gossip rounds run.",
                                     registry=self.registry)
        self.gossip_records_in = Counter(
            f"{PREFIX}_gossip_records_received", "Gossip records stored from peers.",
            registry=self.registry)
        self.gossip_duplicates = Counter(
            f"{PREFIX}_gossip_duplicate_deliveries", "Gossip records received already held.",
            registry=self.registry)
        self.gossip_refused = Counter(
            f"{PREFIX}_gossip_records_refused", "Gossip records refused, by reason.",
            ["reason"], registry=self.registry)
        self.registry.register(_TotalsCollector(self))
        self._server: tuple[object, threading.Thread] | None = None

    def serve(self, listen: str) -> int:
        """Serve ``/metrics`` on ``HOST:PORT``; the port bound (0 picks a free one)."""
        host, _, port = listen.rpartition(":")
        server, thread = start_http_server(int(port), addr=host.strip("[]"),
                                           registry=self.registry)
        self._server = (server, thread)
        return int(server.server_port)

    def close(self) -> None:
        if self._server is not None:
            server, thread = self._server
            server.shutdown()  # type: ignore[attr-defined]
            server.server_close()  # type: ignore[attr-defined]
            thread.join(timeout=5)
            self._server = None


def short_method(method: str) -> str:
    """``/decnet.federation.v1.Federation/Gossip`` → ``Gossip`` (a contract name)."""
    return method.rsplit("/", 1)[-1]
