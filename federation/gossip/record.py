"""Gossip records: what an origin signs, and the checks every received one passes.

A record is the origin's serialized `RecordBody` and its Ed25519 signature
over a domain-separated prefix and exactly those bytes. The bytes are kept
and relayed as they arrived, so a relay can neither alter a record nor drop
the fields of a newer minor version it does not know. Checks run cheap
first: size, decoding, major version, trusted origin, then the signature.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from federation._proto.decnet.federation.v1 import federation_pb2 as pb
from federation.keys import SIGNATURE_BYTES, NodeKey, PeerKey

#: Majors of the record schema this node understands (it relays only these).
RECORD_SCHEMA_VERSION = 1
#: Minor this node writes; newer minors of a known major are kept byte for byte.
RECORD_SCHEMA_MINOR = 0
RECORD_DOMAIN = b"decnet-fed/v1/gossip-record\x00"
#: Largest record body accepted: a summary's lists are capped well below it.
MAX_RECORD_BYTES = 16 * 1024
RECORD_ID_BYTES = 16
#: Largest record version: an origin issues one per change, so no honest one gets
#: near; SQLite stores at most 2**63 - 1, and a larger one once failed the store
#: after it had passed every check.
MAX_VERSION = 2**62


class Kind(enum.IntEnum):
    IDENTITY = pb.RECORD_KIND_IDENTITY
    CAMPAIGN = pb.RECORD_KIND_CAMPAIGN
    TOMBSTONE = pb.RECORD_KIND_TOMBSTONE
    BLIND_KEY = pb.RECORD_KIND_BLIND_KEY


class RecordRefused(Exception):
    """A received record failed a check; ``reason`` is a short machine-readable word."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Record:
    """A checked record: the exact bytes and signature, and the fields merging reads."""

    body: bytes
    signature: bytes
    origin: str
    version: int
    record_id: bytes
    kind: Kind
    issued_day: int
    schema_minor: int

    @property
    def tombstone(self) -> bool:
        return self.kind is Kind.TOMBSTONE

    def wire(self) -> pb.GossipRecord:
        return pb.GossipRecord(body=self.body, signature=self.signature)

    def summary(self) -> pb.Summary | None:
        """The summary, parsed again from the signed bytes (None for a tombstone)."""
        if self.tombstone:
            return None
        body = pb.RecordBody()
        body.ParseFromString(self.body)
        return body.summary


def sign_record(key: NodeKey, *, version: int, record_id: bytes, kind: Kind, issued_day: int,
                summary: pb.Summary | None = None) -> Record:
    """A record this node originates (``summary`` None for a tombstone)."""
    if len(record_id) != RECORD_ID_BYTES:
        raise ValueError(f"record id must be {RECORD_ID_BYTES} bytes")
    message = pb.RecordBody(schema_version=RECORD_SCHEMA_VERSION,
                            schema_minor=RECORD_SCHEMA_MINOR, origin=key.key_id,
                            version=version, record_id=record_id,
                            kind=pb.RecordKind.Name(kind.value),
                            issued_day=issued_day)
    if summary is not None and kind is not Kind.TOMBSTONE:
        message.summary.CopyFrom(summary)
    body = message.SerializeToString(deterministic=True)
    if len(body) > MAX_RECORD_BYTES:
        raise ValueError(f"record of {len(body)} bytes exceeds {MAX_RECORD_BYTES}")
    return Record(body, key.sign(RECORD_DOMAIN + body), key.key_id, version, record_id, kind,
                  issued_day, RECORD_SCHEMA_MINOR)


def check_record(wire: pb.GossipRecord, trusted: Callable[[str], PeerKey | None]) -> Record:
    """The record if it is well formed, of a served major, from a trusted origin, and
    signed by that origin; `RecordRefused` (with the reason) otherwise."""
    if len(wire.body) > MAX_RECORD_BYTES:
        raise RecordRefused("oversized", f"{len(wire.body)} bytes")
    if len(wire.signature) != SIGNATURE_BYTES:
        raise RecordRefused("malformed", "signature is not 64 bytes")
    body = pb.RecordBody()
    try:
        body.ParseFromString(wire.body)
    except DecodeError:
        raise RecordRefused("malformed", "body does not decode") from None
    if body.schema_version != RECORD_SCHEMA_VERSION:
        raise RecordRefused("unsupported_version",
                            f"record schema {body.schema_version}, this node serves"
                            f" {RECORD_SCHEMA_VERSION}")
    if len(body.record_id) != RECORD_ID_BYTES or not 1 <= body.version <= MAX_VERSION:
        raise RecordRefused("malformed", "record id or version out of range")
    try:
        kind = Kind(body.kind)
    except ValueError:
        raise RecordRefused("malformed", f"unknown kind {body.kind}") from None
    key = trusted(body.origin)
    if key is None:
        raise RecordRefused("untrusted_origin", "origin is not in the trust store")
    if not key.verifies(wire.signature, RECORD_DOMAIN + wire.body):
        raise RecordRefused("invalid_signature", "origin signature does not verify")
    return Record(bytes(wire.body), bytes(wire.signature), body.origin, body.version,
                  bytes(body.record_id), kind, body.issued_day, body.schema_minor)
