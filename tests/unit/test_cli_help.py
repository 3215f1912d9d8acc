"""Every command explains itself, and --home / --json work before or after it."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from federation.cli import register_federation_commands
from node.cli import build_parser


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
             ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    for action in parser._actions:  # noqa: SLF001 - argparse keeps sub-commands here
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from commands(sub, (*path, name))


PARSER = build_parser(register_federation_commands)
ALL = list(commands(PARSER))


def test_the_cli_has_its_commands() -> None:
    top = {path[0] for path, _ in ALL}
    assert {"init", "ingest", "status", "query", "peers", "serve", "members", "identity",
            "demo"} <= top


@pytest.mark.parametrize(("path", "parser"), ALL, ids=[" ".join(p) for p, _ in ALL])
def test_every_command_has_a_description(path: tuple[str, ...],
                                         parser: argparse.ArgumentParser) -> None:
    assert parser.description, f"decnet-fed {' '.join(path)} --help has no description"


@pytest.mark.parametrize(("path", "parser"), [(p, s) for p, s in ALL if len(p) == 1],
                         ids=[p[0] for p, _ in ALL if len(p) == 1])
def test_every_top_level_command_shows_an_example(path: tuple[str, ...],
                                                  parser: argparse.ArgumentParser) -> None:
    assert parser.epilog and f"decnet-fed {path[0]}" in parser.epilog


@pytest.mark.parametrize("argv", [
    ["--home", "H", "--json", "status"],
    ["status", "--home", "H", "--json"],
    ["--json", "status", "--home", "H"],
    ["query", "smtp", "corp1.com", "--local", "--home", "H", "--json"],
    ["--home", "H", "peers", "list", "--json"],
])
def test_home_and_json_work_before_or_after_the_command(argv: list[str]) -> None:
    args = PARSER.parse_args(argv)
    assert args.home == "H" and args.json is True


def test_json_is_off_unless_asked() -> None:
    assert PARSER.parse_args(["status"]).json is False
