"""One node's gossip without the network: publishing, exchanging, persisting, scoring."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from federation._proto.decnet.federation.v1 import federation_pb2 as pb
from federation.blind.published import gossiped_keys, key_summary
from federation.errors import OverBudget
from federation.gossip.config import GossipConfig
from federation.gossip.engine import GossipEngine
from federation.gossip.index import load_records
from federation.gossip.record import RECORD_DOMAIN, Kind
from federation.gossip.store import GossipStore
from federation.keys import NodeKey, PeerKey
from federation.privacy import PrivacyPolicy
from federation.wire import GossipExchange
from node.query import GroupSummary
from tests.federation_helpers import make_node, signed_request

KEYS = [NodeKey.generate() for _ in range(3)]
TRUSTED = {k.key_id: k.public for k in KEYS}


def trusted(key_id: str) -> PeerKey | None:
    return TRUSTED.get(key_id)


def engine(tmp_path: Path, n: int, now: list[float] | None = None) -> GossipEngine:
    clock = (lambda: now[0]) if now is not None else (lambda: 1_780_000_000.0)
    return GossipEngine(KEYS[n], GossipStore(tmp_path / f"gossip-{n}.db"), trusted,
                        GossipConfig.local(), clock=clock)


def summary(handle: str, ja3: str, observations: int = 3) -> GroupSummary:
    return GroupSummary("identity", handle, (("ja3", 1, (ja3,)),), (), observations,
                        1_780_000_000_000_000, 1_780_000_000_000_000)


def round_trip(asker: GossipEngine, answerer: GossipEngine) -> None:
    """One push-pull round, asker → answerer, as the loop runs it."""
    response = answerer.answer(asker.key.key_id, asker.request_for(answerer.key.key_id))
    asker.receive(answerer.key.key_id, response.deltas)
    push = asker.push_for(answerer.key.key_id, response.digest)
    answerer.answer(asker.key.key_id, push)


def test_a_published_summary_reaches_a_peer_and_survives_its_restart(tmp_path: Path) -> None:
    a, b = engine(tmp_path, 0), engine(tmp_path, 1)
    assert a.publish([summary("h1", "a" * 32)]) == 1
    round_trip(b, a)
    assert b.held() == {KEYS[0].key_id: 1}
    b.close()
    again = engine(tmp_path, 1)
    assert again.held() == {KEYS[0].key_id: 1}
    assert again.state.digest() == a.state.digest()


def test_unchanged_summaries_issue_nothing_and_vanished_ones_a_tombstone(
        tmp_path: Path) -> None:
    a, b = engine(tmp_path, 0), engine(tmp_path, 1)
    a.publish([summary("h1", "a" * 32), summary("h2", "b" * 32)])
    assert a.publish([summary("h1", "a" * 32), summary("h2", "b" * 32)]) == 0
    assert a.publish([summary("h1", "a" * 32, observations=4)]) == 2  # changed + gone
    round_trip(b, a)
    assert b.held() == {KEYS[0].key_id: 1}
    assert a.state.digest()[KEYS[0].key_id] == 4


def test_versions_only_grow_across_restarts(tmp_path: Path) -> None:
    a = engine(tmp_path, 0)
    a.publish([summary("h1", "a" * 32)])
    a.close()
    a = engine(tmp_path, 0)
    a.publish([summary("h1", "c" * 32)])
    assert a.state.digest()[KEYS[0].key_id] == 2


def test_the_asker_pushes_what_the_answerer_lacks(tmp_path: Path) -> None:
    a, b = engine(tmp_path, 0), engine(tmp_path, 1)
    a.publish([summary("h1", "a" * 32)])
    b.publish([summary("h9", "d" * 32)])
    round_trip(a, b)
    assert a.held() == b.held() == {KEYS[0].key_id: 1, KEYS[1].key_id: 1}


def test_a_push_is_answered_without_records_and_an_empty_pull_with_them(
        tmp_path: Path) -> None:
    a, b = engine(tmp_path, 0), engine(tmp_path, 1)
    a.publish([summary("h1", "a" * 32)])
    b.publish([summary("h9", "d" * 32)])
    pulled = b.answer(a.key.key_id, a.request_for(b.key.key_id))
    assert sum(len(d.records) for d in pulled.deltas) == 1  # what a lacks
    push = a.push_for(b.key.key_id, pulled.digest)
    assert push.deltas and not push.HasField("digest")
    answered = b.answer(a.key.key_id, push)
    assert list(answered.deltas) == []  # the pull already answered; nothing thrown away
    c = engine(tmp_path, 2)  # a new node: an empty digest still gets everything
    empty = b.answer(c.key.key_id, c.request_for(b.key.key_id))
    assert sum(len(d.records) for d in empty.deltas) == 2


def test_a_replayed_delta_is_refused_and_costs_the_sender(tmp_path: Path) -> None:
    a, b = engine(tmp_path, 0), engine(tmp_path, 1)
    a.publish([summary("h1", "a" * 32)])
    round_trip(b, a)
    old = a.state.deltas_for(pb.DigestChunk())  # history from zero
    b.request_for(KEYS[0].key_id)  # b advertises its digest, twice: no exchange of
    b.request_for(KEYS[0].key_id)  # the earlier one is still in flight
    applied = b.receive(KEYS[0].key_id, old)
    assert [x.refused for x in applied] == ["replayed"]
    assert b.scores.score(KEYS[0].key_id, 1_780_000_000.0) < 100


def test_forged_records_get_the_sender_ignored_and_leave_state_alone(tmp_path: Path) -> None:
    b = engine(tmp_path, 1)
    forger = KEYS[2].key_id
    before = b.state.digest()
    for n in range(1, 6):
        body = pb.RecordBody(schema_version=1, origin=KEYS[0].key_id, version=n,
                             record_id=bytes([n]) * 16, kind="RECORD_KIND_IDENTITY",
                             issued_day=20_000).SerializeToString()
        forged = pb.GossipRecord(body=body, signature=KEYS[2].sign(RECORD_DOMAIN + body))
        b.receive(forger, [pb.OriginDelta(origin=KEYS[0].key_id, from_version=0,
                                          to_version=n, records=[forged])])
    assert b.state.digest() == before
    assert b.peers[forger].refused == {"invalid_signature": 3}  # then it was ignored
    assert b.ignored(forger)


def test_over_budget_gossip_calls_lower_the_callers_score(tmp_path: Path) -> None:
    caller = KEYS[1]
    node = make_node([caller], policy=PrivacyPolicy(rate_per_s=1, burst=2))
    node.service.gossip = engine(tmp_path, 0)
    exchange = GossipExchange(pb.GossipRequest())

    async def call() -> None:
        request = signed_request(caller, exchange, now_s=node.clock.now)
        await node.service.handle(request.method, request.body, request.metadata,
                                  tls_peer=caller.key_id)

    asyncio.run(call())
    asyncio.run(call())
    with pytest.raises(OverBudget):
        asyncio.run(call())
    assert node.service.gossip.scores.score(caller.key_id, node.clock.now) < 100


def test_a_node_that_lost_its_gossip_file_publishes_above_what_peers_hold(
        tmp_path: Path) -> None:
    a, b = engine(tmp_path, 0), engine(tmp_path, 1)
    for n in range(3):
        a.publish([summary("h1", f"{n:032x}")])
    round_trip(b, a)
    a.close()
    (tmp_path / "gossip-0.db").unlink()
    reborn = engine(tmp_path, 0)
    reborn.publish([summary("h1", "e" * 32)])  # version 1 again: below what b holds
    round_trip(reborn, b)  # b pushes the old life's records back: refused, but counted
    reborn.publish([summary("h1", "e" * 32)])
    round_trip(b, reborn)
    assert b.state.digest()[KEYS[0].key_id] > 3
    summaries = [r.summary() for r in b.state.records(KEYS[0].key_id)]
    assert any(s is not None and list(s.fingerprints[0].values) == ["e" * 32] for s in summaries)


def test_a_peer_offering_an_origin_we_do_not_trust_is_told_first_and_scored_after(
        tmp_path: Path) -> None:
    b = engine(tmp_path, 1)
    stranger = NodeKey.generate()
    raw = pb.RecordBody(schema_version=1, origin=stranger.key_id, version=1,
                        record_id=b"\x05" * 16, kind="RECORD_KIND_IDENTITY",
                        issued_day=20_000).SerializeToString()
    offered = pb.OriginDelta(origin=stranger.key_id, from_version=0, to_version=1, records=[
        pb.GossipRecord(body=raw, signature=stranger.sign(RECORD_DOMAIN + raw))])
    honest = KEYS[0].key_id
    b.receive(honest, [offered])  # an honest peer trusting more origins than b
    assert b.scores.score(honest, 1_780_000_000.0) == 100
    assert stranger.key_id in b.request_for(honest).digest.refused
    b.receive(honest, [offered])  # told, and sent anyway
    assert b.scores.score(honest, 1_780_000_000.0) < 100


def test_records_of_an_origin_no_longer_trusted_are_forgotten(tmp_path: Path) -> None:
    a, b = engine(tmp_path, 0), engine(tmp_path, 1)
    a.publish([summary("h1", "a" * 32)])
    round_trip(b, a)
    assert b.held() == {KEYS[0].key_id: 1}
    del TRUSTED[KEYS[0].key_id]  # the operator removed the peer (and sent SIGHUP)
    try:
        assert b.forget_untrusted() == [KEYS[0].key_id]
        assert b.held() == {}
        b.close()
        assert engine(tmp_path, 1).held() == {}  # forgotten in the file too
    finally:
        TRUSTED[KEYS[0].key_id] = KEYS[0].public


def test_the_cli_reads_only_the_kind_it_needs_from_the_gossip_file(tmp_path: Path) -> None:
    a, b = engine(tmp_path, 0), engine(tmp_path, 1)
    a.publish([summary("h1", "a" * 32), key_summary([(7, b"\x01" * 32)])])
    round_trip(b, a)
    b.close()
    path = tmp_path / "gossip-1.db"
    every = load_records(path, lambda origin: True)
    keys = load_records(path, lambda origin: True, Kind.BLIND_KEY)
    assert sorted(r.kind for r in every) == sorted([Kind.IDENTITY, Kind.BLIND_KEY])
    assert [r.kind for r in keys] == [Kind.BLIND_KEY]
    assert gossiped_keys(keys) == {KEYS[0].key_id: {7: b"\x01" * 32}}
