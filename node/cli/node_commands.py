"""CLI commands that work on the local node only: init, ingest, observations, status."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any, TextIO

from node.cli.hooks import InitContext, hooks_of
from node.cli.progress import Reading, on_terminal, progress_bar
from node.cli.render import (
    format_bytes,
    plural,
    print_json,
    print_pairs,
    print_table,
    printable,
    table_time,
)
from node.config import Config
from node.errors import CommandError
from node.home import init_home, open_store, open_store_for_reading, require_home
from node.ingest.pipeline import (
    MAX_REJECT_SAMPLES,
    IngestReport,
    follow_source,
    ingest_sources,
    ingest_tuning,
)
from node.ingest.reader import STDIN_NAME, SourceError, check_readable
from node.ingest.timestamps import format_time_us
from node.profile.profiler import profiler_from_config
from node.profile.views import rejection_counts
from node.query import node_totals
from node.store import ObservationFilter, ObservationRow, Store

#: Rejected lines printed to stderr by a human-format ingest; `--json` has up to 1000.
_REJECTS_SHOWN = 20


async def cmd_init(args: argparse.Namespace) -> int:
    result = await init_home(args.home, args.name)
    config = result.config
    extra: dict[str, object] = {}
    context = InitContext(config, result.created, args.new_identity)
    for step in hooks_of(args).init_steps:
        extra.update(await step(context))
    if args.json:
        print_json({"home": str(config.home), "name": config.node.name,
                    "created": result.created, "store": str(config.store_path), **extra})
        return 0
    if result.created:
        print(f"initialised node {config.node.name!r} in {config.home}")
    else:
        print(f"{config.home} is already initialised (node {config.node.name!r}); nothing changed")
    for name, value in extra.items():
        print(f"{name}: {value}")
    return 0


async def cmd_ingest(args: argparse.Namespace) -> int:
    config = require_home(args.home)
    sources: list[str] = args.paths
    if args.follow and any(s == STDIN_NAME or s.endswith(".gz") for s in sources):
        raise CommandError("--follow tails plain files; it cannot follow '-' or .gz sources")
    for name in sources:
        try:
            check_readable(name)
        except SourceError as exc:
            raise CommandError(str(exc)) from None
    profilers = [profiler_from_config(config)] if config.profile.enabled else []
    store = await open_store(config, profilers=profilers)
    stop = _stop_on_signals()
    try:
        if args.follow:
            report = await follow_all(store, config, sources, stop, show=on_terminal(args))
        else:
            report = IngestReport()
            async with progress_of(report, show=on_terminal(args)):
                await ingest_sources(store, sources, batch_size=config.store.batch_size,
                                     max_line_bytes=config.ingest.max_line_bytes, stop=stop,
                                     report=report)
    finally:
        await store.close()
    _print_report(report, as_json=args.json)
    if report.interrupted:
        print("interrupted: what was read is stored; run the same ingest again to finish"
              " (nothing is stored twice)", file=sys.stderr)
        return 130
    return 1 if report.source_errors else 0


def progress_of(report: IngestReport, *, show: bool) -> AbstractAsyncContextManager[None]:
    """A progress bar on stderr while an ingest runs (lines read, events stored, rate);
    nothing when ``show`` is false (not a terminal, or --json)."""
    return progress_bar(
        lambda: Reading(report.lines_read, note=f"{report.events_stored:,} events stored"),
        show=show, unit=" lines")


def _stop_on_signals() -> asyncio.Event:
    """An event set by the first SIGINT or SIGTERM (the ingest then ends cleanly)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


#: How often `ingest --follow` redraws its status line on a terminal, seconds.
FOLLOW_STATUS_S = 2.0


async def follow_all(store: Store, config: Config, sources: list[str], stop: asyncio.Event,
                     *, show: bool, interval_s: float = FOLLOW_STATUS_S,
                     file: TextIO | None = None) -> IngestReport:
    """Tail every source until ``stop``; meanwhile, when ``show``, a status line on
    ``file`` (stderr) every ``interval_s``: lines read, events stored, rejected, and
    which files are caught up. A follow runs for days, so it says how it is doing."""
    followed = [(name, IngestReport()) for name in sources]
    async with progress_bar(lambda: _follow_reading(followed), show=show, unit=" lines",
                            interval_s=interval_s, file=file):
        with ingest_tuning():
            await asyncio.gather(*(
                follow_source(store, name, batch_size=config.store.batch_size,
                              max_line_bytes=config.ingest.max_line_bytes,
                              poll_interval_s=config.ingest.follow_poll_interval_s, stop=stop,
                              report=report)
                for name, report in followed
            ))
    return IngestReport.combined(report for _, report in followed)


def _follow_reading(followed: list[tuple[str, IngestReport]]) -> Reading:
    files = ", ".join(f"{name} {'caught up' if report.caught_up else 'reading'}"
                      for name, report in followed)
    return Reading(sum(r.lines_read for _, r in followed),
                   note=printable(f"{sum(r.events_stored for _, r in followed):,} events stored,"
                                  f" {sum(r.rejected_total for _, r in followed):,} rejected;"
                                  f" {files}"))


def _print_report(report: IngestReport, *, as_json: bool) -> None:
    if as_json:
        print_json(report.as_json())
        return
    for error in report.source_errors:
        print(f"decnet-fed: error: {printable(str(error))}", file=sys.stderr)
    for rejection in report.rejections[:_REJECTS_SHOWN]:
        detail = f": {rejection.detail}" if rejection.detail else ""
        print(printable(f"{rejection.source}:{rejection.line}: rejected ({rejection.reason})"
                        f"{detail}"), file=sys.stderr)
    hidden = report.rejected_total - min(len(report.rejections), _REJECTS_SHOWN)
    if hidden > 0:
        print(f"… and {hidden} more rejected lines: --json lists the first"
              f" {MAX_REJECT_SAMPLES:,} with their line numbers, and every one is counted by"
              " reason below", file=sys.stderr)
    rows: list[tuple[str, int]] = [
        ("lines read", report.lines_read),
        ("events stored", report.events_stored),
        ("duplicates", report.duplicates),
        ("blank lines", report.blank_lines),
        ("rejected", report.rejected_total),
    ]
    rows += [(f"  {reason}", count) for reason, count in sorted(report.rejected.items())]
    width = max(len(label) for label, _ in rows)
    for label, count in rows:
        print(f"{label.ljust(width)}  {count:>10}")
    rate = report.events_parsed / report.elapsed_s if report.elapsed_s > 0 else 0.0
    print(f"{'elapsed'.ljust(width)}  {report.elapsed_s:>9.2f}s  ({rate:,.0f} events/s)")


def _describe_lags(lags: dict[str, int]) -> str:
    behind = [f"{name} {lag:,} events behind" for name, lag in lags.items() if lag]
    if not behind:
        return "up to date"
    return "; ".join(behind) + " (the next ingest or a running `serve` catches up)"


def observation_json(row: ObservationRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "ip": row.ip,
        "first_seen": format_time_us(row.first_seen_us),
        "last_seen": format_time_us(row.last_seen_us),
        "event_count": row.event_count,
        "services": list(row.services),
        "honeypots": list(row.honeypots),
        "identity_id": row.identity_id,
        "campaign_id": row.campaign_id,
    }


async def cmd_observations(args: argparse.Namespace) -> int:
    config = require_home(args.home)
    where = ObservationFilter(args.identity, args.campaign, args.service, args.honeypot,
                              _day_us(args.since) if args.since else None, args.sort)
    if args.limit is not None and args.limit < 0:
        raise CommandError("--limit must be 0 (all) or more")
    limit = args.limit or None  # 0: all
    if args.limit is None and not args.json and sys.stdout.isatty():
        limit = TERMINAL_LIMIT  # a screenful, not 20,000 rows
    store = await open_store_for_reading(config)
    try:
        rows = await store.observations(limit=None if limit is None else limit + 1,
                                        where=where)
    finally:
        await store.close()
    more = limit is not None and len(rows) > limit
    rows = rows[:limit] if limit is not None else rows
    if args.json:
        print_json([observation_json(row) for row in rows])
        return 0
    if not rows:
        print("no observations match" if where != ObservationFilter() else
              "no observations yet: ingest some sensor logs with `decnet-fed ingest PATH`")
        return 0
    print_table(
        ["IP", "FIRST SEEN", "LAST SEEN", "EVENTS", "SERVICES", "HONEYPOTS"],
        [(r.ip, table_time(format_time_us(r.first_seen_us)),
          table_time(format_time_us(r.last_seen_us)), r.event_count, r.services, r.honeypots)
         for r in rows],
    )
    if more:
        print(f"(the first {limit}; --limit N for more, --limit 0 for all)")
    return 0


#: Observations listed on a terminal when no --limit is given.
TERMINAL_LIMIT = 50


def _day_us(text: str) -> int:
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise CommandError(f"--since {text[:40]!r}: give a day as YYYY-MM-DD") from None
    return int(day.timestamp()) * 1_000_000


async def cmd_status(args: argparse.Namespace) -> int:
    config = require_home(args.home)
    store = await open_store_for_reading(config)
    try:
        if args.check:
            await store.check(full=True)
        totals = await node_totals(store)
        version = await store.schema_version()
        size = store.size_bytes()
        rejections = await rejection_counts(store)
        lags = await store.lags()
        last = await store.fetch("SELECT time_us FROM events ORDER BY id DESC LIMIT 1")
        follows = await store.fetch("SELECT source, byte_pos, line_no FROM read_offsets"
                                    " ORDER BY source")
    finally:
        await store.close()
    last_event = format_time_us(int(last[0][0])) if last else None
    followed: list[dict[str, Any]] = [{"source": str(source), "line": int(line),
                                       "byte": int(pos)} for source, pos, line in follows]
    status: dict[str, Any] = {
        "name": config.node.name,
        "home": str(config.home),
        "config": str(config.config_path),
        "store": str(config.store_path),
        "store_bytes": size,
        "schema_version": version,
        "events": totals.events,
        "observations": totals.observations,
        "identities": totals.identities,
        "campaigns": totals.campaigns,
        "last_event": last_event,
        "followed_sources": followed,
        "field_rejections": rejections,
        "derived_lag_events": lags,
        **({"integrity": "ok"} if args.check else {}),
    }
    extra_of = hooks_of(args).status
    extra = dict(await extra_of(config)) if extra_of is not None else {}
    status.update(extra)
    if args.json:
        print_json(status)
    else:
        print_pairs([
            ("node", config.node.name),
            ("home", config.home),
            ("store", f"{config.store_path} ({format_bytes(size)}, schema v{version})"),
            ("events", f"{totals.events:,} (last stored {table_time(last_event)})"
             if last_event else "none yet"),
            ("observations", f"{plural(totals.observations, 'observation')},"
                             f" {plural(totals.identities, 'identity', 'identities')},"
                             f" {plural(totals.campaigns, 'campaign')}"),
            *((f"following {printable(f['source'])}", f"line {f['line']:,}")
              for f in followed),
            ("derived data", _describe_lags(lags)),
            ("field rejections", sum(rejections.values())),
            *((f"  {reason}", count) for reason, count in rejections.items()),
            *((("integrity", "ok (full check)"),) if args.check else ()),
            *(line for key, value in extra.items() for line in _status_lines(key, value)),
        ])
    return 0


def _status_lines(key: str, value: object) -> list[tuple[str, object]]:
    """A hook's section as ``status`` lines: a list of rows is one line per row, labelled by
    its ``name``; anything else one line."""
    label = key.replace("_", " ")
    if isinstance(value, list) and all(isinstance(v, dict) and "name" in v for v in value):
        return [(label, len(value) if value else "none"),
                *((f"  {row['name']}", ", ".join(f"{k.replace('_', ' ')} {_cell(v)}"
                                                 for k, v in row.items() if k != "name"))
                  for row in value)]
    if isinstance(value, dict):
        return [(label, ", ".join(f"{k.replace('_', ' ')} {_cell(v)}"
                                  for k, v in value.items()) or "-")]
    return [(label, value)]


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, str) and len(value) > 19 and value[10:11] == "T":
        return table_time(value)
    return str(value)
