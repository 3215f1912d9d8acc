"""The `decnet-fed` console script.

gRPC's C core logs to stderr on its own (a bind failure, every refused TLS
handshake) in a format of its own, beside the one line the CLI prints for
the same failure. Its verbosity is read once, when grpc is first imported,
so it is quieted here, before anything imports grpc; ``GRPC_VERBOSITY=debug``
in the environment still brings it back.
"""

from __future__ import annotations

import os


def main() -> int:
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    from federation.cli import main as cli_main  # after the line above

    return cli_main()
