"""Blind questions between real nodes over mutual TLS: the same aggregates as the open path,
and the answering node never learns the item."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from federation.audit import AuditLog
from federation.blind.asker import BLIND, NOT_BLIND, TableCache, ask_blind
from federation.blind.epochs import EpochKeys
from federation.blind.oprf import KeyPair
from federation.blind.state import BlindAnswers
from federation.client import BAD_ANSWER, OK, REFUSED, PeerAnswer
from federation.ledger import Ledger
from federation.privacy import PrivacyPolicy
from federation.wire import FingerprintQuestion, SeenAnswer, SmtpQuestion
from node.query import StoreQuery
from tests.federation_helpers import FakeQuery, mail_line, tls_line
from tests.integration.federation_nodes import (
    RunningNode,
    client_for,
    ingest,
    running_node,
    store_nodes,
    trust_each_other,
)
from tests.support import async_wait_for

JA3 = "e7d705a3286e19ea42f587b344ee6865"
NEVER = "never-seen-7f3a9c.org"


async def ask_alone(asker: RunningNode, domain: str, cache: TableCache | None = None,
                    gossiped: Mapping[str, Mapping[int, bytes]] | None = None) -> PeerAnswer:
    """``asker``'s one trusted peer asked blind about ``domain``: that peer's row."""
    async with client_for(asker) as client:
        ((row,),) = await ask_blind(client, list(asker.trust), [SmtpQuestion(domain)],
                                    cache or TableCache(None), gossiped)
    return row


def write_log(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_a_blind_question_gets_the_open_answer_and_unseen_is_not_seen(
        tmp_path: Path) -> None:
    bravo_log = write_log(tmp_path / "bravo.log", [
        mail_line("203.0.113.9", "ceo", "corp1.com"),
        mail_line("203.0.113.10", "cfo", "corp1.com", when="2026-03-04T23:59:00+00:00"),
        tls_line("192.0.2.2", JA3), tls_line("192.0.2.3", JA3),
    ])
    async with store_nodes(tmp_path, {"alpha": [], "bravo": [bravo_log]}) as (alpha, _):
        questions: list[SmtpQuestion | FingerprintQuestion] = [
            SmtpQuestion("CORP1.com"), SmtpQuestion(NEVER), FingerprintQuestion("ja3", JA3.upper())]
        async with client_for(alpha) as client:
            opened = [await client.ask_all(alpha.trust, q) for q in questions]
            blind = await ask_blind(client, list(alpha.trust), questions,
                                    TableCache(tmp_path / "cache"))
    for (open_row,), (blind_row,) in zip(opened, blind, strict=True):
        assert blind_row.status == OK and blind_row.mode == BLIND, blind_row.error
        assert isinstance(open_row.answer, SeenAnswer)
        assert isinstance(blind_row.answer, SeenAnswer)
        assert blind_row.answer.seen == open_row.answer.seen  # day granularity: the same
    smtp, never, ja3 = (rows[0].answer for rows in blind)
    assert smtp.seen.count == 2 and not never.seen.seen  # type: ignore[union-attr]
    assert ja3.seen.distinct_attackers == 2  # type: ignore[union-attr]


async def test_the_answering_node_keeps_no_trace_of_the_item(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Store, federation state, audit log and logs of the answering node, byte for byte."""
    caplog.set_level(logging.DEBUG)
    home = tmp_path / "bravo"
    store = await ingest(home, [write_log(tmp_path / "b.log", [
        mail_line("203.0.113.9", "ceo", "corp1.com")])])
    try:
        async with running_node("alpha", FakeQuery()) as alpha, \
                running_node("bravo", StoreQuery(store), audit=AuditLog(home / "audit.log"),
                             ledger=Ledger(home / "federation.db")) as bravo:
            trust_each_other([alpha, bravo])
            row = await ask_alone(alpha, NEVER)
            assert row.status == OK
            assert not row.answer.seen.seen  # type: ignore[union-attr]
    finally:
        await store.close()
    audit = (home / "audit.log").read_text(encoding="utf-8")
    assert '"blind evaluation"' in audit and '"evaluations":1' in audit
    needle = NEVER.encode()
    files = [path for path in home.rglob("*") if path.is_file()]
    assert {p.name for p in files} >= {"node.db", "audit.log", "federation.db"}
    for path in files:
        assert needle not in path.read_bytes(), path
    assert NEVER not in caplog.text


async def test_a_node_without_blind_questions_is_a_row_saying_so(tmp_path: Path) -> None:
    closed = dataclasses.replace(PrivacyPolicy.local(), blind_enabled=False)
    async with running_node("alpha", FakeQuery()) as alpha, \
            running_node("bravo", FakeQuery(), policy=closed) as bravo:
        trust_each_other([alpha, bravo])
        row = await ask_alone(alpha, "corp1.com")
    assert (row.status, row.answer) == (NOT_BLIND, None)


async def test_a_tampered_evaluation_or_foreign_table_is_a_bad_answer(tmp_path: Path) -> None:
    async with running_node("alpha", FakeQuery()) as alpha, \
            running_node("bravo", FakeQuery()) as bravo:
        trust_each_other([alpha, bravo])
        blind = bravo.service.blind
        assert blind is not None
        honest_evaluate = blind.evaluate

        def tampered(epoch, blinded, now_s):  # type: ignore[no-untyped-def]
            evaluation = honest_evaluate(epoch, blinded, now_s)
            proof = bytes([evaluation.proof[0] ^ 1]) + evaluation.proof[1:]
            return dataclasses.replace(evaluation, proof=proof)

        blind.evaluate = tampered  # type: ignore[method-assign]
        row = await ask_alone(alpha, "corp1.com")
        assert row.status in (BAD_ANSWER, REFUSED) and row.answer is None
        assert row.status == BAD_ANSWER, row.error


async def test_answers_stay_correct_across_an_epoch_boundary(tmp_path: Path) -> None:
    async with running_node("alpha", FakeQuery()) as alpha, \
            running_node("bravo", FakeQuery()) as bravo:
        trust_each_other([alpha, bravo])
        blind = bravo.service.blind
        assert blind is not None
        epoch_s = blind.keys.epoch_s
        cache = TableCache(tmp_path / "cache")

        async def seen() -> tuple[str, bool | None]:
            row = await ask_alone(alpha, "corp1.com", cache)
            return row.status, None if row.answer is None \
                else row.answer.seen.seen  # type: ignore[union-attr]

        start = bravo.clock.now
        first_epoch = blind.keys.epoch_at(start)
        assert await seen() == (OK, True)
        old_public = dict(blind.keys.public_keys(start))[first_epoch]
        bravo.clock.now = alpha.clock.now = (first_epoch + 1) * epoch_s + 1  # in the grace
        assert [e for e, _ in blind.keys.public_keys(bravo.clock.now)] \
            == [first_epoch + 1, first_epoch]
        assert await seen() == (OK, True)  # the new epoch's key and table
        assert dict(blind.keys.public_keys(bravo.clock.now))[first_epoch] == old_public
        bravo.clock.now = alpha.clock.now = (first_epoch + 2) * epoch_s + blind.keys.grace_s
        assert [e for e, _ in blind.keys.public_keys(bravo.clock.now)] == [first_epoch + 2]
        assert blind.keys.key(first_epoch, bravo.clock.now) is None  # deleted, not kept
        assert await seen() == (OK, True)


async def test_a_key_other_than_the_gossiped_one_is_a_bad_answer(tmp_path: Path) -> None:
    """A node telling askers apart by key is caught by what it gossips to everyone."""
    async with running_node("alpha", FakeQuery()) as alpha, \
            running_node("bravo", FakeQuery()) as bravo:
        trust_each_other([alpha, bravo])
        blind = bravo.service.blind
        assert blind is not None
        ((epoch, public),) = blind.keys.public_keys(bravo.clock.now)
        honest = {bravo.key.key_id: {epoch: public}}
        other = {bravo.key.key_id: {epoch: KeyPair.generate().public_key}}
        fine = await ask_alone(alpha, "corp1.com", gossiped=honest)
        caught = await ask_alone(alpha, "corp1.com", gossiped=other)
    assert fine.status == OK
    assert caught.status == BAD_ANSWER and "gossips" in (caught.error or "")


async def test_a_warm_question_is_one_call_and_a_new_table_version_is_fetched(
        tmp_path: Path) -> None:
    async with running_node("alpha", FakeQuery()) as alpha, \
            running_node("bravo", FakeQuery()) as bravo:
        trust_each_other([alpha, bravo])
        cache = TableCache(tmp_path / "cache")
        async with client_for(alpha) as client:
            asked: list[str] = []
            honest_ask = client.ask

            async def counting(peer, question):  # type: ignore[no-untyped-def]
                asked.append(type(question).__name__)
                return await honest_ask(peer, question)

            client.ask = counting  # type: ignore[method-assign]

            async def seen() -> bool:
                (rows,) = await ask_blind(client, list(alpha.trust),
                                          [SmtpQuestion("corp1.com")], cache)
                assert rows[0].status == OK, rows[0].error
                return rows[0].answer.seen.seen  # type: ignore[union-attr]

            assert await seen()
            assert asked == ["NodeInfoQuestion", "BlindEvaluateQuestion", "BlindTableQuestion"]
            asked.clear()
            assert await seen()
            assert asked == ["BlindEvaluateQuestion"]
            asked.clear()
            assert await seen() and asked == ["BlindEvaluateQuestion"]
            asked.clear()
            bravo.clock.now += 1
            await bravo.service.refresh()  # a new snapshot: a new table version
            assert await seen()
            assert asked == ["BlindEvaluateQuestion", "BlindTableQuestion"]
            asked.clear()
            fresh = TableCache(tmp_path / "cache")  # the next `query` process: from disk
            (rows,) = await ask_blind(client, list(alpha.trust), [SmtpQuestion("corp1.com")],
                                      fresh)
            assert rows[0].status == OK and asked == ["BlindEvaluateQuestion"]


async def test_a_damaged_cache_or_a_peer_that_lost_its_key_is_asked_from_the_start(
        tmp_path: Path) -> None:
    async with running_node("alpha", FakeQuery()) as alpha, \
            running_node("bravo", FakeQuery()) as bravo:
        trust_each_other([alpha, bravo])
        directory = tmp_path / "cache"
        blind = bravo.service.blind
        assert blind is not None

        async def seen(cache: TableCache) -> tuple[str, bool]:
            row = await ask_alone(alpha, "corp1.com", cache)
            return row.status, row.answer is not None \
                and row.answer.seen.seen  # type: ignore[union-attr]

        assert await seen(TableCache(directory)) == (OK, True)
        (cached,) = directory.glob("*.table")
        cached.write_bytes(b"\xff not a table")
        assert await seen(TableCache(directory)) == (OK, True)  # fetched again
        # bravo lost federation.db: a new key for the same epoch; the cached table's
        # key no longer proves anything, so the asker starts over instead of failing
        bravo.service.blind = BlindAnswers(bravo.key, EpochKeys(
            None, epoch_s=blind.keys.epoch_s, grace_s=blind.keys.grace_s))  # a restart
        assert await seen(TableCache(directory)) == (OK, True)


async def test_each_new_epochs_table_is_built_as_the_epoch_starts() -> None:
    """No asker waits for it: serve's maintenance builds it at the boundary."""
    policy = dataclasses.replace(PrivacyPolicy.local(), blind_epoch_s=1, blind_grace_s=0)
    async with running_node("bravo", FakeQuery(), policy=policy, clock=time.time) as bravo:
        blind = bravo.service.blind
        assert blind is not None
        started = blind.keys.epoch_at(time.time())
        bravo.node.start_maintenance(refresh_s=3600)
        await async_wait_for(
            lambda: blind.table_version(started + 2) != 0,
            "the table of an epoch that began after maintenance started")
