"""The gRPC server: thin glue between the wire and `FederationService`.

Every Federation method goes through one wrapper that receives the *raw*
request bytes (no deserializer: the signature covers exactly these bytes),
calls `FederationService.handle`, and either returns the signed answer with
its envelope in the trailing metadata or ends the call with the status from
`federation.errors.status_for`. Health checking and server reflection are
served next to it.
"""

from __future__ import annotations

import datetime
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from federation.config import ServerLimits
from federation.envelope import ANSWER_METADATA
from federation.errors import FederationError, status_for
from federation.keys import NodeKey
from federation.service import FederationService
from federation.tls import server_credentials
from federation.wire import METHODS, SERVICE

logger = logging.getLogger(__name__)

RawHandler = Callable[[bytes, grpc.aio.ServicerContext[bytes, bytes]], Awaitable[bytes]]


class LogOnce:
    """Remembers the last ``limit`` keys so a flood of identical refusals logs once.

    Refusal details are partly peer-controlled; logging each one would let a
    peer (or anyone who can reach the port) flood the log.
    """

    def __init__(self, limit: int = 1024) -> None:
        self._limit = limit
        self._seen: OrderedDict[str, None] = OrderedDict()

    def first(self, key: str) -> bool:
        if key in self._seen:
            self._seen.move_to_end(key)
            return False
        self._seen[key] = None
        if len(self._seen) > self._limit:
            self._seen.popitem(last=False)
        return True


def _method_handler(service: FederationService, method: str, refusals: LogOnce) -> RawHandler:
    async def call(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        try:
            reply = await service.handle(method, request, context.invocation_metadata() or ())
        except Exception as exc:
            code, details = status_for(exc)
            if not isinstance(exc, FederationError):
                logger.exception("internal error answering %s", method)
            elif refusals.first(f"{method} {code.name} {details[:60]}"):
                logger.info("refused %s: %s %s", method, code.name, details[:200])
            await context.abort(code, details)
        context.set_trailing_metadata(((ANSWER_METADATA, reply.envelope),))
        return reply.body

    return call


def federation_handler(service: FederationService) -> grpc.GenericRpcHandler:
    """A generic handler for every Federation method, taking and returning raw bytes."""
    refusals = LogOnce()
    return grpc.method_handlers_generic_handler(SERVICE, {
        method.rsplit("/", 1)[1]: grpc.unary_unary_rpc_method_handler(
            _method_handler(service, method, refusals))
        for method in METHODS
    })


@dataclass(slots=True)
class FederationServer:
    """A started server: its bound port, and a graceful stop."""

    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer

    async def stop(self, grace_s: float | None) -> None:
        """Stop accepting calls; in-flight calls get ``grace_s`` seconds to finish."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_s)

    async def wait(self) -> None:
        await self.server.wait_for_termination()


async def start_server(service: FederationService, listen: str, *, key: NodeKey | None,
                       limits: ServerLimits, plaintext: bool) -> FederationServer:
    """Bind ``listen`` (``HOST:PORT``, port 0 = any) and start serving.

    TLS with the identity-bound certificate unless ``plaintext``; ``key`` is
    needed for TLS.
    """
    server = grpc.aio.server(
        maximum_concurrent_rpcs=limits.max_concurrent_rpcs,
        options=[
            ("grpc.max_receive_message_length", limits.max_request_bytes),
            ("grpc.max_metadata_size", limits.max_metadata_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    server.add_generic_rpc_handlers((federation_handler(service),))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
         reflection.SERVICE_NAME), server)
    if plaintext:
        port = server.add_insecure_port(listen)
    else:
        if key is None:
            raise ValueError("TLS needs the node key")
        now = datetime.datetime.now(datetime.UTC)
        port = server.add_secure_port(listen, server_credentials(key, now))
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    await server.start()
    for name in ("", SERVICE):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return FederationServer(server, port, health_servicer)
