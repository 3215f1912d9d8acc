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
from typing import Any

from node.config import Config
from node.query import GroupSummary, SharedMatch

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]
#: ``add(name, handler, help)`` → the new sub-command's parser (with ``--json``).
CommandAdder = Callable[[str, Command, str], argparse.ArgumentParser]


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
