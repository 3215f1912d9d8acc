"""The thin asyncio loop around the gossip engine: rounds, publications, collection.

Every ``interval_s`` it picks ``fanout`` trusted peers at random among those
not cooling down (misbehaviour score) and not backing off (unreachable), and
runs one push-pull exchange with each, concurrently: a Gossip call with this
node's digest, the answer's deltas merged, then a second call pushing what
the peer lacks. Every ``publish_interval_s`` it reads the node's summaries
and issues records for what changed; once a day it collects old tombstones.
All decisions are the engine's; this module only calls and waits.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from federation.client import OK, FederationClient
from federation.gossip.config import GossipConfig
from federation.gossip.engine import GossipEngine
from federation.metrics import Metrics
from federation.trust import Peer
from federation.wire import GossipAnswer, GossipExchange
from node.query import GroupSummary, NodeQuery, Thresholds

logger = logging.getLogger(__name__)

_BACKOFF_BASE_S = 1.0
_BACKOFF_MAX_S = 300.0


@dataclass(frozen=True, slots=True)
class Exchange:
    """One exchange with one peer: how it ended, records in and out."""

    peer: str
    status: str
    records_in: int = 0
    records_out: int = 0
    error: str | None = None


@dataclass(slots=True)
class _Backoff:
    failures: int = 0
    retry_at_s: float = 0.0


@dataclass(slots=True)
class GossipLoop:
    """Drives one node's `GossipEngine` over the federation client."""

    engine: GossipEngine
    client: FederationClient
    peers: Callable[[], Sequence[Peer]]
    query: NodeQuery
    thresholds: Thresholds
    config: GossipConfig
    #: Membership's verdict: False for a peer believed dead (skipped until it is back).
    alive: Callable[[str], bool] = lambda _key_id: True
    rng: random.Random = field(default_factory=random.Random)
    clock: Callable[[], float] = time.time
    metrics: Metrics | None = None
    #: Summaries published beside the clustered ones (this node's OPRF keys).
    extra_summaries: Callable[[], Sequence[GroupSummary]] = lambda: ()
    _backoff: dict[str, _Backoff] = field(default_factory=dict)

    def candidates(self) -> list[Peer]:
        """Trusted peers worth calling now (not cooling down, not backing off)."""
        now_s = self.clock()
        return [p for p in self.peers()
                if not self.engine.ignored(p.key.key_id) and self.alive(p.key.key_id)
                and self._backoff.get(p.key.key_id, _Backoff()).retry_at_s <= now_s]

    async def round(self) -> list[Exchange]:
        """One gossip round with up to ``fanout`` peers at once."""
        candidates = self.candidates()
        chosen = self.rng.sample(candidates, min(self.config.fanout, len(candidates)))
        if self.metrics is not None:
            self.metrics.gossip_rounds.inc()
        done = await asyncio.gather(*(self.exchange(peer) for peer in chosen),
                                    return_exceptions=True)
        exchanges = []
        for peer, outcome in zip(chosen, done, strict=True):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, Exception):
                    raise outcome  # cancellation
                logger.warning("gossip with %s failed: %s", peer.name, outcome)
                outcome = Exchange(peer.name, "error", error=str(outcome)[:200])
            exchanges.append(outcome)
        return exchanges

    async def exchange(self, peer: Peer) -> Exchange:
        """Pull what this node lacks from ``peer``, then push what it lacks."""
        key_id = peer.key.key_id
        pulled = await self.client.ask(peer, GossipExchange(self.engine.request_for(key_id)))
        if pulled.status != OK or not isinstance(pulled.answer, GossipAnswer):
            self._failed(key_id)
            return Exchange(peer.name, pulled.status, error=pulled.error)
        response = pulled.answer.response
        applied = self.engine.receive(key_id, response.deltas)
        push = self.engine.push_for(key_id, response.digest)
        records_out = sum(len(d.records) for d in push.deltas)
        if push.deltas:
            pushed = await self.client.ask(peer, GossipExchange(push))
            if pushed.status != OK:
                self._failed(key_id)
                return Exchange(peer.name, pushed.status, sum(len(a.stored) for a in applied),
                                error=pushed.error)
        self._backoff.pop(key_id, None)
        return Exchange(peer.name, OK, sum(len(a.stored) for a in applied), records_out)

    def _failed(self, key_id: str) -> None:
        """Exponential backoff with jitter for a peer that did not answer."""
        backoff = self._backoff.setdefault(key_id, _Backoff())
        backoff.failures += 1
        delay = min(_BACKOFF_MAX_S, _BACKOFF_BASE_S * 2 ** min(backoff.failures, 16))
        backoff.retry_at_s = self.clock() + delay * (0.5 + self.rng.random() / 2)

    async def publish(self) -> int:
        """Issue records for this node's summaries that changed; how many."""
        summaries = [*await self.query.summaries("identity", self.thresholds),
                     *await self.query.summaries("campaign", self.thresholds),
                     *self.extra_summaries()]
        return self.engine.publish(summaries)

    async def run(self) -> None:
        """Publish, then gossip every ``interval_s`` until cancelled."""
        next_publish = 0.0
        next_collect = 0.0
        while True:
            now = self.clock()
            try:
                if now >= next_publish:
                    next_publish = now + self.config.publish_interval_s
                    issued = await self.publish()
                    if issued:
                        logger.info("gossip: published %d record versions", issued)
                if now >= next_collect:
                    self.engine.collect()
                    next_collect = now + 3600
                await self.round()
                self.engine.save_sync()
            except Exception:
                logger.exception("gossip round failed; retrying in %g s", self.config.interval_s)
            await asyncio.sleep(self.config.interval_s)
