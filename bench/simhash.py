"""How fast are SimHash near-queries, and what does a burst of them cost other peers?

Section 1, index versus brute force. Stores ``--values`` random 64-bit hashes
plus 1% near-duplicates (a stored hash with 1-3 bits flipped, so radius-3
queries have matches), from a seeded RNG, builds the index and prints the
build time. Then asks ``--probes`` probes (half a stored hash with 0-3 bits
flipped, half uniformly random) at radius 3 and at radius 16 (the
federation's maximum), each probe through the index and through a numpy
brute-force scan (``np.bitwise_count(values ^ probe) <= r``), alternating in
chunks of 100 probes so background load hits both alike, and prints p50/p99
of each, the brute/index ratio and the targets beside them; then the index's
latency when every query follows a scan (caches cold), closer to a server
doing other work between questions. A disagreement between the two answers
is counted and printed.

Section 2, sharing: what is the p99 of another peer's SMTP question while one
peer fires its full burst of near-queries at the node? A real node
(`federation.runtime.start_node`, mutual TLS on 127.0.0.1:0, default
`ServerLimits`, budgets opened wide so nothing is refused) runs in its own
process, as in production (client and server do not share a GIL), with its
ledger and audit log as files in a temporary directory; its snapshot, taken
once at start, holds the section-1 hashes as keystroke SimHashes (each seen
once) and the domain corp1.com. Peer A, in a process of its own, fires bursts
of the default policy's ``burst`` (30) concurrent near-queries at its
``max_simhash_distance`` (16), back to back; peer B, from this process, asks
``SmtpQuestion("corp1.com")`` one call at a time, ``--smtp-calls`` times
with A idle (the baseline) and as many times during A's bursts, in three
alternating blocks. Prints B's p50/p99 both ways and their ratio, A's
near-query latency through gRPC and per whole burst, how late the node's
event loop ran a 5 ms timer and the CPU the node and A used during the
bursts (to tell a blocked loop from a busy process), and the target "other
peer's SMTP p99 <= 50 ms", met or MISSED.

Asserts nothing.

    .venv/bin/python bench/simhash.py [--values 1000000] [--probes 2000] [--seed 7]
                                      [--smtp-calls 300]

Sections: `print_figures` runs one function per question, in order.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from federation.audit import AuditLog  # noqa: E402
from federation.client import OK, FederationClient  # noqa: E402
from federation.config import ServerLimits  # noqa: E402
from federation.keys import NodeKey  # noqa: E402
from federation.ledger import Ledger  # noqa: E402
from federation.privacy import PrivacyPolicy  # noqa: E402
from federation.runtime import start_node  # noqa: E402
from federation.tls import make_certificate  # noqa: E402
from federation.trust import Peer, TrustStore  # noqa: E402
from federation.wire import SimhashQuestion, SmtpQuestion  # noqa: E402
from node.hamming_index import HammingIndex, block_count, block_widths  # noqa: E402
from node.query import GroupSummary, SimhashSet, Thresholds, ValueAggregate  # noqa: E402

#: (radius, which percentile the target bounds, target in seconds)
TARGETS = ((3, "p50", 100e-6), (16, "p99", 5e-3))
NEAR_FRACTION = 0.01  # stored near-duplicates, as a share of the random hashes
MAX_FLIPS = 3
CHUNK = 100  # probes timed back to back through one way before switching to the other


@dataclass(frozen=True)
class Corpus:
    """The stored hashes and the probes asked about them."""

    values: NDArray[np.uint64]
    probes: list[int]
    near_duplicates: int


@dataclass(frozen=True)
class Latency:
    p50_s: float
    p99_s: float


@dataclass(frozen=True)
class NearFigures:
    """One run of the near-query section."""

    build_s: float
    index: dict[int, Latency]
    index_after_scan: dict[int, Latency]
    brute: dict[int, Latency]
    matches_per_probe: dict[int, float]
    disagreements: int


def _flip(rng: np.random.Generator, values: NDArray[np.uint64],
          max_flips: int, min_flips: int) -> NDArray[np.uint64]:
    """Each value with min..max random bit positions flipped (a repeated position cancels)."""
    flipped = values.copy()
    flips = rng.integers(min_flips, max_flips + 1, size=len(values))
    for round_ in range(max_flips):
        bits = np.uint64(1) << rng.integers(0, 64, size=len(values)).astype(np.uint64)
        flipped ^= np.where(flips > round_, bits, np.uint64(0))
    return flipped


def make_corpus(n: int, probes: int, seed: int) -> Corpus:
    rng = np.random.default_rng(seed)
    random = rng.integers(0, 2**64, size=n, dtype=np.uint64)
    near = int(n * NEAR_FRACTION)
    seeds = random[rng.integers(0, n, size=near)]
    values = np.concatenate([random, _flip(rng, seeds, MAX_FLIPS, 1)])
    near_probes = _flip(rng, values[rng.integers(0, len(values), size=probes // 2)],
                        MAX_FLIPS, 0)
    far_probes = rng.integers(0, 2**64, size=probes - probes // 2, dtype=np.uint64)
    mixed = np.concatenate([near_probes, far_probes])
    rng.shuffle(mixed)
    return Corpus(values, [int(p) for p in mixed], near)


def _latency(samples: list[float]) -> Latency:
    ordered = sorted(samples)
    return Latency(ordered[len(ordered) // 2],
                   ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))])


def measure_near_queries(corpus: Corpus) -> NearFigures:
    """Build the index, then time every probe through it and through a scan.

    The two alternate in chunks of `CHUNK` probes (background load hits both
    alike; each keeps its own working set in cache, as in a burst of
    questions); a last pass times each index query right after an untimed
    scan, whose 8 MB of streaming evicts the index from the caches.
    """
    started = time.perf_counter()
    index = HammingIndex.build(corpus.values)
    build_s = time.perf_counter() - started
    values = corpus.values

    def brute(probe: int, radius: int) -> NDArray[np.int64]:
        return np.flatnonzero(np.bitwise_count(values ^ np.uint64(probe)) <= radius)

    ways: dict[str, Callable[[int, int], NDArray[np.int64]]] = {
        "index": index.within, "brute": brute}
    timed: dict[str, dict[int, list[float]]] = {"index": {}, "brute": {}, "cold": {}}
    matches: dict[int, int] = {}
    disagreements = 0
    for radius, _, _ in TARGETS:
        for probe in corpus.probes[:50]:  # warm-up: mask cache, page faults
            index.within(probe, radius)
            brute(probe, radius)
        answers: dict[str, list[NDArray[np.int64]]] = {"index": [], "brute": []}
        for first in range(0, len(corpus.probes), CHUNK):
            for name, ask in ways.items():
                samples = timed[name].setdefault(radius, [])
                for probe in corpus.probes[first:first + CHUNK]:
                    started = time.perf_counter()
                    answer = ask(probe, radius)
                    samples.append(time.perf_counter() - started)
                    answers[name].append(answer)
        for probe in corpus.probes:
            brute(probe, radius)
            started = time.perf_counter()
            index.within(probe, radius)
            timed["cold"].setdefault(radius, []).append(time.perf_counter() - started)
        matches[radius] = sum(len(a) for a in answers["index"])
        disagreements += sum(not np.array_equal(a, b)
                             for a, b in zip(answers["index"], answers["brute"], strict=True))
    latency = {name: {r: _latency(s) for r, s in by_radius.items()}
               for name, by_radius in timed.items()}
    return NearFigures(build_s, latency["index"], latency["cold"], latency["brute"],
                       {r: matches[r] / len(corpus.probes) for r in matches}, disagreements)


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:8.1f} us"


def print_near_figures(corpus: Corpus, figures: NearFigures) -> None:
    n = len(corpus.values)
    m = block_count(n)
    print(f"stored: {n - corpus.near_duplicates:,} random + {corpus.near_duplicates:,}"
          f" near-duplicate hashes; {len(corpus.probes)} probes (half near stored values);"
          f" {m} blocks of {'/'.join(map(str, block_widths(m)))} bits")
    print(f"index build: {figures.build_s * 1000:8.1f} ms")
    for radius, percentile, target_s in TARGETS:
        index, brute = figures.index[radius], figures.brute[radius]
        mine = index.p50_s if percentile == "p50" else index.p99_s
        verdict = "met" if mine <= target_s else "MISSED"
        print(f"radius {radius:2}: index p50 {_us(index.p50_s)}  p99 {_us(index.p99_s)}"
              f" | brute p50 {_us(brute.p50_s)}  p99 {_us(brute.p99_s)}"
              f" | brute/index p50 {brute.p50_s / index.p50_s:6.1f}x"
              f"  p99 {brute.p99_s / index.p99_s:6.1f}x"
              f" | {figures.matches_per_probe[radius]:.2f} matches/probe"
              f" | target index {percentile} <= {_us(target_s).strip()}: {verdict}")
        cold = figures.index_after_scan[radius]
        print(f"radius {radius:2}: index right after a scan (cold caches)"
              f" p50 {_us(cold.p50_s)}  p99 {_us(cold.p99_s)}")
    print(f"answers differing between index and brute force: {figures.disagreements}")


# ---- section 2: another peer's SMTP question while one peer bursts near-queries ----

#: What one peer may fire at once, and the widest radius it may ask (the default policy).
BURST = PrivacyPolicy.default().burst
MAX_RADIUS = PrivacyPolicy.default().max_simhash_distance
#: The other peer's SMTP p99 while a burst is being answered.
SMTP_P99_TARGET_S = 50e-3
#: Idle and busy blocks alternate this many times (background load hits both alike).
SHARING_ROUNDS = 3
#: How late the server's loop runs a timer, sampled every this many seconds.
LAG_TICK_S = 0.005
#: A node or peer process that says nothing for this long has failed (its traceback is above).
PROCESS_SILENCE_S = 120.0
DOMAIN = ValueAggregate("corp1.com", 1, 1, 1_772_000_000_000_000, 1_772_442_600_000_000)
#: Budgets that never refuse the bench's traffic (the burst size still comes from the default).
BENCH_POLICY = PrivacyPolicy(rate_per_s=1e6, burst=1_000_000, daily_distinct_questions=1_000_000)


@dataclass(frozen=True)
class SharingFigures:
    """One run of the sharing section (latencies seen by the asking peers)."""

    stored: int
    smtp_idle: Latency
    smtp_busy: Latency
    near: Latency
    burst: Latency
    bursts: int
    lag_idle: Latency
    lag_busy: Latency
    #: CPU seconds per wall second during the bursts (1.0 = one core busy)
    node_cpu_busy: float
    peer_a_cpu_busy: float


class CorpusQuery:
    """A `NodeQuery` whose keystroke SimHashes are the corpus (each seen once) and one domain."""

    def __init__(self, values: NDArray[np.uint64]) -> None:
        self._values = values

    async def smtp_targets(self, thresholds: Thresholds) -> list[ValueAggregate]:
        return [DOMAIN]

    async def fingerprints(self, thresholds: Thresholds) -> dict[str, list[ValueAggregate]]:
        return {}

    async def simhashes(self, kind: str, thresholds: Thresholds) -> SimhashSet:
        values = self._values if kind == "keystroke" else np.empty(0, dtype=np.uint64)
        ones = np.ones(len(values), dtype=np.int64)
        return SimhashSet(values, ones, ones)

    async def summaries(self, layer: str, thresholds: Thresholds) -> list[GroupSummary]:
        return []  # nothing to gossip: these benches measure questions


def _node_key(seed: bytes) -> NodeKey:
    return NodeKey.from_private(Ed25519PrivateKey.from_private_bytes(seed))


def _cpu_s(pid: int | None) -> float:
    """User+system CPU seconds of a process (Linux /proc), all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _receive(conn: Connection) -> Any:
    """The next message from a bench process; RuntimeError if it died or fell silent."""
    if not await asyncio.to_thread(conn.poll, PROCESS_SILENCE_S):
        raise RuntimeError(f"no word from a bench process within {PROCESS_SILENCE_S:g} s")
    return conn.recv()


def _node_peer(port: int, node_seed: bytes) -> Peer:
    """How the asking peers' trust stores name the node (its certificate pinned)."""
    key = _node_key(node_seed)
    return TrustStore().add("node", f"127.0.0.1:{port}", key.public.text,
                            make_certificate(key)[1])


def _serve_node(node_seed: bytes, peers: list[tuple[str, str, bytes]],
                values: NDArray[np.uint64], conn: Connection) -> None:
    """The answering node (own process): `start_node` with mutual TLS, ledger and audit on disk.

    Sends its port, then answers ``"lag"`` with its loop's timer lateness
    since the last ``"lag"``, until ``"stop"``.
    """
    async def main(home: Path) -> None:
        trust = TrustStore()
        for name, public, certificate in peers:
            trust.add(name, "127.0.0.1:1", public, certificate)
        node = await start_node(
            key=_node_key(node_seed), name="bench", trust=trust, query=CorpusQuery(values),
            listen="127.0.0.1:0", health_listen=None, plaintext=False, limits=ServerLimits(),
            policy=BENCH_POLICY, audit=AuditLog(home / "audit.log"),
            ledger=Ledger(home / "federation.db"))
        lags: list[float] = []

        async def watch_loop() -> None:
            while True:
                started = time.perf_counter()
                await asyncio.sleep(LAG_TICK_S)
                lags.append(time.perf_counter() - started - LAG_TICK_S)

        watcher = asyncio.create_task(watch_loop())
        conn.send(node.port)
        while await asyncio.to_thread(conn.recv) == "lag":
            conn.send(lags[:])
            lags.clear()
        watcher.cancel()
        await node.stop(None)

    with tempfile.TemporaryDirectory(prefix="bench-simhash-") as home:
        asyncio.run(main(Path(home)))


def _fire_bursts(seed: bytes, port: int, node_seed: bytes, probes: list[int],
                 conn: Connection) -> None:
    """Peer A (own process): bursts of near-queries from ``"go"`` to ``"stop"``, then results.

    A burst is `BURST` concurrent questions at `MAX_RADIUS`; bursts follow
    each other back to back. After ``"stop"`` it sends (query latencies,
    burst durations) and waits for the next ``"go"``, or ``"quit"``.
    """
    async def main() -> None:
        node = _node_peer(port, node_seed)
        probe = itertools.cycle(probes)
        async with FederationClient(_node_key(seed), plaintext=False, deadline_s=30) as client:
            async def near() -> float:
                started = time.perf_counter()
                row = await client.ask(node, SimhashQuestion("keystroke", next(probe),
                                                             MAX_RADIUS))
                assert row.status == OK, f"{row.status}: {row.error}"
                return time.perf_counter() - started

            async def burst() -> list[float]:
                return list(await asyncio.gather(*(near() for _ in range(BURST))))

            await burst()  # warm-up: channel, handshake, index code paths
            conn.send("ready")
            while await asyncio.to_thread(conn.recv) == "go":
                conn.send("firing")
                queries: list[float] = []
                bursts: list[float] = []
                while not conn.poll():
                    started = time.perf_counter()
                    queries.extend(await burst())
                    bursts.append(time.perf_counter() - started)
                conn.recv()  # "stop"
                conn.send((queries, bursts))

    asyncio.run(main())


async def _sharing(corpus: Corpus, smtp_calls: int) -> SharingFigures:
    spawn = multiprocessing.get_context("spawn")
    node_key, key_a, key_b = NodeKey.generate(), NodeKey.generate(), NodeKey.generate()
    values = np.unique(corpus.values[corpus.values != 0])
    peers = [(name, key.public.text, make_certificate(key)[1])
             for name, key in (("peer-a", key_a), ("peer-b", key_b))]
    node_conn, node_end = spawn.Pipe()
    server = spawn.Process(target=_serve_node, args=(node_key.seed(), peers, values, node_end))
    server.start()
    a_conn, a_end = spawn.Pipe()
    firing = None
    try:
        port = await _receive(node_conn)
        firing = spawn.Process(target=_fire_bursts,
                               args=(key_a.seed(), port, node_key.seed(), corpus.probes, a_end))
        firing.start()
        assert await _receive(a_conn) == "ready"
        node = _node_peer(port, node_key.seed())
        samples: dict[str, list[float]] = {"idle": [], "busy": [], "near": [], "burst": [],
                                           "lag idle": [], "lag busy": []}
        busy_wall_s = node_cpu_s = a_cpu_s = 0.0
        async with FederationClient(key_b, plaintext=False, deadline_s=30) as client:
            async def ask_smtp(into: list[float], calls: int) -> None:
                for _ in range(calls):
                    started = time.perf_counter()
                    row = await client.ask(node, SmtpQuestion("corp1.com"))
                    assert row.status == OK, f"{row.status}: {row.error}"
                    into.append(time.perf_counter() - started)

            await ask_smtp([], 50)  # warm-up
            per_round = -(-smtp_calls // SHARING_ROUNDS)
            for _ in range(SHARING_ROUNDS):
                node_conn.send("lag")
                await _receive(node_conn)  # discard: between blocks
                await ask_smtp(samples["idle"], per_round)
                node_conn.send("lag")
                samples["lag idle"] += await _receive(node_conn)
                a_conn.send("go")
                assert await _receive(a_conn) == "firing"
                started, node_cpu, a_cpu = (time.perf_counter(), _cpu_s(server.pid),
                                            _cpu_s(firing.pid))
                await ask_smtp(samples["busy"], per_round)
                busy_wall_s += time.perf_counter() - started
                node_cpu_s += _cpu_s(server.pid) - node_cpu
                a_cpu_s += _cpu_s(firing.pid) - a_cpu
                node_conn.send("lag")
                samples["lag busy"] += await _receive(node_conn)
                a_conn.send("stop")
                queries, bursts = await _receive(a_conn)
                samples["near"] += queries
                samples["burst"] += bursts
        return SharingFigures(len(values), _latency(samples["idle"]), _latency(samples["busy"]),
                              _latency(samples["near"]), _latency(samples["burst"]),
                              len(samples["burst"]), _latency(samples["lag idle"]),
                              _latency(samples["lag busy"]), node_cpu_s / busy_wall_s,
                              a_cpu_s / busy_wall_s)
    finally:
        a_conn.send("quit")
        node_conn.send("stop")
        for process in (firing, server):
            if process is not None:
                await asyncio.to_thread(process.join, 60)
                if process.is_alive():  # stuck after a failure elsewhere
                    process.terminate()


def measure_sharing(corpus: Corpus, smtp_calls: int) -> SharingFigures:
    """Peer B's SMTP latency with the node idle, then while peer A bursts near-queries."""
    return asyncio.run(_sharing(corpus, smtp_calls))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


def print_sharing_figures(figures: SharingFigures, smtp_calls: int) -> None:
    idle, busy = figures.smtp_idle, figures.smtp_busy
    print(f"sharing: node in its own process (start_node, mutual TLS, ledger and audit files),"
          f" {figures.stored:,} keystroke SimHashes; peer A (own process) fires bursts of"
          f" {BURST} concurrent near-queries at radius {MAX_RADIUS}, back to back; peer B asks"
          f" SMTP sequentially, {smtp_calls} calls idle and {smtp_calls} during bursts"
          f" ({SHARING_ROUNDS} alternating blocks)")
    print(f"peer B SMTP idle:          p50 {_ms(idle.p50_s)}  p99 {_ms(idle.p99_s)}")
    print(f"peer B SMTP during bursts: p50 {_ms(busy.p50_s)}  p99 {_ms(busy.p99_s)}"
          f" | during/idle p50 {busy.p50_s / idle.p50_s:6.1f}x"
          f"  p99 {busy.p99_s / idle.p99_s:6.1f}x")
    print(f"peer A near-query (radius {MAX_RADIUS}) through gRPC: p50 {_ms(figures.near.p50_s)}"
          f"  p99 {_ms(figures.near.p99_s)} | whole burst p50 {_ms(figures.burst.p50_s)}"
          f"  p99 {_ms(figures.burst.p99_s)} | {figures.bursts} bursts")
    print(f"node event loop, timer lateness: idle p50 {_ms(figures.lag_idle.p50_s)}"
          f"  p99 {_ms(figures.lag_idle.p99_s)} | during bursts p50 {_ms(figures.lag_busy.p50_s)}"
          f"  p99 {_ms(figures.lag_busy.p99_s)}")
    print(f"CPU during bursts ({os.cpu_count()} CPUs): node {figures.node_cpu_busy:.2f} cores,"
          f" peer A {figures.peer_a_cpu_busy:.2f} cores")
    verdict = "met" if busy.p99_s <= SMTP_P99_TARGET_S else "MISSED"
    print(f"target other peer's SMTP p99 <= {SMTP_P99_TARGET_S * 1000:g} ms:"
          f" {busy.p99_s * 1000:.1f} ms, {verdict}")


def print_figures(args: argparse.Namespace) -> None:
    """Every section of this bench, in order; each measures, then prints its own lines."""
    print(f"bench/simhash.py: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f};"
          f" seed {args.seed}", flush=True)
    corpus = make_corpus(args.values, args.probes, args.seed)
    print_near_figures(corpus, measure_near_queries(corpus))
    # ---- further sections append here (they may reuse `corpus`) ----
    print_sharing_figures(measure_sharing(corpus, args.smtp_calls), args.smtp_calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=1_000_000)
    parser.add_argument("--probes", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--smtp-calls", type=int, default=300)
    print_figures(parser.parse_args())


if __name__ == "__main__":
    main()
