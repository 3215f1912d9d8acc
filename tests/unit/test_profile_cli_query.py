"""`query` without --local goes to the remote-query hook, or refuses clearly."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from node.cli.hooks import CliHooks
from node.cli.profile_commands import NO_FEDERATION, cmd_query
from node.errors import CommandError


def args(peer: list[str] | None = None, hooks: CliHooks | None = None) -> argparse.Namespace:
    return argparse.Namespace(home=Path("/nonexistent"), json=False, local=False, peer=peer,
                              query_kind="smtp", domain="victim-co.com",
                              hooks=hooks or CliHooks())


async def test_without_federation_the_query_refuses() -> None:
    with pytest.raises(CommandError, match=NO_FEDERATION):
        await cmd_query(args())


async def test_the_remote_query_hook_answers() -> None:
    seen: list[argparse.Namespace] = []

    async def remote(namespace: argparse.Namespace) -> int:
        seen.append(namespace)
        return 0

    assert await cmd_query(args(peer=["p1"], hooks=CliHooks(remote_query=remote))) == 0
    assert seen[0].peer == ["p1"]
