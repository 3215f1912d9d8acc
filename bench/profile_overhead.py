"""What does local profiling cost at ingest? Events/s with and without the profiler.

Generates the ingest benchmark's corpus (bench/corpus.py: every format and
every profiled signal) in bench/out/, ingests it into fresh stores through the
real pipeline, once bare and once with the profiler (plus the final journal
fold and keystroke refresh), alternating so both see the same machine load,
and prints the medians and their ratio. Asserts nothing.

    .venv/bin/python bench/profile_overhead.py [--lines N] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from statistics import median

from node.ingest.pipeline import ingest_sources
from node.profile.profiler import Profiler
from node.profile.stages import PROFILE_STAGES
from node.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import generate_corpus  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"


async def measure(corpus: Path, *, profiled: bool) -> tuple[float, float]:
    """(events/s including the final refresh, seconds of the fold + keystroke refresh)."""
    db = OUT / ("profiled.db" if profiled else "bare.db")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    store = await Store.open(db, profilers=[Profiler()] if profiled else [],
                             stages=PROFILE_STAGES if profiled else ())
    try:
        report = await ingest_sources(store, [str(corpus)], batch_size=10000,
                                      max_line_bytes=65536)
        started = time.perf_counter()
        if profiled:
            await store.catch_up()
        refresh_s = time.perf_counter() - started
    finally:
        await store.close()
    return report.events_parsed / (report.elapsed_s + refresh_s), refresh_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    corpus = OUT / "profile-corpus.log"
    generate_corpus(corpus, lines=args.lines)
    bare: list[float] = []
    profiled: list[float] = []
    refresh: list[float] = []
    for _ in range(args.rounds):
        bare.append(asyncio.run(measure(corpus, profiled=False))[0])
        rate, refresh_s = asyncio.run(measure(corpus, profiled=True))
        profiled.append(rate)
        refresh.append(refresh_s)
    print(f"corpus: {args.lines:,} lines (bench/corpus.py), {args.rounds} rounds, medians:")
    print(f"ingest without profiler: {median(bare):>10,.0f} events/s")
    print(f"ingest with profiler:    {median(profiled):>10,.0f} events/s"
          f"  (incl. final fold + keystroke refresh {median(refresh):.2f} s)")
    print(f"ratio profiled/bare:     {median(profiled) / median(bare):>10.2f}")


if __name__ == "__main__":
    main()
