"""The `decnet-fed` console entry point: node commands plus the federation's own.

Federation commands (serve, query to peers, peers, whoami) register here; the
node's commands come from `node.cli`, which must not import this package.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from node.cli import CommandAdder, run


def register_federation_commands(add: CommandAdder) -> None:
    """Federation sub-commands; filled in by the federation issue."""


def main(argv: Sequence[str] | None = None) -> int:
    return run(argv, register_federation_commands)


if __name__ == "__main__":
    sys.exit(main())
