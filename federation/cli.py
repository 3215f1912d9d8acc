"""The `decnet-fed` console entry point: node commands plus the federation's own.

Federation commands (whoami, peers, serve) register here, `init` gains a step
that creates the node key, and `query` without ``--local`` is answered by the
trusted peers (the ``remote_query`` hook, `node.cli.hooks`); the node's
commands come from `node.cli`, which must not import this package.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from federation.blind.asker import BLIND_TABLES_DIR, TableCache, ask_blind
from federation.blind.published import gossiped_keys
from federation.client import OK, FederationClient, peer_certificate
from federation.config import (
    FederationConfig,
    FederationSettings,
    ServerLimits,
    load_federation_config,
)
from federation.demo import demo_directory, run_demo
from federation.errors import (
    FederationError,
    HomeFileError,
    PeerUnreachable,
    PinMismatch,
)
from federation.gossip.config import GossipConfig, load_discovery_config, load_gossip_config
from federation.gossip.discovery import (
    CANDIDATES_FILENAME,
    DiscoveryConfig,
    DiscoveryError,
    load_candidates,
)
from federation.gossip.index import FederatedIndex, Seen, load_records
from federation.gossip.record import Kind, Record
from federation.gossip.store import GossipStore
from federation.keys import (
    NodeKey,
    encode_public_key,
    ensure_key_file,
    load_key_file,
    parse_public_key,
)
from federation.privacy import PrivacyPolicy
from federation.report import answer_row, print_report, query_report, question_text
from federation.runtime import GOSSIP_FILE, ListenError, start_configured_node
from federation.tls import make_certificate
from federation.trust import Peer, TrustStore, check_address
from federation.wire import (
    FingerprintQuestion,
    NodeInfoQuestion,
    Question,
    SimhashQuestion,
    SmtpQuestion,
)
from node.cli import run
from node.cli.hooks import CliHooks, CommandAdder, InitContext, shared_options
from node.cli.render import print_json, print_pairs, print_table, table_time
from node.config import Config, render_section
from node.errors import CommandError
from node.home import open_store, require_home
from node.ingest.timestamps import format_time_us
from node.profile.simhash import parse_simhash
from node.query import (
    GroupSummary,
    MalformedQuery,
    SharedMatch,
    StoreQuery,
    check_simhash_question,
    fingerprint_question,
    node_totals,
)

logger = logging.getLogger(__name__)


def register_federation_commands(add: CommandAdder) -> None:
    """Federation sub-commands, the init key step and the peers' `query` handler."""

    demo = add("demo", cmd_demo, "run a three-node federation on loopback and ask it questions",
               example="decnet-fed demo\ndecnet-fed demo --json")
    demo.add_argument("--dir", default=None, metavar="DIR",
                      help="keep the three node homes in DIR (default: a temporary directory,"
                           " removed afterwards)")
    demo.add_argument("--serve", action="store_true",
                      help="keep the federation serving after the questions; Ctrl-C stops it")

    add("members", cmd_members,
        "the federation as this node's serve sees it: peers, liveness, score, records",
        example="decnet-fed members\ndecnet-fed members --json")
    whoami = add("whoami", cmd_whoami,
                 "print this node's public key and key id (give them to peers)",
                 example="decnet-fed whoami\ndecnet-fed whoami --certificate > me.pem\n"
                         "decnet-fed whoami --tls-key me.key   # for grpcurl, see docs/protocol.md")
    whoami.add_argument("--certificate", action="store_true",
                        help="print this node's TLS certificate (PEM) instead, for a peer that"
                             " cannot fetch it because this node does not serve")
    whoami.add_argument("--tls-key", metavar="FILE", default=None,
                        help="write this node's TLS private key (PEM, derived from the node"
                             " key) to a new FILE of mode 0600, for grpcurl or openssl; it"
                             " is as secret as the node key")

    peers = add("peers", cmd_peers, "manage the trust store: the peers this node answers and asks",
                example="decnet-fed peers add bravo 198.51.100.9:50551 --key PUBKEY\n"
                        "decnet-fed peers list --discovered\ndecnet-fed peers check")
    common = shared_options()
    actions = peers.add_subparsers(dest="peers_action", required=True, metavar="ACTION")
    peer_add = actions.add_parser("add", parents=[common], help="trust a peer's public key",
                                  description="trust a peer's public key")
    peer_add.add_argument("name", metavar="NAME")
    peer_add.add_argument("address", metavar="ADDRESS", help="HOST:PORT the peer serves on")
    peer_add.add_argument("--certificate", metavar="FILE", default=None,
                          help="the peer's certificate as its `whoami --certificate` prints it"
                               " ('-' = stdin); default: fetched from ADDRESS")
    peer_add.add_argument("--key", required=True, metavar="PUBKEY",
                          help="the peer's public key, as its `decnet-fed whoami` prints it")
    peer_update = actions.add_parser("update", parents=[common],
                                     help="change a trusted peer's address or key",
                                     description="change a trusted peer's address or key"
                                                 " (its certificate is fetched again)")
    peer_update.add_argument("name", metavar="NAME")
    peer_update.add_argument("--address", metavar="HOST:PORT", default=None)
    peer_update.add_argument("--key", metavar="PUBKEY", default=None)
    peer_update.add_argument("--certificate", metavar="FILE", default=None,
                             help="the peer's certificate ('-' = stdin); default: fetched")
    peer_update.set_defaults(update=True)
    peer_list = actions.add_parser("list", parents=[common], help="list trusted peers",
                                   description="list trusted peers")
    peer_list.add_argument("--discovered", action="store_true",
                           help="list the nodes zeroconf found instead (candidates only: talked"
                                " to once their key is trusted)")
    check = actions.add_parser("check", parents=[common],
                               help="ask each peer who it is (signed GetNodeInfo)",
                               description="ask each peer who it is (signed GetNodeInfo)")
    check.add_argument("--peer", action="append", default=None, metavar="PEER",
                       help="check only this peer (repeatable)")
    peer_remove = actions.add_parser("remove", parents=[common], help="stop trusting a peer",
                                     description="stop trusting a peer")
    peer_remove.add_argument("name", metavar="NAME")

    serve = add("serve", cmd_serve, "answer trusted peers over gRPC until SIGTERM",
                example="decnet-fed serve --listen 0.0.0.0:50551")
    serve.add_argument("--listen", metavar="HOST:PORT",
                       help="address to listen on (default: [federation] listen)")
    serve.add_argument("--health-listen", metavar="HOST:PORT", default=None,
                       help="local health/reflection listener (default: [federation]"
                            " health_listen; '' turns it off)")
    serve.add_argument("--metrics-listen", metavar="HOST:PORT", default=None,
                       help="Prometheus endpoint (default: [federation] metrics_listen;"
                            " '' turns it off)")
    serve.add_argument("--plaintext", action="store_true",
                       help="no TLS (loopback tests only; also [federation] plaintext)")


async def init_node_key(context: InitContext) -> Mapping[str, object]:
    """`init` step: create the node key pair once (mode 0600); document the settings once.

    A home that was initialised before and lost its key is not given a new one
    silently: every peer knows the node by that key and would refuse it.
    """
    config = context.config
    fed = load_federation_config(config)
    if not context.created and not fed.key_path.exists() and not context.new_identity:
        raise CommandError(
            f"{fed.key_path} is missing from this initialised home: restore it from your"
            " backup (peers know this node by it), or run `init --new-identity` to make a"
            " new key and give peers its public key")
    key, _ = ensure_key_file(fed.key_path)
    text = config.config_path.read_text(encoding="utf-8")
    if "[federation]" not in text:
        with config.config_path.open("a", encoding="utf-8") as out:
            out.write(render_federation_config())
    return {"key_id": key.key_id, "public_key": key.public.text}


def render_federation_config() -> str:
    """The federation's sections with their documented defaults, commented out."""
    sections = [render_section(name, settings, commented=True) for name, settings in (
        ("federation", FederationSettings()), ("limits", ServerLimits()),
        ("privacy", PrivacyPolicy()), ("gossip", GossipConfig()),
        ("discovery", DiscoveryConfig()))]
    return ("\n# Federation settings (docs/protocol.md); defaults shown, uncomment to change.\n"
            + "\n".join(sections))


def _load(args: argparse.Namespace) -> tuple[FederationConfig, NodeKey]:
    fed = load_federation_config(require_home(args.home))
    return fed, load_key_file(fed.key_path)


async def gossiped_records(config: Config, kind: Kind | None = None) -> list[Record] | None:
    """The live records of trusted origins in this home's gossip file, only of ``kind``
    if given (None: no file)."""
    fed = load_federation_config(config)
    path = config.home_file(GOSSIP_FILE)
    if not path.exists():
        return None
    trust = TrustStore.load(fed.peers_path)
    try:
        return await asyncio.to_thread(load_records, path,
                                       lambda origin: trust.by_key_id(origin) is not None, kind)
    except sqlite3.Error as exc:
        raise CommandError(gossip_file_problem(path, exc)) from None


async def federated_index(config: Config) -> FederatedIndex | None:
    """What trusted peers gossiped, from this home's gossip file (None: there is none)."""
    records = await gossiped_records(config)
    if records is None:
        return None
    key = load_key_file(load_federation_config(config).key_path)
    return FederatedIndex(records, key.key_id)


async def _gossiped_oprf_keys(config: Config) -> dict[str, dict[int, bytes]]:
    """Each peer's OPRF keys as gossip says (empty without gossip: NodeInfo is taken)."""
    try:
        records = await gossiped_records(config, Kind.BLIND_KEY)  # not every summary
    except CommandError as exc:
        logger.warning("%s; OPRF keys are not checked against gossip", exc)
        return {}
    return gossiped_keys(records or [])


async def shared_lookup(config: Config) -> Callable[[GroupSummary], SharedMatch] | None:
    """The `shared` hook: local summaries looked up among gossiped ones."""
    try:
        index = await federated_index(config)
    except CommandError as exc:
        logger.warning("%s", exc)  # the identity is shown without what peers gossiped
        return None
    return None if index is None else index.matches


async def cmd_query_gossiped(args: argparse.Namespace) -> int:
    """`query fingerprint|simhash --gossiped`: distinct other operators, asking no one."""
    index = await federated_index(require_home(args.home))
    if index is None:
        raise CommandError("no gossip here yet: `decnet-fed serve` gossips with the trusted"
                           " peers")
    try:
        if args.query_kind == "fingerprint":
            value = fingerprint_question(args.kind, args.value)
            seen = index.fingerprint(args.kind, value) if value else Seen(0)
            question: dict[str, object] = {"kind": "fingerprint", "fingerprint": args.kind,
                                           "value": value or args.value}
        else:
            parsed = parse_simhash(args.simhash)
            if not isinstance(parsed, int) or not parsed:
                raise MalformedQuery(f"{args.simhash!r} is not a non-zero 16-hex SimHash")
            check_simhash_question(args.kind, parsed, args.within)
            seen = index.simhash(args.kind, parsed, args.within)
            question = {"kind": "simhash", "simhash_kind": args.kind,
                        "simhash": f"{parsed:016x}", "within": args.within}
    except MalformedQuery as exc:
        raise CommandError(str(exc)) from None
    result: dict[str, object] = {
        "question": question, "mode": "gossiped", "seen": seen.operators > 0,
        "operators": seen.operators, "records_held": index.records,
        "operators_gossiping": index.origins}
    if args.query_kind == "simhash":
        result["min_distance"] = seen.min_distance
    if args.json:
        print_json(result)
    else:
        near = f" (nearest at distance {seen.min_distance})" \
            if seen.min_distance is not None else ""
        print(f"seen by {seen.operators} other operator{'' if seen.operators == 1 else 's'}"
              f"{near}, from gossip ({index.records} records of {index.origins} operators;"
              " nobody was asked)")
    return 0


def gossip_file_problem(path: Path, exc: sqlite3.Error) -> str:
    return (f"the gossip file {path} cannot be read ({exc}): stop serve, move it aside, and"
            " serve again (peers resend what it held)")


def member_rows(fed: FederationConfig, key: NodeKey) -> list[dict[str, object]] | None:
    """This node and each trusted peer as the running `serve` last wrote them (None: no
    gossip file yet)."""
    path = fed.node.home_file(GOSSIP_FILE)
    if not path.exists():
        return None
    trust = TrustStore.load(fed.peers_path)
    try:
        store = GossipStore(path, read_only=True)
        try:
            members = {row.peer: row for row in store.members()}
            held = store.held()
            incarnation = store.counter("incarnation", 0)
        finally:
            store.close()
    except sqlite3.Error as exc:
        raise CommandError(gossip_file_problem(path, exc)) from None
    rows: list[dict[str, object]] = [{
        "name": fed.node.node.name, "key_id": key.key_id, "address": fed.settings.listen,
        "status": "self", "incarnation": incarnation, "score": None, "last_sync": None,
        "records_held": held.get(key.key_id, (0, 0))[0]}]
    for peer in trust:
        row = members.get(peer.key.key_id)
        rows.append({
            "name": peer.name, "key_id": peer.key.key_id, "address": peer.address,
            "status": row.state if row else "unknown",
            "incarnation": row.incarnation if row else None,
            "score": None if row is None or row.score is None else round(row.score, 1),
            "last_sync": None if row is None or row.last_sync_s is None
            else format_time_us(int(row.last_sync_s * 1_000_000)),
            "records_held": held.get(peer.key.key_id, (0, 0))[0]})
    return rows


async def cmd_members(args: argparse.Namespace) -> int:
    """The one-screen view of the federation as the running `serve` last saw it."""
    fed, key = _load(args)
    rows = member_rows(fed, key)
    if rows is None:
        raise CommandError("no gossip here yet: start `decnet-fed serve` (it gossips with the"
                           " trusted peers and keeps this table)")
    if args.json:
        print_json(rows)
        return 0
    print_table(["NAME", "KEY ID", "ADDRESS", "STATUS", "INCARNATION", "SCORE", "LAST SYNC",
                 "RECORDS"],
                [(r["name"], r["key_id"], r["address"], r["status"],
                  "-" if r["incarnation"] is None else r["incarnation"],
                  "-" if r["score"] is None else r["score"],
                  table_time(r["last_sync"]),
                  r["records_held"]) for r in rows])
    return 0


async def federation_status(config: Config) -> dict[str, object]:
    """The `status` hook: trusted peers with what `serve` last saw of them (liveness,
    score, last sync, records held), and whether blind questions are served."""
    fed = load_federation_config(config)
    try:
        key = load_key_file(fed.key_path)
    except HomeFileError:
        return {}
    blind = {"served": fed.privacy.blind_enabled,
             "key_lifetime_s": fed.privacy.blind_epoch_s,
             "evaluations_per_peer_per_day": fed.privacy.daily_blind_evaluations}
    try:
        rows = member_rows(fed, key)
    except CommandError as exc:
        return {"peers": str(exc), "blind_questions": blind}
    if rows is None:
        peers: object = [{"name": p.name, "status": "not serving yet (decnet-fed serve)",
                          "address": p.address} for p in TrustStore.load(fed.peers_path)]
    else:
        peers = [{"name": r["name"], "status": r["status"], "score": r["score"],
                  "last_sync": r["last_sync"], "records_held": r["records_held"]}
                 for r in rows if r["status"] != "self"]
    return {"peers": peers, "blind_questions": blind}


def _write_secret(path: Path, data: bytes) -> None:
    """A new file of mode 0600 holding ``data``; never overwrites."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CommandError(f"{path} already exists; choose a new file name") from None
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "wb") as out:
        out.write(data)


async def cmd_whoami(args: argparse.Namespace) -> int:
    fed, key = _load(args)
    if args.tls_key is not None:
        _write_secret(Path(args.tls_key), make_certificate(key)[0])
        print(f"TLS private key written to {args.tls_key} (mode 0600)", file=sys.stderr)
        return 0
    if args.certificate:
        sys.stdout.write(make_certificate(key)[1].decode("ascii"))
        return 0
    if args.json:
        print_json({"public_key": key.public.text, "key_id": key.key_id})
    else:
        print_pairs([("node", fed.node.node.name), ("public key", key.public.text),
                     ("key id", key.key_id)])
    return 0


async def cmd_peers(args: argparse.Namespace) -> int:
    fed = load_federation_config(require_home(args.home))
    trust = TrustStore.load(fed.peers_path)
    as_json = getattr(args, "json", False)
    if args.peers_action == "list" and args.discovered:
        return _list_discovered(fed, trust, as_json=as_json)
    if args.peers_action == "list":
        if as_json:
            print_json([peer.as_json() for peer in trust])
        elif not len(trust):
            print("no trusted peers: add one with `decnet-fed peers add NAME HOST:PORT --key KEY`")
        else:
            print_table(["NAME", "ADDRESS", "KEY ID", "PUBLIC KEY"],
                        [(p.name, p.address, p.key.key_id, p.key.text) for p in trust])
        return 0
    if args.peers_action == "check":
        return await _check_peers(fed, trust, args.peer, as_json=as_json)
    if args.peers_action in ("add", "update"):
        return await _add_peer(fed, trust, args, as_json=as_json)
    peer = trust.remove(args.name)
    trust.save(fed.peers_path)
    if as_json:
        print_json({**peer.as_json(), "action": "remove"})
    else:
        print(f"removed peer {peer.name} ({peer.address}, key id {peer.key.key_id});"
              " a running `serve` drops it on SIGHUP")
    return 0


def _list_discovered(fed: FederationConfig, trust: TrustStore, *, as_json: bool) -> int:
    """Candidates found by zeroconf, as the running `serve` last saved them."""
    loaded = load_candidates(fed.node.home_file(CANDIDATES_FILENAME))
    if loaded.problem:
        raise CommandError(f"discovered candidates unreadable: {loaded.problem}")
    rows = [{"name": c.name, "address": c.address, "key_id": c.key_id,
             "schema_versions": f"{c.min_schema_version}..{c.max_schema_version}",
             "trusted": trust.by_key_id(c.key_id) is not None,
             "last_seen": format_time_us(int(c.last_seen_s * 1_000_000))}
            for c in loaded.candidates]
    if as_json:
        print_json(rows)
    elif not rows:
        print("no nodes discovered: zeroconf runs in `serve` only on the interfaces"
              " [discovery] interfaces names (none by default)")
    else:
        print_table(["NAME", "ADDRESS", "KEY ID", "SCHEMA", "TRUSTED", "LAST SEEN"],
                    [(r["name"], r["address"], r["key_id"], r["schema_versions"],
                      "yes" if r["trusted"] else "no (a candidate)", table_time(r["last_seen"]))
                     for r in rows])
    return 0


async def _add_peer(fed: FederationConfig, trust: TrustStore, args: argparse.Namespace, *,
                    as_json: bool) -> int:
    """Trust a peer and fetch its certificate; re-adding the same peer retries the fetch."""
    if getattr(args, "update", False):
        old = trust.by_name(args.name)
        if old is None:
            raise CommandError(f"no peer named {args.name[:80]!r}: `decnet-fed peers list`"
                               " shows them; `peers add` trusts a new one")
        trust.remove(old.name)  # saved only once the new entry is complete
        args.address = args.address or old.address
        args.key = args.key or old.key.text
    own = load_key_file(fed.key_path)
    if encode_public_key(parse_public_key(args.key)) == own.public.text:
        raise CommandError("that is this node's own key: give `peers add` the key the peer's"
                           " `decnet-fed whoami` prints")
    known = trust.by_name(args.name)
    if known is not None and known.key.text == encode_public_key(parse_public_key(args.key)) \
            and known.address == check_address(args.address):
        peer = known
    else:
        peer = trust.add(args.name, args.address, args.key)
    if args.certificate is not None:
        trust.set_certificate(peer.name, _read_certificate(args.certificate))
        note = None
    else:
        note = await _fetch_certificate(trust, peer, fed)
    peer = trust.by_name(peer.name) or peer
    trust.save(fed.peers_path)
    if as_json:
        print_json({**peer.as_json(), "action": args.peers_action, "note": note})
    else:
        print(f"trusted peer {peer.name} ({peer.address}, key id {peer.key.key_id})"
              f"{', certificate verified' if peer.certificate else ''};"
              " a running `serve` picks it up on SIGHUP")
        if note:
            print(note)
    return 0


def _read_certificate(source: str) -> bytes:
    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read the certificate: {exc.strerror or exc}") from None
    return data[:65536]


async def _fetch_certificate(trust: TrustStore, peer: Peer, fed: FederationConfig) -> str | None:
    """Store the peer's certificate if its address serves one bound to its key.

    A certificate bound to another key is an error (wrong address, or someone
    in the middle); an unreachable peer is added all the same, with a note.
    """
    if fed.settings.plaintext:
        return None
    try:
        async with asyncio.timeout(fed.settings.query_deadline_s):
            pem = await peer_certificate(peer)
    except PinMismatch as exc:
        raise CommandError(f"{peer.address} does not serve key {peer.key.key_id} ({exc});"
                           " check the address and the key, nothing was changed") from None
    except (PeerUnreachable, TimeoutError) as exc:
        return (f"note: {peer.address} is unreachable ({exc or 'timed out'}); {peer.name} can"
                " connect to this node once its certificate is known: `serve` keeps trying to"
                " fetch it, or add it with --certificate (the peer's `whoami --certificate`)")
    trust.set_certificate(peer.name, pem)
    return None


async def _check_peers(fed: FederationConfig, trust: TrustStore, names: list[str] | None,
                       *, as_json: bool) -> int:
    key = load_key_file(fed.key_path)
    peers = _chosen_peers(trust, names)
    async with FederationClient(key, plaintext=fed.settings.plaintext,
                                deadline_s=fed.settings.query_deadline_s) as client:
        rows = await client.ask_all(peers, NodeInfoQuestion())
    report = [answer_row(row) for row in rows]
    if as_json:
        print_json(report)
    else:
        print_table(["PEER", "ADDRESS", "STATUS", "NAME", "SCHEMA", "LATENCY", "NOTE"], [
            (r["peer"], r["address"], r["status"], r.get("name", "-"),
             r.get("schema_versions", "-"), f"{r['latency_ms']:.1f} ms",
             r.get("error", "")[:80]) for r in report])
    return 0 if all(row.status == OK for row in rows) else 1


async def cmd_serve(args: argparse.Namespace) -> int:
    fed, key = _load(args)
    listen = check_address(args.listen or fed.settings.listen, any_port=True)
    health_listen = args.health_listen if args.health_listen is not None \
        else fed.settings.health_listen
    if health_listen:
        health_listen = check_address(health_listen, any_port=True)
    plaintext = args.plaintext or fed.settings.plaintext
    gossip = load_gossip_config(fed.node)
    discovery = load_discovery_config(fed.node)
    store = await open_store(fed.node)
    try:
        await store.check(full=False)  # never serve answers from a damaged store
        await store.catch_up()  # the first snapshot sees every stored event
    except BaseException:
        await store.close()
        raise
    try:
        node = await start_configured_node(fed, key, StoreQuery(store), listen=listen,
                                           plaintext=plaintext, health_listen=health_listen)
    except ListenError as exc:
        await store.close()
        raise CommandError(f"{exc}; is another node (or program) using that port? Choose"
                           " another with --listen (or --health-listen)") from None
    except BaseException:
        await store.close()
        raise
    node.start_maintenance(fed.privacy.answer_refresh_s,
                           catch_up=(fed.node.store.catch_up_interval_s, store.catch_up))
    if gossip.enabled:
        path = fed.node.home_file(GOSSIP_FILE)
        try:
            node.start_gossip(gossip, StoreQuery(store), path, plaintext)
        except sqlite3.Error as exc:
            await node.stop(0)
            await store.close()
            raise CommandError(gossip_file_problem(path, exc)) from None
    metrics_listen = fed.settings.metrics_listen if args.metrics_listen is None \
        else args.metrics_listen
    metrics_port = None
    if metrics_listen:
        try:
            metrics_port = node.start_metrics(check_address(metrics_listen, any_port=True),
                                              lambda: node_totals(store))
        except OSError as exc:
            await node.stop(0)
            await store.close()
            raise CommandError(f"cannot serve metrics on {metrics_listen}: {exc.strerror or exc};"
                               " is another node using that port? ([federation]"
                               " metrics_listen, or --metrics-listen '')") from None
    try:
        await node.start_discovery(discovery, fed.node.node.name,
                                   fed.node.home_file(CANDIDATES_FILENAME))
    except DiscoveryError as exc:
        await node.stop(0)
        await store.close()
        raise CommandError(f"zeroconf discovery: {exc}; fix [discovery] interfaces") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, node.reload)
    host = listen.rpartition(":")[0]
    bound = f"{host}:{node.port}"
    health = f"{health_listen.rpartition(':')[0]}:{node.health_port}" if health_listen else None
    metrics_at = f"{metrics_listen.rpartition(':')[0]}:{metrics_port}" if metrics_port else None
    info = {"listen": bound, "port": node.port, "health": health, "metrics": metrics_at,
            "key_id": key.key_id,
            "tls": not plaintext, "peers": len(node.trust)}
    if args.json:
        print_json(info)
    else:
        print(f"serving {fed.node.node.name!r} on {bound}"
              f" ({'plaintext' if plaintext else 'mutual TLS'}, key id {key.key_id},"
              f" {len(node.trust)} trusted peers), health on {health or 'no local listener'};"
              " SIGTERM stops, SIGHUP reloads peers and reopens the audit log", flush=True)
    missing = [] if plaintext else [p.name for p in node.trust if p.certificate is None]
    if missing:
        logger.warning("no certificate yet for %s: they cannot connect until it is fetched"
                       " (retried every %g s)", ", ".join(missing),
                       fed.settings.peer_certificate_retry_s)
    sys.stdout.flush()
    try:
        async with node:
            await stop.wait()
    finally:
        await store.close()
    return 0


async def cmd_demo(args: argparse.Namespace) -> int:
    """The README's first command: a real federation, no setup, nothing outside its directory."""
    try:
        with demo_directory(args.dir) as base:
            result = await run_demo(base, serve=args.serve and not args.json)
    except FileExistsError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        print_json(result)
        return 0
    print(f"demo federation: {len(result['nodes'])} nodes on loopback, mutual TLS pinned to each"
          f" node's Ed25519 key, every question signed")
    print_table(["NODE", "ADDRESS", "KEY ID", "EVENTS INGESTED"],
                [(n["name"], n["address"], n["key_id"], n["events_stored"])
                 for n in result["nodes"]])
    for report in result["questions"]:
        how = "blind" if all(a["mode"] == "blind" for a in report["answers"]) else "openly"
        print(f"\n{result['asker']} asks its peers {how}: {question_text(report['question'])}")
        print_report(report)
    gossip = result["gossip"]
    print("(blind: each peer evaluated its key on random-looking elements and never learnt"
          " the domain or fingerprint; the table it sent reveals only its size)")
    print(f"\ngossip converged in {gossip['converged_in_s']:g} s; {result['asker']} holds"
          " signed records (identity and campaign summaries, OPRF keys) from: "
          + ", ".join(f"{name} ({count})" for name, count in gossip["records_held"].items()))
    print_table(["FINGERPRINT", "VALUE", "OTHER OPERATORS (FROM GOSSIP)"],
                [(f["kind"], f["value"], f["operators"]) for f in gossip["fingerprints"]])
    for seen in gossip["identities_also_seen"]:
        print(f"{result['asker']}'s identity also seen by {seen['operators']} other operator"
              f"{'' if seen['operators'] == 1 else 's'}: {', '.join(seen['signals'])}")
    print("\nnext: `decnet-fed demo --dir DIR --serve` keeps the federation up to try"
          " `query`, `members`, `identities --shared` by hand")
    return 0


def _question(args: argparse.Namespace) -> Question:
    if args.query_kind == "smtp":
        return SmtpQuestion(args.domain)
    if args.query_kind == "fingerprint":
        return FingerprintQuestion(args.kind, args.value)
    text = args.simhash.strip().lower().removeprefix("0x")
    if len(text) != 16 or any(c not in "0123456789abcdef" for c in text) or not int(text, 16):
        raise CommandError(f"{args.simhash!r} is not a non-zero 16-hex SimHash")
    if not 0 <= args.within <= 64:
        raise CommandError("--within must be 0..64")
    return SimhashQuestion(args.kind, int(text, 16), args.within)


def _chosen_peers(trust: TrustStore, names: list[str] | None, *,
                  local_hint: bool = False) -> list[Peer]:
    if not names:
        peers = list(trust)
        if not peers:
            raise CommandError("no trusted peers: add one with `decnet-fed peers add`"
                               + (", or use --local" if local_hint else ""))
        return peers
    chosen = []
    for name in dict.fromkeys(names):
        peer = trust.by_name(name)
        if peer is None:
            raise CommandError(f"no peer named {name!r} (see `decnet-fed peers list`)")
        chosen.append(peer)
    return chosen


async def cmd_query_peers(args: argparse.Namespace) -> int:
    """`query KIND …` without ``--local``: ask every (or each ``--peer``) trusted peer."""
    fed, key = _load(args)
    peers = _chosen_peers(TrustStore.load(fed.peers_path), args.peer, local_hint=True)
    question = _question(args)
    async with FederationClient(key, plaintext=fed.settings.plaintext,
                                deadline_s=fed.settings.query_deadline_s) as client:
        if isinstance(question, SmtpQuestion | FingerprintQuestion) and not args.open:
            try:
                (rows,) = await ask_blind(
                    client, peers, [question],
                    TableCache(fed.node.home / BLIND_TABLES_DIR),
                    await _gossiped_oprf_keys(fed.node))
            except MalformedQuery as exc:
                raise CommandError(str(exc)) from None
        else:
            rows = await client.ask_all(peers, question)
    report = query_report(question, rows)
    if getattr(args, "json", False):
        print_json(report)
    else:
        print_report(report)
    return 0 if any(row.status == OK for row in rows) else 1


def main(argv: Sequence[str] | None = None) -> int:
    return run(argv, register_federation_commands, errors=(FederationError, HomeFileError),
               hooks=CliHooks(init_steps=(init_node_key,), remote_query=cmd_query_peers,
                              gossiped_query=cmd_query_gossiped, shared=shared_lookup,
                              status=federation_status))


if __name__ == "__main__":
    sys.exit(main())
