"""Signed envelopes: what a request or an answer is signed over, and how it travels.

The signature is Ed25519 over a SHA-256 digest of a domain-separated,
length-prefixed encoding of every envelope field plus the exact message bytes
(docs/protocol.md has the layout). Requests and answers use different domain
labels, and an answer's digest includes the digest of the request it answers,
so an answer can be neither replayed for another question nor passed off as a
request. The envelope itself travels as a serialized ``Envelope`` message in
binary gRPC metadata, outside the signed message bytes.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import struct
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from federation._proto.decnet.federation.v1 import federation_pb2 as pb
from federation.errors import BadAnswer, BadSignature, GarbledEnvelope
from federation.keys import KEY_ID_HEX_DIGITS, SIGNATURE_BYTES, NodeKey, PeerKey

#: Metadata key of the caller's envelope (binary: the ``-bin`` suffix).
REQUEST_METADATA = "decnet-envelope-bin"
#: Trailing-metadata key of the answering node's envelope.
ANSWER_METADATA = "decnet-answer-bin"
REQUEST_DOMAIN = b"decnet-fed/v1/request\x00"
ANSWER_DOMAIN = b"decnet-fed/v1/answer\x00"
NONCE_BYTES = 16
#: Longest accepted envelope on the wire; a real one is about 130 bytes.
MAX_ENVELOPE_BYTES = 512
_MAX_METHOD = 128
_KEY_ID = re.compile(rf"[0-9a-f]{{{KEY_ID_HEX_DIGITS}}}")
_METHOD = re.compile(r"/[A-Za-z0-9_.]+/[A-Za-z0-9_]+")
_U32 = 2**32


@dataclass(frozen=True, slots=True)
class Envelope:
    """The signed fields of one request or answer, plus the signature."""

    key_id: str
    method: str
    schema_version: int
    timestamp_ms: int
    nonce: bytes
    signature: bytes


def _frame(*parts: bytes) -> bytes:
    return b"".join(struct.pack(">I", len(p)) + p for p in parts)


def request_digest(key_id: str, method: str, schema_version: int, timestamp_ms: int,
                   nonce: bytes, body: bytes) -> bytes:
    """The 32-byte digest a request signature covers."""
    return hashlib.sha256(REQUEST_DOMAIN + _frame(
        key_id.encode("ascii"), method.encode("ascii"),
        struct.pack(">I", schema_version), struct.pack(">q", timestamp_ms), nonce, body,
    )).digest()


def answer_digest(key_id: str, method: str, schema_version: int, timestamp_ms: int,
                  nonce: bytes, for_request: bytes, body: bytes) -> bytes:
    """The 32-byte digest an answer signature covers (bound to the request's digest)."""
    return hashlib.sha256(ANSWER_DOMAIN + _frame(
        key_id.encode("ascii"), method.encode("ascii"),
        struct.pack(">I", schema_version), struct.pack(">q", timestamp_ms), nonce,
        for_request, body,
    )).digest()


def sign_request(key: NodeKey, method: str, schema_version: int, body: bytes, *,
                 now_ms: int, nonce: bytes | None = None) -> tuple[Envelope, bytes]:
    """A signed request envelope and the request digest (to check the answer against)."""
    nonce = secrets.token_bytes(NONCE_BYTES) if nonce is None else nonce
    digest = request_digest(key.key_id, method, schema_version, now_ms, nonce, body)
    return Envelope(key.key_id, method, schema_version, now_ms, nonce, key.sign(digest)), digest


def verify_request(envelope: Envelope, signer: PeerKey, method: str, body: bytes) -> bytes:
    """The request digest if ``envelope`` signs ``body`` for ``method``; else `BadSignature`.

    ``method`` is the method actually called, not the envelope's claim, so a
    signature moved to another method never verifies.
    """
    digest = request_digest(signer.key_id, method, envelope.schema_version,
                            envelope.timestamp_ms, envelope.nonce, body)
    if envelope.key_id != signer.key_id or envelope.method != method \
            or not signer.verifies(envelope.signature, digest):
        raise BadSignature("signature does not verify")
    return digest


def sign_answer(key: NodeKey, method: str, schema_version: int, for_request: bytes,
                body: bytes, *, now_ms: int) -> Envelope:
    """The envelope an answering node attaches to ``body``."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    digest = answer_digest(key.key_id, method, schema_version, now_ms, nonce, for_request, body)
    return Envelope(key.key_id, method, schema_version, now_ms, nonce, key.sign(digest))


def verify_answer(envelope: Envelope, signer: PeerKey, method: str, for_request: bytes,
                  body: bytes) -> None:
    """Raise `BadAnswer` unless ``signer`` signed ``body`` as the answer to that request."""
    if envelope.key_id != signer.key_id:
        raise BadAnswer(f"answer signed by key {envelope.key_id}, expected {signer.key_id}")
    digest = answer_digest(signer.key_id, method, envelope.schema_version,
                           envelope.timestamp_ms, envelope.nonce, for_request, body)
    if envelope.method != method or not signer.verifies(envelope.signature, digest):
        raise BadAnswer("answer signature does not verify")


def encode_envelope(envelope: Envelope) -> bytes:
    return pb.Envelope(
        key_id=envelope.key_id, method=envelope.method, schema_version=envelope.schema_version,
        timestamp_ms=envelope.timestamp_ms, nonce=envelope.nonce, signature=envelope.signature,
    ).SerializeToString(deterministic=True)


def decode_envelope(data: bytes) -> Envelope:
    """Parse and shape-check an envelope; anything off is `GarbledEnvelope`."""
    if len(data) > MAX_ENVELOPE_BYTES:
        raise GarbledEnvelope("envelope too large")
    message = pb.Envelope()
    try:
        message.ParseFromString(data)
    except DecodeError:
        raise GarbledEnvelope("envelope is not decodable") from None
    if not _KEY_ID.fullmatch(message.key_id):
        raise GarbledEnvelope("envelope key_id malformed")
    if len(message.method) > _MAX_METHOD or not _METHOD.fullmatch(message.method):
        raise GarbledEnvelope("envelope method malformed")
    if len(message.nonce) != NONCE_BYTES:
        raise GarbledEnvelope(f"envelope nonce must be {NONCE_BYTES} bytes")
    if len(message.signature) != SIGNATURE_BYTES:
        raise GarbledEnvelope(f"envelope signature must be {SIGNATURE_BYTES} bytes")
    if not 0 <= message.schema_version < _U32:
        raise GarbledEnvelope("envelope schema_version malformed")
    return Envelope(message.key_id, message.method, message.schema_version,
                    message.timestamp_ms, bytes(message.nonce), bytes(message.signature))
