"""Membership core: timing maths against tables, then the failure detector step by step.

Time is virtual: every call gets ``now_s``; nothing sleeps.
"""

from __future__ import annotations

import dataclasses
import math
import random
from typing import Any

import pytest

from federation.gossip.awareness import Awareness, scale_timeout_s
from federation.gossip.backoff import retry_delay_s
from federation.gossip.broadcast import RetransmitQueue, retransmit_limit
from federation.gossip.membership import (
    Action,
    IncarnationRaised,
    IndirectProbe,
    Membership,
    MembershipConfig,
    MemberState,
    Probe,
    StateChange,
    Update,
)
from federation.gossip.rumour import refuted_incarnation
from federation.gossip.suspicion import (
    Suspicion,
    expected_confirmations,
    suspicion_min_s,
    suspicion_timeout_s,
)

ALIVE, SUSPECT, DEAD = MemberState.ALIVE, MemberState.SUSPECT, MemberState.DEAD
SELF = "00000000000000aa"
PEERS = [f"{i:016x}" for i in range(1, 6)]


# -- timing maths ----------------------------------------------------------------


@pytest.mark.parametrize(("mult", "n", "interval_s", "expected_s"), [
    (4, 1, 1.0, 4.0),      # alone: log10 floored at 1
    (4, 5, 1.0, 4.0),      # small clusters all get the classic SWIM timeout
    (4, 10, 1.0, 4.0),
    (4, 100, 1.0, 8.0),    # log10(100) = 2: accusations need more rounds to spread
    (4, 1000, 0.5, 6.0),
    (3, 20, 0.2, 3 * math.log10(20) * 0.2),
])
def test_suspicion_minimum_grows_with_log10_of_cluster_size(
        mult: int, n: int, interval_s: float, expected_s: float) -> None:
    assert suspicion_min_s(mult, n, interval_s) == pytest.approx(expected_s)


@pytest.mark.parametrize(("mult", "n", "k"), [
    (4, 3, 0),   # only the suspect and us besides one other: nobody can confirm twice
    (4, 4, 2),
    (4, 50, 2),
    (3, 3, 1),
    (2, 10, 0),  # mult 2 expects no confirmations at all
    (1, 10, 0),
])
def test_expected_confirmations_are_mult_minus_two_when_enough_nodes_exist(
        mult: int, n: int, k: int) -> None:
    assert expected_confirmations(mult, n) == k


@pytest.mark.parametrize(("confirmations", "expected", "timeout_s"), [
    (0, 2, 24.0),                                         # lone accuser: max
    (1, 2, 24.0 - 20.0 * math.log(2) / math.log(3)),      # ≈ 11.38
    (2, 2, 4.0),                                          # all confirmed: min
    (5, 2, 4.0),                                          # never below min
    (0, 0, 4.0),                                          # none expected: min at once
    (3, 7, 24.0 - 20.0 * math.log(4) / math.log(8)),      # = 14.0
])
def test_suspicion_timeout_shrinks_logarithmically_with_confirmations(
        confirmations: int, expected: int, timeout_s: float) -> None:
    assert suspicion_timeout_s(confirmations, expected, 4.0, 24.0) == pytest.approx(timeout_s)


def test_a_suspicion_counts_each_accuser_once_and_stops_at_k() -> None:
    suspicion = Suspicion("a", 100.0, expected=2, min_s=4.0, max_s=24.0)
    assert suspicion.deadline_s() == pytest.approx(124.0)
    assert not suspicion.confirm("a")          # the first accuser is not a confirmation
    assert suspicion.confirm("b")
    assert not suspicion.confirm("b")
    assert suspicion.confirm("c")
    assert not suspicion.confirm("d")          # beyond K: changes nothing, not re-gossiped
    assert suspicion.confirmations == 2
    assert suspicion.deadline_s() == pytest.approx(104.0)


@pytest.mark.parametrize(("score", "scaled_s"), [(0, 0.5), (1, 1.0), (3, 2.0), (7, 4.0)])
def test_awareness_stretches_timeouts_by_score_plus_one(score: int, scaled_s: float) -> None:
    assert scale_timeout_s(0.5, score) == pytest.approx(scaled_s)


def test_awareness_is_clamped_between_zero_and_its_maximum() -> None:
    awareness = Awareness(maximum=3)
    assert awareness.apply_delta(-5) == 0
    assert awareness.apply_delta(2) == 2
    assert awareness.scale_s(1.0) == pytest.approx(3.0)
    assert awareness.apply_delta(10) == 3
    assert awareness.apply_delta(-1) == 2


@pytest.mark.parametrize(("attempt", "u", "delay_s"), [
    (0, 0.0, 5.0),
    (1, 0.0, 10.0),
    (2, 0.0, 20.0),
    (5, 0.0, 160.0),
    (6, 0.0, 300.0),       # capped
    (10_000, 0.0, 300.0),  # no overflow however long a peer stays away
    (0, 0.5, 3.75),        # jitter 0.5 × u 0.5 takes a quarter off
    (6, 0.999999, 150.0),  # never below (1 - jitter) × the cap
])
def test_dead_retry_backoff_doubles_up_to_the_cap_with_jitter_below_it(
        attempt: int, u: float, delay_s: float) -> None:
    assert retry_delay_s(attempt, 5.0, 300.0, 0.5, u) == pytest.approx(delay_s, rel=1e-5)


@pytest.mark.parametrize(("mult", "n", "limit"), [
    (4, 1, 4), (4, 9, 4), (4, 10, 8), (4, 99, 8), (4, 100, 12), (2, 20, 4),
])
def test_retransmit_limit_is_mult_times_ceil_log10_n_plus_one(mult: int, n: int,
                                                               limit: int) -> None:
    assert retransmit_limit(mult, n) == limit


def test_retransmit_queue_sends_least_sent_then_newest_and_drops_at_the_limit() -> None:
    queue: RetransmitQueue[str] = RetransmitQueue()
    queue.put("a", "a1")
    queue.put("b", "b1")
    assert queue.take(1, max_sends=2) == ["b1"]            # newest first
    assert queue.take(1, max_sends=2) == ["a1"]            # then the least sent
    queue.put("a", "a2")                                   # replaces a1, counts restart
    assert queue.take(5, max_sends=2) == ["a2", "b1"]      # b1 reaches 2 sends: dropped
    assert queue.take(5, max_sends=2) == ["a2"]
    assert len(queue) == 0
    queue.put("c", "c1")
    assert queue.take(5, max_sends=2, exclude="c") == []
    assert queue.take(0, max_sends=2) == []


# -- config ----------------------------------------------------------------------


@pytest.mark.parametrize("profile", [MembershipConfig.lan, MembershipConfig.wan,
                                     MembershipConfig.local])
def test_every_profile_is_valid_and_leaves_helpers_time_within_the_interval(
        profile: object) -> None:
    assert callable(profile)
    config = profile()
    assert isinstance(config, MembershipConfig)
    assert config.probe_timeout_s < config.probe_interval_s


@pytest.mark.parametrize(("field", "value"), [
    ("probe_interval_s", 0.0), ("probe_timeout_s", 1.0), ("indirect_probes", -1),
    ("suspicion_mult", 0), ("suspicion_max_timeout_mult", 0), ("retransmit_mult", 0),
    ("awareness_max", -1), ("dead_retry_base_s", 0.0), ("dead_retry_max_s", 1.0),
    ("dead_retry_jitter", 1.0),
])
def test_a_bad_config_value_names_its_field(field: str, value: float) -> None:
    overrides: dict[str, Any] = {field: value}
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(MembershipConfig.lan(), **overrides)


# -- the core --------------------------------------------------------------------

CONFIG = dataclasses.replace(MembershipConfig.lan(), indirect_probes=2)


def core(peers: list[str] = PEERS, config: MembershipConfig = CONFIG, seed: int = 1,
         incarnation: int = 0) -> Membership:
    m = Membership(SELF, incarnation, config, random.Random(seed))
    for peer in peers:
        m.add(peer, 0.0)
    return m


def first_probe(m: Membership, now_s: float = 0.0) -> Probe:
    """Tick until the (staggered) first probe goes out."""
    m.tick(now_s)
    actions = m.tick(m.next_due_s())
    probes = [a for a in actions if isinstance(a, Probe)]
    assert len(probes) == 1
    return probes[0]


def test_the_first_probe_is_staggered_within_one_interval_then_one_per_interval() -> None:
    m = core()
    assert m.tick(0.0) == []
    start_s = m.next_due_s()
    assert 0.0 <= start_s <= CONFIG.probe_interval_s
    probe = m.tick(start_s)[0]
    assert isinstance(probe, Probe)
    assert probe.deadline_s == pytest.approx(start_s + CONFIG.probe_timeout_s)
    m.probe_result(probe.target, True, start_s + 0.01)
    assert m.next_due_s() == pytest.approx(start_s + CONFIG.probe_interval_s)


def test_each_member_is_probed_once_per_pass_in_shuffled_order() -> None:
    m = core()
    now_s = 0.0
    m.tick(now_s)
    seen: list[str] = []
    for _ in range(2 * len(PEERS)):
        now_s = m.next_due_s()
        (probe,) = (a for a in m.tick(now_s) if isinstance(a, Probe))
        m.probe_result(probe.target, True, now_s)
        seen.append(probe.target)
    assert sorted(seen[:5]) == sorted(PEERS) == sorted(seen[5:])


def test_a_missed_direct_probe_asks_k_random_alive_helpers_other_than_the_target() -> None:
    m = core()
    probe = first_probe(m)
    actions = m.tick(probe.deadline_s)
    (indirect,) = actions
    assert isinstance(indirect, IndirectProbe)
    assert indirect.target == probe.target
    assert len(indirect.via) == 2 and probe.target not in indirect.via
    assert set(indirect.via) <= set(PEERS)


def test_a_failed_direct_ping_escalates_at_once_without_waiting_for_the_timeout() -> None:
    m = core()
    probe = first_probe(m)
    early_s = probe.deadline_s - 0.4
    m.probe_result(probe.target, False, early_s)
    assert m.next_due_s() == early_s
    assert isinstance(m.tick(early_s)[0], IndirectProbe)


def test_an_indirect_ack_saves_the_target_and_lowers_awareness() -> None:
    m = core()
    probe = first_probe(m)
    (indirect,) = m.tick(probe.deadline_s)
    assert isinstance(indirect, IndirectProbe)
    m.probe_result(probe.target, True, probe.deadline_s + 0.1, via_indirect=True)
    end_s = indirect.deadline_s + 0.01
    assert not [a for a in m.tick(end_s) if isinstance(a, StateChange)]
    assert m.state_of(probe.target) is ALIVE


def fail_probe(m: Membership, nacks: int) -> tuple[str, float, list[Action]]:
    """Run one probe that nobody answers, with ``nacks`` helpers saying so.

    Returns the target, the end of the probe and what the last tick did
    (the next probe starts as this one ends).
    """
    now_s = m.next_due_s()
    (probe,) = (a for a in m.tick(now_s) if isinstance(a, Probe))
    (indirect,) = (a for a in m.tick(probe.deadline_s) if isinstance(a, IndirectProbe))
    for helper in indirect.via[:nacks]:
        m.nack(probe.target, helper, probe.deadline_s + 0.01)
    m.nack(probe.target, "not-a-helper", probe.deadline_s + 0.01)  # ignored
    return probe.target, indirect.deadline_s, m.tick(indirect.deadline_s)


@pytest.mark.parametrize(("nacks", "awareness"), [(2, 0), (1, 1), (0, 2)])
def test_a_failed_probe_suspects_and_each_missing_nack_raises_awareness(
        nacks: int, awareness: int) -> None:
    m = core()
    m.tick(0.0)
    target, _, _ = fail_probe(m, nacks)
    assert m.state_of(target) is SUSPECT
    assert m.awareness == awareness


def test_awareness_stretches_the_probe_interval_and_timeout_and_success_relaxes_it() -> None:
    m = core()
    m.tick(0.0)
    _, end_s, actions = fail_probe(m, nacks=0)     # awareness 2: three times slower
    assert m.awareness == 2
    assert m.probe_interval_s == pytest.approx(3 * CONFIG.probe_interval_s)
    (probe,) = (a for a in actions if isinstance(a, Probe))
    assert probe.deadline_s == pytest.approx(end_s + 3 * CONFIG.probe_timeout_s)
    assert m.next_due_s() == pytest.approx(end_s + 3 * CONFIG.probe_timeout_s)
    m.probe_result(probe.target, True, end_s + 0.1)
    assert m.awareness == 1
    assert m.next_due_s() == pytest.approx(end_s + 3 * CONFIG.probe_interval_s)


def test_a_lone_suspicion_turns_dead_at_the_max_timeout_then_retries_back_off() -> None:
    m = core()
    m.tick(0.0)
    target, suspected_s, actions = fail_probe(m, nacks=2)
    for action in actions:
        if isinstance(action, Probe):
            m.probe_result(action.target, True, suspected_s)
    n = len(PEERS) + 1
    min_s = suspicion_min_s(CONFIG.suspicion_mult, n, CONFIG.probe_interval_s)
    (view,) = (v for v in m.members() if v.peer_id == target)
    assert view.suspicion_deadline_s == pytest.approx(
        suspected_s + min_s * CONFIG.suspicion_max_timeout_mult)
    # Others answer; the suspect does not, and helpers nack for it (awareness stays 0).
    dead_at: float | None = None
    retries: list[float] = []
    while len(retries) < 8:
        now_s = m.next_due_s()
        for action in m.tick(now_s):
            if isinstance(action, Probe) and action.target != target:
                m.probe_result(action.target, True, now_s)
            elif isinstance(action, Probe) and m.state_of(target) is DEAD:
                retries.append(now_s)
                m.probe_result(target, False, now_s)       # refused at once
            elif isinstance(action, IndirectProbe):
                for helper in action.via:
                    m.nack(target, helper, now_s)
            elif isinstance(action, StateChange) and action.peer_id == target:
                assert action.state is DEAD
                dead_at = now_s
    assert m.awareness == 0
    assert dead_at is not None and dead_at == pytest.approx(view.suspicion_deadline_s)
    gaps = [b - a for a, b in zip([dead_at, *retries], retries, strict=False)]
    for attempt, gap in enumerate(gaps):
        ceiling = min(CONFIG.dead_retry_max_s, CONFIG.dead_retry_base_s * 2**attempt)
        assert (1 - CONFIG.dead_retry_jitter) * ceiling - 1e-9 <= gap <= ceiling + 1e-9
    assert gaps[-1] > CONFIG.dead_retry_max_s / 2 - 1e-9        # reached the cap
    assert m.state_of(target) is DEAD


def test_independent_confirmations_bring_the_suspicion_down_to_the_minimum() -> None:
    m = core()
    m.apply(Update(PEERS[0], SUSPECT, 0, accuser=PEERS[1]), 10.0)
    (view,) = (v for v in m.members() if v.peer_id == PEERS[0])
    n = len(PEERS) + 1
    min_s = suspicion_min_s(CONFIG.suspicion_mult, n, CONFIG.probe_interval_s)
    assert view.suspicion_deadline_s == pytest.approx(
        10.0 + CONFIG.suspicion_max_timeout_mult * min_s)
    assert m.apply(Update(PEERS[0], SUSPECT, 0, accuser=PEERS[2]), 11.0)
    assert not m.apply(Update(PEERS[0], SUSPECT, 0, accuser=PEERS[2]), 11.0)  # same one
    assert not m.apply(Update(PEERS[0], SUSPECT, 0, accuser=PEERS[0]), 11.0)  # itself
    assert m.apply(Update(PEERS[0], SUSPECT, 0, accuser=PEERS[3]), 12.0)
    (view,) = (v for v in m.members() if v.peer_id == PEERS[0])
    assert view.suspicion_deadline_s == pytest.approx(10.0 + min_s)


@pytest.mark.parametrize(("held", "update", "wins"), [
    ((ALIVE, 1), (ALIVE, 2), True),
    ((ALIVE, 1), (ALIVE, 1), False),
    ((ALIVE, 1), (SUSPECT, 1), True),     # Suspect overrides Alive of the same incarnation
    ((ALIVE, 2), (SUSPECT, 1), False),
    ((SUSPECT, 1), (ALIVE, 1), False),    # a refutation needs a higher incarnation
    ((SUSPECT, 1), (ALIVE, 2), True),
    ((SUSPECT, 1), (DEAD, 1), True),
    ((DEAD, 1), (ALIVE, 1), False),
    ((DEAD, 1), (SUSPECT, 1), False),
    ((DEAD, 1), (ALIVE, 2), True),        # a restart's higher incarnation brings it back
    ((DEAD, 3), (DEAD, 2), False),
    ((ALIVE, 3), (DEAD, 3), True),
])
def test_precedence_of_rumours(held: tuple[MemberState, int], update: tuple[MemberState, int],
                               wins: bool) -> None:
    m = core()
    m.apply(Update(PEERS[0], held[0], held[1], accuser=PEERS[1]), 1.0)
    assert m.apply(Update(PEERS[0], update[0], update[1], accuser=PEERS[1]), 2.0) is wins
    (view,) = (v for v in m.members() if v.peer_id == PEERS[0])
    assert (view.state, view.incarnation) == (update if wins else held)


@pytest.mark.parametrize(("own", "rumour", "after"), [
    (4, (SUSPECT, 4), 5),     # accused at our incarnation: one above
    (4, (DEAD, 9), 10),       # accused above it: one above that
    (4, (SUSPECT, 3), 4),     # stale: nothing to refute
    (4, (DEAD, 0), 4),
    (4, (ALIVE, 12), 12),     # our own Alive from a past life: adopted
    (4, (ALIVE, 4), 4),
    (4, (ALIVE, 2), 4),
])
def test_refuted_incarnation(own: int, rumour: tuple[MemberState, int], after: int) -> None:
    assert refuted_incarnation(own, Update(SELF, *rumour)) == after


def test_an_accusation_at_or_above_our_incarnation_is_refuted_one_above() -> None:
    m = core(incarnation=4)
    assert m.apply(Update(SELF, SUSPECT, 4, accuser=PEERS[0]), 1.0)
    assert m.incarnation == 5
    assert m.awareness == 1                           # having to refute is a bad sign
    assert m.pending_updates(10)[0] == Update(SELF, ALIVE, 5)
    assert m.apply(Update(SELF, DEAD, 9), 2.0)
    assert m.incarnation == 10
    raised = [a for a in m.tick(3.0) if isinstance(a, IncarnationRaised)]
    assert [a.incarnation for a in raised] == [5, 10]
    assert SELF not in m and m.state_of(SELF) is None  # never a member of its own table


def test_a_stale_accusation_only_re_gossips_our_alive() -> None:
    m = core(incarnation=7)
    while m.pending_updates(10):
        pass                                          # the start-up Alive is used up
    assert not m.apply(Update(SELF, DEAD, 6), 1.0)
    assert m.incarnation == 7
    assert m.pending_updates(10) == [Update(SELF, ALIVE, 7)]


def test_our_own_alive_from_a_past_life_is_adopted() -> None:
    m = core(incarnation=0)
    assert m.apply(Update(SELF, ALIVE, 12), 1.0)
    assert m.incarnation == 12
    assert not m.apply(Update(SELF, ALIVE, 3), 1.0)


def test_a_ping_to_a_suspect_carries_its_accusation_first_so_it_can_refute() -> None:
    m = core()
    m.apply(Update(PEERS[0], SUSPECT, 3, accuser=PEERS[1]), 1.0)
    first = m.pending_updates(1, to=PEERS[0])
    assert first == [Update(PEERS[0], SUSPECT, 3, accuser=SELF)]
    assert m.pending_updates(0, to=PEERS[0]) == []
    assert m.pending_updates(10, to=PEERS[1])[0] != first[0]


def test_each_rumour_is_piggybacked_a_bounded_number_of_times() -> None:
    m = core()
    m.apply(Update(PEERS[0], DEAD, 1), 1.0)
    limit = retransmit_limit(CONFIG.retransmit_mult, len(PEERS) + 1)
    sends = sum(Update(PEERS[0], DEAD, 1) in m.pending_updates(3) for _ in range(3 * limit))
    assert sends == limit


def test_rumours_about_strangers_are_dropped_unless_learning_is_on() -> None:
    stranger = "ffffffffffffffff"
    m = core()
    assert not m.apply(Update(stranger, ALIVE, 1), 1.0)
    assert stranger not in m
    learner = core(config=dataclasses.replace(CONFIG, learn_unknown_peers=True))
    assert learner.apply(Update(stranger, SUSPECT, 1, accuser=PEERS[0]), 1.0)
    assert learner.state_of(stranger) is SUSPECT


def test_incarnations_beyond_what_can_be_stored_are_dropped() -> None:
    m = core()
    assert not m.apply(Update(SELF, SUSPECT, 2**63 - 1), 1.0)
    assert not m.apply(Update(PEERS[0], DEAD, 2**63), 1.0)
    assert m.incarnation == 0 and m.state_of(PEERS[0]) is ALIVE
    with pytest.raises(ValueError, match="incarnation"):
        Membership(SELF, -1, CONFIG, random.Random(0))


def test_a_dead_member_that_answers_a_retry_is_knocked_again_at_the_base_pace() -> None:
    m = core(peers=PEERS[:1])
    m.apply(Update(PEERS[0], DEAD, 0), 0.0)
    m.tick(0.0)
    retry_s = next(v.next_retry_s for v in m.members())
    assert retry_s is not None
    actions = [a for a in m.tick(retry_s) if isinstance(a, Probe) and a.target == PEERS[0]]
    assert actions
    m.probe_result(PEERS[0], True, retry_s + 0.1)
    (view,) = m.members()
    assert view.last_ok_s == retry_s + 0.1
    assert view.next_retry_s == pytest.approx(retry_s + 0.1 + CONFIG.dead_retry_base_s)
    m.apply(Update(PEERS[0], ALIVE, 1), retry_s + 0.2)        # its refutation
    (view,) = m.members()
    assert (view.state, view.next_retry_s) == (ALIVE, None)


def test_removing_a_member_forgets_its_rumours_and_its_probe() -> None:
    m = core(peers=PEERS[:2])
    probe = first_probe(m)
    m.apply(Update(probe.target, DEAD, 5), 1.0)
    assert m.remove(probe.target) and not m.remove(probe.target)
    assert all(u.peer_id != probe.target for u in m.pending_updates(10))
    assert [a for a in m.tick(probe.deadline_s) if isinstance(a, IndirectProbe)] == []
    assert not m.add(SELF, 2.0)


def test_exchanging_snapshots_repairs_what_gossip_missed() -> None:
    a = Membership(PEERS[0], 3, CONFIG, random.Random(1))
    b = Membership(PEERS[1], 0, CONFIG, random.Random(2))
    for peer in PEERS[2:]:
        a.add(peer, 0.0)
        b.add(peer, 0.0)
    a.add(PEERS[1], 0.0)
    b.add(PEERS[0], 0.0)
    a.apply(Update(PEERS[2], DEAD, 4), 1.0)
    b.apply(Update(PEERS[3], SUSPECT, 2, accuser=PEERS[4]), 1.0)
    b.apply(Update(PEERS[4], ALIVE, 9), 1.0)
    for update in a.snapshot():
        b.apply(update, 2.0)
    for update in b.snapshot():
        a.apply(update, 2.0)
    common = PEERS[2:]
    assert ([(v.peer_id, v.state, v.incarnation) for v in a.members() if v.peer_id in common]
            == [(v.peer_id, v.state, v.incarnation) for v in b.members()
                if v.peer_id in common])
    assert b.state_of(PEERS[0]) is ALIVE and b.members()[0].incarnation == 3
