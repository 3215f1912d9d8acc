"""How fast is end-to-end ingest compared with a bare baseline on this machine?

Generates a deterministic mixed corpus (bench/corpus.py), then, in the same run
and on the same file:

- end-to-end: the real CLI in a subprocess, ``decnet-fed --home H init`` and
  then ``decnet-fed --home H ingest CORPUS --json``; wall time and peak RSS
  of the ingest process alone (reaped with ``os.wait4`` by a small shim
  process, see `_MEASURE`, so neither init nor this script's own memory
  leaks into the figure);
- baseline: another subprocess reads the file line by line, does a cheap
  ``split(b" ", 6)`` per line and inserts one ``(line)`` row per line with
  ``executemany`` into a fresh WAL SQLite file, committing once per batch of
  the store's configured ``batch_size``; the floor any Python ingest pays.

Prints the figures next to the targets; asserts nothing.

    .venv/bin/python bench/ingest.py [--lines N] [--seed S] [--keep] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import DEFAULT_SEED, CorpusStats, generate_corpus  # noqa: E402

TARGET_EVENTS_PER_S = 50_000
TARGET_RATIO = 0.4
TARGET_RSS_MB = 400
#: Used when the home's config cannot be read (the store's own default).
DEFAULT_BATCH = 10_000
_MB = 1_000_000


@dataclass(frozen=True)
class ChildRun:
    """Wall time and peak RSS of one measured child process, and what it printed."""

    wall_s: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


# Runs in a small, fresh interpreter between us and the measured command. Linux
# seeds a new process's ru_maxrss with the RSS of the process it was forked
# (or vforked) from, so spawning straight from this bench, which holds the
# corpus generator's pools, would inflate every figure; a ~10 MB parent only
# sets a floor below any Python program's own peak. wait4 reports that one
# child's usage, so earlier children (init) cannot leak in either.
_MEASURE = """
import json, os, sys, time
out, err, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(out, "wb") as o, open(err, "wb") as e, open(os.devnull, "rb") as i:
    started = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, dict(os.environ),
                          file_actions=[(os.POSIX_SPAWN_DUP2, i.fileno(), 0),
                                        (os.POSIX_SPAWN_DUP2, o.fileno(), 1),
                                        (os.POSIX_SPAWN_DUP2, e.fileno(), 2)])
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
print(json.dumps({"wall_s": wall, "maxrss_kib": usage.ru_maxrss,
                  "returncode": os.waitstatus_to_exitcode(status)}))
"""


def run_measured(argv: list[str], workdir: Path, label: str) -> ChildRun:
    """Run ``argv`` under the `_MEASURE` shim: its own wall time and peak RSS.

    Output goes to files, not pipes, so a large ``--json`` report cannot
    block the child while it is being waited for.
    """
    out_path, err_path = workdir / f"{label}.stdout", workdir / f"{label}.stderr"
    shim = subprocess.run([sys.executable, "-I", "-S", "-c", _MEASURE, str(out_path),
                           str(err_path), *argv], capture_output=True, text=True, check=True)
    result = json.loads(shim.stdout)
    return ChildRun(result["wall_s"], result["maxrss_kib"] * 1024 / _MB, result["returncode"],
                    out_path.read_text(errors="replace"), err_path.read_text(errors="replace"))


def baseline_child(corpus: str, db_path: str, batch_size: int) -> None:
    """The baseline's body (runs in its own process): read, split, executemany, commit."""
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # as the store does
    db.execute("CREATE TABLE lines (line BLOB NOT NULL)")
    insert = "INSERT INTO lines (line) VALUES (?)"
    rows: list[tuple[bytes]] = []
    count = 0
    started = time.perf_counter()
    with open(corpus, "rb", buffering=1 << 20) as stream:
        for line in stream:
            parts = line.split(b" ", 6)
            if parts:
                rows.append((line,))
            if len(rows) >= batch_size:
                db.execute("BEGIN IMMEDIATE")
                db.executemany(insert, rows)
                db.execute("COMMIT")
                count += len(rows)
                rows.clear()
    if rows:
        db.execute("BEGIN IMMEDIATE")
        db.executemany(insert, rows)
        db.execute("COMMIT")
        count += len(rows)
    db.close()
    print(json.dumps({"lines": count, "elapsed_s": time.perf_counter() - started}))


def find_cli() -> str:
    """The venv's console script next to this interpreter, else whatever is on PATH."""
    beside = Path(sys.executable).parent / "decnet-fed"
    if beside.exists():
        return str(beside)
    found = shutil.which("decnet-fed")
    if found is None:
        sys.exit("decnet-fed not found: install the package (pip install -e .) in this venv")
    return found


def batch_size_of(home: Path) -> int:
    """The ``[store] batch_size`` the ingest will use, so the baseline batches alike."""
    try:
        config = tomllib.loads((home / "config.toml").read_text(encoding="utf-8"))
        return int(config["store"]["batch_size"])
    except (OSError, KeyError, ValueError, tomllib.TOMLDecodeError):
        return DEFAULT_BATCH


def _check(value: float, target: float, at_least: bool) -> str:
    met = value >= target if at_least else value <= target
    return "met" if met else "MISSED"


def _fail(what: str, run: ChildRun) -> None:
    sys.exit(f"{what} failed (exit {run.returncode}):\n{run.stderr[-2000:]}")


def run_benchmark(workdir: Path, lines: int, seed: int) -> None:
    """Generate, run both sides, print."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"decnet-fed ingest benchmark: {os.cpu_count()} CPUs, load avg {load} (before), "
          f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}")
    corpus = workdir / "corpus.log"
    stats = generate_corpus(corpus, lines=lines, seed=seed)
    _print_corpus(stats, seed)

    cli = find_cli()
    home = workdir / "home"
    init = run_measured([cli, "--home", str(home), "init", "--name", "bench"], workdir, "init")
    if init.returncode:
        _fail("decnet-fed init", init)
    e2e = run_measured([cli, "--home", str(home), "ingest", str(corpus), "--json"],
                       workdir, "ingest")
    if e2e.returncode:
        _fail("decnet-fed ingest", e2e)
    report: dict[str, Any] = json.loads(e2e.stdout)

    batch = batch_size_of(home)
    base = run_measured([sys.executable, __file__, "--baseline-child", str(corpus),
                         str(workdir / "baseline.sqlite"), str(batch)], workdir, "baseline")
    if base.returncode:
        _fail("baseline", base)
    base_report = json.loads(base.stdout)

    parsed = int(report["events_parsed"])
    e2e_rate = parsed / e2e.wall_s
    base_rate = int(base_report["lines"]) / base.wall_s
    ratio = e2e_rate / base_rate
    print(f"end-to-end: {parsed:,} events parsed, {report['events_stored']:,} stored, "
          f"{report['rejected']:,} rejected, {e2e.wall_s:.2f} s wall "
          f"(CLI's own elapsed {report['elapsed_s']:.2f} s); batch size {batch:,}")
    print(f"baseline: {base_report['lines']:,} lines in {base.wall_s:.2f} s wall "
          f"(loop {base_report['elapsed_s']:.2f} s)")
    rows = [
        ("lines", f"{stats.lines:,}", ""),
        ("events/s end-to-end", f"{e2e_rate:,.0f}",
         f"target >= {TARGET_EVENTS_PER_S:,}  {_check(e2e_rate, TARGET_EVENTS_PER_S, True)}"),
        ("peak RSS end-to-end", f"{e2e.peak_rss_mb:,.1f} MB",
         f"target <= {TARGET_RSS_MB} MB  {_check(e2e.peak_rss_mb, TARGET_RSS_MB, False)}"),
        ("baseline lines/s", f"{base_rate:,.0f}", ""),
        ("baseline peak RSS", f"{base.peak_rss_mb:,.1f} MB", ""),
        ("ratio end-to-end/baseline", f"{ratio:.3f}",
         f"target >= {TARGET_RATIO}  {_check(ratio, TARGET_RATIO, True)}"),
    ]
    for label, value, target in rows:
        print(f"  {label:<27}{value:>14}   {target}".rstrip())


def _print_corpus(stats: CorpusStats, seed: int) -> None:
    mix = " / ".join(f"{fmt} {stats.by_format[fmt]:,}"
                     for fmt in ("rfc5424", "collector", "cowrie", "transcript", "malformed"))
    print(f"corpus: {stats.lines:,} lines, {stats.bytes / _MB:,.1f} MB ({mix}), "
          f"{len(stats.by_kind)} kinds, {stats.attackers:,} attacker IPs, seed {seed}, "
          f"generated in {stats.seconds:.1f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="corpus size in lines")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="corpus seed")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--out", type=Path, help="work in DIR (kept) instead of a temp dir")
    parser.add_argument("--baseline-child", nargs=3, metavar=("CORPUS", "DB", "BATCH"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.baseline_child:
        corpus, db, batch = args.baseline_child
        baseline_child(corpus, db, int(batch))
        return
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        if any(args.out.iterdir()):
            sys.exit(f"{args.out} is not empty: the benchmark needs a fresh store")
        workdir, remove = args.out, False
    else:
        workdir, remove = Path(tempfile.mkdtemp(prefix="decnet-bench-")), not args.keep
    try:
        run_benchmark(workdir, args.lines, args.seed)
    finally:
        if remove:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept {workdir}")


if __name__ == "__main__":
    main()
