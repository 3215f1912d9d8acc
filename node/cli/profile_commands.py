"""CLI commands over local profiles: `observation IP`, `reprofile` and `query … --local`.

`query` is built so the federation can answer it from peers: every query
kind takes ``--local`` (this node's store) and ``--peer`` (remote nodes).
Without ``--local`` the command calls the ``remote_query`` hook
(`node.cli.hooks`); without one it refuses with "no federation configured;
use --local".
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from node.cli.hooks import CommandAdder, hooks_of, shared_options
from node.cli.progress import Tally, on_terminal, progress_bar
from node.cli.render import print_json, print_pairs, print_table
from node.errors import CommandError
from node.event import LineRejected
from node.home import open_store, open_store_for_reading, require_home
from node.ingest.addresses import canonical_ip
from node.profile.enrichment.service import Enricher
from node.profile.fingerprints import TYPES
from node.profile.profiler import profiler_from_config
from node.profile.rebuild import rebuild_profiles
from node.profile.simhash import BITS, format_simhash, parse_simhash
from node.profile.views import DEFAULT_COMMAND_LIMIT, observation_profile
from node.query import (
    SIMHASH_KINDS,
    MalformedQuery,
    StoreQuery,
    aggregate_json,
    local_smtp_answer,
)
from node.store import Store

NO_FEDERATION = "no federation configured; use --local"


def register_profile_commands(add: CommandAdder) -> None:
    """Add `observation` and `query` to the CLI."""
    observation = add("observation", cmd_observation,
                      "show everything profiled about one attacker IP",
                      example="decnet-fed observation 203.0.113.7 --commands 50")
    observation.add_argument("ip", metavar="IP")
    observation.add_argument("--commands", type=int, default=DEFAULT_COMMAND_LIMIT, metavar="N",
                             help=f"show the N most recent commands (default "
                                  f"{DEFAULT_COMMAND_LIMIT})")

    add("reprofile", cmd_reprofile,
        "recompute every profile from the stored events (after changing phase rules)",
        example="decnet-fed reprofile")

    query = add("query", cmd_query,
                "ask whether something was seen (domains and fingerprints are asked blind:"
                " peers answer without learning what; --local: this node only)",
                example="decnet-fed query smtp corp1.com\n"
                        "decnet-fed query smtp corp1.com --open --peer east\n"
                        "decnet-fed query fingerprint hassh 0df0d56bb50c6b2426d8d40234bf1826"
                        " --gossiped\ndecnet-fed query simhash keystroke 9f3c2a1b0e4d5c6f"
                        " --within 6 --local")
    common = shared_options()
    common.add_argument("--local", action="store_true",
                        help="answer from this node's own store")
    common.add_argument("--peer", action="append", default=None, metavar="PEER",
                        help="ask this peer (repeatable; needs the federation)")
    blind = argparse.ArgumentParser(add_help=False)
    blind.add_argument("--open", action="store_true",
                       help="ask the classic way: each peer sees the question (default: blind,"
                            " where a peer that does not serve blind questions is a row"
                            " saying so)")
    kinds = query.add_subparsers(dest="query_kind", required=True, metavar="KIND")
    smtp = kinds.add_parser("smtp", parents=[common, blind], help="was a mail domain targeted?",
                            description="was a mail domain targeted?", conflict_handler="resolve")
    smtp.add_argument("domain", metavar="DOMAIN")
    fingerprint = kinds.add_parser("fingerprint", parents=[common, blind],
                                   help="was a client/server fingerprint seen?",
                                   description="was a client/server fingerprint seen?")
    fingerprint.add_argument("kind", choices=sorted(TYPES), metavar="KIND",
                             help=f"one of: {', '.join(sorted(TYPES))}")
    fingerprint.add_argument("value", metavar="VALUE")
    fingerprint.add_argument("--gossiped", action="store_true",
                             help="answer from what other operators gossiped; asks no one")
    simhash = kinds.add_parser("simhash", parents=[common],
                               help="is a SimHash near one seen here?",
                               description="is a SimHash near one seen here?")
    simhash.add_argument("kind", choices=sorted(SIMHASH_KINDS), metavar="KIND",
                         help=f"one of: {', '.join(sorted(SIMHASH_KINDS))}")
    simhash.add_argument("simhash", metavar="HEX", help="16 hex digits")
    simhash.add_argument("--within", type=int, default=3, metavar="K",
                         help="largest Hamming distance that counts as near (default 3)")
    simhash.add_argument("--gossiped", action="store_true",
                         help="answer from what other operators gossiped; asks no one")


async def cmd_query(args: argparse.Namespace) -> int:
    if getattr(args, "gossiped", False):
        if args.local or args.peer:
            raise CommandError("--gossiped answers from gossip alone: it cannot be combined"
                               " with --local or --peer")
        gossiped_query = hooks_of(args).gossiped_query
        if gossiped_query is None:
            raise CommandError(NO_FEDERATION)
        return await gossiped_query(args)
    if not args.local:
        remote_query = hooks_of(args).remote_query
        if remote_query is None:
            raise CommandError(NO_FEDERATION)
        return await remote_query(args)
    if args.peer:
        raise CommandError("--peer asks remote nodes; it cannot be combined with --local")
    config = require_home(args.home)
    store = await open_store_for_reading(config)
    try:
        answer = await _local_answer(store, args)
    except MalformedQuery as exc:
        raise CommandError(str(exc)) from None
    finally:
        await store.close()
    if args.json:
        print_json(answer)
    else:
        print(_describe_answer(answer))
    return 0


async def _local_answer(store: Store, args: argparse.Namespace) -> dict[str, Any]:
    if args.query_kind == "smtp":
        return await local_smtp_answer(store, args.domain)
    queries = StoreQuery(store)
    if args.query_kind == "fingerprint":
        found = await queries.fingerprint(args.kind, args.value)
        return {"kind": args.kind, "value": args.value.strip().lower()
                if TYPES[args.kind].lowercase else args.value.strip(), **aggregate_json(found)}
    value = parse_simhash(args.simhash)
    if value is None or not isinstance(value, int):
        raise MalformedQuery(f"{args.simhash!r} is not a non-zero 16-hex SimHash")
    if not 0 <= args.within <= BITS:
        raise MalformedQuery(f"--within must be 0..{BITS}")
    near = await queries.simhash_near(args.kind, value, args.within)
    return {"kind": args.kind, "simhash": format_simhash(value), "within": args.within,
            "match": near.match, "min_distance": near.min_distance,
            "count_within": near.count_within}


def _describe_answer(answer: dict[str, Any]) -> str:
    value = answer.get("value", answer.get("simhash"))
    subject = answer.get("domain") or f"{answer['kind']} {value}"
    if "match" in answer:
        if not answer["match"]:
            return f"{subject}: nothing within distance {answer['within']}"
        return (f"{subject}: {answer['count_within']} within distance {answer['within']}"
                f" (closest {answer['min_distance']})")
    if not answer["seen"]:
        return f"{subject}: not seen"
    return (f"{subject}: seen {answer['count']} times,"
            f" {answer['first_seen']} … {answer['last_seen']}")


async def cmd_observation(args: argparse.Namespace) -> int:
    config = require_home(args.home)
    try:
        ip = canonical_ip(args.ip)
    except LineRejected:
        raise CommandError(f"{args.ip!r} is not an IP address") from None
    enricher = Enricher.from_config(config)
    store = await open_store_for_reading(config)
    try:
        profile = await observation_profile(store, ip, enricher,
                                            command_limit=max(0, args.commands))
    finally:
        await store.close()
    if profile is None:
        raise CommandError(f"no observation for {ip}: nothing from it was ingested")
    if args.json:
        print_json(profile)
    else:
        _print_profile(profile)
    return 0


async def cmd_reprofile(args: argparse.Namespace) -> int:
    config = require_home(args.home)
    profiler = profiler_from_config(config)
    tally = Tally("replaying events")
    store = await open_store(config, cluster_progress=tally.step)
    started = time.perf_counter()
    try:
        async with progress_bar(lambda: tally.reading, show=on_terminal(args)):
            replayed = await rebuild_profiles(
                store, profiler, batch_size=config.store.batch_size, on_progress=tally.count)
    finally:
        await store.close()
    elapsed = time.perf_counter() - started
    rejections = dict(sorted(profiler.rejections.items()))
    if args.json:
        print_json({"events_replayed": replayed, "field_rejections": rejections,
                    "elapsed_s": round(elapsed, 3)})
    else:
        print(f"re-profiled {replayed:,} events in {elapsed:.2f}s"
              f" ({sum(rejections.values())} field rejections)")
    return 0


def _print_profile(p: dict[str, Any]) -> None:
    e = p["enrichment"]
    asn = f"AS{e['asn']} {e['as_name']} ({e['as_prefix']})" if e["asn"] else "-"
    print_pairs([
        ("observation", p["ip"]),
        ("seen", f"{p['first_seen']} … {p['last_seen']} ({p['event_count']} events)"),
        ("services", p["services"] or "-"),
        ("honeypots", p["honeypots"] or "-"),
        ("country", e["country"] or "-"),
        ("asn", asn),
        ("ptr", e["ptr"] or f"- ({e['ptr_status']})"),
    ])
    _section("SMTP targets", ["DOMAIN", "COUNT", "FIRST SEEN", "LAST SEEN"],
             [(r["domain"], r["count"], r["first_seen"], r["last_seen"])
              for r in p["smtp_targets"]])
    _section("Fingerprints", ["SIDE", "KIND", "VALUE", "COUNT", "LAST SEEN"],
             [(r["side"], r["kind"], r["value"], r["count"], r["last_seen"])
              for r in p["fingerprints"]])
    rotation = p["rotation"]
    _section(f"Probe fingerprints ({rotation['count']} rotations)",
             ["PROBE", "PORT", "CURRENT", "ROTATIONS", "LAST ROTATION"],
             [(r["probe"], r["port"], r["current"], r["rotations"], r["last_rotation"] or "-")
              for r in rotation["probes"]])
    _section("Rotations", ["TIME", "PROBE", "PORT", "OLD", "NEW"],
             [(r["time"], r["probe"], r["port"], r["old"], r["new"])
              for r in rotation["records"]])
    _section("IPv6 link-local leaks", ["ADDRESS", "KIND", "OUI", "COUNT", "LAST SEEN"],
             [(r["address"], r["kind"], r["oui"] or "-", r["count"], r["last_seen"])
              for r in p["ipv6_leaks"]["addresses"]])
    _section("Sessions", ["SESSION", "HONEYPOT", "SERVICE", "EVENTS", "FIRST SEEN"],
             [(r["session"], r["honeypot"], r["service"], r["count"], r["first_seen"])
              for r in p["sessions"]])
    _section("Credentials", ["USERNAME", "SECRET", "OUTCOME", "COUNT"],
             [(r["username"], r["secret"], r["outcome"], r["count"]) for r in p["credentials"]])
    _section("Kill-chain phases", ["HONEYPOT", "PHASE", "COUNT", "FIRST SEEN", "LAST SEEN"],
             [(r["honeypot"], r["phase"], r["count"], r["first_seen"], r["last_seen"])
              for r in p["phases"]])
    shown = len(p["commands"])
    title = f"Commands ({shown} of {p['commands_total']})" if shown < p["commands_total"] \
        else "Commands"
    _section(title, ["TIME", "HONEYPOT", "PHASES", "COMMAND"],
             [(r["time"], r["honeypot"], r["phases"], r["command"][:120])
              for r in p["commands"]])
    _section("Payloads", ["SHA256", "SOURCE", "COUNT", "FIRST SEEN"],
             [(r["sha256"], r["source"], r["count"], r["first_seen"]) for r in p["payloads"]])
    _section("C2 endpoints", ["HOST", "URL", "VIA", "COUNT", "FIRST SEEN"],
             [(r["host"], r["url"] or "-", r["via"], r["count"], r["first_seen"])
              for r in p["c2_endpoints"]])
    simhashes = p["simhashes"]
    _section("Keystroke SimHashes", ["SESSION", "HONEYPOT", "SIMHASH", "DIGRAPHS", "SAMPLES"],
             [(r["session"], r["honeypot"], r["simhash"], r["digraphs"], r["samples"])
              for r in simhashes["keystroke"]])
    _section("Mail body SimHashes", ["SIMHASH", "COUNT", "FIRST SEEN"],
             [(r["simhash"], r["count"], r["first_seen"]) for r in simhashes["mail_body"]])


def _section(title: str, headers: list[str], rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    print(f"\n{title}")
    print_table(headers, rows)
