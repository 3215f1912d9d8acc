"""Which client certificates the server accepts, and whose each one is (mutual TLS).

The server demands a client certificate and trusts as roots exactly the
identity-bound certificates of its trusted peers, so a party whose key is not
trusted never completes a handshake and never holds a stream. gRPC asks
`configuration` at every new handshake (dynamic server credentials): a trust
change applies to the next connection without a restart. Connections opened
before a peer was removed stay up, so every call is also mapped back to a
peer with `key_id_for` and refused when the answer is no longer a trusted key.

The mapping goes by the certificate's public key (SubjectPublicKeyInfo), the
key the handshake proved possession of, never by its name: a trusted peer's
certificate is a CA certificate and could sign a leaf naming anyone.
"""

from __future__ import annotations

import threading
from typing import Any

import grpc

from federation.errors import PinMismatch, TrustStoreError
from federation.keys import NodeKey
from federation.tls import certificate_spki, make_certificate
from federation.trust import Peer, TrustStore

#: Presented certificates remembered (PEM → key id); only trusted roots can
#: complete a handshake, so this stays small; cleared when full.
_CACHE_ENTRIES = 1024


class PeerCertificates:
    """The trusted peers' certificates as gRPC server credentials, and the reverse map."""

    def __init__(self, key: NodeKey, trust: TrustStore) -> None:
        self._key_pem, self._cert_pem = make_certificate(key)
        self._lock = threading.Lock()
        self._version = 0
        self._served_version = -1
        self._roots = self._cert_pem
        self._by_spki: dict[bytes, str] = {}
        self._by_pem: dict[bytes, str | None] = {}
        self.replace(trust)

    def replace(self, trust: TrustStore) -> None:
        """Accept exactly the certificates of ``trust`` from the next handshake on."""
        certs = trust.with_certificates()
        by_spki: dict[bytes, str] = {}
        for peer in certs:
            spki = certificate_spki(_pem(peer))
            if by_spki.setdefault(spki, peer.key.key_id) != peer.key.key_id:
                # verify_binding makes this impossible; fail closed all the same
                raise TrustStoreError(f"peer {peer.name}'s TLS key is another peer's too")
        # gRPC needs at least one root: with no peer certificate yet, our own
        # (only this node holds its private key) keeps every other party out.
        roots = b"".join(_pem(peer) for peer in certs) or self._cert_pem
        with self._lock:
            self._by_spki, self._by_pem, self._roots = by_spki, {}, roots
            self._version += 1

    def configuration(self) -> grpc.ServerCertificateConfiguration | None:
        """The fetcher gRPC calls per handshake (on its own thread): new roots, or None."""
        with self._lock:
            if self._served_version == self._version:
                return None
            self._served_version = self._version
            roots = self._roots
        return grpc.ssl_server_certificate_configuration(
            [(self._key_pem, self._cert_pem)], root_certificates=roots)

    def credentials(self) -> grpc.ServerCredentials:
        """Server credentials that demand a client certificate from a trusted peer."""
        initial = self.configuration()
        assert initial is not None
        fetcher: Any = self.configuration  # gRPC accepts None ("unchanged"); its stub does not
        return grpc.dynamic_ssl_server_credentials(
            initial, fetcher, require_client_authentication=True)

    def key_id_for(self, cert_pem: bytes) -> str | None:
        """The trusted key id whose certificate the client presented, else None."""
        with self._lock:
            by_pem, by_spki = self._by_pem, self._by_spki
        if cert_pem in by_pem:
            return by_pem[cert_pem]
        try:
            key_id = by_spki.get(certificate_spki(cert_pem))
        except (PinMismatch, ValueError):
            key_id = None
        if len(by_pem) >= _CACHE_ENTRIES:
            by_pem.clear()
        by_pem[cert_pem] = key_id
        return key_id


def _pem(peer: Peer) -> bytes:
    assert peer.certificate is not None
    return peer.certificate
