"""Membership rumours from the wire: a claim its subject could not refute is dropped."""

from __future__ import annotations

import random

from federation._proto.decnet.federation.v1 import federation_pb2 as pb
from federation.gossip.liveness import MAX_SANE_INCARNATION, from_wire
from federation.gossip.membership import Membership, MembershipConfig
from federation.gossip.rumour import MemberState


def _claim(state: pb.MemberState, incarnation: int) -> pb.MemberUpdate:
    return pb.MemberUpdate(peer="p", state=state, incarnation=incarnation, accuser="mallory")


def test_a_dead_claim_at_the_ceiling_is_dropped_and_one_below_can_be_refuted() -> None:
    assert from_wire([_claim(pb.MEMBER_STATE_DEAD, MAX_SANE_INCARNATION)]) == []
    assert from_wire([_claim(pb.MEMBER_STATE_SUSPECT, MAX_SANE_INCARNATION)]) == []
    (dead,) = from_wire([_claim(pb.MEMBER_STATE_DEAD, MAX_SANE_INCARNATION - 1)])
    observer = Membership("o", 1, MembershipConfig.local(), random.Random(1))
    observer.add("p", 0.0)
    assert observer.apply(dead, 1.0)
    # p refutes one above, at the ceiling: every node still accepts that
    (alive,) = from_wire([pb.MemberUpdate(peer="p", state=pb.MEMBER_STATE_ALIVE,
                                          incarnation=MAX_SANE_INCARNATION)])
    assert observer.apply(alive, 2.0)
    assert observer.state_of("p") is MemberState.ALIVE
