"""gRPC health checking and server reflection are served next to the Federation service."""

from __future__ import annotations

import asyncio

import grpc
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from federation.wire import SERVICE
from tests.federation_helpers import FakeQuery
from tests.integration.federation_nodes import running_node


async def test_health_reports_serving() -> None:
    async with running_node("alpha", FakeQuery()) as alpha:
        async with grpc.aio.insecure_channel(alpha.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            for service in ("", SERVICE):
                reply = await stub.Check(  # type: ignore[attr-defined]
                    health_pb2.HealthCheckRequest(service=service))
                assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_and_describes_the_federation_service() -> None:
    async with running_node("alpha", FakeQuery()) as alpha:
        await asyncio.to_thread(_reflect, alpha.address)  # the reflection client is blocking


def _reflect(address: str) -> None:
    with grpc.insecure_channel(address) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        assert {SERVICE, "grpc.health.v1.Health"} <= services
        pool = DescriptorPool(database)
        method = pool.FindServiceByName(SERVICE).methods_by_name["SmtpTargetSeen"]
        assert method.input_type.full_name == "decnet.federation.v1.SmtpTargetSeenRequest"
        assert "schema_version" in method.output_type.fields_by_name
