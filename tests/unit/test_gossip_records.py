"""Gossip records: signed by the origin, checked on arrival, relayed byte for byte."""

from __future__ import annotations

import pytest

from federation._proto.decnet.federation.v1 import federation_pb2 as pb
from federation.gossip.record import (
    RECORD_DOMAIN,
    Kind,
    RecordRefused,
    check_record,
    sign_record,
)
from federation.gossip.state import GossipState
from federation.keys import NodeKey, PeerKey

ORIGIN = NodeKey.generate()
STRANGER = NodeKey.generate()
RID = b"\x07" * 16


def only_origin(key_id: str) -> PeerKey | None:
    return ORIGIN.public if key_id == ORIGIN.key_id else None


def signed(body: pb.RecordBody, key: NodeKey = ORIGIN, extra: bytes = b"") -> pb.GossipRecord:
    raw = body.SerializeToString() + extra
    return pb.GossipRecord(body=raw, signature=key.sign(RECORD_DOMAIN + raw))


def body(**fields: object) -> pb.RecordBody:
    values: dict[str, object] = {"schema_version": 1, "origin": ORIGIN.key_id, "version": 1,
                                 "record_id": RID, "kind": "RECORD_KIND_IDENTITY",
                                 "issued_day": 20_000}
    values.update(fields)
    return pb.RecordBody(**values)  # type: ignore[arg-type]


def delta(*records: pb.GossipRecord, origin: str = ORIGIN.key_id,
          to_version: int = 1) -> pb.OriginDelta:
    return pb.OriginDelta(origin=origin, from_version=0, to_version=to_version,
                          records=list(records))


def test_a_signed_record_round_trips_through_the_checks() -> None:
    record = sign_record(ORIGIN, version=3, record_id=RID, kind=Kind.IDENTITY,
                         issued_day=20_001, summary=pb.Summary(observation_count=4))
    checked = check_record(record.wire(), only_origin)
    assert checked == record
    summary = checked.summary()
    assert summary is not None and summary.observation_count == 4


@pytest.mark.parametrize(("wire", "reason"), [
    (pb.GossipRecord(body=body().SerializeToString(), signature=b"\0" * 64),
     "invalid_signature"),
    (signed(body(), key=STRANGER), "invalid_signature"),  # someone else signed it
    (signed(body(origin=STRANGER.key_id), key=STRANGER), "untrusted_origin"),
    (signed(body(schema_version=2)), "unsupported_version"),
    (signed(body(record_id=b"short")), "malformed"),
    (signed(body(version=0)), "malformed"),
    (signed(body(version=2**62 + 1)), "malformed"),  # SQLite could not store 2**63
    (signed(body(version=2**64 - 1)), "malformed"),
    (pb.GossipRecord(body=b"\xff\xff\xff", signature=b"\0" * 64), "malformed"),
    (pb.GossipRecord(body=b"x" * 20_000, signature=b"\0" * 64), "oversized"),
])
def test_bad_records_are_refused_with_a_reason(wire: pb.GossipRecord, reason: str) -> None:
    with pytest.raises(RecordRefused) as refused:
        check_record(wire, only_origin)
    assert refused.value.reason == reason


def test_an_altered_body_no_longer_verifies() -> None:
    wire = signed(body())
    altered = bytearray(wire.body)
    altered[-1] ^= 1
    with pytest.raises(RecordRefused, match="invalid_signature|malformed"):
        check_record(pb.GossipRecord(body=bytes(altered), signature=wire.signature),
                     only_origin)


def test_a_newer_minor_with_unknown_fields_is_kept_and_relayed_byte_for_byte() -> None:
    unknown = b"\xfa\x01\x03abc"  # field 31, length-delimited: not in this schema
    wire = signed(body(schema_minor=7), extra=unknown)
    first, second = GossipState(only_origin), GossipState(only_origin)
    assert first.apply(delta(wire)).stored
    relayed = first.deltas_for(pb.DigestChunk())
    assert relayed[0].records[0].body == wire.body
    assert relayed[0].records[0].signature == wire.signature
    assert second.apply(relayed[0]).stored


def test_a_hostile_delta_stops_at_its_first_bad_record_and_keeps_the_good_ones() -> None:
    good = signed(body(version=1))
    forged = pb.GossipRecord(body=body(version=2, record_id=b"\x08" * 16).SerializeToString(),
                             signature=b"\1" * 64)
    state = GossipState(only_origin)
    applied = state.apply(delta(good, forged, to_version=5))
    assert applied.refused == "invalid_signature"
    assert [r.version for r in applied.stored] == [1]
    assert state.digest() == {ORIGIN.key_id: 1}  # not 5: the rest was never checked


def test_a_record_relayed_under_another_origins_delta_is_malformed() -> None:
    other = NodeKey.generate()
    state = GossipState(lambda k: {ORIGIN.key_id: ORIGIN.public,
                                   other.key_id: other.public}.get(k))
    applied = state.apply(delta(signed(body()), origin=other.key_id))
    assert applied.refused == "malformed" and not state.records(other.key_id)


def test_an_untrusted_origins_delta_is_refused_whole() -> None:
    applied = GossipState(only_origin).apply(delta(signed(body(origin=STRANGER.key_id),
                                                          key=STRANGER),
                                                   origin=STRANGER.key_id))
    assert applied.refused == "untrusted_origin" and not applied.stored


def test_replayed_records_are_duplicates_and_change_nothing() -> None:
    state = GossipState(only_origin)
    newer = signed(body(version=2, kind="RECORD_KIND_TOMBSTONE"))
    state.apply(delta(signed(body(version=1)), newer, to_version=2))
    before = state.records(ORIGIN.key_id)
    replay = state.apply(delta(signed(body(version=1)), to_version=1))
    assert replay.stored == () and state.records(ORIGIN.key_id) == before


def test_a_delta_that_would_leave_a_gap_is_not_applied() -> None:
    state = GossipState(only_origin)
    ahead = pb.OriginDelta(origin=ORIGIN.key_id, from_version=3, to_version=4,
                           records=[signed(body(version=4))])
    assert state.apply(ahead).refused == "gap"
    assert state.digest() == {}


def test_a_claimed_to_version_beyond_the_records_is_not_believed() -> None:
    state = GossipState(only_origin)
    empty = pb.OriginDelta(origin=ORIGIN.key_id, from_version=0, to_version=2**63)
    state.apply(empty)
    state.apply(delta(signed(body(version=1)), to_version=2**63))
    assert state.digest() == {ORIGIN.key_id: 1}  # it would otherwise never fetch version 2


def test_a_node_takes_no_delta_about_its_own_records() -> None:
    state = GossipState(only_origin, own=ORIGIN.key_id)
    applied = state.apply(delta(signed(body())))
    assert applied.refused == "own_origin" and not state.records(ORIGIN.key_id)


def test_a_reset_without_a_record_beyond_what_is_held_wipes_nothing() -> None:
    state = GossipState(only_origin)
    state.apply(delta(signed(body(version=1)), to_version=1))
    hostile = pb.OriginDelta(origin=ORIGIN.key_id, from_version=0, to_version=0, reset=True,
                             collected_through=2**63)
    state.apply(hostile)
    assert [r.version for r in state.records(ORIGIN.key_id)] == [1]
    assert state.logs[ORIGIN.key_id].collected_through <= 1
