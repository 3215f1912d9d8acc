"""The `decnet-fed` command line: argument parsing and dispatch.

`node` may not import `federation`, so the federation's commands (serve,
query to peers, peers, whoami …) are added by `federation.cli`, which is the
console-script entry point; it calls `run` here with its own registrar.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence

from node import __version__
from node.cli.cluster_commands import register_cluster_commands
from node.cli.hooks import CliHooks, Command, CommandAdder, shared_options, with_example
from node.cli.logs import FORMATS, configure_logging
from node.cli.node_commands import (
    TERMINAL_LIMIT,
    cmd_ingest,
    cmd_init,
    cmd_observations,
    cmd_status,
)
from node.cli.profile_commands import register_profile_commands
from node.cli.render import printable
from node.cli.simulate_commands import register_simulate_commands
from node.config import resolve_home
from node.errors import NodeError
from node.store import OBSERVATION_SORTS

Registrar = Callable[[CommandAdder], None]


def register_node_commands(add: CommandAdder) -> None:
    """The commands that work on the local node alone."""
    init = add("init", cmd_init, "create the node home (config, store); safe to re-run",
               example="decnet-fed init --name sensor-eu-1 --home ~/node")
    init.add_argument("--name", help="node name (default: the host name)")
    init.add_argument("--new-identity", action="store_true",
                      help="make a new node key when an initialised home lost its own"
                           " (peers must then trust the new key)")

    ingest = add("ingest", cmd_ingest, "ingest sensor logs (files, .gz, '-' for stdin)",
                 example="decnet-fed ingest /var/log/decnet/*.log cowrie.json.gz\n"
                         "decnet-fed ingest --follow /var/log/decnet/relay.log")
    ingest.add_argument("paths", nargs="+", metavar="PATH")
    ingest.add_argument("--follow", action="store_true",
                        help="keep tailing the files; resumes from the saved offset on restart")

    observations = add("observations", cmd_observations, "list attacker observations (per IP)",
                       example="decnet-fed observations --service ssh --since 2026-03-01\n"
                               "decnet-fed observations --identity 42 --sort events\n"
                               "decnet-fed observations --json > observations.json")
    observations.add_argument("--limit", type=int, default=None, metavar="N",
                              help=f"at most N rows; 0 = all (default: {TERMINAL_LIMIT} on a"
                                   " terminal, all otherwise and with --json)")
    observations.add_argument("--sort", choices=OBSERVATION_SORTS, default="last",
                              help="last seen (default), first seen, or most events first")
    observations.add_argument("--identity", type=int, metavar="ID", help="of this identity")
    observations.add_argument("--campaign", type=int, metavar="ID", help="of this campaign")
    observations.add_argument("--service", metavar="NAME", help="that touched this service")
    observations.add_argument("--honeypot", metavar="NAME", help="that touched this honeypot")
    observations.add_argument("--since", metavar="YYYY-MM-DD",
                              help="last seen on or after this day (UTC)")

    status = add("status", cmd_status, "show the node home, store size and counts",
                 example="decnet-fed status\ndecnet-fed status --check --json")
    status.add_argument("--check", action="store_true",
                        help="also run SQLite's full integrity check (slow on a large store)")
    register_profile_commands(add)
    register_simulate_commands(add)
    register_cluster_commands(add)


def build_parser(*registrars: Registrar) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="decnet-fed",
        description="Federated intelligence node for honeypot operators.",
    )
    parser.add_argument("--home", help="node home (default $DECNET_FED_HOME or ~/.decnet-fed)")
    parser.add_argument("--json", action="store_true", help="machine-readable JSON output")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("--log-format", choices=FORMATS, default="text",
                        help="log lines as text (default) or JSON objects, one per line")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an unexpected error")
    parser.add_argument("--version", action="version", version=f"decnet-fed {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    shared = shared_options()

    def add(name: str, handler: Command, help_text: str, *,
            example: str = "") -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text,
                                  parents=[shared], **with_example(example))
        sub.set_defaults(handler=handler)
        return sub

    for registrar in (register_node_commands, *registrars):
        registrar(add)
    return parser


def run(argv: Sequence[str] | None, *registrars: Registrar,
        errors: tuple[type[Exception], ...] = (), hooks: CliHooks | None = None) -> int:
    """Parse ``argv``, run the chosen command, and turn known errors into exit status 1."""
    args = build_parser(*registrars).parse_args(argv)
    args.hooks = hooks or CliHooks()
    configure_logging(args.verbose, args.log_format)
    os.umask(0o077)  # everything the node writes is the operator's alone
    args.home = resolve_home(args.home)
    handler: Command = args.handler
    caught: tuple[type[Exception], ...] = (NodeError, *errors)
    try:
        return asyncio.run(handler(args))
    except caught as exc:
        print(f"decnet-fed: error: {printable(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `decnet-fed observations | head`: the reader left
        _silence_stdout()
        return 141
    except Exception as exc:
        if args.debug:
            raise
        print(f"decnet-fed: internal error: {type(exc).__name__}: {printable(str(exc))[:300]}"
              " (run again with --debug for the traceback, and report it)", file=sys.stderr)
        return 70


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """The node-only CLI (no federation commands)."""
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
