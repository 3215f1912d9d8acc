"""What does a blind question cost, next to an open one? (issue #13)

Prints, against the targets of #13, in one run on this machine:

1. the answering node's CPU per VOPRF evaluation (`VoprfServer.blind_evaluate`),
   one element per call and per element in batches of 16;
2. the asker's CPU per question (blind, then finalize with the batch's proof
   check), in a batch of 1 and per question in a batch of 16;
3. end-to-end latency on loopback against one real node (`running_node`: the
   server stack with mutual TLS, in this process, over a fixed in-memory query
   of ``--node-items`` domains): a blind ``query smtp`` through `ask_blind`
   with the asker's table cache warm (a directory, as a node home keeps it),
   interleaved with the open path (`FederationClient.ask`, `SmtpQuestion`)
   against the same node; their p50/p90 and ratio; the cold first blind
   question (table fetched, verified, saved) apart; and where a blind
   question's time goes (its three RPCs and the cache's load-and-verify);
4. building the signed table (`table_items`, `build_table`) at ``--items``
   sizes, its bytes per record and the signed header's, and what an asker
   spends verifying it;
5. the baselines the ratios are taken against, measured in the same run: one
   Ed25519 sign+verify (`NodeKey`) and the open path's p50.

CPU figures are `time.process_time` per unit, best of a few loops (other work
on the machine only ever makes a loop worse). Asserts nothing.

    python bench/blind.py [--quick] [--items 10000,100000] [--node-items 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.metadata
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from federation.blind.asker import TableCache, ask_blind, blind_item  # noqa: E402
from federation.blind.oprf import KeyPair, VoprfClient, VoprfServer  # noqa: E402
from federation.blind.table import (  # noqa: E402
    RECORD_BYTES,
    build_table,
    smtp_item,
    table_items,
    verify_table,
)
from federation.client import OK, FederationClient, PeerAnswer  # noqa: E402
from federation.config import ServerLimits  # noqa: E402
from federation.keys import NodeKey  # noqa: E402
from federation.privacy import SharedSeen  # noqa: E402
from federation.trust import Peer  # noqa: E402
from federation.wire import (  # noqa: E402
    BlindEvaluateQuestion,
    BlindTableQuestion,
    NodeInfoQuestion,
    Question,
    SeenAnswer,
    SmtpQuestion,
)
from tests.federation_helpers import T0, FakeQuery, seen_value  # noqa: E402
from tests.integration.federation_nodes import running_node  # noqa: E402

#: Targets of issue #13.
SERVER_EVAL_US = 150.0
BLIND_OVER_OPEN = 3.0
BUILD_100K_S = 10.0
RECORD_TARGET_BYTES = 48.0
BATCH = 16


def _verdict(value: float, limit: float) -> str:
    return "met" if value <= limit else "MISSED"


def _target(value: float, limit: float, unit: str) -> str:
    return f"target ≤ {limit:g} {unit}: {_verdict(value, limit)}"


def _domain(i: int) -> str:
    return f"target{i:07d}.example.com"


def _best_cpu(op: Callable[[], object], calls: int, loops: int) -> float:
    """CPU seconds per call of ``op``, best of ``loops`` loops of ``calls`` calls."""
    best = math.inf
    for _ in range(loops):
        started = time.process_time()
        for _ in range(calls):
            op()
        best = min(best, (time.process_time() - started) / calls)
    return best


def _oprf_library() -> str:
    """Which binding the OPRF core runs on (it was moving from rbcl to pysodium)."""
    found = [name for name in ("pysodium", "rbcl", "nacl") if name in sys.modules]
    if not found:
        return "unknown (no pysodium, rbcl or nacl imported)"
    name = found[0]
    try:
        version = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    module = sys.modules[name]
    parts = [getattr(module, f"sodium_{p}", None) for p in ("major", "minor", "patch")]
    libsodium = ".".join(map(str, parts)) if None not in parts else "?"
    return f"{name} {version} (libsodium {libsodium})"


# --- 5. baseline ---------------------------------------------------------------------------

def bench_ed25519(calls: int, loops: int) -> float:
    """CPU seconds of one Ed25519 sign and one verify of a 64-byte message."""
    key = NodeKey.generate()
    message = bytes(64)

    def sign_verify() -> None:
        key.public.verifies(key.sign(message), message)

    return _best_cpu(sign_verify, calls, loops)


# --- 1. server CPU per evaluation -----------------------------------------------------------

def bench_server(calls: int, loops: int) -> tuple[float, float]:
    """CPU seconds per evaluated element: one per call, and in batches of `BATCH`."""
    server = VoprfServer(KeyPair.generate())
    client = VoprfClient(server.key_pair.public_key)
    blinded = [client.blind(smtp_item(_domain(i))).blinded_element for i in range(BATCH)]
    single = _best_cpu(lambda: server.blind_evaluate(blinded[:1]), calls, loops)
    batched = _best_cpu(lambda: server.blind_evaluate(blinded), max(1, calls // BATCH), loops)
    return single, batched / BATCH


# --- 2. asker CPU per question -------------------------------------------------------------

def bench_asker(batch: int, questions: int, loops: int) -> float:
    """The asker's CPU seconds per question (blind + finalize), in batches of ``batch``;
    the server's evaluations happen between the timed halves, untimed."""
    server = VoprfServer(KeyPair.generate())
    client = VoprfClient(server.key_pair.public_key)
    items = [smtp_item(_domain(i)) for i in range(batch)]
    batches = max(1, questions // batch)
    best = math.inf
    for _ in range(loops):
        started = time.process_time()
        blindings = [[client.blind(item) for item in items] for _ in range(batches)]
        blind_s = time.process_time() - started
        evaluations = [server.blind_evaluate([b.blinded_element for b in batch_of])
                       for batch_of in blindings]
        started = time.process_time()
        for batch_of, evaluation in zip(blindings, evaluations, strict=True):
            client.finalize(batch_of, evaluation)
        best = min(best, (blind_s + time.process_time() - started) / (batches * batch))
    return best


# --- 4. table build ------------------------------------------------------------------------

@dataclass(frozen=True)
class Built:
    items: int
    items_s: float
    build_s: float
    build_cpu_s: float
    record_bytes: float
    header_bytes: int
    signature_bytes: int
    verify_s: float


def _synthetic(count: int) -> tuple[dict[str, SharedSeen], dict[tuple[str, str], SharedSeen]]:
    """Half SMTP domains, half JA3 fingerprints, with varied seen aggregates."""
    last = int(T0)

    def seen(i: int) -> SharedSeen:
        return SharedSeen(True, 1 + i % 997, 1 + i % 13, last - (i % 400) * 86_400, last)

    smtp = {_domain(i): seen(i) for i in range(count - count // 2)}
    fingerprints = {("ja3", hashlib.md5(i.to_bytes(8, "big")).hexdigest()): seen(i)  # noqa: S324
                    for i in range(count // 2)}
    return smtp, fingerprints


def bench_build(count: int, repeats: int) -> Built:
    """The best of ``repeats`` builds (wall time; its CPU time beside it)."""
    smtp, fingerprints = _synthetic(count)
    node = NodeKey.generate()
    server = VoprfServer(KeyPair.generate())
    started = time.perf_counter()
    items = table_items(smtp, fingerprints)
    items_s = time.perf_counter() - started
    build_s = build_cpu_s = math.inf
    for _ in range(repeats):
        started, cpu = time.perf_counter(), time.process_time()
        table = build_table(items, server, node, epoch=1, version=1)
        if time.perf_counter() - started < build_s:
            build_s, build_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    started = time.perf_counter()
    verify_table(table, node.public, epoch=1, oprf_public_key=server.key_pair.public_key)
    verify_s = time.perf_counter() - started
    return Built(len(items), items_s, build_s, build_cpu_s, len(table.records) / len(items),
                 len(table.header.signed_bytes()), len(table.signature), verify_s)


# --- 3. end to end -------------------------------------------------------------------------

@dataclass(frozen=True)
class Latencies:
    p50_s: float
    p90_s: float
    cpu_s: float  # both sides: the node runs in this process


def _latencies(samples: list[float], cpu_s: float) -> Latencies:
    ordered = sorted(samples)
    return Latencies(statistics.median(ordered),
                     ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))],
                     cpu_s / len(ordered))


@dataclass(frozen=True)
class EndToEnd:
    blind: Latencies
    open: Latencies
    cold_s: list[float]
    parts_s: dict[str, float]


class CallFailed(Exception):
    """A question the bench asked was not answered; the run stops saying why."""


def _ok(row: PeerAnswer, what: str) -> PeerAnswer:
    if row.status != OK:
        raise CallFailed(f"{what}: {row.status} {row.error}")
    return row


def _seen(row: PeerAnswer, what: str) -> None:
    """The bench's one domain must come back seen, or the figures measure something else."""
    answer = _ok(row, what).answer
    if not isinstance(answer, SeenAnswer) or not answer.seen.seen:
        raise CallFailed(f"{what}: the node's domain came back {answer!r}")


async def _timed(ask: Callable[[], Awaitable[object]], calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        await ask()
        samples.append(time.perf_counter() - started)
    return samples


async def bench_end_to_end(node_items: int, questions: int, rounds: int, colds: int,
                           home: Path) -> EndToEnd:
    query = FakeQuery(smtp=[seen_value(_domain(i)) for i in range(node_items)])
    asker = NodeKey.generate()
    # Every call leaves a nonce in the replay cache and the fake clock never moves on.
    limits = ServerLimits(replay_cache_entries=10_000_000)
    async with running_node("bench", query, limits=limits) as node:
        node.trust_key("asker", asker)
        peer: Peer = node.as_peer()
        question = SmtpQuestion(_domain(node_items // 2).upper())
        async with FederationClient(asker, plaintext=False, deadline_s=10,
                                    clock=node.clock) as client:
            async def ask_open() -> None:
                _seen(await client.ask(peer, question), "open")

            async def ask_with(cache: TableCache) -> None:
                (rows,) = await ask_blind(client, [peer], [question], cache)
                _seen(rows[0], "blind")

            await _timed(ask_open, 50)  # channel and TLS up, code paths warm
            cold = []
            for i in range(colds):  # a new, empty cache each: the table is fetched again
                started = time.perf_counter()
                await ask_with(TableCache(home / f"cold{i}"))
                cold.append(time.perf_counter() - started)
            warm = TableCache(home / "warm")
            await _timed(lambda: ask_with(warm), 20)  # the first fills the cache
            samples: dict[str, list[float]] = {"blind": [], "open": []}
            cpu = {"blind": 0.0, "open": 0.0}
            per_round = max(1, questions // rounds)
            for _ in range(rounds):  # interleaved: background load hits both alike
                for mode, ask in (("blind", lambda: ask_with(warm)), ("open", ask_open)):
                    started = time.process_time()
                    samples[mode] += await _timed(ask, per_round)
                    cpu[mode] += time.process_time() - started
            parts = await _parts(client, peer, warm, question, per_round)
    return EndToEnd(_latencies(samples["blind"], cpu["blind"]),
                    _latencies(samples["open"], cpu["open"]), cold, parts)


async def _parts(client: FederationClient, peer: Peer, cache: TableCache,
                 question: SmtpQuestion, calls: int) -> dict[str, float]:
    """p50 of each step of a warm blind question, asked on its own."""
    item = blind_item(question)
    table = cache.latest(peer)
    if table is None or item is None:
        raise CallFailed("the warm cache holds no table, or the question no item")
    epoch, public_key = table.header.epoch, table.header.oprf_public_key
    voprf = VoprfClient(public_key)
    rpcs: dict[str, Callable[[], Question]] = {
        "BlindEvaluate (1 element)": lambda: BlindEvaluateQuestion(
            epoch, (voprf.blind(item).blinded_element,)),
        "GetNodeInfo (cold path only)": NodeInfoQuestion,
        "BlindTable unchanged (new epoch only)":
            lambda: BlindTableQuestion(epoch, table.header.version, 0),
    }
    parts = {}
    for name, make in rpcs.items():
        async def call(make: Callable[[], Question] = make, name: str = name) -> None:
            _ok(await client.ask(peer, make()), name)
        parts[name] = statistics.median(await _timed(call, calls))

    async def load() -> None:
        TableCache(cache.directory).latest(peer)
    parts["table load + verify from disk (once per query process)"] = \
        statistics.median(await _timed(load, calls))
    return parts


# --- the run -------------------------------------------------------------------------------

def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.3f} ms"


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:6.1f} us"


async def main(args: argparse.Namespace) -> None:
    quick = args.quick
    loops, calls = (2, 64) if quick else (5, 320)
    print(f"bench/blind.py: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f};"
          f" OPRF over {_oprf_library()}; CPU figures best of {loops} loops of ~{calls};"
          f"{' --quick' if quick else ''}", flush=True)

    sign_verify = bench_ed25519(calls, loops)
    print(f"\n5. baseline: Ed25519 sign+verify (NodeKey)  {_us(sign_verify)} CPU", flush=True)

    single, batched = bench_server(calls, loops)
    print("\n1. server CPU per evaluation (VoprfServer.blind_evaluate)")
    print(f"   1 element per call    {_us(single)}  ({single / sign_verify:.1f}x sign+verify)")
    print(f"   in batches of {BATCH}     {_us(batched)}  ({batched / sign_verify:.1f}x"
          f" sign+verify)  {_target(batched * 1e6, SERVER_EVAL_US, 'us')}", flush=True)

    asker_one = bench_asker(1, calls, loops)
    asker_batch = bench_asker(BATCH, calls, loops)
    print("\n2. asker CPU per question (blind + finalize with proof check); no target")
    print(f"   batch of 1            {_us(asker_one)}  ({asker_one / sign_verify:.1f}x"
          f" sign+verify)")
    print(f"   per question of {BATCH}   {_us(asker_batch)}  ({asker_batch / sign_verify:.1f}x"
          f" sign+verify)", flush=True)

    questions, rounds, colds = (60, 3, 2) if quick else (600, 6, 5)
    with tempfile.TemporaryDirectory(prefix="bench-blind-") as home:
        e2e = await bench_end_to_end(args.node_items, questions, rounds, colds, Path(home))
    ratio = e2e.blind.p50_s / e2e.open.p50_s
    print(f"\n3. end to end on loopback, one node in this process (mutual TLS, signed,"
          f" {args.node_items} domains: a {args.node_items * RECORD_BYTES // 1024} KiB table),"
          f" {questions} questions per mode interleaved in {rounds} rounds")
    print(f"   open  query smtp      p50 {_ms(e2e.open.p50_s)}  p90 {_ms(e2e.open.p90_s)}"
          f"  CPU/question (both sides) {_ms(e2e.open.cpu_s)}   <- baseline")
    print(f"   blind query smtp      p50 {_ms(e2e.blind.p50_s)}  p90 {_ms(e2e.blind.p90_s)}"
          f"  CPU/question (both sides) {_ms(e2e.blind.cpu_s)}   table cache warm")
    print(f"   blind/open p50 ratio  {ratio:.2f}  {_target(ratio, BLIND_OVER_OPEN, 'x')}")
    print(f"   cold blind question   {', '.join(_ms(s).strip() for s in e2e.cold_s)}"
          f"  (first with an empty cache: table fetched, verified, saved; channel open)")
    print("   the calls of a blind question, each alone (p50); a warm question makes only the"
          " first:")
    for name, seconds in e2e.parts_s.items():
        print(f"     {name:56} {_ms(seconds)}")
    warm = e2e.parts_s["BlindEvaluate (1 element)"] + asker_one
    print(f"     {'warm: BlindEvaluate + asker CPU (from 2.)':56} {_ms(warm)}", flush=True)

    repeats = 1 if quick else 2
    print(f"\n4. table build (table_items + build_table: one evaluate, seal per item;"
          f" sort; sign), best of {repeats} (wall; its CPU beside), and the asker's"
          f" verify_table; load average {os.getloadavg()[0]:.2f}")
    built = []
    for count in args.items:
        b = bench_build(count, repeats)
        built.append(b)
        record_target = _target(b.record_bytes, RECORD_TARGET_BYTES, "bytes")
        print(f"   {b.items:7d} items  table_items {b.items_s:6.3f} s  build {b.build_s:6.2f} s"
              f" (CPU {b.build_cpu_s:.2f} s, {b.build_cpu_s / b.items * 1e6:4.1f} us/item)"
              f"  {b.record_bytes:g} bytes/record ({record_target})"
              f"  header {b.header_bytes} + signature {b.signature_bytes} bytes"
              f"  verify {b.verify_s * 1000:7.1f} ms", flush=True)
        if b.items >= 100_000:
            print(f"   {'':7}        build of {b.items} items:"
                  f" {_target(b.build_s, BUILD_100K_S, 's')}")
    if not any(b.items >= 100_000 for b in built):
        largest = max(built, key=lambda b: b.items)
        estimate = largest.build_s * 100_000 / largest.items
        print(f"   100k items not built (--items); linear estimate {estimate:.1f} s"
              f" ({_target(estimate, BUILD_100K_S, 's')}, estimated)")

    print("\nsummary")
    print(f"   server CPU/evaluation, batches of {BATCH}: {batched * 1e6:.0f} us"
          f" ({_verdict(batched * 1e6, SERVER_EVAL_US)}, ≤ {SERVER_EVAL_US:g} us)")
    print(f"   blind/open p50: {ratio:.2f} ({_verdict(ratio, BLIND_OVER_OPEN)},"
          f" ≤ {BLIND_OVER_OPEN:g})")
    for b in built:
        line = f"   {b.items} items: {b.record_bytes:g} bytes/record" \
               f" ({_verdict(b.record_bytes, RECORD_TARGET_BYTES)})"
        if b.items >= 100_000:
            line += f", build {b.build_s:.2f} s ({_verdict(b.build_s, BUILD_100K_S)})"
        print(line)


def _sizes(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller counts, for a smoke run")
    parser.add_argument("--items", type=_sizes, default=None,
                        help="table sizes to build, comma-separated (default 10000,100000;"
                             " --quick: 2000,10000)")
    parser.add_argument("--node-items", type=int, default=None,
                        help="domains the end-to-end node knows (default 10000;"
                             " --quick: 1000)")
    arguments = parser.parse_args()
    if arguments.items is None:
        arguments.items = [2000, 10_000] if arguments.quick else [10_000, 100_000]
    if arguments.node_items is None:
        arguments.node_items = 1000 if arguments.quick else 10_000
    try:
        asyncio.run(main(arguments))
    except CallFailed as failure:
        sys.exit(f"bench/blind.py: {failure}")
