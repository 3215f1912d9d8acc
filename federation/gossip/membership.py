"""Who is up: a sans-I/O SWIM failure detector with Lifeguard, and the peer table.

Nothing here opens a socket, sleeps or reads a clock: time comes in as
``now_s``, randomness from an injected `random.Random`. The loop asks `tick`
what is due (probes to send, changes to log), reports what happened
(`probe_result`, `nack`, `apply` for every piggybacked `Update`), attaches
`pending_updates` to every ping, ack and ping-req it sends (``to=`` the
receiver), and wakes again at `next_due_s` or at the next message.

* **Precedence** (`federation.gossip.rumour`): the greater ``(incarnation,
  rank)`` wins, Alive < Suspect < Dead — Alive at a higher incarnation
  overrides Suspect, Suspect overrides Alive at the same one, Dead overrides
  anything at an equal or lower one — so arrival order does not matter.
  Rumours about peers not in the table are dropped unless
  ``learn_unknown_peers``: the trust store, not gossip, says who is a member.
* **Refutation**: only a node speaks for itself. Accused (Suspect or Dead) at
  an incarnation ≥ its own, it takes that incarnation + 1 and gossips Alive;
  a stale accusation only re-gossips its Alive. It never holds itself as
  anything but Alive. The loop persists `incarnation` (on `IncarnationRaised`); a
  restarted node starts at the stored value + 1, which overrides its old Dead.
* **Probing** (`federation.gossip.probe`): one member per interval; no ack
  within the probe timeout → ``indirect_probes`` Alive helpers try; nothing by
  the interval's end → Suspect. A ping to a Suspect or Dead member carries its
  accusation so a live one refutes at once. Dead members are retried with
  capped, jittered exponential backoff (`federation.gossip.backoff`).
* **Lifeguard's two timeouts**: (1) probe interval and timeout × (awareness +
  1) (`federation.gossip.awareness`) — a node that fails probes, misses nacks
  or must refute slows down before it accuses others; (2) a suspicion lasts
  from ``max`` down to ``min`` as independent accusers confirm it
  (`federation.gossip.suspicion`).
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

from federation.gossip.awareness import Awareness
from federation.gossip.backoff import DeadRetry, retry_delay_s
from federation.gossip.broadcast import RetransmitQueue, retransmit_limit
from federation.gossip.probe import IndirectProbe, Probe, ProbeOrder, ProbeRound
from federation.gossip.rumour import (
    MAX_INCARNATION,
    MemberState,
    Update,
    refuted_incarnation,
)
from federation.gossip.suspicion import Suspicion, expected_confirmations, suspicion_min_s

__all__ = ["Action", "IndirectProbe", "MemberState", "MemberView", "Membership",
           "MembershipConfig", "Probe", "IncarnationRaised", "StateChange", "Update"]

#: State changes kept for the next `tick` if the loop falls behind.
_MAX_EVENTS = 1024


@dataclass(frozen=True, slots=True)
class MembershipConfig:
    """Failure-detector tunables; defaults are `lan`, as memberlist's are.

    Peers are ``n`` nodes including this one. Detection of a crash takes about
    one probe interval to the first accusation plus the suspicion timeout.
    """

    #: Seconds between probes, before × (awareness + 1). Each node sends one
    #: ping per interval whatever ``n``; shorter detects sooner at more traffic.
    probe_interval_s: float = 1.0
    #: Seconds a direct ping may take before helpers are asked, before ×
    #: (awareness + 1); also how long a helper waits before it nacks. Must
    #: exceed the path's p99 round trip (a gRPC call over mTLS) and stay below
    #: the interval, whose remainder is the helpers' time.
    probe_timeout_s: float = 0.5
    #: Helpers asked to ping a target that missed its direct ping (SWIM's k).
    #: More survive more lossy paths, at 2k messages per missed ping.
    indirect_probes: int = 3
    #: suspicion min = suspicion_mult × max(1, log10 n) × probe_interval_s;
    #: ``suspicion_mult - 2`` independent confirmations are expected. Higher
    #: gives a slow peer longer to refute and detects crashes later.
    suspicion_mult: int = 4
    #: suspicion max = this × min: how long a lone accuser's suspicion lasts
    #: (Lifeguard), so one unhealthy node cannot kill healthy peers quickly.
    suspicion_max_timeout_mult: int = 6
    #: Each rumour is piggybacked retransmit_mult × ⌈log10(n + 1)⌉ times.
    #: Higher reaches everyone more surely at more bytes per message.
    retransmit_mult: int = 4
    #: Largest Lifeguard awareness score: a node in trouble probes at most
    #: (awareness_max + 1) times slower (memberlist's multiplier 8).
    awareness_max: int = 7
    #: First retry of a Dead member after about this many seconds; each failed
    #: retry doubles it. Lower notices a returning peer sooner.
    dead_retry_base_s: float = 5.0
    #: Cap on the retry delay, seconds: a returning peer is noticed by us
    #: within this (it also announces itself on its own first pings).
    dead_retry_max_s: float = 300.0
    #: A retry delay is shortened by a random fraction up to this, so nodes
    #: that lost a peer together do not all retry it in step.
    dead_retry_jitter: float = 0.5
    #: Take rumours about peers not in the table as new members. Off: members
    #: come from the trust store, and gossip must not grow the table.
    learn_unknown_peers: bool = False

    def __post_init__(self) -> None:
        for name in ("probe_interval_s", "probe_timeout_s", "dead_retry_base_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be > 0, got {getattr(self, name)!r}")
        if self.probe_timeout_s >= self.probe_interval_s:
            raise ValueError(f"probe_timeout_s: must be below probe_interval_s"
                             f" ({self.probe_interval_s!r}), got {self.probe_timeout_s!r}")
        for name in ("suspicion_mult", "suspicion_max_timeout_mult", "retransmit_mult"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be ≥ 1, got {getattr(self, name)!r}")
        for name in ("indirect_probes", "awareness_max"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be ≥ 0, got {getattr(self, name)!r}")
        if self.dead_retry_max_s < self.dead_retry_base_s:
            raise ValueError(f"dead_retry_max_s: must be ≥ dead_retry_base_s"
                             f" ({self.dead_retry_base_s!r}), got {self.dead_retry_max_s!r}")
        if not 0 <= self.dead_retry_jitter < 1:
            raise ValueError(f"dead_retry_jitter: must be in [0, 1),"
                             f" got {self.dead_retry_jitter!r}")

    @classmethod
    def lan(cls) -> MembershipConfig:
        """memberlist's LAN values: sub-second round trips, crash found in ~5–30 s."""
        return cls()

    @classmethod
    def wan(cls) -> MembershipConfig:
        """memberlist's WAN values, for peers across the Internet (seconds of RTT)."""
        return cls(probe_interval_s=5.0, probe_timeout_s=3.0, suspicion_mult=6,
                   dead_retry_base_s=15.0, dead_retry_max_s=600.0)

    @classmethod
    def local(cls) -> MembershipConfig:
        """Fast values for tests on one host: everything in tenths of a second."""
        return cls(probe_interval_s=0.2, probe_timeout_s=0.1, indirect_probes=2,
                   suspicion_mult=3, suspicion_max_timeout_mult=4, retransmit_mult=2,
                   awareness_max=3, dead_retry_base_s=0.5, dead_retry_max_s=5.0)


@dataclass(frozen=True, slots=True)
class StateChange:
    """A member's state changed (for logs and metrics)."""

    peer_id: str
    state: MemberState
    incarnation: int


@dataclass(frozen=True, slots=True)
class IncarnationRaised:
    """This node refuted ``cause`` (or adopted an Alive of a past life): persist ``incarnation``."""

    incarnation: int
    cause: Update


Action = Probe | IndirectProbe | StateChange | IncarnationRaised


@dataclass(frozen=True, slots=True)
class MemberView:
    """One row of ``status`` / ``members`` output."""

    peer_id: str
    state: MemberState
    incarnation: int
    since_s: float
    last_ok_s: float | None
    next_retry_s: float | None
    suspicion_deadline_s: float | None


@dataclass(slots=True)
class _Member:
    state: MemberState
    incarnation: int
    since_s: float
    last_ok_s: float | None = None
    suspicion: Suspicion | None = None
    retry: DeadRetry | None = None


class Membership:
    """The peer table and failure detector of one node."""

    def __init__(self, self_id: str, incarnation: int, config: MembershipConfig,
                 rng: random.Random) -> None:
        if not self_id:
            raise ValueError("self_id: must not be empty")
        if not 0 <= incarnation < MAX_INCARNATION:
            raise ValueError(f"incarnation: must be in [0, 2**63 - 1), got {incarnation!r}")
        self._self_id = self_id
        self._incarnation = incarnation
        self._config = config
        self._rng = rng
        self._awareness = Awareness(config.awareness_max)
        self._members: dict[str, _Member] = {}
        self._queue: RetransmitQueue[Update] = RetransmitQueue()
        self._events: deque[Action] = deque(maxlen=_MAX_EVENTS)
        self._order = ProbeOrder(rng)
        self._next_probe_s: float | None = None
        self._round: ProbeRound | None = None
        self._announce_self()

    @property
    def self_id(self) -> str:
        return self._self_id

    @property
    def incarnation(self) -> int:
        """This node's incarnation; persist it when `tick` returns `IncarnationRaised`."""
        return self._incarnation

    @property
    def awareness(self) -> int:
        """Lifeguard's local health score (0 = healthy)."""
        return self._awareness.score

    @property
    def probe_interval_s(self) -> float:
        """The configured interval stretched by awareness."""
        return self._awareness.scale_s(self._config.probe_interval_s)

    @property
    def probe_timeout_s(self) -> float:
        """The configured timeout stretched by awareness; a helper's ping deadline too."""
        return self._awareness.scale_s(self._config.probe_timeout_s)

    def __contains__(self, peer_id: object) -> bool:
        return peer_id in self._members

    def __len__(self) -> int:
        return len(self._members)

    def state_of(self, peer_id: str) -> MemberState | None:
        """What we believe about ``peer_id`` (None if not a member)."""
        member = self._members.get(peer_id)
        return None if member is None else member.state

    def members(self) -> list[MemberView]:
        """Every member but ourselves, by peer id."""
        return [MemberView(p, m.state, m.incarnation, m.since_s, m.last_ok_s,
                           None if m.retry is None else m.retry.next_s,
                           None if m.suspicion is None else m.suspicion.deadline_s())
                for p, m in sorted(self._members.items())]

    def next_due_s(self) -> float:
        """When `tick` next has something to do (``-inf`` before the first tick)."""
        if self._next_probe_s is None:
            return float("-inf")
        due = [self._next_probe_s]
        if self._round is not None:
            due.append(self._round.next_deadline_s())
        for m in self._members.values():
            if m.suspicion is not None:
                due.append(m.suspicion.deadline_s())
            if m.retry is not None:
                due.append(m.retry.due_s())
        return min(due)

    def add(self, peer_id: str, now_s: float) -> bool:
        """Make a trusted peer a member (Alive at incarnation 0 until it says more)."""
        if peer_id == self._self_id or peer_id in self._members:
            return False
        self._members[peer_id] = _Member(MemberState.ALIVE, 0, now_s)
        self._order.add(peer_id)
        return True

    def remove(self, peer_id: str) -> bool:
        """Forget a peer (trust revoked), its pending rumour and any probe of it."""
        if self._members.pop(peer_id, None) is None:
            return False
        self._queue.drop(peer_id)
        if self._round is not None and self._round.target == peer_id:
            self._round = None
        return True

    def apply(self, update: Update, now_s: float) -> bool:
        """Take in a rumour; True when it changed the table, our incarnation or a suspicion."""
        if not 0 <= update.incarnation < MAX_INCARNATION:
            return False
        if update.peer_id == self._self_id:
            return self._apply_about_self(update)
        member = self._members.get(update.peer_id)
        if member is None:
            if not self._config.learn_unknown_peers:
                return False
            member = self._members[update.peer_id] = _Member(update.state, -1, now_s)
            self._order.add(update.peer_id)
        if update.overrides(member.state, member.incarnation):
            self._set_state(update.peer_id, member, update.state, update.incarnation,
                            now_s, update.accuser or "")
            self._queue.put(update.peer_id, update)
            return True
        if (update.state is MemberState.SUSPECT and member.state is MemberState.SUSPECT
                and update.incarnation == member.incarnation and member.suspicion is not None
                and update.accuser is not None and update.accuser != update.peer_id
                and member.suspicion.confirm(update.accuser)):
            self._queue.put(update.peer_id, update)  # so others count it too
            return True
        return False

    def pending_updates(self, limit: int, to: str | None = None) -> list[Update]:
        """Up to ``limit`` rumours to attach to one message (each counts as sent).

        On a message ``to`` a member we hold Suspect or Dead its accusation
        comes first and costs nothing, so that member can refute it now.
        """
        out: list[Update] = []
        member = self._members.get(to) if to is not None else None
        if to is not None and member is not None and member.state is not MemberState.ALIVE \
                and limit > 0:
            accuser = self._self_id if member.state is MemberState.SUSPECT else None
            out.append(Update(to, member.state, member.incarnation, accuser))
        max_sends = retransmit_limit(self._config.retransmit_mult, len(self._members) + 1)
        return out + self._queue.take(limit - len(out), max_sends, to if out else None)

    def snapshot(self) -> list[Update]:
        """Every belief as a rumour, ourselves first: for an occasional full exchange with
        one peer (memberlist's push-pull), which repairs what bounded gossip missed."""
        own = Update(self._self_id, MemberState.ALIVE, self._incarnation)
        return [own, *(Update(p, m.state, m.incarnation,
                              self._self_id if m.state is MemberState.SUSPECT else None)
                       for p, m in sorted(self._members.items()))]

    def tick(self, now_s: float) -> list[Action]:
        """Do what is due at ``now_s``: probes to send, and the state changes since last time."""
        actions: list[Action] = []
        if self._next_probe_s is None:  # stagger nodes that start together
            self._next_probe_s = now_s + self._rng.uniform(0.0, self.probe_interval_s)
        probe = self._round
        if probe is not None and not probe.indirect and now_s >= probe.direct_deadline_s:
            alive = (p for p, m in self._members.items() if m.state is MemberState.ALIVE)
            indirect = probe.go_indirect(alive, self._config.indirect_probes, self._rng)
            if indirect is not None:
                actions.append(indirect)
        if probe is not None and (now_s >= probe.deadline_s or
                                  (probe.indirect and not probe.helpers)):
            self._fail_round(probe, now_s)
        for peer_id, m in list(self._members.items()):
            if m.suspicion is not None and now_s >= m.suspicion.deadline_s():
                self._set_state(peer_id, m, MemberState.DEAD, m.incarnation, now_s, "")
                self._queue.put(peer_id, Update(peer_id, MemberState.DEAD, m.incarnation))
            if m.retry is not None:
                if m.retry.deadline_s is not None and now_s >= m.retry.deadline_s:
                    self._retry_failed(m.retry, now_s)
                deadline_s = m.retry.start(now_s, self.probe_timeout_s)
                if deadline_s is not None:
                    actions.append(Probe(peer_id, deadline_s))
        if self._round is None and now_s >= self._next_probe_s:
            self._next_probe_s = now_s + self.probe_interval_s
            target = self._order.next(self._members, self._probeable)
            if target is not None:
                self._round = ProbeRound(target, now_s + self.probe_timeout_s,
                                         self._next_probe_s)
                actions.append(Probe(target, self._round.direct_deadline_s))
        actions += self._events
        self._events.clear()
        return actions

    def probe_result(self, target: str, ok: bool, now_s: float,
                     via_indirect: bool = False) -> None:
        """An ack (``ok``) or a failed direct ping; a helper that failed sends a `nack`."""
        probe, member = self._round, self._members.get(target)
        if member is None:
            return
        if ok:
            member.last_ok_s = now_s
            if probe is not None and probe.target == target:
                self._awareness.apply_delta(-1)
                self._round = None
            if member.retry is not None and member.retry.deadline_s is not None:
                member.retry.answered(now_s, self._config.dead_retry_base_s)
        elif not via_indirect:
            if probe is not None and probe.target == target and not probe.indirect:
                probe.direct_deadline_s = min(probe.direct_deadline_s, now_s)
            if member.retry is not None and member.retry.deadline_s is not None:
                self._retry_failed(member.retry, now_s)

    def nack(self, target: str, via: str, now_s: float) -> None:
        """Helper ``via`` could not reach ``target`` either: evidence that we are healthy."""
        if self._round is not None and self._round.target == target:
            self._round.nack(via)

    def _probeable(self, peer_id: str) -> bool:
        member = self._members.get(peer_id)
        return member is not None and member.state is not MemberState.DEAD

    def _announce_self(self) -> None:
        self._queue.put(self._self_id,
                        Update(self._self_id, MemberState.ALIVE, self._incarnation))

    def _apply_about_self(self, update: Update) -> bool:
        incarnation = refuted_incarnation(self._incarnation, update)
        if incarnation == self._incarnation:
            if update.state is not MemberState.ALIVE:
                self._announce_self()  # a stale accusation: remind whoever still holds it
            return False
        if update.state is not MemberState.ALIVE:
            self._awareness.apply_delta(1)  # being accused is a sign of our own trouble
        self._incarnation = incarnation
        self._announce_self()
        self._events.append(IncarnationRaised(incarnation, update))
        return True

    def _set_state(self, peer_id: str, m: _Member, state: MemberState, incarnation: int,
                   now_s: float, accuser: str) -> None:
        if state is not m.state:
            m.since_s = now_s
            self._events.append(StateChange(peer_id, state, incarnation))
        m.state, m.incarnation, m.suspicion, m.retry = state, incarnation, None, None
        if state is MemberState.SUSPECT:
            c = self._config
            n = 1 + sum(x.state is not MemberState.DEAD for x in self._members.values())
            min_s = suspicion_min_s(c.suspicion_mult, n, c.probe_interval_s)
            m.suspicion = Suspicion(accuser, now_s, expected_confirmations(c.suspicion_mult, n),
                                    min_s, min_s * c.suspicion_max_timeout_mult)
        elif state is MemberState.DEAD:
            m.retry = DeadRetry(now_s + self._retry_delay_s(0))

    def _retry_delay_s(self, attempt: int) -> float:
        c = self._config
        return retry_delay_s(attempt, c.dead_retry_base_s, c.dead_retry_max_s,
                             c.dead_retry_jitter, self._rng.random())

    def _retry_failed(self, retry: DeadRetry, now_s: float) -> None:
        retry.failed(now_s, self._retry_delay_s(retry.attempt + 1))

    def _fail_round(self, probe: ProbeRound, now_s: float) -> None:
        """No ack by the deadline: suspect the target; missing nacks count against us."""
        self._round = None
        self._awareness.apply_delta(probe.failure_awareness_delta())
        member = self._members.get(probe.target)
        if member is None or member.state is MemberState.DEAD:
            return
        accusation = Update(probe.target, MemberState.SUSPECT, member.incarnation, self._self_id)
        if member.state is MemberState.ALIVE:
            self._set_state(probe.target, member, MemberState.SUSPECT, member.incarnation,
                            now_s, self._self_id)
            self._queue.put(probe.target, accusation)
        elif member.suspicion is not None and member.suspicion.confirm(self._self_id):
            self._queue.put(probe.target, accusation)
