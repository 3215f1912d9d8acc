"""One node's gossip, without the network: state, its file, publications, peers' scores.

The gRPC method and the gossip loop are thin around it:

- asking: `request_for(peer)` (this node's digest chunk) → the peer's
  response → `receive(peer, response.deltas)`, then `push_for(peer,
  response.digest)` → the second call's request → ``receive`` there;
- answering: `answer(asker, request)` receives the asker's pushed deltas and
  returns what the asker lacks plus this node's digest chunk.

Every delta a peer sends must continue the digest this node last sent that
peer; one that starts below it is a replay and is refused. Refused records
lower the sender's score (`peer_score`), and a peer below the threshold is
ignored for its cool-down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from federation._proto.decnet.federation.v1 import federation_pb2 as pb
from federation.gossip.config import GossipConfig
from federation.gossip.peer_score import Offence, PeerScoreConfig, PeerScores
from federation.gossip.publisher import plan
from federation.gossip.record import Record, sign_record
from federation.gossip.state import Applied, DeltaBudget, GossipState, TrustedKeys
from federation.gossip.store import GossipStore, Publication
from federation.keys import NodeKey
from federation.metrics import Metrics
from node.query import GroupSummary

logger = logging.getLogger(__name__)

#: Record refusal reason → the offence it costs the peer that sent it (None: no fault).
_OFFENCE: dict[str, Offence | None] = {
    "invalid_signature": "invalid_signature", "untrusted_origin": "untrusted_origin",
    "malformed": "malformed_record", "oversized": "malformed_record",
    "replayed": "replayed", "unsupported_version": None, "gap": None, "own_origin": None,
}
_DAY_S = 86_400
#: Untrusted origins remembered (and advertised) at most.
MAX_REFUSED_ORIGINS = 256


@dataclass(slots=True)
class PeerSync:
    """What this node knows of its gossip with one peer (for `status`)."""

    last_sync_s: float | None = None
    records_in: int = 0
    duplicates: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    #: the digests last sent to the peer (the latest two: an exchange may still be
    #: answering the one before): its deltas must continue one of them
    advertised: dict[str, int] = field(default_factory=dict)
    previous: dict[str, int] = field(default_factory=dict)
    #: origins this node told the peer it refuses (sending one anyway is an offence)
    told_refused: frozenset[str] = frozenset()
    cursor: str = ""

    def floor(self, origin: str) -> int:
        """The lowest watermark of ``origin`` recently advertised to this peer."""
        return min(self.advertised.get(origin, 0), self.previous.get(origin, 0))


class GossipEngine:
    """State and file of one node's gossip; every method is synchronous and quick."""

    def __init__(self, key: NodeKey, store: GossipStore, trusted: TrustedKeys,
                 config: GossipConfig, *, scores: PeerScoreConfig | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.key = key
        self.store = store
        self.budget = DeltaBudget(config.max_records_per_message, config.max_bytes_per_message)
        self.digest_entries = config.digest_entries
        self._clock = clock
        self.state = GossipState(trusted, horizon_days=config.horizon_days, own=key.key_id)
        self.scores = PeerScores(scores or PeerScoreConfig())
        self.peers: dict[str, PeerSync] = {}
        #: Delivery counters, when the node serves metrics.
        self.metrics: Metrics | None = None
        #: untrusted origins peers offered: advertised as refused, so honest peers stop
        self.refused_origins: set[str] = set()
        for row in store.origins():
            self.state.load(row.origin, row.watermark, row.collected_through, row.records)

    def close(self) -> None:
        self.store.close()

    # -- exchanging --

    def request_for(self, peer: str) -> pb.GossipRequest:
        """The first call of a round to ``peer``: this node's digest (a chunk of it)."""
        return pb.GossipRequest(schema_version=1, digest=self._advertise(peer))

    def answer(self, asker: str, request: pb.GossipRequest) -> pb.GossipResponse:
        """Take what ``asker`` pushed; give what it lacks and this node's digest chunk.

        A push (the second call of a round, `push_for`) carries no digest: it was
        answered by the pull before it, so it gets no records (read as an empty
        digest it would get a whole message budget of them, thrown away)."""
        self.receive(asker, request.deltas)
        response = pb.GossipResponse(schema_version=1, digest=self._advertise(asker))
        if not self.ignored(asker) and request.HasField("digest"):
            response.deltas.extend(self.state.deltas_for(request.digest, self.budget))
        return response

    def push_for(self, peer: str, digest: pb.DigestChunk) -> pb.GossipRequest:
        """The second call of a round: what ``peer`` lacks according to its digest."""
        return pb.GossipRequest(schema_version=1, deltas=self.state.deltas_for(
            digest, self.budget))

    def receive(self, sender: str, deltas: Sequence[pb.OriginDelta]) -> list[Applied]:
        """Merge deltas from ``sender``; persist what they stored; score what they broke."""
        sync = self.peers.setdefault(sender, PeerSync())
        now_s = self._clock()
        if self.ignored(sender):
            return []
        results = []
        for delta in deltas:
            if not delta.reset and delta.from_version < sync.floor(delta.origin):
                applied = Applied(delta.origin, refused="replayed")
            else:
                before = self._marks(delta.origin)
                applied = self.state.apply(delta)
                self._save(applied, before)
                if applied.own_seen and \
                        applied.own_seen >= self.store.counter("next_version", 1):
                    # this node lost its gossip file: issue above what peers hold
                    self.store.bump_counter("next_version", applied.own_seen + 1)
                    self.store.forget_publications()
            results.append(applied)
            sync.records_in += len(applied.stored)
            sync.duplicates += applied.duplicates
            if self.metrics is not None:
                self.metrics.gossip_records_in.inc(len(applied.stored))
                self.metrics.gossip_duplicates.inc(applied.duplicates)
                if applied.refused is not None:
                    self.metrics.gossip_refused.labels(applied.refused).inc()
            if applied.refused is not None:
                sync.refused[applied.refused] = sync.refused.get(applied.refused, 0) + 1
                offence = _OFFENCE.get(applied.refused, "malformed_record")
                if applied.refused == "untrusted_origin" and delta.origin not in sync.told_refused:
                    # an honest peer trusting more origins than we do: tell it, no offence
                    offence = None
                    if len(self.refused_origins) < MAX_REFUSED_ORIGINS:
                        self.refused_origins.add(delta.origin[:64])
                if offence is not None:
                    self.scores.penalise(sender, offence, now_s)
                    logger.info("gossip from %s: %s", sender, applied.refused)
        sync.last_sync_s = now_s
        return results

    def ignored(self, peer: str) -> bool:
        return self.scores.ignored(peer, self._clock())

    def _advertise(self, peer: str) -> pb.DigestChunk:
        sync = self.peers.setdefault(peer, PeerSync())
        chunk = self.state.digest_chunk(sync.cursor, self.digest_entries)
        chunk.refused.extend(sorted(self.refused_origins))
        sync.told_refused = frozenset(self.refused_origins)
        sync.previous = sync.advertised
        sync.advertised = {entry.origin: entry.version for entry in chunk.entries}
        sync.cursor = chunk.last  # "" when the chunk reached the end: start over
        return chunk

    def _marks(self, origin: str) -> tuple[int, int]:
        log = self.state.logs.get(origin)
        return (0, 0) if log is None else (log.watermark, log.collected_through)

    def _save(self, applied: Applied, before: tuple[int, int]) -> None:
        """Persist what a delta changed (nothing for duplicates and refusals)."""
        log = self.state.logs.get(applied.origin)
        if log is None or not (applied.stored or applied.reset
                               or self._marks(applied.origin) != before):
            return
        self.store.save(applied.origin, log.watermark, log.collected_through, applied.stored,
                        reset=applied.reset)

    def forget_untrusted(self) -> list[str]:
        """Drop every origin no longer trusted (after a trust store reload); which ones."""
        gone = [o for o in self.state.logs if self.state.trusted(o) is None]
        for origin in gone:
            del self.state.logs[origin]
            self.store.forget(origin)
        return gone

    # -- publishing --

    def publish(self, summaries: Sequence[GroupSummary]) -> int:
        """Issue records for new, changed and vanished summaries; how many were issued."""
        planned = plan(summaries, self.store.publications())
        if not planned:
            return 0
        version = max(self.store.counter("next_version", 1),
                      self.state.digest().get(self.key.key_id, 0) + 1)
        today = int(self._clock() // _DAY_S)
        issued: list[tuple[str, Publication, Record]] = []
        for item in planned:
            record = sign_record(self.key, version=version, record_id=item.record_id,
                                 kind=item.kind, issued_day=today, summary=item.summary)
            issued.append((item.handle, Publication(item.record_id, item.digest, version),
                           record))
            version += 1
        self.store.publish(self.key.key_id, issued)  # durable before anyone can see them
        for _, _, record in issued:
            self.state.publish(record)
        return len(issued)

    def collect(self) -> int:
        """Drop tombstones past the horizon (and persist); how many."""
        today = int(self._clock() // _DAY_S)
        dropped = 0
        for origin, log in self.state.logs.items():
            gone = log.collect(today - self.state.horizon_days)
            if gone:
                self.store.save(origin, log.watermark, log.collected_through, (),
                                dropped=gone)
                dropped += len(gone)
        return dropped

    def save_sync(self) -> None:
        """Each peer's score and gossip figures into the member table (for the CLI)."""
        now_s = self._clock()
        self.store.update_sync(
            (peer, self.scores.score(peer, now_s), sync.last_sync_s, sync.records_in,
             sum(sync.refused.get(r, 0) for r, o in _OFFENCE.items() if o is not None))
            for peer, sync in self.peers.items())

    # -- reading --

    def held(self) -> dict[str, int]:
        """Records held per origin (tombstones excluded)."""
        return {origin: sum(1 for r in log.by_id.values() if not r.tombstone)
                for origin, log in self.state.logs.items()}

    def records(self) -> list[Record]:
        """Every live record held, of every origin."""
        return [r for log in self.state.logs.values() for r in log.by_id.values()
                if not r.tombstone]
