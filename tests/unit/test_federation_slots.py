"""Stream slots and answering turns: one peer can never take what the others need."""

from __future__ import annotations

import asyncio

import pytest

from federation.errors import TooManyStreams
from federation.slots import StreamSlots
from federation.turns import PeerTurns


def test_a_peer_at_its_share_is_refused_while_others_still_get_slots() -> None:
    slots = StreamSlots(per_peer=2, total=3)
    slots.acquire("greedy")
    slots.acquire("greedy")
    with pytest.raises(TooManyStreams, match="per peer"):
        slots.acquire("greedy")
    slots.acquire("honest")
    with pytest.raises(TooManyStreams, match="busy"):
        slots.acquire("third")
    slots.release("greedy")
    slots.acquire("third")
    assert len(slots) == 3


def test_released_slots_leave_no_trace() -> None:
    slots = StreamSlots(per_peer=1, total=10)
    for peer in ("a", "b", "a"):
        slots.acquire(peer)
        slots.release(peer)
    assert len(slots) == 0
    slots.acquire("a")  # its share is whole again


async def test_peers_take_turns_so_a_burst_does_not_delay_another_peer_by_all_of_it() -> None:
    turns = PeerTurns(per_peer=1)
    order: list[str] = []
    release = asyncio.Event()
    entered = {label: asyncio.Event() for label in [f"greedy{i}" for i in range(5)] + ["honest"]}

    async def answer(peer: str, label: str) -> None:
        async with turns.turn(peer):
            order.append(label)
            entered[label].set()
            await release.wait()

    burst = [asyncio.create_task(answer("greedy", f"greedy{i}")) for i in range(5)]
    await asyncio.wait_for(entered["greedy0"].wait(), 10)
    other = asyncio.create_task(answer("honest", "honest"))
    await asyncio.wait_for(entered["honest"].wait(), 10)
    assert order == ["greedy0", "honest"]  # honest runs beside the first of the burst
    release.set()
    await asyncio.gather(*burst, other)
    assert sorted(order) == sorted([f"greedy{i}" for i in range(5)] + ["honest"])
    assert len(turns) == 0  # idle peers are forgotten
