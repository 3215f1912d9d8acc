"""The attacks of the federation hardening review, each against real nodes over mutual TLS.

One test (or a few) per numbered finding. Each asserts the refusal and that
an honest peer's question and the local health check still succeed. The
attackers are built from the project's own modules and generated stubs.
Time is the nodes' injected clock; waits are predicates with deadlines.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from federation.client import OK, FederationClient
from federation.config import ServerLimits
from federation.envelope import REQUEST_METADATA, Envelope, encode_envelope
from federation.errors import InvalidQuestion
from federation.gate import Metadata
from federation.keys import NodeKey, load_key_file
from federation.ledger import Ledger
from federation.privacy import PrivacyPolicy
from federation.wire import (
    BLIND_EVALUATE,
    SMTP_TARGET_SEEN,
    FingerprintQuestion,
    NodeInfoQuestion,
    SeenAnswer,
    SimhashQuestion,
    SmtpQuestion,
)
from node.ingest.pipeline import ingest_sources
from node.query import NearAggregate, SimhashSet, StoreQuery
from tests.federation_helpers import (
    FakeQuery,
    MemoryAudit,
    mail_line,
    probe_hidden_value,
    signed_request,
)
from tests.integration.federation_nodes import RunningNode, ingest, running_node
from tests.support import async_wait_for, console_script

Code = grpc.StatusCode
SMTP = SmtpQuestion("corp1.com")
LOOSE = PrivacyPolicy(rate_per_s=1000, burst=1000, daily_distinct_questions=100_000)


async def honest_answered(node: RunningNode, honest: NodeKey,
                          question: SmtpQuestion | SimhashQuestion = SMTP) -> bool:
    async with FederationClient(honest, plaintext=False, deadline_s=10,
                                clock=node.clock) as client:
        row = await client.ask(node.as_peer(), question)
    return row.status == OK


async def health_serving(node: RunningNode) -> bool:
    async with grpc.aio.insecure_channel(node.health_address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(  # type: ignore[attr-defined]
            health_pb2.HealthCheckRequest(service=""), timeout=10)
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


async def _never(_: asyncio.Event) -> AsyncIterator[bytes]:
    await _.wait()
    yield b""


async def body_less_streams(channel: grpc.aio.Channel, count: int,
                            release: asyncio.Event) -> list[asyncio.Task[Code]]:
    """``count`` calls that send headers and never a request message."""
    async def one() -> Code:
        call: grpc.aio.StreamUnaryMultiCallable[bytes, bytes] = \
            channel.stream_unary(SMTP_TARGET_SEEN)
        try:
            await call(_never(release), timeout=60)
        except grpc.aio.AioRpcError as exc:
            return exc.code()
        return Code.OK
    return [asyncio.create_task(one()) for _ in range(count)]


# 1. Anyone can silence a node --------------------------------------------------------------


async def test_a_stranger_opening_260_body_less_streams_never_holds_one() -> None:
    honest, stranger = NodeKey.generate(), NodeKey.generate()
    async with running_node("alpha", FakeQuery(), policy=LOOSE) as node:
        node.trust_key("honest", honest)
        release = asyncio.Event()
        async with node.channel(stranger) as channel:
            streams = await body_less_streams(channel, 260, release)
            assert await honest_answered(node, honest)
            assert await health_serving(node)
            codes = await asyncio.gather(*streams)
        assert node.node.server.open_calls == 0
    assert set(codes) == {Code.UNAVAILABLE}  # the handshake failed: no stream ever opened


# 2. Slot exhaustion by a trusted peer, and draining another peer's bucket --------------------


async def test_a_trusted_peer_holding_body_less_streams_cannot_starve_the_others() -> None:
    honest, greedy = NodeKey.generate(), NodeKey.generate()
    limits = ServerLimits(request_timeout_s=3.0)
    async with running_node("alpha", FakeQuery(), policy=LOOSE, limits=limits) as node:
        node.trust_key("honest", honest)
        node.trust_key("greedy", greedy)
        release = asyncio.Event()
        channels = [node.channel(greedy) for _ in range(9)]  # 9 connections x 32 streams
        try:
            streams = [task for channel in channels
                       for task in await body_less_streams(channel, 32, release)]
            await async_wait_for(lambda: sum(t.done() for t in streams) >= 288 - 32,
                                 "the greedy peer's streams beyond its share to be refused")
            assert node.node.server.open_calls == limits.max_streams_per_peer
            for _ in range(5):  # while its share is held open
                assert await honest_answered(node, honest)
                assert await health_serving(node)
            codes = await asyncio.gather(*streams)  # the held ones end at the deadline
        finally:
            for channel in channels:
                await channel.close()
    assert codes.count(Code.RESOURCE_EXHAUSTED) == 288 - 32
    assert codes.count(Code.DEADLINE_EXCEEDED) == 32
    assert node.node.server.open_calls == 0


async def test_forged_requests_under_a_peers_key_do_not_spend_its_rate_bucket() -> None:
    honest, forger = NodeKey.generate(), NodeKey.generate()
    policy = PrivacyPolicy(rate_per_s=0.001, burst=5, daily_distinct_questions=100)
    async with running_node("alpha", FakeQuery(), policy=policy) as node:
        node.trust_key("honest", honest)
        node.trust_key("forger", forger)
        async with node.channel(forger) as channel:
            call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = \
                channel.unary_unary(SMTP_TARGET_SEEN)
            forged = signed_request(forger, SMTP, now_s=node.clock.now)
            envelope = Envelope(honest.key_id, forged.envelope.method, 1,
                                                 forged.envelope.timestamp_ms,
                                                 forged.envelope.nonce, b"\x00" * 64)
            codes = []
            for _ in range(20):
                try:
                    await call(forged.body, timeout=10,
                               metadata=((REQUEST_METADATA, encode_envelope(envelope)),))
                    codes.append(Code.OK)
                except grpc.aio.AioRpcError as exc:
                    codes.append(exc.code())
        assert set(codes) == {Code.PERMISSION_DENIED}
        answered = [await honest_answered(node, honest) for _ in range(5)]  # its whole burst
    assert answered == [True] * 5


# 3. Small-order keys ------------------------------------------------------------------------


def test_a_small_order_key_cannot_be_trusted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECNET_FED_")}
    subprocess.run([console_script(), "--home", str(home), "init"], check=True,
                   capture_output=True, env=env)
    identity = base64.b64encode(b"\x01" + b"\x00" * 31).decode()
    proc = subprocess.run([console_script(), "--home", str(home), "peers", "add", "weak",
                           "127.0.0.1:1", "--key", identity], capture_output=True, text=True,
                          env=env, check=False)
    assert proc.returncode == 1 and "small-order" in proc.stderr
    assert "Traceback" not in proc.stderr
    (home / "peers.json").write_text(json.dumps({"peers": [
        {"name": "weak", "address": "127.0.0.1:1", "public_key": identity}]}))
    listed = subprocess.run([console_script(), "--home", str(home), "peers", "list"],
                            capture_output=True, text=True, env=env, check=False)
    assert listed.returncode == 1 and "small-order" in listed.stderr


# 4. A restart forgets -----------------------------------------------------------------------


async def test_a_request_captured_before_a_restart_is_refused_after_it(tmp_path: Path) -> None:
    honest, key = NodeKey.generate(), NodeKey.generate()
    state = tmp_path / "federation.db"
    async with running_node("alpha", FakeQuery(), policy=LOOSE, key=key,
                            ledger=Ledger(state)) as node:
        node.trust_key("honest", honest)
        captured = signed_request(honest, SMTP, now_s=node.clock.now)
        async with node.channel(honest) as channel:
            assert await _send(channel, captured) is Code.OK
        started = node.clock.now
    async with running_node("alpha", FakeQuery(), policy=LOOSE, key=key,
                            ledger=Ledger(state)) as node:
        node.trust_key("honest", honest)
        node.clock.now = started + 4  # restarted 4 s later, inside the clock window
        async with node.channel(honest) as channel:
            assert await _send(channel, captured) is Code.UNAUTHENTICATED
        assert await honest_answered(node, honest)
        assert await health_serving(node)


async def test_a_used_up_daily_budget_stays_used_up_across_a_restart(tmp_path: Path) -> None:
    honest, key = NodeKey.generate(), NodeKey.generate()
    state = tmp_path / "federation.db"
    policy = PrivacyPolicy(rate_per_s=1000, burst=1000, daily_distinct_questions=2)
    async with running_node("alpha", FakeQuery(), policy=policy, key=key,
                            ledger=Ledger(state)) as node:
        node.trust_key("honest", honest)
        for domain in ("a.com", "b.com"):
            assert await honest_answered(node, honest, SmtpQuestion(domain))
        assert not await honest_answered(node, honest, SmtpQuestion("c.com"))
    async with running_node("alpha", FakeQuery(), policy=policy, key=key,
                            ledger=Ledger(state)) as node:
        node.trust_key("honest", honest)
        assert not await honest_answered(node, honest, SmtpQuestion("c.com"))
        assert await honest_answered(node, honest, SmtpQuestion("A.com"))  # repeats are free
        assert await health_serving(node)


async def _send(channel: grpc.aio.Channel, request: Any) -> Code:
    call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(request.method)
    try:
        await call(request.body, metadata=request.metadata, timeout=10)
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return Code.OK


# 5. Near-queries leak by difference ---------------------------------------------------------


async def test_probing_around_a_common_simhash_recovers_no_bit_of_a_rare_one() -> None:
    rng = random.Random(5)
    common = rng.getrandbits(64)
    hidden = common ^ sum(1 << b for b in rng.sample(range(64), 5))
    policy = PrivacyPolicy(min_count=3, rate_per_s=1000, burst=1000,
                           daily_distinct_questions=100_000)
    honest = NodeKey.generate()
    results = {}
    for label, stored in (("with", [(common, 3, 3), (hidden, 1, 1)]),
                          ("without", [(common, 3, 3)])):
        query = FakeQuery(simhash_values={"keystroke": stored})
        async with running_node("alpha", query, policy=policy) as node:
            node.trust_key("honest", honest)
            async with FederationClient(honest, plaintext=False, deadline_s=10,
                                        clock=node.clock) as client:
                results[label] = await _probe(client, node, common, policy.max_simhash_distance)
    assert results["with"][0] is None  # the attack finds nothing to recover
    assert results["with"][1] == results["without"][1]  # every answer identical


async def _probe(client: FederationClient, node: RunningNode, common: int,
                 max_radius: int) -> tuple[int | None, list[NearAggregate]]:
    """Run the attack through ``client``; what it recovered and every answer it saw."""
    answers: list[NearAggregate] = []

    async def ask(probe: int, radius: int) -> int:
        row = await client.ask(node.as_peer(), SimhashQuestion("keystroke", probe, radius))
        assert isinstance(row.answer, NearAggregate)
        answers.append(row.answer)
        return row.answer.count_within

    return await probe_hidden_value(ask, common, max_radius), answers


# 6. Near-queries stall the node ---------------------------------------------------------------


async def test_a_burst_of_widest_near_queries_does_not_stall_another_peers_question() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(0, 2**63, size=200_000, dtype=np.int64).astype(np.uint64)
    query = FakeQuery(simhash_values={"keystroke": [(int(v), 1, 1) for v in values[:5]]})

    async def simhashes(kind: str, thresholds: Any) -> Any:
        ones = np.ones(len(values), dtype=np.int64)
        return SimhashSet(values, ones, ones)
    query.simhashes = simhashes  # type: ignore[method-assign]
    prober, honest = NodeKey.generate(), NodeKey.generate()
    async with running_node("alpha", query, policy=LOOSE) as node:
        node.trust_key("prober", prober)
        node.trust_key("honest", honest)
        async with FederationClient(prober, plaintext=False, deadline_s=30,
                                    clock=node.clock) as client:
            burst = [client.ask(node.as_peer(), SimhashQuestion(
                "keystroke", int(v), PrivacyPolicy().max_simhash_distance))
                for v in values[:PrivacyPolicy().burst]]
            flood = asyncio.gather(*burst)
            others = [await honest_answered(node, honest) for _ in range(5)]
            rows = await flood
    assert others == [True] * 5
    assert all(row.status == OK and isinstance(row.answer, NearAggregate)
               and row.answer.match and row.answer.min_distance == 0 for row in rows)


# 7. Polling defeats coarsening ------------------------------------------------------------------


async def test_a_new_sighting_is_invisible_to_polling_until_the_next_snapshot(
        tmp_path: Path) -> None:
    log = tmp_path / "first.log"
    log.write_text(mail_line("203.0.113.9", "ceo", "corp1.com") + "\n")
    store = await ingest(tmp_path / "alpha", [log])
    honest = NodeKey.generate()
    try:
        async with running_node("alpha", StoreQuery(store), policy=LOOSE) as node:
            node.trust_key("honest", honest)
            assert not await _seen(node, honest, "fresh.org")
            later = tmp_path / "later.log"
            later.write_text(mail_line("203.0.113.10", "cfo", "fresh.org") + "\n")
            await ingest_sources(store, [str(later)], batch_size=100, max_line_bytes=65536)
            for _ in range(10):  # polling learns nothing before the snapshot is retaken
                assert not await _seen(node, honest, "fresh.org")
            node.node.start_maintenance(0.05)  # `serve` does this every answer_refresh_s
            await async_wait_for(lambda: _seen(node, honest, "fresh.org"),
                                 "the snapshot to be retaken")
    finally:
        await store.close()


async def _seen(node: RunningNode, honest: NodeKey, domain: str) -> bool:
    async with FederationClient(honest, plaintext=False, deadline_s=10,
                                clock=node.clock) as client:
        row = await client.ask(node.as_peer(), SmtpQuestion(domain))
    assert isinstance(row.answer, SeenAnswer)
    return row.answer.seen.seen


# 8. Peer strings reach the terminal raw --------------------------------------------------------


async def _cli(*args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECNET_FED_")}
    proc = await asyncio.create_subprocess_exec(
        console_script(), *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


HOSTILE = "evil\x1b]0;owned\x07\x1b[2J\u202e"


async def test_control_characters_from_a_peer_never_reach_the_terminal(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert (await _cli("--home", str(home), "init"))[0] == 0
    me = load_key_file(home / "node.key")

    async def refuse(method: str, body: bytes, metadata: Metadata, *,
                     tls_peer: str | None = None) -> Any:
        if method in (SMTP_TARGET_SEEN, BLIND_EVALUATE):
            raise InvalidQuestion("no\x1b[2J\x07 such \x1b]0;pwned\x07 thing")
        return await original(method, body, metadata, tls_peer=tls_peer)

    async with running_node(HOSTILE, FakeQuery(), policy=LOOSE, clock=time.time) as evil:
        evil.trust_key("me", me)
        original = evil.service.handle
        evil.service.handle = refuse  # type: ignore[method-assign]
        code, _, err = await _cli("--home", str(home), "peers", "add", "evil", evil.address,
                                  "--key", evil.key.public.text)
        assert code == 0, err
        outputs = [await _cli("--home", str(home), "peers", "check"),
                   await _cli("--home", str(home), "query", "smtp", "corp1.com"),
                   await _cli("--home", str(home), "query", "smtp", "corp1.com", "--open")]
    checked, blind, opened = outputs
    assert "evil\\x1b]0;owned\\x07\\x1b[2J\\u202e" in checked[1]  # shown, escaped
    assert "\\x1b[2J" in blind[1] and "\\x1b[2J" in opened[1]
    for _, out, err in outputs:
        assert not any(c in out + err for c in "\x1b\x07\u202e")


# 9. Audit and limits ------------------------------------------------------------------------------


async def test_every_authenticated_request_is_audited_and_malformed_ones_cost_nothing() -> None:
    honest = NodeKey.generate()
    audit = MemoryAudit()
    policy = PrivacyPolicy(rate_per_s=1000, burst=1000, daily_distinct_questions=1)
    async with running_node("alpha", FakeQuery(), policy=policy, audit=audit) as node:
        node.trust_key("honest", honest)
        async with FederationClient(honest, plaintext=False, deadline_s=10,
                                    clock=node.clock) as client:
            peer = node.as_peer()
            malformed = [await client.ask(peer, FingerprintQuestion("ja3", f"zz{i}"))
                         for i in range(5)]
            info = await client.ask(peer, NodeInfoQuestion())
            answered = await client.ask(peer, SMTP)
            over = await client.ask(peer, SmtpQuestion("other.org"))
        assert await health_serving(node)
    assert all(row.status != OK and "INVALID_ARGUMENT" in (row.error or "") for row in malformed)
    assert info.status == OK and answered.status == OK  # malformed ones were not charged
    assert over.status != OK and "daily" in (over.error or "")
    assert [(e["method"].rsplit("/", 1)[1], e["status"]) for e in audit.entries] == [
        *[("FingerprintSeen", "INVALID_ARGUMENT")] * 5, ("GetNodeInfo", "OK"),
        ("SmtpTargetSeen", "OK"), ("SmtpTargetSeen", "RESOURCE_EXHAUSTED")]
    assert all(e["peer"] == "honest" for e in audit.entries)
    assert "daily" in audit.entries[-1]["reason"]


async def test_metadata_over_the_limit_is_always_refused() -> None:
    honest = NodeKey.generate()
    async with running_node("alpha", FakeQuery(), policy=LOOSE) as node:
        node.trust_key("honest", honest)
        async with node.channel(honest) as channel:
            codes = []
            for i in range(10):
                request = signed_request(honest, SmtpQuestion(f"d{i}.com"), now_s=node.clock.now)
                call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = \
                    channel.unary_unary(request.method)
                try:
                    await call(request.body, timeout=10, metadata=(
                        *request.metadata, ("padding-bin", b"x" * 9 * 1024)))
                    codes.append(Code.OK)
                except grpc.aio.AioRpcError as exc:
                    codes.append(exc.code())
        assert codes == [Code.RESOURCE_EXHAUSTED] * 10
        assert await honest_answered(node, honest)



async def test_refusals_decided_before_the_service_are_audited_too() -> None:
    greedy = NodeKey.generate()
    audit = MemoryAudit()
    limits = ServerLimits(request_timeout_s=0.5, max_streams_per_peer=1, max_answering_per_peer=1)
    async with running_node("alpha", FakeQuery(), policy=LOOSE, limits=limits,
                            audit=audit) as node:
        node.trust_key("greedy", greedy)
        release = asyncio.Event()
        async with node.channel(greedy) as channel:
            codes = await asyncio.gather(*await body_less_streams(channel, 2, release))
    assert sorted(codes, key=str) == sorted([Code.DEADLINE_EXCEEDED, Code.RESOURCE_EXHAUSTED],
                                            key=str)
    assert sorted(e["status"] for e in audit.entries) == ["DEADLINE_EXCEEDED",
                                                          "RESOURCE_EXHAUSTED"]
    assert all(e["peer"] == "greedy" for e in audit.entries)


async def test_a_flood_of_refused_calls_writes_a_bounded_number_of_audit_lines() -> None:
    flooder = NodeKey.generate()
    audit = MemoryAudit()
    policy = PrivacyPolicy(rate_per_s=0.001, burst=1)
    async with running_node("alpha", FakeQuery(), policy=policy, audit=audit) as node:
        node.trust_key("flooder", flooder)
        async with node.channel(flooder) as channel:
            codes = [await _send(channel, signed_request(flooder, SMTP, now_s=node.clock.now))
                     for _ in range(300)]
    assert codes.count(Code.RESOURCE_EXHAUSTED) == 299
    refused = [e for e in audit.entries if e["status"] != "OK"]
    assert len(refused) <= 101  # the throttle's burst; the clock did not move
    assert len(audit.entries) < len(codes)
