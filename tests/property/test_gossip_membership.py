"""Membership properties: precedence, refutation, and clusters of cores on a virtual network.

The cluster scenarios drive 5–20 `Membership` cores through an in-test
network with virtual time: messages are delivered in time order from a heap,
each core is ticked exactly at its `next_due_s`, and waits are predicates
with a deadline in virtual seconds. Nothing sleeps.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.gossip.membership import (
    IndirectProbe,
    Membership,
    MembershipConfig,
    MemberState,
    Probe,
    StateChange,
    Update,
)
from federation.gossip.suspicion import suspicion_min_s

ALIVE, SUSPECT, DEAD = MemberState.ALIVE, MemberState.SUSPECT, MemberState.DEAD
SELF = "00000000000000aa"
PEERS = ["0000000000000001", "0000000000000002", "0000000000000003"]
CONFIG = MembershipConfig.local()

updates = st.builds(
    Update,
    peer_id=st.sampled_from([SELF, *PEERS]),
    state=st.sampled_from(list(MemberState)),
    incarnation=st.integers(0, 6),
    accuser=st.sampled_from([None, *PEERS]),
)


def fresh(incarnation: int = 0) -> Membership:
    m = Membership(SELF, incarnation, CONFIG, random.Random(0))
    for peer in PEERS:
        m.add(peer, 0.0)
    return m


def beliefs(m: Membership) -> tuple[int, list[tuple[str, MemberState, int]]]:
    return m.incarnation, [(v.peer_id, v.state, v.incarnation) for v in m.members()]


# -- rumours ---------------------------------------------------------------------


@settings(max_examples=150)
@given(st.lists(updates, max_size=12), st.randoms(use_true_random=False),
       st.integers(0, 4))
def test_any_order_of_the_same_rumours_ends_in_the_same_beliefs(
        batch: list[Update], shuffler: random.Random, incarnation: int) -> None:
    first = fresh(incarnation)
    for update in batch:
        first.apply(update, 1.0)
    shuffled = batch[:]
    shuffler.shuffle(shuffled)
    second = fresh(incarnation)
    for update in shuffled:
        second.apply(update, 1.0)
    assert beliefs(first) == beliefs(second)


@settings(max_examples=150)
@given(st.lists(st.tuples(updates, st.booleans()), max_size=20), st.integers(0, 4))
def test_incarnations_never_decrease_and_a_node_never_believes_itself_dead(
        steps: list[tuple[Update, bool]], incarnation: int) -> None:
    m = fresh(incarnation)
    now_s = 0.0
    before = beliefs(m)
    for update, tick in steps:
        now_s += 0.05
        m.apply(update, now_s)
        if tick:
            for action in m.tick(now_s):
                if isinstance(action, Probe):
                    m.probe_result(action.target, False, now_s)
        after = beliefs(m)
        assert after[0] >= before[0]
        assert all(b[2] <= a[2] for a, b in zip(after[1], before[1], strict=True))
        assert SELF not in m and m.state_of(SELF) is None
        before = after


@given(st.integers(0, 2**40), st.integers(0, 2**40), st.sampled_from([SUSPECT, DEAD]))
def test_refutation_always_claims_a_higher_incarnation_than_the_accusation(
        own: int, accused: int, state: MemberState) -> None:
    m = fresh(own)
    m.apply(Update(SELF, state, accused, accuser=PEERS[0]), 1.0)
    assert m.incarnation > accused or (accused < own and m.incarnation == own)
    assert m.incarnation >= own
    assert Update(SELF, ALIVE, m.incarnation) in m.pending_updates(10)


# -- a virtual network -----------------------------------------------------------

UPDATES_PER_MESSAGE = 8
LINK_S = 0.01


@dataclasses.dataclass
class Node:
    core: Membership
    up: bool = True
    #: added to every message to or from this node (a slow host or link)
    extra_delay_s: float = 0.0


class Network:
    """Cores, a message heap and virtual time; the loop each core would have, in miniature."""

    def __init__(self, n: int, seed: int, config: MembershipConfig = CONFIG) -> None:
        self.config = config
        self.seed = seed
        self.now_s = 0.0
        self.ids = [f"{i:016x}" for i in range(1, n + 1)]
        self.nodes = {pid: self._start(pid, 0) for pid in self.ids}
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._due = {pid: node.core.next_due_s() for pid, node in self.nodes.items()}
        #: every (observer, subject, state) change seen, for "never" assertions
        self.changes: list[tuple[str, str, MemberState]] = []

    def _start(self, pid: str, incarnation: int) -> Node:
        core = Membership(pid, incarnation, self.config,
                          random.Random(f"{self.seed}:{pid}:{incarnation}"))
        for other in self.ids:
            core.add(other, self.now_s)
        return Node(core)

    def kill(self, pid: str) -> None:
        self.nodes[pid].up = False
        self._due[pid] = math.inf

    def restart(self, pid: str, incarnation: int) -> None:
        self.nodes[pid] = self._start(pid, incarnation)
        self._due[pid] = self.nodes[pid].core.next_due_s()

    def beliefs_about(self, subject: str) -> list[MemberState | None]:
        return [n.core.state_of(subject) for pid, n in self.nodes.items()
                if pid != subject and n.up]

    # messages: each closure runs at delivery, only if its receiver still runs that core

    def _send(self, src: str, dst: str, handler: Callable[[Membership], None]) -> None:
        a, b = self.nodes[src], self.nodes[dst]
        if not (a.up and b.up):
            return
        at = self.now_s + LINK_S + a.extra_delay_s + b.extra_delay_s
        core = b.core

        def deliver() -> None:
            if self.nodes[dst].up and self.nodes[dst].core is core:
                handler(core)
                self._due[dst] = core.next_due_s()

        heapq.heappush(self._heap, (at, next(self._seq), deliver))

    def _gossip(self, src: str, dst: str) -> list[Update]:
        return self.nodes[src].core.pending_updates(UPDATES_PER_MESSAGE, to=dst)

    def _receive(self, core: Membership, rumours: list[Update]) -> None:
        for update in rumours:
            core.apply(update, self.now_s)

    def ping(self, src: str, dst: str, on_ack: Callable[[Membership], None]) -> None:
        """src → dst ping, dst → src ack, both carrying rumours."""
        rumours = self._gossip(src, dst)

        def at_dst(dst_core: Membership) -> None:
            self._receive(dst_core, rumours)
            back = self._gossip(dst, src)

            def at_src(src_core: Membership) -> None:
                self._receive(src_core, back)
                on_ack(src_core)

            self._send(dst, src, at_src)

        self._send(src, dst, at_dst)

    def ping_req(self, src: str, helper: str, target: str) -> None:
        """src asks helper to ping target: the helper forwards an ack, or nacks in time."""
        rumours = self._gossip(src, helper)

        def at_helper(helper_core: Membership) -> None:
            self._receive(helper_core, rumours)
            acked = [False]

            def forward(_: Membership) -> None:
                acked[0] = True
                self._send(helper, src, lambda c: c.probe_result(target, True, self.now_s,
                                                                 via_indirect=True))

            def nack_if_silent() -> None:
                if not acked[0]:
                    self._send(helper, src, lambda c: c.nack(target, helper, self.now_s))

            self.ping(helper, target, forward)
            heapq.heappush(self._heap, (self.now_s + helper_core.probe_timeout_s,
                                        next(self._seq), nack_if_silent))

        self._send(src, helper, at_helper)

    def _acked(self, target: str) -> Callable[[Membership], None]:
        return lambda core: core.probe_result(target, True, self.now_s)

    def _act(self, pid: str) -> None:
        core = self.nodes[pid].core
        for action in core.tick(self.now_s):
            if isinstance(action, Probe):
                self.ping(pid, action.target, self._acked(action.target))
            elif isinstance(action, IndirectProbe):
                for helper in action.via:
                    self.ping_req(pid, helper, action.target)
            elif isinstance(action, StateChange):
                self.changes.append((pid, action.peer_id, action.state))
        self._due[pid] = core.next_due_s()
        assert self._due[pid] > self.now_s, f"{pid}: tick left work due at once"

    def run_until(self, predicate: Callable[[], bool], deadline_s: float) -> bool:
        """Advance virtual time until ``predicate`` holds or ``deadline_s`` passes."""
        for _ in range(1_000_000):
            if predicate():
                return True
            next_msg_s = self._heap[0][0] if self._heap else math.inf
            pid, next_tick_s = min(self._due.items(), key=lambda kv: kv[1])
            at_s = min(next_msg_s, next_tick_s)
            if at_s > deadline_s:
                self.now_s = deadline_s
                return predicate()
            self.now_s = max(self.now_s, at_s)
            if next_msg_s <= next_tick_s:
                heapq.heappop(self._heap)[2]()
            else:
                self._act(pid)
        raise AssertionError("the simulation stopped advancing")

    def run_for(self, duration_s: float) -> None:
        self.run_until(lambda: False, self.now_s + duration_s)


def detection_bound_s(n: int, config: MembershipConfig = CONFIG) -> float:
    """Two probe passes to reach the victim, the longest suspicion, ten rounds of gossip."""
    longest = (suspicion_min_s(config.suspicion_mult, n, config.probe_interval_s)
               * config.suspicion_max_timeout_mult)
    return (2 * n + 10) * config.probe_interval_s + longest


cluster = st.tuples(st.integers(5, 20), st.integers(0, 2**32), st.integers(0, 19))


@settings(max_examples=40)
@given(cluster)
def test_a_killed_node_is_dead_everywhere_in_bounded_time_and_alive_again_after_restart(
        params: tuple[int, int, int]) -> None:
    n, seed, which = params
    net = Network(n, seed)
    victim = net.ids[which % n]
    net.run_for(3.0)
    assert not net.changes, "a healthy cluster settles with nobody suspected"

    net.kill(victim)
    killed_s = net.now_s
    assert net.run_until(lambda: all(s is DEAD for s in net.beliefs_about(victim)),
                         killed_s + detection_bound_s(n))

    stored = net.nodes[victim].core.incarnation
    net.restart(victim, stored + 1)
    back = net.run_until(
        lambda: all(s is ALIVE for s in net.beliefs_about(victim)),
        net.now_s + CONFIG.dead_retry_max_s + 2 * n * CONFIG.probe_interval_s)
    assert back
    assert all(v.incarnation >= stored + 1 for node in net.nodes.values()
               for v in node.core.members() if v.peer_id == victim)


@settings(max_examples=20)
@given(cluster, st.floats(0.0, 0.03))
def test_a_slow_node_whose_answers_stay_within_the_probe_timeout_is_never_suspected(
        params: tuple[int, int, int], delay_s: float) -> None:
    n, seed, which = params
    net = Network(n, seed)
    slow = net.ids[which % n]
    net.nodes[slow].extra_delay_s = delay_s     # round trip ≤ 2 × (0.01 + 0.03) < 0.1
    net.run_for(20.0)
    assert net.changes == []


@settings(max_examples=20)
@given(cluster, st.floats(0.04, 0.085))
def test_a_node_slower_than_the_probe_timeout_but_inside_the_interval_is_never_suspected(
        params: tuple[int, int, int], delay_s: float) -> None:
    """Past the timeout helpers are asked, but the direct ack still counts until the
    interval ends, so a round trip of 0.1–0.19 s against a 0.1 s timeout costs nothing."""
    n, seed, which = params
    net = Network(n, seed)
    slow = net.ids[which % n]
    net.nodes[slow].extra_delay_s = delay_s
    net.run_for(20.0)
    assert net.changes == []


WITHOUT_LIFEGUARD = dataclasses.replace(CONFIG, awareness_max=0, suspicion_max_timeout_mult=1)


def false_alarms(n: int, seed: int, config: MembershipConfig) -> tuple[int, int]:
    """A node whose round trips (0.32 s) exceed even the probe interval (0.2 s), for 20 s:
    (how often it accuses a healthy peer, how often a healthy peer is declared Dead)."""
    net = Network(n, seed, config)
    slow = net.ids[seed % n]
    net.nodes[slow].extra_delay_s = 0.15
    net.run_for(20.0)
    accusations = sum(1 for observer, _, state in net.changes
                      if observer == slow and state is SUSPECT)
    healthy_deaths = sum(1 for _, subject, state in net.changes
                         if subject != slow and state is DEAD)
    return accusations, healthy_deaths


@pytest.mark.parametrize(("n", "seed"), [(5, 0), (10, 1), (20, 2)])
def test_lifeguard_keeps_a_node_too_slow_to_answer_from_killing_healthy_peers(
        n: int, seed: int) -> None:
    """Such a node is itself suspected all the time (it cannot answer in time), but
    awareness slows its probing so it accuses far less (measured: 8–14 accusations
    against 95–140 without, over 60 runs), and lone accusations last the long
    suspicion, long enough for refutations: healthy deaths 0–4 against 150–250."""
    accusations, deaths = false_alarms(n, seed, CONFIG)
    accusations_without, deaths_without = false_alarms(n, seed, WITHOUT_LIFEGUARD)
    assert accusations * 4 <= accusations_without
    assert deaths * 10 <= deaths_without
