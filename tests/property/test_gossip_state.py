"""The anti-entropy core: any order and duplication of deliveries converges, a delta
never leaves a gap, tombstones win, and a peer behind the horizon is reset."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from federation._proto.decnet.federation.v1 import federation_pb2 as pb
from federation.gossip.record import Kind, Record, sign_record
from federation.gossip.state import DeltaBudget, GossipState
from federation.keys import NodeKey, PeerKey

ORIGIN = NodeKey.generate()
TRUSTED = {ORIGIN.key_id: ORIGIN.public}


def trusted(key_id: str) -> PeerKey | None:
    return TRUSTED.get(key_id)


def summary(n: int) -> pb.Summary:
    return pb.Summary(observation_count=n, first_seen_day=20_000, last_seen_day=20_000 + n)


#: An origin's history: (record number 0-4, tombstone?) per issued version.
histories = st.lists(st.tuples(st.integers(0, 4), st.booleans()), min_size=1, max_size=25)


def issue(history: list[tuple[int, bool]], day: int = 20_000) -> list[Record]:
    """The records an origin issues for ``history``, versions 1, 2, 3 ..."""
    return [sign_record(ORIGIN, version=v, record_id=bytes([n]) * 16,
                        kind=Kind.TOMBSTONE if dead else Kind.IDENTITY, issued_day=day,
                        summary=None if dead else summary(v))
            for v, (n, dead) in enumerate(history, start=1)]


def latest_up_to(records: list[Record], version: int) -> dict[bytes, int]:
    found: dict[bytes, int] = {}
    for record in records:
        if record.version <= version:
            found[record.record_id] = record.version
    return found


def held(state: GossipState) -> dict[bytes, tuple[int, bytes]]:
    return {r.record_id: (r.version, r.body) for r in state.records(ORIGIN.key_id)}


def chunk_at(version: int) -> pb.DigestChunk:
    chunk = pb.DigestChunk()
    if version:
        chunk.entries.append(pb.DigestEntry(origin=ORIGIN.key_id, version=version))
    return chunk


def sync(receiver: GossipState, sender: GossipState, budget: DeltaBudget) -> None:
    """Anti-entropy until the receiver's digest equals the sender's."""
    for _ in range(200):
        if receiver.digest() == sender.digest():
            return
        for delta in sender.deltas_for(receiver.digest_chunk(), budget):
            assert receiver.apply(delta).refused is None
    raise AssertionError("did not converge")


@settings(max_examples=60, deadline=None)
@given(histories, st.randoms(use_true_random=False), st.integers(1, 4))
def test_any_order_and_duplication_converges_without_gaps(
        history: list[tuple[int, bool]], rng: random.Random, per_delta: int) -> None:
    records = issue(history)
    origin = GossipState(trusted)
    deltas: list[pb.OriginDelta] = []
    for record in records:  # deltas taken along the way, against random old digests
        origin.publish(record)
        since = rng.randint(0, record.version)
        deltas += origin.deltas_for(chunk_at(since), DeltaBudget(max_records=per_delta))
    deliveries = deltas + (rng.choices(deltas, k=len(deltas)) if deltas else [])
    rng.shuffle(deliveries)
    receiver = GossipState(trusted)
    final = latest_up_to(records, len(records))
    for delta in deliveries:
        receiver.apply(delta)
        watermark = receiver.digest().get(ORIGIN.key_id, 0)
        # no gap: every record whose last version is up to the watermark is held at it
        holding = {rid: v for rid, (v, _) in held(receiver).items()}
        assert all(holding.get(rid) == v for rid, v in final.items() if v <= watermark)
    sync(receiver, origin, DeltaBudget(max_records=per_delta))
    assert held(receiver) == held(origin)


@settings(max_examples=40, deadline=None)
@given(histories, st.integers(0, 25))
def test_a_tombstone_wins_over_every_older_version(history: list[tuple[int, bool]],
                                                   replay_from: int) -> None:
    records = issue([*history, (history[0][0], True)])
    origin = GossipState(trusted)
    for record in records:
        origin.publish(record)
    receiver = GossipState(trusted)
    sync(receiver, origin, DeltaBudget())
    stale = GossipState(trusted)
    for record in records[:min(replay_from, len(records) - 1)]:
        stale.publish(record)
    for delta in stale.deltas_for(chunk_at(0)):  # an old history, replayed
        receiver.apply(delta)
    tombstoned = records[-1].record_id
    assert next(r for r in receiver.records(ORIGIN.key_id)
                if r.record_id == tombstoned).tombstone


@settings(max_examples=40, deadline=None)
@given(histories, st.data())
def test_a_peer_behind_the_horizon_is_reset_to_the_origins_state(
        history: list[tuple[int, bool]], data: st.DataObject) -> None:
    old = issue(history, day=20_000)
    origin = GossipState(trusted, horizon_days=30)
    behind = GossipState(trusted, horizon_days=30)
    cut = data.draw(st.integers(1, len(old)))
    for record in old:
        origin.publish(record)
    sync(behind, _prefix(old[:cut]), DeltaBudget())
    # every record is withdrawn, and the tombstones are collected a horizon later
    version = len(old)
    for n in sorted({n for n, _ in history}):
        version += 1
        origin.publish(sign_record(ORIGIN, version=version, record_id=bytes([n]) * 16,
                                   kind=Kind.TOMBSTONE, issued_day=20_001))
    origin.collect(today=20_100)
    assert origin.records(ORIGIN.key_id) == []
    for extra in range(data.draw(st.integers(1, 4))):  # the origin goes on publishing
        version += 1
        origin.publish(sign_record(ORIGIN, version=version, record_id=bytes([0x90 + extra]) * 16,
                                   kind=Kind.IDENTITY, issued_day=20_100, summary=summary(1)))
    deltas = origin.deltas_for(behind.digest_chunk())
    assert deltas and deltas[0].reset is (0 < cut < origin.logs[ORIGIN.key_id].collected_through)
    # a small budget: the reset takes several messages, and is not started over
    sync(behind, origin, DeltaBudget(max_records=data.draw(st.integers(1, 3))))
    assert held(behind) == held(origin)
    assert all(rid[0] >= 0x90 for rid in held(behind))  # the withdrawn ones are gone
    assert behind.digest() == origin.digest()


def _prefix(records: list[Record]) -> GossipState:
    state = GossipState(trusted)
    for record in records:
        state.publish(record)
    return state
