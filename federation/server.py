"""The gRPC servers: thin glue between the wire and `FederationService`.

Every Federation method goes through one wrapper that takes a slot for the
calling peer (`federation.slots`), reads the *raw* request bytes within the
request deadline (no deserializer: the signature covers exactly these bytes),
waits for the peer's turn (`federation.turns`), calls
`FederationService.handle` with the peer the TLS handshake authenticated,
and either returns the signed answer with its envelope in the trailing
metadata or ends the call with the status from `federation.errors.status_for`.

The methods are registered as stream-unary although the contract is unary (the
bytes on the wire are the same): a unary handler only runs once the whole
request has arrived, so a stream that sends headers and never a body would
hold a slot for as long as its sender liked. This way the handler runs at
once, and the deadline applies to the body.

Two listeners: the federation port (mutual TLS; the Federation methods and
nothing else) and the local monitoring port (plaintext, loopback by default:
health and reflection only), which is what a container healthcheck or
grpcurl on the host uses. Health and reflection stay off the federation port
because their streaming calls (``Health.Watch``, ``ServerReflectionInfo``)
never end and would hold gRPC's call slots outside the per-peer accounting:
a trusted peer could fill them all.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from federation.config import ServerLimits
from federation.envelope import ANSWER_METADATA
from federation.errors import (
    FederationError,
    InvalidQuestion,
    Oversized,
    SlowRequest,
    UnknownKey,
    status_for,
)
from federation.peer_certs import PeerCertificates
from federation.service import FederationService
from federation.slots import StreamSlots
from federation.turns import PeerTurns
from federation.wire import METHODS, SERVICE

logger = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[bytes, bytes]
RawHandler = Callable[[AsyncIterator[bytes], Context], Awaitable[bytes]]
_HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name


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


@dataclass(frozen=True, slots=True)
class _Shared:
    """What every method wrapper of one server shares."""

    service: FederationService
    limits: ServerLimits
    certificates: PeerCertificates | None
    slots: StreamSlots
    turns: PeerTurns
    refusals: LogOnce


def _tls_peer(context: Context, certificates: PeerCertificates | None) -> str | None:
    """The key id the handshake authenticated (None when plaintext)."""
    if certificates is None:
        return None
    presented = list(context.auth_context().get("x509_pem_cert", ()))
    key_id = certificates.key_id_for(presented[0]) if presented else None
    if key_id is None:  # its peer was removed after the connection opened
        raise UnknownKey("client certificate is not (or no longer) trusted")
    return key_id


def _slot_key(context: Context, tls_peer: str | None) -> str:
    if tls_peer is not None:
        return tls_peer
    address = context.peer() or "unknown"
    return address.rpartition(":")[0] or address


def transport_limit(limits: ServerLimits) -> int:
    """The largest message the transport lets through; each method's own is checked after."""
    return max(limits.max_request_bytes, limits.max_bulk_request_bytes)


async def _read_request(requests: AsyncIterator[bytes], limits: ServerLimits) -> bytes:
    """Exactly one request message, whole, within the request deadline."""
    body: bytes | None = None
    try:
        async with asyncio.timeout(limits.request_timeout_s):
            async for message in requests:
                if body is not None:
                    raise InvalidQuestion("one request message per call")
                if len(message) > transport_limit(limits):
                    raise Oversized(f"request of {len(message)} bytes exceeds"
                                    f" {transport_limit(limits)}")
                body = message
    except TimeoutError:
        raise SlowRequest(
            f"request not received within {limits.request_timeout_s:g} s") from None
    if body is None:
        raise InvalidQuestion("no request message")
    return body


def _method_handler(shared: _Shared, method: str) -> RawHandler:
    async def call(requests: AsyncIterator[bytes], context: Context) -> bytes:
        slot: str | None = None
        tls_peer: str | None = None
        in_service = False
        try:
            tls_peer = _tls_peer(context, shared.certificates)
            key = _slot_key(context, tls_peer)
            shared.slots.acquire(key)
            slot = key
            body = await _read_request(requests, shared.limits)
            async with shared.turns.turn(key):
                in_service = True  # from here on the service audits its own refusals
                reply = await shared.service.handle(method, body,
                                                    context.invocation_metadata() or (),
                                                    tls_peer=tls_peer)
        except Exception as exc:
            if tls_peer is not None and not in_service and isinstance(exc, FederationError):
                shared.service.audit_refusal(tls_peer, method, exc)
            code, details = status_for(exc)
            if not isinstance(exc, FederationError):
                logger.exception("internal error answering %s", method)
            elif shared.refusals.first(f"{method} {code.name} {details[:60]}"):
                logger.info("refused %s: %s %s", method, code.name, details[:200])
            await context.abort(code, details)
        finally:
            if slot is not None:
                shared.slots.release(slot)
        context.set_trailing_metadata(((ANSWER_METADATA, reply.envelope),))
        return reply.body

    return call


def federation_handler(shared: _Shared) -> grpc.GenericRpcHandler:
    """A generic handler for every Federation method, taking and returning raw bytes."""
    return grpc.method_handlers_generic_handler(SERVICE, {
        method.rsplit("/", 1)[1]: grpc.stream_unary_rpc_method_handler(
            _method_handler(shared, method))
        for method in METHODS
    })


@dataclass(slots=True)
class GrpcServer:
    """A started server: its bound port, and a graceful stop."""

    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer | None = None
    slots: StreamSlots | None = None

    @property
    def open_calls(self) -> int:
        """Federation calls holding a slot right now (0 for the monitoring listener)."""
        return 0 if self.slots is None else len(self.slots)

    async def stop(self, grace_s: float | None) -> None:
        """Stop accepting calls; in-flight calls get ``grace_s`` seconds to finish."""
        if self.health is not None:
            await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_s)


def _serve_health(server: grpc.aio.Server, services: tuple[str, ...]) -> \
        health.aio.HealthServicer:
    """Health checking and reflection (naming ``services`` too) on ``server``."""
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    reflection.enable_server_reflection((*services, _HEALTH_SERVICE, reflection.SERVICE_NAME),
                                        server)
    return servicer


async def _started(server: grpc.aio.Server, port: int, listen: str) -> None:
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    await server.start()


async def start_server(service: FederationService, listen: str, *, limits: ServerLimits,
                       certificates: PeerCertificates | None) -> GrpcServer:
    """Bind ``listen`` (``HOST:PORT``, port 0 = any) and serve the Federation.

    Mutual TLS with ``certificates`` (the trusted peers'); plaintext when it is None.
    """
    server = grpc.aio.server(
        maximum_concurrent_rpcs=4 * limits.max_concurrent_rpcs,
        options=[
            ("grpc.max_receive_message_length", transport_limit(limits)),
            # gRPC's soft limit refuses at random below its hard one: keep both
            # above the gate's exact limit, so the gate (which audits) decides.
            ("grpc.max_metadata_size", 2 * limits.max_metadata_bytes),
            ("grpc.absolute_max_metadata_size", 4 * limits.max_metadata_bytes),
            ("grpc.max_concurrent_streams", limits.max_streams_per_connection),
            ("grpc.so_reuseport", 0),
        ],
    )
    shared = _Shared(service, limits, certificates,
                     StreamSlots(limits.max_streams_per_peer, limits.max_concurrent_rpcs),
                     PeerTurns(limits.max_answering_per_peer), LogOnce())
    server.add_generic_rpc_handlers((federation_handler(shared),))
    if certificates is None:
        port = server.add_insecure_port(listen)
    else:
        port = server.add_secure_port(listen, certificates.credentials())
    await _started(server, port, listen)
    return GrpcServer(server, port, slots=shared.slots)


async def start_health_server(listen: str) -> GrpcServer:
    """The local monitoring listener: plaintext health checking and reflection only.

    At most 16 calls at once: it is for a healthcheck and an operator's grpcurl.
    """
    server = grpc.aio.server(maximum_concurrent_rpcs=16, options=[("grpc.so_reuseport", 0)])
    servicer = _serve_health(server, (SERVICE,))
    port = server.add_insecure_port(listen)
    await _started(server, port, listen)
    for name in ("", SERVICE):
        await servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return GrpcServer(server, port, servicer)
