"""The generated wire code is reproducible from the .proto and imports as a real package."""

from __future__ import annotations

import ast

from federation import codegen
from federation._proto.decnet.federation.v1 import federation_pb2 as pb
from tests.support import REPO


def test_committed_generated_code_matches_a_fresh_generation() -> None:
    stale = codegen.stale_files()
    assert not stale, f"regenerate with `python -m federation.codegen`: {stale}"


def test_generated_module_imports_nothing_but_protobuf() -> None:
    path = REPO / "federation/_proto/decnet/federation/v1/federation_pb2.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert all(name and name.startswith("google.protobuf") for name in imported), imported


def test_every_request_response_and_signed_record_carries_schema_version() -> None:
    service = pb.DESCRIPTOR.services_by_name["Federation"]
    versioned = [*(m.input_type for m in service.methods),
                 *(m.output_type for m in service.methods),
                 pb.RecordBody.DESCRIPTOR]
    for message in versioned:  # the parts inside them are read under their version
        assert "schema_version" in message.fields_by_name, message.name


def test_service_has_the_eight_methods() -> None:
    service = pb.DESCRIPTOR.services_by_name["Federation"]
    assert service.full_name == "decnet.federation.v1.Federation"
    assert set(service.methods_by_name) == {
        "GetNodeInfo", "SmtpTargetSeen", "FingerprintSeen", "SimhashNear", "Gossip", "Ping",
        "BlindEvaluate", "BlindTable"}
