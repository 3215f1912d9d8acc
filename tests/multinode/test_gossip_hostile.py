"""A hostile but trusted node gossiping forged, altered, untrusted-origin and replayed
records to a real honest node (`serve`, mutual TLS): every one is refused, the hostile
node's score falls until it is ignored, and the honest node's records are untouched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from federation._proto.decnet.federation.v1 import federation_pb2 as pb
from federation.client import OK, FederationClient, peer_certificate
from federation.gossip.record import RECORD_DOMAIN
from federation.keys import NodeKey, PeerKey, parse_public_key
from federation.tls import make_certificate
from federation.trust import Peer
from federation.wire import GossipAnswer, GossipExchange
from tests.multinode.test_gossip_federation import Node, free_port, ingest_scenario
from tests.support import json_out, run_cli, wait_for

HOSTILE = NodeKey.generate()
STRANGER = NodeKey.generate()  # trusted by nobody


@pytest.fixture
def honest(tmp_path: Path) -> Iterator[Node]:
    node = Node("honest", tmp_path / "honest", free_port())
    run_cli(node.home, "init", "--name", node.name)
    node.key_id = json_out(run_cli(node.home, "whoami", "--json"))["key_id"]
    ingest_scenario(node, "slow_rotator", 1)
    pem = tmp_path / "hostile.pem"
    pem.write_bytes(make_certificate(HOSTILE)[1])
    run_cli(node.home, "peers", "add", "hostile", "127.0.0.1:9", "--key", HOSTILE.public.text,
            "--certificate", str(pem))
    node.start()
    try:
        yield node
    finally:
        node.stop()


def signed(body: pb.RecordBody, key: NodeKey) -> pb.GossipRecord:
    raw = body.SerializeToString()
    return pb.GossipRecord(body=raw, signature=key.sign(RECORD_DOMAIN + raw))


async def test_a_hostile_relay_is_refused_scored_down_and_ignored(honest: Node) -> None:
    wait_for(lambda: honest.records_of(honest.key_id) >= 1, "the honest node's own record")
    before = honest.bodies_of(honest.key_id)
    address = f"127.0.0.1:{honest.port}"
    target = Peer("honest", address, _public_key(honest))
    target = Peer(target.name, address, target.key, await peer_certificate(target))
    async with FederationClient(HOSTILE, plaintext=False, deadline_s=5.0) as client:
        async def gossip(*deltas: pb.OriginDelta) -> pb.GossipResponse:
            answered = await client.ask(target, GossipExchange(pb.GossipRequest(
                digest=pb.DigestChunk(), deltas=list(deltas))))
            assert answered.status == OK and isinstance(answered.answer, GossipAnswer)
            return answered.answer.response

        pulled = await gossip()  # an honest pull first: the real records, to tamper with
        real = pulled.deltas[0]
        assert real.origin == honest.key_id and real.records
        altered = pb.GossipRecord(body=real.records[0].body[:-1] + bytes(
            [real.records[0].body[-1] ^ 1]), signature=real.records[0].signature)
        forged_body = pb.RecordBody(schema_version=1, origin=honest.key_id,
                                    version=real.to_version + 1, record_id=b"\x09" * 16,
                                    kind="RECORD_KIND_IDENTITY", issued_day=20_000)
        stranger_body = pb.RecordBody(schema_version=1, origin=STRANGER.key_id, version=1,
                                      record_id=b"\x0a" * 16, kind="RECORD_KIND_IDENTITY",
                                      issued_day=20_000)
        above = real.to_version
        attacks = [
            pb.OriginDelta(origin=honest.key_id, from_version=above, to_version=above + 1,
                           records=[signed(forged_body, HOSTILE)]),  # forged origin signature
            pb.OriginDelta(origin=honest.key_id, from_version=above, to_version=above + 1,
                           records=[altered]),  # altered bytes
            pb.OriginDelta(origin=STRANGER.key_id, from_version=0, to_version=1,
                           records=[signed(stranger_body, STRANGER)]),  # untrusted origin
            pb.OriginDelta(origin=honest.key_id, from_version=0, to_version=above,
                           records=list(real.records)),  # a replay of old history
        ]
        for delta in attacks:
            await gossip(delta)
        for _ in range(3):  # keep forging until the cool-down starts
            await gossip(attacks[0])
        ignored = await gossip()  # a pull now gets nothing
        assert ignored.deltas == []

    assert honest.bodies_of(honest.key_id) == before  # nothing forged or altered got in
    assert honest.records_of(STRANGER.key_id) == 0
    wait_for(lambda: _score(honest) < 0, "the hostile node's score below the threshold")


def _public_key(node: Node) -> PeerKey:
    return PeerKey(parse_public_key(json_out(run_cli(node.home, "whoami", "--json"))
                                    ["public_key"]))


def _score(node: Node) -> float:
    """The hostile peer's score as `members` shows it (100 until first written)."""
    rows = json_out(run_cli(node.home, "members", "--json"))
    row = next(r for r in rows if r["name"] == "hostile")
    return 100.0 if row["score"] is None else float(row["score"])
