"""What packages `node` may not import add to its commands, passed in, never set globally.

The federation adds an `init` step (the node key), answers `query`
without ``--local`` (from the trusted peers) or with ``--gossiped`` (from
what peers gossiped), and looks local identities up in gossip. `node.cli.run` puts the hooks
on the parsed arguments as ``args.hooks``.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from node.config import Config
from node.query import GroupSummary, SharedMatch

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


class CommandAdder(Protocol):
    """``add(name, handler, help, example=...)`` → the new sub-command's parser (with
    ``--home`` and ``--json``, and its example shown by ``--help``)."""

    def __call__(self, name: str, handler: Command, help_text: str, *,
                 example: str = "") -> argparse.ArgumentParser: ...


def shared_options() -> argparse.ArgumentParser:
    """``--home`` and ``--json`` for a (sub-)sub-command: they work before or after it.

    Their defaults are suppressed so that a value given before the sub-command
    is not overwritten by the sub-command's parser.
    """
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--home", default=argparse.SUPPRESS,
                        help="node home (default $DECNET_FED_HOME or ~/.decnet-fed)")
    shared.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="machine-readable JSON output")
    return shared


def with_example(example: str) -> dict[str, Any]:
    """Parser keywords that show ``example`` under ``--help``."""
    if not example:
        return {}
    lines = "\n".join(f"  {line}" for line in example.strip().splitlines())
    return {"epilog": f"example:\n{lines}",
            "formatter_class": argparse.RawDescriptionHelpFormatter}


@dataclass(frozen=True, slots=True)
class InitContext:
    """What an init step knows: the home's config, whether `init` just created
    it, and whether the operator asked for a new identity on purpose."""

    config: Config
    created: bool
    new_identity: bool


#: A step `init` runs after creating the home. It must be idempotent and
#: returns fields merged into the JSON output and printed as ``name: value``.
InitStep = Callable[[InitContext], Awaitable[Mapping[str, object]]]


#: Given the home's config: a lookup of local summaries among what other operators
#: gossiped (None when this home has no gossip to look in).
SharedLookup = Callable[[Config], Awaitable[Callable[[GroupSummary], SharedMatch] | None]]


@dataclass(frozen=True, slots=True)
class CliHooks:
    """The hooks of one CLI: extra `init` steps, who answers remote queries, and where
    gossiped summaries are looked up."""

    init_steps: tuple[InitStep, ...] = ()
    #: Runs `query` without ``--local``; gets the parsed arguments
    #: (``query_kind``, the kind's values, ``peer`` and ``json``).
    remote_query: Command | None = None
    #: Runs `query fingerprint|simhash --gossiped` (from gossip, asking no one).
    gossiped_query: Command | None = None
    #: `identity ID` and `identities --shared`: "also seen by N other operators".
    shared: SharedLookup | None = None
    #: Extra `status` sections (the federation: peers' liveness, score, records).
    status: Callable[[Config], Awaitable[Mapping[str, object]]] | None = None


def hooks_of(args: argparse.Namespace) -> CliHooks:
    """The hooks `run` attached (none when a command is called directly)."""
    hooks = getattr(args, "hooks", None)
    return hooks if isinstance(hooks, CliHooks) else CliHooks()
