"""Health checking and reflection live on the local monitoring listener only.

Local monitoring (the container healthcheck, grpcurl on the host) uses the
plaintext monitoring listener, which serves health and reflection and no
Federation method; the federation port serves the Federation methods only.
"""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from federation.keys import NodeKey
from federation.wire import SERVICE, SMTP_TARGET_SEEN
from tests.federation_helpers import FakeQuery
from tests.integration.federation_nodes import running_node


async def _serving(channel: grpc.aio.Channel) -> bool:
    stub = health_pb2_grpc.HealthStub(channel)
    for service in ("", SERVICE):
        reply = await stub.Check(  # type: ignore[attr-defined]
            health_pb2.HealthCheckRequest(service=service), timeout=5)
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            return False
    return True


async def test_local_monitoring_listener_reports_serving() -> None:
    async with running_node("alpha", FakeQuery()) as alpha:
        async with grpc.aio.insecure_channel(alpha.health_address) as channel:
            assert await _serving(channel)


async def test_the_federation_port_serves_no_health_or_reflection_stream() -> None:
    # Health.Watch and reflection streams never end: on the federation port they
    # would hold gRPC's call slots outside the per-peer accounting.
    peer = NodeKey.generate()
    async with running_node("alpha", FakeQuery()) as alpha:
        alpha.trust_key("peer", peer)
        async with alpha.channel(peer) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await _serving(channel)
    assert refused.value.code() is grpc.StatusCode.UNIMPLEMENTED


async def test_monitoring_listener_serves_no_federation_method() -> None:
    async with running_node("alpha", FakeQuery()) as alpha:
        async with grpc.aio.insecure_channel(alpha.health_address) as channel:
            call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = \
                channel.unary_unary(SMTP_TARGET_SEEN)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call(b"", timeout=5)
    assert refused.value.code() is grpc.StatusCode.UNIMPLEMENTED


async def test_reflection_lists_and_describes_the_federation_service() -> None:
    async with running_node("alpha", FakeQuery()) as alpha:
        await asyncio.to_thread(_reflect, alpha.health_address)  # the client is blocking


def _reflect(address: str) -> None:
    with grpc.insecure_channel(address) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        assert {SERVICE, "grpc.health.v1.Health"} <= services
        pool = DescriptorPool(database)
        method = pool.FindServiceByName(SERVICE).methods_by_name["SmtpTargetSeen"]
        assert method.input_type.full_name == "decnet.federation.v1.SmtpTargetSeenRequest"
        assert "schema_version" in method.output_type.fields_by_name
