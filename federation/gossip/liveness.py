"""The thin asyncio loop around `Membership`: pings, ping-reqs, rumours, the peer table.

A ping is the signed `Ping` RPC with no target; a ping-req names a target
the answering node pings on the asker's behalf. Both carry rumours
(`Membership.pending_updates`) each way. Members are the trusted peers
(the trust store decides membership; gossip never adds one). The
incarnation lives in ``gossip.db`` and only grows: a restarted node takes
the stored value + 1, which overrides any Dead rumour about its old life.
The member table is written there too, for `decnet-fed members`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence

from federation._proto.decnet.federation.v1 import federation_pb2 as pb
from federation.client import OK, FederationClient
from federation.gossip.membership import (
    IncarnationRaised,
    IndirectProbe,
    Membership,
    MembershipConfig,
    MemberState,
    Probe,
    StateChange,
    Update,
)
from federation.gossip.store import GossipStore, MemberRow
from federation.trust import Peer
from federation.wire import PingAnswer, PingQuestion

logger = logging.getLogger(__name__)

#: Rumours attached to one message.
UPDATES_PER_MESSAGE = 8
#: How often the member table is written for the CLI, seconds.
SAVE_EVERY_S = 2.0
#: Incarnations above this are refused: no honest node restarts or refutes 2**62
#: times, and the value must stay far from SQLite's signed 64-bit limit.
MAX_SANE_INCARNATION = 2**62
#: A ping-req answer is reused this long for the same target (one ping per target,
#: however many peers ask): a peer cannot make this node flood another.
PING_REQ_REUSE_S = 1.0
_STATE = {MemberState.ALIVE: pb.MEMBER_STATE_ALIVE, MemberState.SUSPECT: pb.MEMBER_STATE_SUSPECT,
          MemberState.DEAD: pb.MEMBER_STATE_DEAD}
_FROM_WIRE = {v: k for k, v in _STATE.items()}


def to_wire(updates: Sequence[Update]) -> list[pb.MemberUpdate]:
    return [pb.MemberUpdate(peer=u.peer_id, state=_STATE[u.state], incarnation=u.incarnation,
                            accuser=u.accuser or "") for u in updates]


def from_wire(updates: Sequence[pb.MemberUpdate]) -> list[Update]:
    """Well-formed rumours only (an unknown state is dropped, not guessed).

    A Suspect or Dead claim must leave its subject room to refute it: at
    ``MAX_SANE_INCARNATION`` itself the refutation (one more) would be refused
    everywhere, and a forged claim there would make a live node dead for good.
    """
    return [Update(u.peer, _FROM_WIRE[u.state], u.incarnation, u.accuser or None)
            for u in updates
            if u.state in _FROM_WIRE and u.peer and (
                u.incarnation < MAX_SANE_INCARNATION
                or (u.incarnation == MAX_SANE_INCARNATION and u.state == pb.MEMBER_STATE_ALIVE))]


class Liveness:
    """One node's membership, driven over the federation client."""

    def __init__(self, self_id: str, store: GossipStore, client: FederationClient,
                 peers: Callable[[], Sequence[Peer]], config: MembershipConfig,
                 rng: random.Random | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.client = client
        self.peers = peers
        self.clock = clock
        stored = min(store.counter("incarnation", 0), MAX_SANE_INCARNATION)
        incarnation = store.bump_counter("incarnation", stored + 1)
        self.membership = Membership(self_id, incarnation, config, rng or random.Random())
        self._tasks: set[asyncio.Task[None]] = set()
        self._saved_s = 0.0
        self._ping_reqs: dict[str, tuple[float, asyncio.Future[bool]]] = {}

    @property
    def incarnation(self) -> int:
        return self.membership.incarnation

    def alive(self, key_id: str) -> bool:
        """Worth gossiping with: not believed dead (unknown peers are given a chance)."""
        return self.membership.state_of(key_id) is not MemberState.DEAD

    def sync_members(self) -> None:
        """Members = trusted peers: add the new, drop the removed."""
        now_s = self.clock()
        trusted = {p.key.key_id for p in self.peers()}
        for key_id in trusted:
            self.membership.add(key_id, now_s)
        for view in self.membership.members():
            if view.peer_id not in trusted:
                self.membership.remove(view.peer_id)

    async def run(self) -> None:
        """Tick, act, sleep until the next thing is due (at most a second); until cancelled."""
        try:
            while True:
                try:
                    self.sync_members()
                    now_s = self.clock()
                    for action in self.membership.tick(now_s):
                        self._act(action)
                    if now_s - self._saved_s >= SAVE_EVERY_S:
                        self.save()
                except Exception:  # a full disk must not end probing for good
                    logger.exception("membership step failed; going on")
                due = self.membership.next_due_s() - self.clock()
                await asyncio.sleep(min(1.0, max(0.01, due)))
        finally:
            for task in list(self._tasks):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _act(self, action: object) -> None:
        if isinstance(action, Probe):
            self._spawn(self._probe(action))
        elif isinstance(action, IndirectProbe):
            self._spawn(self._indirect(action))
        elif isinstance(action, StateChange):
            logger.warning("peer %s is now %s (incarnation %d)", self._name(action.peer_id),
                           action.state.value, action.incarnation)
            self.save()
        elif isinstance(action, IncarnationRaised):
            self.store.bump_counter("incarnation",
                                    min(action.incarnation, MAX_SANE_INCARNATION))
            logger.warning("refuted a rumour that this node is %s: incarnation %d",
                           action.cause.state.value, action.incarnation)

    def _spawn(self, job: object) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(job)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _probe(self, probe: Probe) -> None:
        peer = self._peer(probe.target)
        ok = peer is not None and await self.ping(peer)
        self.membership.probe_result(probe.target, ok, self.clock())

    async def _indirect(self, probe: IndirectProbe) -> None:
        async def via(helper_id: str) -> None:
            helper = self._peer(helper_id)
            if helper is None:
                return
            if await self.ping(helper, target=probe.target):
                self.membership.probe_result(probe.target, True, self.clock(), via_indirect=True)
            else:
                self.membership.nack(probe.target, helper_id, self.clock())
        await asyncio.gather(*(via(helper) for helper in probe.via))

    async def ping(self, peer: Peer, target: str = "") -> bool:
        """Ping ``peer`` (or ask it to ping ``target``); merge the rumours it returns."""
        request = pb.PingRequest(target=target, updates=to_wire(
            self.membership.pending_updates(UPDATES_PER_MESSAGE, to=peer.key.key_id)))
        answered = await self.client.ask(peer, PingQuestion(request))
        if answered.status != OK or not isinstance(answered.answer, PingAnswer):
            return False
        now_s = self.clock()
        for update in from_wire(answered.answer.response.updates):
            self.membership.apply(update, now_s)
        return answered.answer.response.ack

    async def answer(self, asker: str, request: pb.PingRequest) -> pb.PingResponse:
        """A ping (ack at once) or a ping-req (ack if the target answers us)."""
        now_s = self.clock()
        for update in from_wire(request.updates):
            self.membership.apply(update, now_s)
        ack = True
        if request.target:
            ack = await self._ping_for_another(request.target)
        return pb.PingResponse(ack=ack, updates=to_wire(
            self.membership.pending_updates(UPDATES_PER_MESSAGE, to=asker)))

    async def _ping_for_another(self, key_id: str) -> bool:
        """A ping-req: one ping per target at a time, its answer reused briefly."""
        target = self._peer(key_id)
        if target is None:
            return False  # only trusted peers are pinged on anyone's behalf
        now_s = self.clock()
        known = self._ping_reqs.get(key_id)
        if known is None or now_s - known[0] > PING_REQ_REUSE_S:
            future: asyncio.Future[bool] = asyncio.ensure_future(self.ping(target))
            self._ping_reqs = {k: v for k, v in self._ping_reqs.items()
                               if now_s - v[0] <= PING_REQ_REUSE_S}
            known = self._ping_reqs[key_id] = (now_s, future)
        return await asyncio.shield(known[1])

    def _peer(self, key_id: str) -> Peer | None:
        return next((p for p in self.peers() if p.key.key_id == key_id), None)

    def _name(self, key_id: str) -> str:
        peer = self._peer(key_id)
        return peer.name if peer is not None else key_id

    def save(self) -> None:
        """The member table as this node sees it, for `decnet-fed members`."""
        self._saved_s = self.clock()
        self.store.save_members(self.incarnation, [
            MemberRow(v.peer_id, v.state.value, v.incarnation, v.since_s, v.last_ok_s)
            for v in self.membership.members()])

    async def close(self) -> None:
        await self.client.close()
