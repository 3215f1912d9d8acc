"""Two and three real nodes with mutual trust answer from their own ingested logs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from federation.client import OK, UNREACHABLE, FederationClient
from federation.keys import NodeKey
from federation.ledger import Ledger
from federation.trust import TrustStore
from federation.wire import FingerprintQuestion, SeenAnswer, SimhashQuestion, SmtpQuestion
from node.query import NearAggregate
from tests.federation_helpers import FakeQuery, mail_line, tls_line
from tests.integration.federation_nodes import (
    RunningNode,
    client_for,
    running_node,
    store_nodes,
)
from tests.support import SAMPLES

JA3 = "e7d705a3286e19ea42f587b344ee6865"
DAY = 1772409600  # 2026-03-02T00:00:00Z


def write_log(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_two_nodes_answer_each_other_from_their_own_logs(tmp_path: Path) -> None:
    bravo_log = write_log(tmp_path / "bravo.log", [
        mail_line("203.0.113.9", "ceo", "corp1.com"),
        mail_line("203.0.113.10", "cfo", "corp1.com", when="2026-03-04T23:59:00+00:00"),
    ])
    async with store_nodes(tmp_path, {"alpha": sorted(SAMPLES.iterdir()),
                                      "bravo": [bravo_log]}) as (alpha, bravo):
        async with client_for(alpha) as client:
            (row,) = await client.ask_all(alpha.trust, SmtpQuestion("CORP1.com"))
        assert row.status == OK and isinstance(row.answer, SeenAnswer)
        assert (row.answer.seen.seen, row.answer.seen.count) == (True, 2)
        assert row.answer.seen.first_seen_s == DAY
        assert row.answer.seen.last_seen_s == DAY + 2 * 86400
        async with client_for(bravo) as client:
            (row,) = await client.ask_all(bravo.trust, SmtpQuestion("victim-co.com"))
            assert row.status == OK and isinstance(row.answer, SeenAnswer)
            assert row.answer.seen.seen and row.answer.seen.count >= 2
            (row,) = await client.ask_all(bravo.trust, SmtpQuestion("corp1.com"))
            assert isinstance(row.answer, SeenAnswer) and not row.answer.seen.seen


async def test_three_nodes_each_answer_for_themselves(tmp_path: Path) -> None:
    logs = {
        "alpha": [write_log(tmp_path / "a.log", [tls_line("192.0.2.1", JA3)])],
        "bravo": [write_log(tmp_path / "b.log", [tls_line("192.0.2.2", JA3),
                                                 tls_line("192.0.2.3", JA3)])],
        "charlie": [write_log(tmp_path / "c.log", [mail_line("192.0.2.4", "x", "c.org")])],
    }
    async with store_nodes(tmp_path, logs) as nodes:
        alpha = nodes[0]
        async with client_for(alpha) as client:
            rows = await client.ask_all(alpha.trust, FingerprintQuestion("ja3", JA3.upper()))
        by_peer = {row.peer: row for row in rows}
        assert set(by_peer) == {"bravo", "charlie"}
        bravo, charlie = by_peer["bravo"].answer, by_peer["charlie"].answer
        assert isinstance(bravo, SeenAnswer) and isinstance(charlie, SeenAnswer)
        assert (bravo.seen.seen, bravo.seen.count, bravo.seen.distinct_attackers) == (True, 2, 2)
        assert not charlie.seen.seen and charlie.seen.first_seen_s is None
        async with client_for(nodes[2]) as client:
            rows = await client.ask_all(nodes[2].trust, FingerprintQuestion("ja3", JA3))
        assert sorted((r.peer, r.answer.seen.count) for r in rows  # type: ignore[union-attr]
                      ) == [("alpha", 1), ("bravo", 2)]


async def test_simhash_near_answers_from_the_mail_body_simhashes(tmp_path: Path) -> None:
    async with store_nodes(tmp_path, {"alpha": sorted(SAMPLES.iterdir()),
                                      "bravo": []}) as (alpha, bravo):
        async with client_for(bravo) as client:
            (near,) = await client.ask_all(bravo.trust,
                                           SimhashQuestion("mail_body", 0x9F3C2A1B0E4D5C6E, 3))
            (far,) = await client.ask_all(bravo.trust,
                                          SimhashQuestion("mail_body", 0x0F3C2A1B0E4D5C00, 2))
        assert near.answer == NearAggregate(True, 1, 1)
        assert far.answer == NearAggregate(False, None, 0)
        assert alpha.name == "alpha"


def client_for_key(key: NodeKey, node: RunningNode) -> FederationClient:
    return FederationClient(key, plaintext=False, deadline_s=30, clock=node.clock)


class _SlowLedger(Ledger):
    """Holds every request's commit until the test releases it."""

    def __init__(self) -> None:
        super().__init__(None)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def record(self, *args: Any, **kwargs: Any) -> None:
        self.entered.set()
        await self.release.wait()
        await super().record(*args, **kwargs)


async def test_in_flight_call_finishes_during_graceful_stop() -> None:
    asker, ledger = NodeKey.generate(), _SlowLedger()
    async with running_node("alpha", FakeQuery(), ledger=ledger) as alpha:
        alpha.trust_key("asker", asker)
        query = ledger
        async with client_for_key(asker, alpha) as client:
            in_flight = asyncio.create_task(client.ask(alpha.as_peer(), SmtpQuestion("a.com")))
            await query.entered.wait()
            stopping = asyncio.create_task(alpha.node.server.stop(30))
            late = await client.ask(alpha.as_peer(), SmtpQuestion("b.com"))
            query.release.set()
            row = await in_flight
            await stopping
    assert row.status == OK and isinstance(row.answer, SeenAnswer)
    assert late.status != OK  # new calls are refused once the stop began


async def test_revoked_peer_is_refused_while_the_others_still_answer(tmp_path: Path) -> None:
    async with store_nodes(tmp_path, {"alpha": sorted(SAMPLES.iterdir()), "bravo": [],
                                      "charlie": []}) as (alpha, bravo, charlie):
        revoked = TrustStore()
        revoked.add("bravo", bravo.address, bravo.key.public.text,
                    alpha.trust.by_name("bravo").certificate)  # type: ignore[union-attr]
        alpha.node.replace_trust(revoked)  # what `serve` does on SIGHUP
        question = SmtpQuestion("victim-co.com")
        async with client_for(bravo) as client:
            (ok,) = [r for r in await client.ask_all(bravo.trust, question) if r.peer == "alpha"]
        async with client_for(charlie) as client:
            (refused,) = [r for r in await client.ask_all(charlie.trust, question)
                          if r.peer == "alpha"]
    assert ok.status == OK and isinstance(ok.answer, SeenAnswer) and ok.answer.seen.seen
    assert refused.status == UNREACHABLE  # its handshake is refused
