"""`serve`'s maintenance derives what another writer left behind, and peers then see it.

A small batch leaves the profile's fold stages behind (they fold every 50k
journal rows during an ingest), so its sightings are stored but not yet in
the profile tables the answers come from. `serve` catches the store up on an
interval (`FederationNode.start_maintenance`, as `federation.cli.cmd_serve`
starts it) and retakes the answer snapshot on another; after both, a trusted
peer's question is answered from the new sightings, subject to the thresholds.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from federation.client import OK
from federation.privacy import PrivacyPolicy, SharedSeen
from federation.wire import SeenAnswer, SmtpQuestion
from node.event import Event
from node.ingest.detect import parse_line
from node.query import StoreQuery
from tests.federation_helpers import FakeQuery, mail_line
from tests.integration.federation_nodes import (
    RunningNode,
    client_for,
    ingest,
    running_node,
    trust_each_other,
)
from tests.support import async_wait_for

DAY = 1772409600  # 2026-03-02T00:00:00Z
# A domain passes the thresholds only with this many sightings by this many attackers.
POLICY = PrivacyPolicy(min_count=4, min_distinct_attackers=4, rate_per_s=1e6, burst=1_000_000,
                       daily_distinct_questions=1_000_000)


def mails(domain: str, attackers: int, first: int) -> list[Event]:
    return [parse_line(mail_line(f"203.0.113.{first + i}", f"user{i}", domain,
                                 when=f"2026-03-02T10:{i:02d}:00+00:00").encode())
            for i in range(attackers)]


async def seen_by(asker: RunningNode, domain: str) -> SharedSeen:
    """The answering peer's (the only one ``asker`` trusts) answer about ``domain``."""
    async with client_for(asker) as client:
        (row,) = await client.ask_all(asker.trust, SmtpQuestion(domain))
    assert row.status == OK and isinstance(row.answer, SeenAnswer), row
    return row.answer.seen


async def test_maintenance_derives_a_small_batch_and_peers_then_see_it(tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        store = await ingest(tmp_path / "alpha", [])
        stack.push_async_callback(store.close)
        # another writer (an ingest that stopped after a small batch) stored the sightings
        batch = [*mails("corp9.com", 6, first=10), *mails("rare-co.net", 3, first=40)]
        assert await store.write_batch(batch) == len(batch)
        lags = await store.lags()
        assert lags["fold:profile_smtp_targets"] == len(batch)
        assert lags["observation_sets"] == len(batch), lags
        assert lags["fold:profile_fingerprints"] == 0, lags  # an empty journal is not behind
        assert await store.fetch("SELECT count(*) FROM profile_smtp_targets") == [(0,)]

        alpha = await stack.enter_async_context(
            running_node("alpha", StoreQuery(store), policy=POLICY))
        bravo = await stack.enter_async_context(running_node("bravo", FakeQuery()))
        trust_each_other([alpha, bravo])
        await alpha.service.refresh()  # a fresh snapshot alone does not derive anything
        assert not (await seen_by(bravo, "corp9.com")).seen

        alpha.node.start_maintenance(0.05, catch_up=(0.05, store.catch_up))

        async def corp9_seen() -> bool:
            return (await seen_by(bravo, "corp9.com")).seen

        await async_wait_for(corp9_seen, "bravo to see corp9.com in alpha's answers")
        seen = await seen_by(bravo, "CORP9.com")  # (SmtpSeen carries no attacker count)
        assert (seen.seen, seen.count, seen.first_seen_s, seen.last_seen_s) == (True, 6, DAY, DAY)
        assert all(lag == 0 for lag in (await store.lags()).values())
        assert await store.fetch("SELECT count(*) FROM j_smtp_targets") == [(0,)]
        # derived too, but below the thresholds: still exactly "never seen"
        assert await store.fetch("SELECT count(*) FROM profile_smtp_targets"
                                 " WHERE domain = 'rare-co.net'") == [(3,)]
        assert await seen_by(bravo, "rare-co.net") == SharedSeen(False, 0, 0, None, None)
