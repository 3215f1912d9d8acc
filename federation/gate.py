"""Admission of one request: every check, cheapest first, in one place.

Order (docs/protocol.md): size (body, metadata, envelope) → envelope present
and well formed → schema_version served → key known → key is the TLS peer's
→ clock window → nonce not replayed → rate token → signature → remember the
nonce. Everything before the signature is a comparison or a dictionary
lookup, so a flood of forged requests costs no Ed25519 verification beyond
the sending peer's token bucket, and the bucket charged is the one of the
peer the TLS handshake authenticated: nobody can spend another's. The nonce
is remembered only after the signature verified (forgeries cannot burn
nonces). No I/O, no clock of its own: ``now_s`` is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from federation.budget import PeerBudgets
from federation.config import MAX_SCHEMA_VERSION, MIN_SCHEMA_VERSION, ServerLimits
from federation.envelope import (
    MAX_ENVELOPE_BYTES,
    REQUEST_METADATA,
    Envelope,
    decode_envelope,
    verify_request,
)
from federation.errors import (
    BadSignature,
    GarbledEnvelope,
    MissingEnvelope,
    NotTheTlsPeer,
    Oversized,
    UnknownKey,
    UnsupportedSchema,
)
from federation.replay import NonceCache, check_clock_window
from federation.trust import Peer, TrustStore

Metadata = Iterable[tuple[str, str | bytes]]


@dataclass(frozen=True, slots=True)
class Admitted:
    """A request that passed every check: who sent it and what its signature covered."""

    peer: Peer
    envelope: Envelope
    digest: bytes
    #: When the accepted nonce may be forgotten (what `federation.ledger` keeps).
    nonce_expires_ms: int


def served_range() -> str:
    return f"{MIN_SCHEMA_VERSION}..{MAX_SCHEMA_VERSION}"


def metadata_size(metadata: Metadata) -> int:
    """Bytes of every metadata key and value, as HTTP/2 header sizes count them (+32 each)."""
    return sum(len(key) + len(value) + 32 for key, value in metadata)


def find_envelope(metadata: Metadata) -> bytes:
    """The raw envelope bytes; exactly one must be present."""
    found = [value for key, value in metadata if key == REQUEST_METADATA]
    if not found:
        raise MissingEnvelope(f"missing {REQUEST_METADATA} metadata: requests must be signed")
    if len(found) > 1:
        raise GarbledEnvelope(f"more than one {REQUEST_METADATA} entry")
    value = found[0]
    if not isinstance(value, bytes):
        raise GarbledEnvelope("envelope must be binary metadata")
    return value


class Gate:
    """The ordered checks; holds the replay cache and the peers' budgets."""

    def __init__(self, trust: TrustStore, limits: ServerLimits, budgets: PeerBudgets) -> None:
        self._trust = trust
        self._limits = limits
        self._budgets = budgets
        self._nonces = NonceCache(limits.clock_window_ms, limits.replay_cache_entries)

    def replace_trust(self, trust: TrustStore) -> None:
        self._trust = trust

    @property
    def nonces(self) -> NonceCache:
        return self._nonces

    def admit(self, method: str, body: bytes, metadata: Metadata, now_s: float,
              tls_peer: str | None = None, max_body_bytes: int | None = None) -> Admitted:
        """Run every check on one request; raises the first failing check's error.

        ``tls_peer`` is the key id the TLS handshake authenticated (None when
        plaintext): the envelope must name it, and its bucket pays.
        ``max_body_bytes`` is the method's limit (`Method.request_limit`); the
        server's question limit when not given.
        """
        limit = self._limits.max_request_bytes if max_body_bytes is None else max_body_bytes
        if len(body) > limit:
            raise Oversized(f"request of {len(body)} bytes exceeds {limit}")
        metadata = tuple(metadata)
        if metadata_size(metadata) > self._limits.max_metadata_bytes:
            raise Oversized(f"metadata exceeds {self._limits.max_metadata_bytes} bytes")
        raw = find_envelope(metadata)
        if len(raw) > MAX_ENVELOPE_BYTES:
            raise Oversized(f"envelope exceeds {MAX_ENVELOPE_BYTES} bytes")
        envelope = decode_envelope(raw)
        if not MIN_SCHEMA_VERSION <= envelope.schema_version <= MAX_SCHEMA_VERSION:
            raise UnsupportedSchema(f"schema_version {envelope.schema_version} not served;"
                                    f" this node serves {served_range()}")
        peer = self._trust.by_key_id(envelope.key_id)
        if peer is None:
            raise UnknownKey(f"key {envelope.key_id} is not trusted by this node")
        if tls_peer is not None and tls_peer != envelope.key_id:
            raise NotTheTlsPeer("envelope key differs from the TLS client certificate's")
        now_ms = int(now_s * 1000)
        check_clock_window(envelope.timestamp_ms, now_ms, self._limits.clock_window_ms)
        self._nonces.check(envelope.key_id, envelope.nonce, now_ms)
        self._budgets.take_token(envelope.key_id, now_s)
        if envelope.method != method:
            raise BadSignature("envelope was signed for another method")
        digest = verify_request(envelope, peer.key, method, body)
        self._nonces.remember(envelope.key_id, envelope.nonce, envelope.timestamp_ms, now_ms)
        return Admitted(peer, envelope, digest, self._nonces.expiry_ms(envelope.timestamp_ms))
