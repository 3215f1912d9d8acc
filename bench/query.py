"""How much do signed envelopes (and TLS) cost a federation query?

Runs the real server stack (`federation.server.start_server` around
`FederationService`) in a separate process on loopback, four ways: plaintext
or TLS, with or without signing, and asks it from this process. Unsigned
means the same wire, codec, privacy shaping and server wiring with the
envelope machinery removed on both sides (no request signature, no gate, no
answer signature, no answer verification); it exists only here, as the
baseline. The node is a fixed in-memory aggregate so the figures are the
protocol's, not SQLite's.

Prints, per mode, sequential latency p50/p99 (one call at a time), saturated
throughput (``--concurrency`` calls in flight for ``--seconds``) and the CPU
each process spent per call, then the signed/unsigned throughput ratio. The
modes run interleaved for ``--rounds`` rounds and the best round is shown,
because other work on the machine only ever makes a round worse; the
CPU-bound capacity ratio (busiest side's CPU per call, unsigned over signed)
is printed too as the figure least disturbed by other load. Asserts nothing.

    python bench/query.py [--calls 2000] [--seconds 3] [--concurrency 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from federation.audit import AuditLog  # noqa: E402
from federation.client import OK, FederationClient  # noqa: E402
from federation.config import ServerLimits  # noqa: E402
from federation.gate import Metadata  # noqa: E402
from federation.keys import NodeKey  # noqa: E402
from federation.privacy import PrivacyPolicy, shape_seen  # noqa: E402
from federation.server import start_server  # noqa: E402
from federation.service import FederationService, Reply  # noqa: E402
from federation.trust import Peer, TrustStore  # noqa: E402
from federation.wire import (  # noqa: E402
    Answer,
    Question,
    SeenAnswer,
    SmtpQuestion,
    decode_question,
    encode_answer,
    encode_question,
    method_of,
)
from node.query import NearAggregate, SeenAggregate  # noqa: E402

QUESTION = SmtpQuestion("corp1.com")
AGGREGATE = SeenAggregate(True, 42, 7, 1_772_000_000_000_000, 1_772_442_600_000_000)


class FixedQuery:
    """A node that always knows the same aggregates (no store I/O)."""

    async def smtp_target(self, domain: str) -> SeenAggregate:
        return AGGREGATE

    async def fingerprint(self, kind: str, value: str) -> SeenAggregate:
        return AGGREGATE

    async def simhash_near(self, kind: str, simhash: int, max_distance: int) -> NearAggregate:
        return NearAggregate(True, 1, 3)


class UnsignedService(FederationService):
    """The baseline: everything `FederationService.handle` does except the envelopes."""

    async def handle(self, method: str, body: bytes, metadata: Metadata) -> Reply:
        version, question = decode_question(method, body)
        assert isinstance(question, SmtpQuestion)
        found = await FixedQuery().smtp_target(question.domain)
        answer = SeenAnswer(shape_seen(found, self._policy), self._policy.time_granularity_s)
        return Reply(encode_answer(answer, version, method), b"")


def _node_key(seed: bytes) -> NodeKey:
    return NodeKey.from_private(Ed25519PrivateKey.from_private_bytes(seed))


def _serve(server_seed: bytes, client_public: str, signed: bool, tls: bool,
           conn: Connection) -> None:
    async def main() -> None:
        key = _node_key(server_seed)
        trust = TrustStore()
        trust.add("bench-client", "127.0.0.1:1", client_public)
        policy = PrivacyPolicy.local()
        service_type = FederationService if signed else UnsignedService
        service = service_type(key=key, name="bench", trust=trust, query=FixedQuery(),
                               limits=ServerLimits(replay_cache_entries=10_000_000),
                               policy=policy, audit=AuditLog(None))
        server = await start_server(service, "127.0.0.1:0", key=key, limits=ServerLimits(),
                                    plaintext=not tls)
        conn.send(server.port)
        await asyncio.to_thread(conn.recv)
        await server.stop(None)

    asyncio.run(main())


class UnsignedClient(FederationClient):
    """The baseline client: `FederationClient` minus signing and answer verification."""

    async def _ask(self, channel: grpc.aio.Channel, peer: Peer, question: Question,
                   timeout_s: float) -> Answer:
        method = method_of(question)
        response, _ = await self._call(channel, method, encode_question(question, 1), (),
                                       timeout_s)
        return self._decode(method, response)[1]


def _cpu_s(pid: int) -> float:
    """User+system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Result:
    p50_s: float
    p99_s: float
    rate: float
    server_us: float
    client_us: float


async def _measure(ask: Callable[[], Awaitable[bool]], args: argparse.Namespace,
                   server_pid: int) -> Result:
    for _ in range(200):  # warm-up: channel, TLS, code paths
        assert await ask()
    latencies = []
    for _ in range(args.calls):
        started = time.perf_counter()
        assert await ask()
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    done = 0
    deadline = time.perf_counter() + args.seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            assert await ask()
            done += 1

    started = time.perf_counter()
    server_cpu, client_cpu = _cpu_s(server_pid), time.process_time()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    elapsed = time.perf_counter() - started
    return Result(statistics.median(latencies),
                  latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
                  done / elapsed, (_cpu_s(server_pid) - server_cpu) / done * 1e6,
                  (time.process_time() - client_cpu) / done * 1e6)


async def _run_mode(signed: bool, tls: bool, args: argparse.Namespace) -> Result:
    server_key, client_key = NodeKey.generate(), NodeKey.generate()
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(server_key.seed(), client_key.public.text, signed, tls, child))
    process.start()
    port = await asyncio.to_thread(parent.recv)
    assert process.pid is not None
    peer = TrustStore().add("bench", f"127.0.0.1:{port}", server_key.public.text)
    client_type = FederationClient if signed else UnsignedClient
    try:
        async with client_type(client_key, plaintext=not tls, deadline_s=10) as client:
            async def ask() -> bool:
                row = await client.ask(peer, QUESTION)
                return row.status == OK
            return await _measure(ask, args, process.pid)
    finally:
        parent.send("stop")
        await asyncio.to_thread(process.join, 30)


def _label(tls: bool, signed: bool) -> str:
    return f"{'tls' if tls else 'plaintext':9} {'signed' if signed else 'unsigned':8}"


async def main(args: argparse.Namespace) -> None:
    print(f"bench/query.py: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f};"
          f" {args.rounds} rounds of {args.calls} sequential calls and {args.seconds:g} s"
          f" saturated (c={args.concurrency}) per mode; server in its own process;"
          f" best round shown", flush=True)
    modes = [(tls, signed) for tls in (False, True) for signed in (False, True)]
    results: dict[tuple[bool, bool], list[Result]] = {mode: [] for mode in modes}
    for _ in range(args.rounds):  # interleaved, so background load hits every mode alike
        for tls, signed in modes:
            results[(tls, signed)].append(await _run_mode(signed, tls, args))
    best = {}
    for mode in modes:
        runs = results[mode]
        best[mode] = Result(min(r.p50_s for r in runs), min(r.p99_s for r in runs),
                            max(r.rate for r in runs), min(r.server_us for r in runs),
                            min(r.client_us for r in runs))
        r = best[mode]
        print(f"{_label(*mode)}  sequential p50 {r.p50_s * 1000:6.3f} ms"
              f"  p99 {r.p99_s * 1000:6.3f} ms  saturated {r.rate:8.0f} calls/s"
              f"  CPU/call server {r.server_us:4.0f} us, client {r.client_us:4.0f} us",
              flush=True)
    for tls in (False, True):
        with_sig, without = best[(tls, True)], best[(tls, False)]
        cpu_ratio = max(without.server_us, without.client_us) \
            / max(with_sig.server_us, with_sig.client_us)
        print(f"{'tls' if tls else 'plaintext'}: signed/unsigned throughput ratio"
              f" {with_sig.rate / without.rate:.2f} (CPU-bound capacity ratio {cpu_ratio:.2f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
