"""How much do signed envelopes (and mutual TLS) cost a federation query?

Runs the real server stack (`federation.server.start_server` around
`FederationService`) in a separate process on loopback, four ways: plaintext
or mutual TLS (the server trusts exactly the bench client's key with its
certificate, the client presents it), with or without signing, and asks it
from this process. Signed is what production does per request: gate,
question budget, answer from the snapshot, the durable ledger commit of the
nonce and charge (a real `federation.ledger.Ledger` file in a temporary
directory, group commit on its writer thread), answer signature, and the
client's answer verification. Unsigned means the same wire, codec,
question normalisation, snapshot answer and server wiring (slots, TLS peer
mapping) with the envelope machinery removed on both sides (no request
signature, no gate, no budget, no ledger, no answer signature, no answer
verification); it exists only here, as the baseline. The node's data is a
fixed in-memory `NodeQuery` (one domain) taken into the snapshot once, so the
figures are the protocol's, not SQLite's; the audit log keeps nothing.

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
import inspect
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import grpc
import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from federation.audit import AuditLog  # noqa: E402
from federation.client import OK, FederationClient  # noqa: E402
from federation.config import ServerLimits  # noqa: E402
from federation.gate import Metadata  # noqa: E402
from federation.keys import NodeKey  # noqa: E402
from federation.ledger import Ledger  # noqa: E402
from federation.methods import Answering, method_named  # noqa: E402
from federation.peer_certs import PeerCertificates  # noqa: E402
from federation.privacy import PrivacyPolicy  # noqa: E402
from federation.server import start_server  # noqa: E402
from federation.service import FederationService, Reply  # noqa: E402
from federation.tls import make_certificate  # noqa: E402
from federation.trust import Peer, TrustStore  # noqa: E402
from federation.wire import (  # noqa: E402
    Answer,
    Question,
    SmtpQuestion,
    decode_question,
    encode_answer,
    encode_question,
    method_of,
)
from node.query import GroupSummary, SimhashSet, Thresholds, ValueAggregate  # noqa: E402

QUESTION = SmtpQuestion("corp1.com")
AGGREGATE = ValueAggregate("corp1.com", 42, 7, 1_772_000_000_000_000, 1_772_442_600_000_000)


class FixedQuery:
    """A node that always knows the same domain and nothing else (no store I/O)."""

    async def smtp_targets(self, thresholds: Thresholds) -> list[ValueAggregate]:
        return [AGGREGATE]

    async def fingerprints(self, thresholds: Thresholds) -> dict[str, list[ValueAggregate]]:
        return {}

    async def simhashes(self, kind: str, thresholds: Thresholds) -> SimhashSet:
        none = np.empty(0, dtype=np.int64)
        return SimhashSet(np.empty(0, dtype=np.uint64), none, none)

    async def summaries(self, layer: str, thresholds: Thresholds) -> list[GroupSummary]:
        return []  # nothing to gossip: these benches measure questions


class UnsignedService(FederationService):
    """The baseline: everything `FederationService.handle` does except the envelopes.

    Decodes and normalises the question and answers from the same snapshot;
    no gate, no budget, no ledger commit, no answer signature, no audit line.
    """

    async def handle(self, method: str, body: bytes, metadata: Metadata, *,
                     tls_peer: str | None = None) -> Reply:
        version, question = decode_question(method, body)
        assert isinstance(question, SmtpQuestion)
        spec = method_named(method)
        answer = spec.answer(spec.check(question, self._policy),
                             Answering(self.snapshot, self._policy, "bench", ""))
        assert not inspect.isawaitable(answer)  # SmtpTargetSeen answers at once
        return Reply(encode_answer(answer, version, method), b"")


def _node_key(seed: bytes) -> NodeKey:
    return NodeKey.from_private(Ed25519PrivateKey.from_private_bytes(seed))


def _serve(server_seed: bytes, client_public: str, client_cert: bytes, signed: bool,
           tls: bool, concurrency: int, conn: Connection) -> None:
    async def main(state: Path) -> None:
        key = _node_key(server_seed)
        trust = TrustStore()
        trust.add("bench-client", "127.0.0.1:1", client_public, client_cert)
        # HTTP/2 streams above the client's calls in flight: at exactly the
        # limit, a new stream can reach the server before it has retired the
        # one just answered, and is refused (RST_STREAM REFUSED_STREAM,
        # UNAVAILABLE) instead of measured. Slots are released before the
        # answer is sent, so the per-peer limit needs no such room.
        # One peer is the whole load here, so it may have all its calls
        # answered at once (the default, one turn per peer, is for fairness
        # between peers and would serialise this bench's only client).
        limits = ServerLimits(replay_cache_entries=10_000_000,
                              max_streams_per_peer=max(32, concurrency),
                              max_streams_per_connection=2 * concurrency,
                              max_answering_per_peer=concurrency)
        service_type = FederationService if signed else UnsignedService
        # The signed path commits each request's nonce durably, as production does.
        ledger = Ledger(state / "federation.db") if signed else Ledger(None)
        service = service_type(key=key, name="bench", trust=trust, query=FixedQuery(),
                               limits=limits, policy=PrivacyPolicy.local(),
                               audit=AuditLog(None), ledger=ledger)
        await service.refresh()
        certificates = PeerCertificates(key, trust) if tls else None
        server = await start_server(service, "127.0.0.1:0", limits=limits,
                                    certificates=certificates)
        conn.send(server.port)
        await asyncio.to_thread(conn.recv)
        await server.stop(None)
        ledger.close()

    with tempfile.TemporaryDirectory(prefix="bench-query-") as state:
        asyncio.run(main(Path(state)))


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
        target=_serve, args=(server_key.seed(), client_key.public.text,
                             make_certificate(client_key)[1], signed, tls, args.concurrency,
                             child))
    process.start()
    port = await asyncio.to_thread(parent.recv)
    assert process.pid is not None
    peer = TrustStore().add("bench", f"127.0.0.1:{port}", server_key.public.text,
                            make_certificate(server_key)[1])
    client_type = FederationClient if signed else UnsignedClient
    try:
        async with client_type(client_key, plaintext=not tls, deadline_s=10) as client:
            async def ask() -> bool:
                row = await client.ask(peer, QUESTION)
                if row.status != OK:  # say why before _measure's assert stops the run
                    print(f"call failed: {row.status} {row.error}", flush=True)
                return row.status == OK
            return await _measure(ask, args, process.pid)
    finally:
        parent.send("stop")
        await asyncio.to_thread(process.join, 30)


def _label(tls: bool, signed: bool) -> str:
    return f"{'mtls' if tls else 'plaintext':9} {'signed' if signed else 'unsigned':8}"


async def main(args: argparse.Namespace) -> None:
    print(f"bench/query.py: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f};"
          f" {args.rounds} rounds of {args.calls} sequential calls and {args.seconds:g} s"
          f" saturated (c={args.concurrency}) per mode; server in its own process;"
          f" signed includes the durable ledger commit (SQLite file in a temp dir);"
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
        print(f"{'mtls' if tls else 'plaintext'}: signed/unsigned throughput ratio"
              f" {with_sig.rate / without.rate:.2f} (CPU-bound capacity ratio {cpu_ratio:.2f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
