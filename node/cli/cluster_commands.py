"""CLI commands over clustering: `cluster`, `identities`, `identity ID`, `campaigns`,
`campaign ID`, and `score TRUTH.json` against a simulation's ground truth."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from node.cli.hooks import CommandAdder, hooks_of
from node.cli.progress import Tally, on_terminal, progress_bar
from node.cli.render import print_json, print_pairs, print_table, table_time
from node.cluster.score import score
from node.cluster.summaries import summaries_by_group
from node.cluster.truth_file import LEVELS, load_truth
from node.cluster.views import campaign_detail, campaign_list, identity_detail, identity_list
from node.errors import CommandError
from node.export import FORMATS, exported_identities, misp_events, stix_bundle
from node.home import open_store, open_store_for_reading, require_home
from node.query import SharedMatch
from node.store import ObservationRow, Store

T = TypeVar("T")

_LIST_LIMIT = 50


def register_cluster_commands(add: CommandAdder) -> None:
    """Add the clustering commands to the CLI."""
    add("cluster", cmd_cluster,
        "bring identities and campaigns up to date with every stored event",
        example="decnet-fed cluster")
    for name, handler, what in (("identities", cmd_identities, "identities (same hands)"),
                                ("campaigns", cmd_campaigns, "campaigns (same operation)")):
        shared = "\ndecnet-fed identities --shared" if name == "identities" else ""
        listing = add(name, handler, f"list {what}, largest first",
                      example=f"decnet-fed {name} --limit 10{shared}")
        listing.add_argument("--limit", type=int, default=_LIST_LIMIT, metavar="N",
                             help=f"show at most N (default {_LIST_LIMIT})")
        if name == "identities":
            listing.add_argument("--shared", action="store_true",
                                 help="only those other operators gossiped matching signals of")
    score = add("score", cmd_score, "score this node's clustering against a ground-truth file",
                example="decnet-fed simulate scenarios/stock_tool.yaml -o sim\n"
                        "decnet-fed ingest sim/sensors.log\ndecnet-fed score sim/truth.json")
    score.add_argument("truth", metavar="TRUTH.json", help="as written by `decnet-fed simulate`")
    export = add("export", cmd_export,
                 "export identities and campaigns as STIX 2.1 or MISP events (stdout)",
                 example="decnet-fed export --format stix > bundle.json\n"
                         "decnet-fed export --format misp --identity 42 > events.json")
    export.add_argument("--format", choices=FORMATS, required=True)
    export.add_argument("--identity", type=_group_id, metavar="ID", default=None,
                        help="only this identity (default: every one of 2+ observations)")
    export.add_argument("--limit", type=int, default=1000, metavar="N",
                        help="at most N identities, largest first (default 1000)")
    for name, handler, what in (("identity", cmd_identity, "an identity"),
                                ("campaign", cmd_campaign, "a campaign")):
        detail = add(name, handler, f"show {what}: members, signals and why they are linked",
                     example=f"decnet-fed {name} 42\ndecnet-fed {name} 42 --json")
        detail.add_argument("id", type=_group_id, metavar="ID")


def _group_id(text: str) -> int:
    """An identity or campaign id: a positive 63-bit integer (SQLite's range)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an id (a positive integer)") from None
    if not 0 < value < 2**63:
        raise argparse.ArgumentTypeError(f"{text} is not an id (a positive integer)")
    return value


async def cmd_cluster(args: argparse.Namespace) -> int:
    config = require_home(args.home)
    if not config.profile.enabled:
        raise CommandError("clustering reads the profiles, and [profile] enabled is false:"
                           " enable it and run `decnet-fed reprofile` first")
    tally = Tally("catching up")
    store = await open_store(config, cluster_progress=tally.step)
    try:
        async with progress_bar(lambda: tally.reading, show=on_terminal(args)):
            await store.catch_up()
        lags = await store.lags()
        counts = await store.fetch(
            "SELECT (SELECT count(DISTINCT coalesce(merged_into, id)) FROM identities),"
            " (SELECT count(DISTINCT coalesce(merged_into, id)) FROM campaigns),"
            " (SELECT count(*) FROM observations)")
    finally:
        await store.close()
    identities, campaigns, observations = counts[0]
    result = {"observations": observations, "identities": identities, "campaigns": campaigns,
              "up_to_date": not any(lags.values())}
    if args.json:
        print_json(result)
    else:
        print(f"{observations:,} observations in {identities:,} identities and"
              f" {campaigns:,} campaigns; see `decnet-fed identities` and `campaigns`")
    return 0


async def cmd_score(args: argparse.Namespace) -> int:
    truth = load_truth(Path(args.truth))
    config = require_home(args.home)
    store = await open_store_for_reading(config)
    try:
        rows = {row.ip: row for row in await store.observations()}
    finally:
        await store.close()
    missing = sorted(ip for ip in truth["identity"] if ip not in rows)
    result: dict[str, Any] = {"observations": len(truth["identity"]), "missing": len(missing)}
    for level in LEVELS:
        predicted = {ip: _predicted(rows.get(ip), ip, level) for ip in truth[level]}
        result[level] = asdict(score(truth[level], predicted))
    if args.json:
        print_json(result)
        return 0
    print(f"{result['observations']} observations in the truth"
          + (f", {len(missing)} not in this node (each counted alone)" if missing else ""))
    print_table(["LEVEL", "ADJUSTED RAND", "HOMOGENEITY", "COMPLETENESS", "SINGLETON RECALL"],
                [(level, *(f"{value:.3f}" for value in result[level].values()))
                 for level in LEVELS])
    return 0


def _predicted(row: ObservationRow | None, ip: str, level: str) -> str:
    """The node's label for one address: its identity or campaign, alone if unclustered."""
    if row is None:
        return f"missing:{ip}"
    found = row.identity_id if level == "identity" else row.campaign_id
    return f"alone:{ip}" if found is None else str(found)


async def cmd_identities(args: argparse.Namespace) -> int:
    if args.shared:
        return await _shared_identities(args)
    rows = await _read(args, lambda store: identity_list(store, max(0, args.limit)))
    if args.json:
        print_json(rows)
    elif not rows:
        print("no identities yet: ingest some logs (clustering runs at the end of an ingest)")
    else:
        print_table(["ID", "OBSERVATIONS", "EVENTS", "CAMPAIGN", "CONFIDENCE", "FIRST SEEN",
                     "LAST SEEN"],
                    [(r["id"], r["observations"], r["events"], r["campaign_id"],
                      f"{r['confidence']:.2f}", table_time(r["first_seen"]),
                      table_time(r["last_seen"]))
                     for r in rows])
    return 0


async def cmd_campaigns(args: argparse.Namespace) -> int:
    rows = await _read(args, lambda store: campaign_list(store, max(0, args.limit)))
    if args.json:
        print_json(rows)
    elif not rows:
        print("no campaigns yet: ingest some logs (clustering runs at the end of an ingest)")
    else:
        print_table(["ID", "IDENTITIES", "OBSERVATIONS", "CONFIDENCE", "FIRST SEEN",
                     "LAST SEEN"],
                    [(r["id"], r["identities"], r["observations"], f"{r['confidence']:.2f}",
                      table_time(r["first_seen"]), table_time(r["last_seen"])) for r in rows])
    return 0


async def cmd_identity(args: argparse.Namespace) -> int:
    found = await _read(args, lambda store: identity_detail(store, args.id))
    if found is None:
        raise CommandError(f"no identity {args.id}: `decnet-fed identities` lists them")
    shared = await _shared_matches(args)
    if shared is not None:
        match = shared.get(found["id"])
        found["shared"] = {"operators": match.operators if match else 0,
                           "signals": list(match.signals) if match else []}
    if args.json:
        print_json(found)
        return 0
    _print_merged(found, "identity")
    print_pairs([("identity", found["id"]), ("campaign", found["campaign_id"]),
                 ("confidence", f"{found['confidence']:.2f}"),
                 ("members", len(found["members"]))])
    print()
    print_table(["OBSERVATION", "IP", "EVENTS", "FIRST SEEN", "LAST SEEN"],
                [(m["observation_id"], m["ip"], m["events"], table_time(m["first_seen"]),
                  table_time(m["last_seen"])) for m in found["members"]])
    if found["fingerprints"]:
        print()
        print_table(["KIND", "VALUE", "OBSERVATIONS", "COUNT"],
                    [(f["kind"], f["value"], f["observations"], f["count"])
                     for f in found["fingerprints"]])
    _print_links(found["links"])
    if "shared" in found:
        shared = found["shared"]
        print()
        print(f"also seen by {shared['operators']} other operator"
              f"{'' if shared['operators'] == 1 else 's'}"
              + (f": {', '.join(shared['signals'])}" if shared["signals"] else ""))
    return 0


async def _shared_matches(args: argparse.Namespace) -> dict[int, SharedMatch] | None:
    """Local identity id → what other operators gossiped matching it (None: no gossip here)."""
    lookup_of = hooks_of(args).shared
    if lookup_of is None:
        return None
    config = require_home(args.home)
    lookup = await lookup_of(config)
    if lookup is None:
        return None
    summaries = await _read(args, lambda store: store.read_job(
        lambda conn: summaries_by_group(conn, "identity")))
    found = {gid: lookup(summary) for gid, summary in summaries}
    return {gid: match for gid, match in found.items() if match.operators}


async def _shared_identities(args: argparse.Namespace) -> int:
    shared = await _shared_matches(args)
    if shared is None:
        raise CommandError("no gossip here: `decnet-fed serve` gossips with the trusted peers")
    ranked = sorted(shared.items(), key=lambda kv: (-kv[1].operators, kv[0]))
    ranked = ranked[:max(0, args.limit)]
    if args.json:
        print_json([{"id": gid, "operators": m.operators, "signals": list(m.signals)}
                    for gid, m in ranked])
    elif not ranked:
        print("no local identity matches what other operators gossiped (yet)")
    else:
        print_table(["ID", "OPERATORS", "SIGNALS"],
                    [(gid, m.operators, ", ".join(m.signals)[:100]) for gid, m in ranked])
    return 0


async def cmd_export(args: argparse.Namespace) -> int:
    found = await _read(args, lambda store: exported_identities(store, args.identity,
                                                                max(0, args.limit)))
    if args.identity is not None and not found:
        raise CommandError(f"no identity {args.identity}: `decnet-fed identities` lists them")
    print(stix_bundle(found) if args.format == "stix" else misp_events(found))
    return 0


async def cmd_campaign(args: argparse.Namespace) -> int:
    found = await _read(args, lambda store: campaign_detail(store, args.id))
    if found is None:
        raise CommandError(f"no campaign {args.id}: `decnet-fed campaigns` lists them")
    if args.json:
        print_json(found)
        return 0
    _print_merged(found, "campaign")
    print_pairs([("campaign", found["id"]), ("confidence", f"{found['confidence']:.2f}"),
                 ("identities", len(found["identities"]))])
    print()
    print_table(["IDENTITY", "MEMBERS"],
                [(i["id"], ", ".join(i["members"])) for i in found["identities"]])
    _print_links(found["links"])
    return 0


async def _read(args: argparse.Namespace, read: Callable[[Store], Awaitable[T]]) -> T:
    config = require_home(args.home)
    store = await open_store_for_reading(config)
    try:
        return await read(store)
    finally:
        await store.close()


def _print_merged(found: dict[str, Any], what: str) -> None:
    if found["merged"]:
        print(f"{what} {found['asked']} was merged into {what} {found['id']}:")


def _print_links(links: list[dict[str, Any]]) -> None:
    if not links:
        return
    print()
    print("why they are linked:")
    print_table(["A", "B", "SIGNAL", "VALUE", "SEEN BY", "WEIGHT"],
                [(link["a"], link["b"], s["signal"], s["value"], s["seen_by"], s["weight"])
                 for link in links for s in link["signals"]])
