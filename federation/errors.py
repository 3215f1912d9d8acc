"""The federation's exception tree and the one table that maps it to gRPC status codes.

::

    FederationError                      INTERNAL (never with a traceback on the wire)
    ├── Unauthenticated                  UNAUTHENTICATED
    │   ├── MissingEnvelope              no envelope in the metadata
    │   ├── GarbledEnvelope              envelope not decodable / fields malformed
    │   ├── BadSignature                 signature does not verify
    │   ├── ReplayedRequest              nonce already used inside the clock window
    │   └── OutsideClockWindow           timestamp too old or in the future
    ├── UnknownKey                       PERMISSION_DENIED (key id not in the trust store)
    │   └── NotTheTlsPeer                envelope key differs from the TLS-authenticated peer
    ├── UnsupportedSchema                FAILED_PRECONDITION (names the served range)
    ├── OverBudget                       RESOURCE_EXHAUSTED (rate or daily question budget)
    │   └── TooManyStreams               the peer already holds its share of open calls
    ├── Oversized                        RESOURCE_EXHAUSTED (request above the size limit)
    ├── SlowRequest                      DEADLINE_EXCEEDED (request not delivered in time)
    ├── InvalidQuestion                  INVALID_ARGUMENT (well signed, not well formed)
    ├── StateUnavailable                 UNAVAILABLE (replay/budget state could not be saved)
    ├── NotServed                        UNIMPLEMENTED (this node does not serve the method)
    ├── EpochOver                        FAILED_PRECONDITION (blind: that OPRF key is gone)
    └── PeerError                        client side: a peer's answer could not be used
        ├── PeerUnreachable              transport failure or deadline
        ├── PeerRefused                  the peer answered with a non-OK status
        ├── BadAnswer                    unsigned, tampered or mis-bound answer
        └── PinMismatch                  TLS certificate not bound to the peer's key

    HomeFileError (ValueError)           a file in the node home cannot be used (CLI)
    ├── KeyFileError                     bad, missing or too-readable key file
    └── TrustStoreError                  bad trust store file or peer entry

Foreign exceptions (``InvalidSignature``, ``DecodeError``, ``grpc.RpcError``)
are translated where they arise; `status_for` is the only place a
`FederationError` becomes a gRPC code, and anything that is not one becomes
INTERNAL with a fixed message.
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc


class FederationError(Exception):
    """Base of every federation error; ``str(exc)`` is safe to send to the peer."""


class Unauthenticated(FederationError):
    """The request could not be attributed to a key (or the attribution is not fresh)."""


class MissingEnvelope(Unauthenticated):
    """The call carried no ``decnet-envelope-bin`` metadata."""


class GarbledEnvelope(Unauthenticated):
    """The envelope could not be decoded or a field has the wrong shape."""


class BadSignature(Unauthenticated):
    """The signature does not verify for this key, method, envelope and body."""


class ReplayedRequest(Unauthenticated):
    """The nonce was already used by this key inside the clock window."""


class OutsideClockWindow(Unauthenticated):
    """The envelope timestamp is too far in the past or the future."""


class UnknownKey(FederationError):
    """The key id is not in the trust store: this node does not answer it."""


class NotTheTlsPeer(UnknownKey):
    """The envelope names another key than the one the TLS handshake authenticated."""


class UnsupportedSchema(FederationError):
    """The schema_version is outside the range this node serves."""


class OverBudget(FederationError):
    """The peer exceeded its request rate or its daily distinct-question budget."""


class TooManyStreams(OverBudget):
    """The peer already holds its share of concurrent calls (or the server is full)."""


class Oversized(FederationError):
    """The request (or its envelope, or its metadata) is larger than the configured limit."""


class SlowRequest(FederationError):
    """The call did not deliver its request message within the request deadline."""


class InvalidQuestion(FederationError):
    """The request is authentic but not a well-formed question."""


class StateUnavailable(FederationError):
    """The durable replay/budget state could not be written: refuse rather than forget."""


class NotServed(FederationError):
    """The method exists in the contract but this node does not serve it (gossip off)."""


class EpochOver(FederationError):
    """A blind question names an OPRF epoch whose key no longer (or not yet) evaluates."""


class PeerError(FederationError):
    """Client side: asking one peer failed; the row in the report says why."""


class PeerUnreachable(PeerError):
    """The peer could not be reached, or did not answer before its deadline."""


class PeerRefused(PeerError):
    """The peer answered with an error status."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


class BadAnswer(PeerError):
    """The answer is unsigned, tampered, signed by another key or bound to another request."""


class PinMismatch(PeerError):
    """The peer's TLS certificate is not bound to the public key in the trust store."""


class HomeFileError(ValueError):
    """A file of the node home (key, trust store, audit log, state) cannot be used."""


class KeyFileError(HomeFileError):
    """The node's key file is missing, malformed or readable by others."""


class TrustStoreError(HomeFileError):
    """The trust store file or a peer entry is invalid."""


#: The one table: exception class → status code. Most specific classes first
#: is not required: lookup walks the exception's MRO.
STATUS_TABLE: Mapping[type[FederationError], grpc.StatusCode] = {
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    UnknownKey: grpc.StatusCode.PERMISSION_DENIED,
    UnsupportedSchema: grpc.StatusCode.FAILED_PRECONDITION,
    OverBudget: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Oversized: grpc.StatusCode.RESOURCE_EXHAUSTED,
    SlowRequest: grpc.StatusCode.DEADLINE_EXCEEDED,
    InvalidQuestion: grpc.StatusCode.INVALID_ARGUMENT,
    StateUnavailable: grpc.StatusCode.UNAVAILABLE,
    NotServed: grpc.StatusCode.UNIMPLEMENTED,
    EpochOver: grpc.StatusCode.FAILED_PRECONDITION,
}

#: Details sent for anything that is not a `FederationError` (no traceback, no repr).
INTERNAL_DETAILS = "internal error"
_MAX_DETAILS = 200


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The gRPC status code and details string a failed call ends with."""
    if isinstance(exc, FederationError):
        for cls in type(exc).__mro__:
            code = STATUS_TABLE.get(cls)
            if code is not None:
                return code, str(exc)[:_MAX_DETAILS]
    return grpc.StatusCode.INTERNAL, INTERNAL_DETAILS
