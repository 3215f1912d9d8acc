"""`query` without --local goes to the installed remote handler, or refuses clearly."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.cli import profile_commands
from node.cli.profile_commands import NO_FEDERATION, cmd_query, set_remote_query
from node.errors import CommandError


@pytest.fixture
def no_remote() -> Iterator[None]:
    saved = profile_commands._remote_query
    set_remote_query(None)
    yield
    set_remote_query(saved)


def args(peer: list[str] | None = None) -> argparse.Namespace:
    return argparse.Namespace(home=Path("/nonexistent"), json=False, local=False, peer=peer,
                              query_kind="smtp", domain="victim-co.com")


async def test_without_federation_the_query_refuses(no_remote: None) -> None:
    with pytest.raises(CommandError, match=NO_FEDERATION):
        await cmd_query(args())


async def test_an_installed_remote_handler_answers(no_remote: None) -> None:
    seen: list[argparse.Namespace] = []

    async def remote(namespace: argparse.Namespace) -> int:
        seen.append(namespace)
        return 0

    set_remote_query(remote)
    assert await cmd_query(args(peer=["p1"])) == 0
    assert seen[0].peer == ["p1"]
