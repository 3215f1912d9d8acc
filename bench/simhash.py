"""How fast are SimHash near-queries through `HammingIndex` versus a numpy scan?

Stores ``--values`` random 64-bit hashes plus 1% near-duplicates (a stored
hash with 1-3 bits flipped, so radius-3 queries have matches), from a seeded
RNG, builds the index and prints the build time. Then asks ``--probes``
probes (half a stored hash with 0-3 bits flipped, half uniformly random) at
radius 3 and at radius 16 (the federation's maximum), each probe through the
index and through a numpy brute-force scan (``np.bitwise_count(values ^
probe) <= r``), alternating in chunks of 100 probes so background load hits
both alike, and prints p50/p99 of each, the brute/index ratio and the
targets beside them; then the index's latency when every query follows a
scan (caches cold), closer to a server doing other work between questions.
Asserts nothing; a disagreement between the two answers is counted and
printed.

    .venv/bin/python bench/simhash.py [--values 1000000] [--probes 2000] [--seed 7]

Sections: `print_figures` runs one function per question; the near-query
section is the first, later sections append themselves there.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from node.hamming_index import HammingIndex, block_count, block_widths  # noqa: E402

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


def print_figures(args: argparse.Namespace) -> None:
    """Every section of this bench, in order; each measures, then prints its own lines."""
    print(f"bench/simhash.py: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f};"
          f" seed {args.seed}", flush=True)
    corpus = make_corpus(args.values, args.probes, args.seed)
    print_near_figures(corpus, measure_near_queries(corpus))
    # ---- further sections append here (they may reuse `corpus`) ----


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=1_000_000)
    parser.add_argument("--probes", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    print_figures(parser.parse_args())


if __name__ == "__main__":
    main()
