"""Container HEALTHCHECK: exit 0 when the node's gRPC health service says SERVING.

Asks the plaintext local listener (``[federation] health_listen``, default
127.0.0.1:50552; ``$DECNET_FED_FEDERATION_HEALTH_LISTEN`` overrides it, as in
`serve`) for the overall status, with a short deadline. Exit 1 otherwise.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

DEFAULT_LISTEN = "127.0.0.1:50552"
DEADLINE_S = 3.0


def health_address() -> str:
    """Where the health listener is, as a client dials it (a wildcard host is loopback)."""
    listen = os.environ.get("DECNET_FED_FEDERATION_HEALTH_LISTEN")
    if listen is None:
        home = Path(os.environ.get("DECNET_FED_HOME", "/var/lib/decnet-fed"))
        try:
            with (home / "config.toml").open("rb") as config:
                listen = tomllib.load(config).get("federation", {}).get("health_listen")
        except (OSError, tomllib.TOMLDecodeError):
            listen = None
    host, _, port = (listen or DEFAULT_LISTEN).rpartition(":")
    host = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]", "": "127.0.0.1"}.get(host, host)  # noqa: S104
    return f"{host}:{port}"


def main() -> int:
    address = health_address()
    try:
        with grpc.insecure_channel(address) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=DEADLINE_S)
    except grpc.RpcError as exc:
        print(f"unhealthy: {address}: {exc.code().name}", file=sys.stderr)
        return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    print(f"{address}: {status}")
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


if __name__ == "__main__":
    sys.exit(main())
