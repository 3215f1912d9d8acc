"""How many gossip rounds until a new record reaches every node, and what does
anti-entropy cost per node per round once every node already agrees?

An in-process simulation over the REAL gossip code: `GossipState` holds every
node's records, digests and deltas come from `digest_chunk` / `deltas_for`
(`DeltaBudget()` defaults: 256 records and 512 KiB per message; digest chunks
of at most 512 entries), arrivals are merged by `apply`, and every record is a
real Ed25519-signed `sign_record` that `check_record` verifies on every
arrival, duplicates included (no verification cache). Every message the
simulated nodes exchange is a real protobuf message, serialized with
``SerializeToString()`` (its length is what is counted as bytes sent) and
parsed again by its receiver, which works only on the parsed copy.

The network: rounds are synchronous. In a round every node starts one
push-pull exchange with each of ``--fanout`` peers drawn at random (distinct,
never itself), so it also answers about ``fanout`` exchanges. An exchange A -> B:

1. A sends a ``GossipRequest`` carrying its digest chunk;
2. B answers a ``GossipResponse``: ``B.deltas_for(A's chunk)`` and B's own chunk;
3. A sends ``A.deltas_for(B's chunk)`` to B, as a ``GossipRequest`` carrying
   only ``deltas`` (the wire contract lets the push ride on A's next request;
   here it is a third message, and it is not sent when it would be empty).

Every message is dropped independently with probability ``loss`` (a lost
request or response ends the exchange there; a lost push loses only that
half). Every message of a round is computed from the state at the start of
the round and the deltas are applied at its end, so a record moves at most
one hop per round (a conservative model of exchanges running concurrently:
in a live network one interval can carry a record further). Each node keeps a
cursor for its digest chunks (the next chunk starts after the last origin of
the previous one), as a gossip loop would. Peer choice and loss come from
``random.Random`` seeded from ``--seed``; origin keys and record ids too, so a
run is reproducible (CPU times aside).

Measured:

1. Spreading, for each size in ``--sizes`` and each loss in ``--loss``: every
   node holds the same records of `ORIGINS` origins (`PRIOR_RECORDS` each,
   held by all, loaded with ``GossipState.load``), then node 0 publishes one
   new record of its origin (``GossipState.publish``). Rounds until 99% and
   until 100% of nodes hold it (median and worst over the repetitions: 20 at
   100 and 1,000 nodes, 10 at 10,000 -- fewer there only to keep the whole run
   well under 10 minutes on 2 cores), bytes sent per node per round, the duplicate
   ratio (``Applied.duplicates`` / records stored), and CPU per node per round
   (``time.process_time`` of the whole round: chunks, serialization, parsing,
   deltas, apply with its signature checks; divided by the nodes). Only a few
   origins are simulated, for speed: node k is origin k for k < `ORIGINS`,
   the other nodes originate nothing; a trusted-keys callable trusts them all.
   With so few origins every digest fits one chunk, so the chunk cursor never
   comes into play here.
2. Steady state: `STEADY_NODES` nodes all holding the same 1k, 10k and 100k
   records (spread evenly over the same `ORIGINS` origins, signed once and
   loaded into every node), `STEADY_ROUNDS` rounds with no new records and no
   loss: bytes sent and CPU per node per round. The digest sent in both
   directions grows with the number of origins (one entry each, up to 512 per
   chunk), not with the number of records; the size of one entry is printed.

Baselines, measured in the same run: one record's ``SerializeToString`` plus
``check_record`` (decode, trust, Ed25519 verify) -- CPU per node per round is
printed as a multiple of it; a naive "send everything" exchange (the whole
state in one message per exchange, fanout of them per node per round) --
anti-entropy's steady-state bytes are printed as a fraction of it; and for
rounds at a loss above zero, the rounds at 0% loss of the same size.

Then the targets: 99% of 1,000 nodes in <= 10 rounds at 1% loss (worst
repetition); steady-state bytes per node per round independent of the
number of records (bytes(largest)/bytes(smallest) <= 1.1); 100% of 10,000
nodes in <= 20 rounds (worst repetition at any loss measured), met or MISSED.
Asserts nothing.

    .venv/bin/python bench/gossip_sim.py [--sizes 100,1000,10000] [--loss 0,0.01] [--fanout 3]
                                         [--seed 7]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from federation._proto.decnet.federation.v1 import federation_pb2 as pb  # noqa: E402
from federation.gossip.record import (  # noqa: E402
    RECORD_ID_BYTES,
    RECORD_SCHEMA_VERSION,
    Kind,
    Record,
    check_record,
    sign_record,
)
from federation.gossip.state import DeltaBudget, GossipState  # noqa: E402
from federation.keys import NodeKey, PeerKey  # noqa: E402

DEFAULT_SIZES = (100, 1_000, 10_000)
DEFAULT_LOSS = (0.0, 0.01)
DEFAULT_FANOUT = 3
DEFAULT_SEED = 7

#: Origins whose records every node holds (node k is origin k).
ORIGINS = 20
#: Records of each origin every node holds before the new one (spreading).
PRIOR_RECORDS = 4
#: Entries per digest chunk (the protocol's bound).
CHUNK_ENTRIES = 512
BUDGET = DeltaBudget()
#: Spreading gives up after this many rounds.
MAX_ROUNDS = 100
#: Repetitions per (size, loss): fewer for the largest sizes, to keep the run near 10 min.
REPETITIONS = ((1_000, 20), (10_000, 10))

STEADY_RECORDS = (1_000, 10_000, 100_000)
STEADY_NODES = 24
STEADY_ROUNDS = 3

TARGET_99_NODES, TARGET_99_LOSS, TARGET_99_ROUNDS = 1_000, 0.01, 10
TARGET_100_NODES, TARGET_100_ROUNDS = 10_000, 20
#: "Independent of the number of records": bytes(largest)/bytes(smallest) at most this.
TARGET_STEADY_RATIO = 1.1

DAY = 20_500  # days since the epoch the records claim (2026)
_KIB = 1024


# ---- records ----


@dataclass(slots=True)
class Origins:
    """The simulated origins' keys, the trust store over them, and a record factory."""

    rng: random.Random
    keys: list[NodeKey] = field(default_factory=list)
    trusted: dict[str, PeerKey] = field(default_factory=dict)

    @classmethod
    def make(cls, count: int, rng: random.Random) -> Origins:
        origins = cls(rng)
        for _ in range(count):
            key = NodeKey.from_private(Ed25519PrivateKey.from_private_bytes(rng.randbytes(32)))
            origins.keys.append(key)
            origins.trusted[key.key_id] = key.public
        return origins

    def trust(self, key_id: str) -> PeerKey | None:
        return self.trusted.get(key_id)

    def record(self, key: NodeKey, version: int) -> Record:
        """An identity record with a summary of the size a real one has."""
        rng = self.rng
        summary = pb.Summary(observation_count=rng.randint(1, 40),
                             first_seen_day=DAY - rng.randint(0, 60), last_seen_day=DAY)
        for kind, count in (("hassh", rng.randint(1, 2)), ("ja3", rng.randint(0, 2))):
            if count:
                summary.fingerprints.add(kind=kind, algorithm_version=1,
                                         values=sorted(rng.randbytes(16).hex()
                                                       for _ in range(count)))
        if rng.random() < 0.3:
            summary.simhashes.add(kind="keystroke", algorithm_version=1,
                                  values=sorted(rng.getrandbits(64) for _ in range(2)))
        return sign_record(key, version=version, record_id=rng.randbytes(RECORD_ID_BYTES),
                           kind=Kind.IDENTITY, issued_day=DAY, summary=summary)

    def histories(self, per_origin: int) -> dict[str, list[Record]]:
        """``per_origin`` records of every origin, versions 1 .. per_origin."""
        return {key.key_id: [self.record(key, v) for v in range(1, per_origin + 1)]
                for key in self.keys}


def load_states(count: int, trust: Callable[[str], PeerKey | None],
                histories: dict[str, list[Record]]) -> list[GossipState]:
    """``count`` nodes holding the same records (the Record objects are shared)."""
    states = []
    for _ in range(count):
        state = GossipState(trust)
        for origin, records in histories.items():
            state.load(origin, records[-1].version if records else 0, 0, records)
        states.append(state)
    return states


# ---- the network ----


@dataclass(slots=True)
class Tally:
    """What one round (or several, summed) sent, lost, stored and cost."""

    bytes_sent: int = 0
    messages: int = 0
    lost: int = 0
    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    cpu_s: float = 0.0

    def add(self, other: Tally) -> None:
        self.bytes_sent += other.bytes_sent
        self.messages += other.messages
        self.lost += other.lost
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.refused += other.refused
        self.cpu_s += other.cpu_s


class Network:
    """Synchronous push-pull rounds between ``states`` over a lossy network."""

    def __init__(self, states: list[GossipState], *, fanout: int, loss: float,
                 rng: random.Random) -> None:
        self.states = states
        self.fanout = min(fanout, len(states) - 1)
        self.loss = loss
        self.rng = rng
        self.cursors = [""] * len(states)

    def _peers(self, node: int) -> list[int]:
        picked = self.rng.sample(range(len(self.states) - 1), self.fanout)
        return [p + 1 if p >= node else p for p in picked]

    def _send(self, tally: Tally, message: pb.GossipRequest | pb.GossipResponse) -> bytes | None:
        """The serialized message, counted; None when the network drops it."""
        data = message.SerializeToString()
        tally.bytes_sent += len(data)
        tally.messages += 1
        if self.loss and self.rng.random() < self.loss:
            tally.lost += 1
            return None
        return data

    def round(self) -> Tally:
        tally = Tally()
        started = time.process_time()
        states = self.states
        chunks = []
        for node, state in enumerate(states):
            chunk = state.digest_chunk(self.cursors[node], CHUNK_ENTRIES)
            self.cursors[node] = chunk.last  # "" after the last chunk: start over
            chunks.append(chunk)
        arrivals: list[tuple[int, Sequence[pb.OriginDelta]]] = []
        for a in range(len(states)):
            for b in self._peers(a):
                data = self._send(tally, pb.GossipRequest(schema_version=RECORD_SCHEMA_VERSION,
                                                          digest=chunks[a]))
                if data is None:
                    continue
                request = pb.GossipRequest.FromString(data)  # at B
                data = self._send(tally, pb.GossipResponse(
                    schema_version=RECORD_SCHEMA_VERSION,
                    deltas=states[b].deltas_for(request.digest, BUDGET), digest=chunks[b]))
                if data is None:
                    continue
                response = pb.GossipResponse.FromString(data)  # at A
                if response.deltas:
                    arrivals.append((a, response.deltas))
                push = states[a].deltas_for(response.digest, BUDGET)
                if not push:
                    continue
                data = self._send(tally, pb.GossipRequest(schema_version=RECORD_SCHEMA_VERSION,
                                                          deltas=push))
                if data is not None:
                    arrivals.append((b, pb.GossipRequest.FromString(data).deltas))
        for node, deltas in arrivals:
            for delta in deltas:
                applied = states[node].apply(delta)
                tally.stored += len(applied.stored)
                tally.duplicates += applied.duplicates
                tally.refused += applied.refused is not None
        tally.cpu_s = time.process_time() - started
        return tally


# ---- the baseline ----


@dataclass(frozen=True, slots=True)
class Baseline:
    check_s: float  # one record: SerializeToString + check_record
    body_bytes: float
    wire_bytes: float
    entry_bytes: float  # one digest entry, in a chunk of CHUNK_ENTRIES


def measure_baseline(origins: Origins, records: list[Record]) -> Baseline:
    loops = 3
    per_loop = []
    for _ in range(loops):
        started = time.process_time()
        for record in records:
            wire = record.wire()
            wire.SerializeToString()
            check_record(wire, origins.trust)
        per_loop.append((time.process_time() - started) / len(records))
    chunk = pb.DigestChunk(first=origins.rng.randbytes(8).hex(),
                           last=origins.rng.randbytes(8).hex())
    chunk.entries.extend(pb.DigestEntry(origin=origins.rng.randbytes(8).hex(),
                                        version=origins.rng.randint(1_000, 100_000))
                         for _ in range(CHUNK_ENTRIES))
    return Baseline(min(per_loop), statistics.fmean(len(r.body) for r in records),
                    statistics.fmean(len(r.wire().SerializeToString()) for r in records),
                    len(chunk.SerializeToString()) / CHUNK_ENTRIES)


# ---- 1. spreading ----


@dataclass(slots=True)
class SpreadRun:
    rounds: int
    to_99: int | None
    to_100: int | None
    tally: Tally


def spread_once(n: int, loss: float, fanout: int, seed: int, origins: Origins,
                histories: dict[str, list[Record]], new: Record) -> SpreadRun:
    states = load_states(n, origins.trust, histories)
    states[0].publish(new)
    network = Network(states, fanout=fanout, loss=loss, rng=random.Random(seed))
    need_99 = -(-99 * n // 100)  # ceil(0.99 n)
    to_99 = to_100 = None
    tally = Tally()
    rounds = 0
    while rounds < MAX_ROUNDS and to_100 is None:
        rounds += 1
        tally.add(network.round())
        holders = sum(1 for s in states if s.logs[new.origin].watermark >= new.version)
        if to_99 is None and holders >= need_99:
            to_99 = rounds
        if holders == n:
            to_100 = rounds
    return SpreadRun(rounds, to_99, to_100, tally)


@dataclass(slots=True)
class SpreadResult:
    n: int
    loss: float
    runs: list[SpreadRun]

    def rounds(self, which: str) -> list[int | None]:
        return [getattr(run, which) for run in self.runs]

    def worst(self, which: str) -> int | None:
        found = self.rounds(which)
        return None if None in found else max(r for r in found if r is not None)

    def median(self, which: str) -> float | None:
        found = [r for r in self.rounds(which) if r is not None]
        return statistics.median(found) if len(found) == len(self.runs) else None

    @property
    def node_rounds(self) -> int:
        return sum(run.rounds for run in self.runs) * self.n

    def total(self) -> Tally:
        tally = Tally()
        for run in self.runs:
            tally.add(run.tally)
        return tally


def repetitions(n: int) -> int:
    for up_to, reps in REPETITIONS:
        if n <= up_to:
            return reps
    return REPETITIONS[-1][1]


def _rounds_text(result: SpreadResult, which: str) -> str:
    median, worst = result.median(which), result.worst(which)
    if median is None or worst is None:
        reached = sum(r is not None for r in result.rounds(which))
        return f"{reached}/{len(result.runs)} in {MAX_ROUNDS}"
    return f"{median:g} / {worst}"


def run_spreading(sizes: Sequence[int], losses: Sequence[float], fanout: int, seed: int,
                  origins: Origins, histories: dict[str, list[Record]], new: Record,
                  baseline: Baseline) -> list[SpreadResult]:
    print(f"\n1. spreading one new record: every node holds {ORIGINS} origins' records"
          f" ({PRIOR_RECORDS} each); node 0 publishes its origin's version {new.version};"
          f" fanout {fanout}; repetitions: "
          + ", ".join(f"{reps} up to {up_to:,} nodes" for up_to, reps in REPETITIONS)
          + f" ({REPETITIONS[-1][1]} above)")
    print(f"  {'nodes':>7} {'loss':>5} {'reps':>4}  {'to 99% med/worst':>17}"
          f"  {'to 100% med/worst':>18}  {'vs 0% loss':>10}  {'bytes/node/rnd':>14}"
          f"  {'dup/stored':>10}  {'CPU/node/rnd':>12}  {'x baseline':>10}  {'wall':>6}")
    results: list[SpreadResult] = []
    lossless: dict[int, SpreadResult] = {}
    for n in sorted(sizes):
        for loss in sorted(losses):
            wall = time.perf_counter()
            runs = [spread_once(n, loss, fanout, seed * 1_000_003 + rep * 7_919 + n, origins,
                                histories, new) for rep in range(repetitions(n))]
            result = SpreadResult(n, loss, runs)
            results.append(result)
            if loss == 0:
                lossless[n] = result
            total = result.total()
            bytes_per = total.bytes_sent / result.node_rounds
            cpu_per = total.cpu_s / result.node_rounds
            dup = total.duplicates / total.stored if total.stored else float("nan")
            versus = "-"
            zero = lossless.get(n)
            here, there = result.median("to_100"), None if zero is None else zero.median("to_100")
            if loss and here is not None and there:
                versus = f"{here / there:.2f} x"
            print(f"  {n:>7,} {loss:>5.0%} {len(runs):>4}  {_rounds_text(result, 'to_99'):>17}"
                  f"  {_rounds_text(result, 'to_100'):>18}  {versus:>10}"
                  f"  {bytes_per:>12,.0f} B  {dup:>10.2f}  {cpu_per * 1e6:>9,.0f} us"
                  f"  {cpu_per / baseline.check_s:>8.1f} x"
                  f"  {time.perf_counter() - wall:>4.0f} s", flush=True)
    checks = sum(r.total().stored + r.total().duplicates for r in results)
    cpu = sum(r.total().cpu_s for r in results)
    refused = sum(r.total().refused for r in results)
    print(f"  (med / worst: median and worst repetition; 'vs 0% loss': median rounds to 100%"
          f" over the same size's at 0% loss; dup/stored: arrivals of records already held"
          f" over records stored; x baseline: CPU per node per round over one record's"
          f" serialize + check. Records checked in all: {checks:,}, about"
          f" {checks * baseline.check_s / cpu:.0%} of the CPU at the baseline's cost;"
          f" deltas refused: {refused})")
    return results


# ---- 2. steady state ----


@dataclass(slots=True)
class SteadyResult:
    records: int
    bytes_per: float
    messages_per: float
    cpu_per: float
    naive_per: float
    stored: int


def naive_exchange_bytes(histories: dict[str, list[Record]]) -> int:
    """One message carrying the whole state: what "send everything" sends per exchange."""
    message = pb.GossipRequest(schema_version=RECORD_SCHEMA_VERSION)
    for origin, records in histories.items():
        message.deltas.add(origin=origin, from_version=0, to_version=records[-1].version,
                           records=[r.wire() for r in records])
    return len(message.SerializeToString())


def run_steady(fanout: int, seed: int, origins: Origins, baseline: Baseline
               ) -> list[SteadyResult]:
    largest = max(STEADY_RECORDS)
    started = time.process_time()
    full = origins.histories(largest // ORIGINS)
    signed_s = time.process_time() - started
    print(f"\n2. steady state: {STEADY_NODES} nodes holding the same records of {ORIGINS}"
          f" origins ({largest:,} signed in {signed_s:.1f} s CPU), {STEADY_ROUNDS} rounds, no"
          f" new records, no loss, fanout {fanout}")
    print(f"  {'records':>8}  {'bytes/node/rnd':>14}  {'msgs/node/rnd':>13}"
          f"  {'CPU/node/rnd':>12}  {'x baseline':>10}  {'naive full push/node/rnd':>24}"
          f"  {'anti-entropy/naive':>18}")
    results = []
    for count in STEADY_RECORDS:
        histories = {origin: records[:count // ORIGINS] for origin, records in full.items()}
        states = load_states(STEADY_NODES, origins.trust, histories)
        network = Network(states, fanout=fanout, loss=0.0, rng=random.Random(seed + count))
        tally = Tally()
        for _ in range(STEADY_ROUNDS):
            tally.add(network.round())
        node_rounds = STEADY_NODES * STEADY_ROUNDS
        naive = naive_exchange_bytes(histories) * network.fanout
        result = SteadyResult(count, tally.bytes_sent / node_rounds,
                              tally.messages / node_rounds, tally.cpu_s / node_rounds, naive,
                              tally.stored + tally.duplicates)
        results.append(result)
        print(f"  {count:>8,}  {result.bytes_per:>12,.0f} B  {result.messages_per:>13.1f}"
              f"  {result.cpu_per * 1e6:>9,.0f} us  {result.cpu_per / baseline.check_s:>8.1f} x"
              f"  {naive / _KIB:>21,.0f} KiB  {result.bytes_per / naive:>18.2e}", flush=True)
        del states, network
    first, last = results[0], results[-1]
    print(f"  bytes({last.records:,})/bytes({first.records:,}) ="
          f" {last.bytes_per / first.bytes_per:.3f}; records moved in steady state:"
          f" {sum(r.stored for r in results)} (naive: each exchange ships the whole state once,"
          f" fanout exchanges per node per round)")
    print(f"  the digest, not the records, sets the size: {ORIGINS} origins here; one digest"
          f" entry ~{baseline.entry_bytes:.1f} B, so with 10,000 origins every request and"
          f" response would carry a {CHUNK_ENTRIES}-entry chunk of"
          f" ~{baseline.entry_bytes * CHUNK_ENTRIES / _KIB:.1f} KiB"
          f" (~{2 * fanout * baseline.entry_bytes * CHUNK_ENTRIES / _KIB:.0f} KiB per node per"
          f" round at fanout {fanout})")
    return results


# ---- targets ----


def _check(value: float | None, target: float) -> str:
    return "MISSED" if value is None or value > target else "met"


def print_targets(spread: list[SpreadResult], steady: list[SteadyResult]) -> None:
    print("\ntargets:")
    rows: list[tuple[str, str, str]] = []
    at = [r for r in spread if r.n == TARGET_99_NODES and r.loss == TARGET_99_LOSS]
    if at:
        worst = at[0].worst("to_99")
        rows.append((f"99% of {TARGET_99_NODES:,} at {TARGET_99_LOSS:.0%} loss",
                     "not reached" if worst is None else f"{worst} rounds",
                     f"target <= {TARGET_99_ROUNDS}  {_check(worst, TARGET_99_ROUNDS)}"
                     f"  (worst of {len(at[0].runs)} runs; median / worst"
                     f" {_rounds_text(at[0], 'to_99')})"))
    else:
        rows.append((f"99% of {TARGET_99_NODES:,} at {TARGET_99_LOSS:.0%} loss", "not measured",
                     "size or loss not in this run"))
    if len(steady) > 1:
        ratio = steady[-1].bytes_per / steady[0].bytes_per
        rows.append((f"steady bytes {steady[-1].records // 1000}k/{steady[0].records // 1000}k"
                     " records", f"{ratio:.3f}",
                     f"target <= {TARGET_STEADY_RATIO:g}  {_check(ratio, TARGET_STEADY_RATIO)}"
                     f"  ({steady[0].bytes_per:,.0f} -> {steady[-1].bytes_per:,.0f} B per node"
                     " per round)"))
    big = [r for r in spread if r.n == TARGET_100_NODES]
    if big:
        worsts = [r.worst("to_100") for r in big]
        worst = None if None in worsts else max(w for w in worsts if w is not None)
        losses = ", ".join(f"{r.loss:.0%}" for r in big)
        rows.append((f"100% of {TARGET_100_NODES:,}",
                     "not reached" if worst is None else f"{worst} rounds",
                     f"target <= {TARGET_100_ROUNDS}  {_check(worst, TARGET_100_ROUNDS)}"
                     f"  (worst of {sum(len(r.runs) for r in big)} runs at loss {losses})"))
    else:
        rows.append((f"100% of {TARGET_100_NODES:,}", "not measured", "size not in this run"))
    for label, value, target in rows:
        print(f"  {label:<30}{value:>12}   {target}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        help="comma-separated node counts for the spreading experiment")
    parser.add_argument("--loss", default=",".join(map(str, DEFAULT_LOSS)),
                        help="comma-separated message loss probabilities")
    parser.add_argument("--fanout", type=int, default=DEFAULT_FANOUT)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    losses = [float(s) for s in args.loss.split(",") if s.strip()]
    started = time.perf_counter()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"bench/gossip_sim.py: {os.cpu_count()} CPUs, load avg {load} (before), Python"
          f" {platform.python_version()}; seed {args.seed}, fanout {args.fanout}, loss"
          f" {', '.join(f'{p:.0%}' for p in losses)}; DeltaBudget({BUDGET.max_records} records,"
          f" {BUDGET.max_bytes // _KIB} KiB), digest chunks <= {CHUNK_ENTRIES} entries;"
          f" synchronous rounds; real Ed25519 verify on every arrival (no cache)", flush=True)
    origins = Origins.make(ORIGINS, random.Random(args.seed))
    histories = origins.histories(PRIOR_RECORDS)
    new = origins.record(origins.keys[0], PRIOR_RECORDS + 1)
    sample = [origins.record(key, 1) for key in origins.keys for _ in range(50)]
    baseline = measure_baseline(origins, sample)
    print(f"baseline: one record serialized + checked (check_record: decode, trust, Ed25519"
          f" verify) {baseline.check_s * 1e6:.1f} us CPU (best of 3 loops over"
          f" {len(sample):,} records; body ~{baseline.body_bytes:.0f} B, on the wire"
          f" ~{baseline.wire_bytes:.0f} B)", flush=True)
    spread = run_spreading(sizes, losses, args.fanout, args.seed, origins, histories, new,
                           baseline)
    steady = run_steady(args.fanout, args.seed, origins, baseline)
    print_targets(spread, steady)
    print(f"\nwall time {time.perf_counter() - started:.0f} s, CPU"
          f" {time.process_time():.0f} s")


if __name__ == "__main__":
    main()
