"""Mutual TLS bound to node identity: pins follow from public keys; strangers never connect."""

from __future__ import annotations

import datetime
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from federation.client import OK, REFUSED, TLS_MISMATCH, UNREACHABLE, FederationClient
from federation.errors import PinMismatch, TrustStoreError
from federation.keys import NodeKey
from federation.tls import (
    BINDING_DOMAIN,
    BINDING_URI_PREFIX,
    LEGACY_BINDING_OID,
    _spki,
    derive_tls_key,
    is_legacy_certificate,
    make_certificate,
    server_name,
    verify_binding,
)
from federation.trust import TrustStore
from federation.wire import NodeInfo, NodeInfoQuestion, SmtpQuestion
from tests.federation_helpers import FakeQuery, MemoryAudit
from tests.integration.federation_nodes import running_node

NOW = datetime.datetime(2026, 3, 2, tzinfo=datetime.UTC)


def _der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


def test_tls_key_is_derived_from_the_identity_and_stable() -> None:
    key = NodeKey.generate()
    first, second = derive_tls_key(key), derive_tls_key(key)
    assert first.private_numbers() == second.private_numbers()
    assert derive_tls_key(NodeKey.generate()).private_numbers() != first.private_numbers()


def test_certificate_is_the_same_bytes_every_time() -> None:
    key = NodeKey.generate()
    assert make_certificate(key) == make_certificate(key)


def test_certificate_binding_verifies_only_for_its_own_identity() -> None:
    key = NodeKey.generate()
    _, cert_pem = make_certificate(key)
    assert verify_binding(_der(cert_pem), key.public) == cert_pem
    with pytest.raises(PinMismatch):
        verify_binding(_der(cert_pem), NodeKey.generate().public)
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value \
        == server_name(key.key_id)


def _plain_cert() -> tuple[bytes, bytes]:
    tls_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mitm")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(tls_key.public_key()).serial_number(1)
            .not_valid_before(NOW - datetime.timedelta(days=1))
            .not_valid_after(NOW + datetime.timedelta(days=3650))
            .sign(tls_key, hashes.SHA256()))
    return (tls_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()),
            cert.public_bytes(serialization.Encoding.PEM))


def test_certificate_without_binding_is_refused() -> None:
    _, cert_pem = _plain_cert()
    with pytest.raises(PinMismatch, match="no identity binding"):
        verify_binding(_der(cert_pem), NodeKey.generate().public)


async def test_peers_talk_over_mutual_pinned_tls_by_default() -> None:
    asker = NodeKey.generate()
    async with running_node("alpha", FakeQuery()) as alpha:
        alpha.trust_key("asker", asker)
        async with FederationClient(asker, plaintext=False, deadline_s=10,
                                    clock=alpha.clock) as client:
            row = await client.ask(alpha.as_peer(), NodeInfoQuestion())
            again = await client.ask(alpha.as_peer(), SmtpQuestion("corp1.com"))
    assert row.status == OK and isinstance(row.answer, NodeInfo)
    assert row.answer.key_id == alpha.key.key_id and again.status == OK


async def test_a_party_whose_key_is_not_trusted_never_completes_a_handshake() -> None:
    audit = MemoryAudit()
    async with running_node("alpha", FakeQuery(), audit=audit) as alpha:
        async with FederationClient(NodeKey.generate(), plaintext=False, deadline_s=5,
                                    clock=alpha.clock) as client:
            row = await client.ask(alpha.as_peer(), SmtpQuestion("corp1.com"))
    assert row.status == UNREACHABLE and row.answer is None
    assert audit.entries == []  # no call ever reached the service


async def test_trust_changes_apply_to_new_connections_without_a_restart() -> None:
    asker = NodeKey.generate()
    async with running_node("alpha", FakeQuery()) as alpha:
        async def ask() -> str:
            async with FederationClient(asker, plaintext=False, deadline_s=5,
                                        clock=alpha.clock) as client:
                return (await client.ask(alpha.as_peer(), NodeInfoQuestion())).status

        assert await ask() == UNREACHABLE
        alpha.trust_key("asker", asker)
        assert await ask() == OK
        async with FederationClient(asker, plaintext=False, deadline_s=5,
                                    clock=alpha.clock) as open_client:
            assert (await open_client.ask(alpha.as_peer(), NodeInfoQuestion())).status == OK
            trust = alpha.trust
            trust.remove("asker")
            alpha.node.replace_trust(trust)
            assert await ask() == UNREACHABLE  # a new connection: no handshake
            kept = await open_client.ask(alpha.as_peer(), NodeInfoQuestion())
    assert kept.status == REFUSED and "PERMISSION_DENIED" in (kept.error or "")


async def test_man_in_the_middle_with_another_identity_certificate_fails() -> None:
    asker = NodeKey.generate()
    async with running_node("alpha", FakeQuery()) as alpha, \
            running_node("mitm", FakeQuery(), audit=(impostor := MemoryAudit())) as mitm:
        mitm.trust_key("asker", asker)  # it would even answer
        fetched, pinned = TrustStore(), TrustStore()
        # the path leads to the MITM: fetching the certificate finds the wrong binding ...
        fetched.add("alpha", mitm.address, alpha.key.public.text)
        # ... and with alpha's certificate already pinned, the handshake fails
        pinned.add("alpha", mitm.address, alpha.key.public.text, make_certificate(alpha.key)[1])
        async with FederationClient(asker, plaintext=False, deadline_s=5,
                                    clock=alpha.clock) as client:
            (row,) = await client.ask_all(fetched, SmtpQuestion("corp1.com"))
        async with FederationClient(asker, plaintext=False, deadline_s=5,
                                    clock=alpha.clock) as client:
            (pinned_row,) = await client.ask_all(pinned, SmtpQuestion("corp1.com"))
    assert row.status == TLS_MISMATCH and row.answer is None
    assert pinned_row.status == UNREACHABLE and pinned_row.answer is None
    assert impostor.entries == []  # the question never reached the impostor


async def test_man_in_the_middle_with_an_unbound_certificate_fails() -> None:
    key_pem, cert_pem = _plain_cert()
    server = grpc.aio.server()
    port = server.add_secure_port("127.0.0.1:0",
                                  grpc.ssl_server_credentials([(key_pem, cert_pem)]))
    await server.start()
    try:
        peer = TrustStore().add("alpha", f"127.0.0.1:{port}", NodeKey.generate().public.text)
        async with FederationClient(NodeKey.generate(), plaintext=False,
                                    deadline_s=10) as client:
            row = await client.ask(peer, SmtpQuestion("corp1.com"))
    finally:
        await server.stop(None)
    assert row.status == TLS_MISMATCH


async def test_plaintext_client_cannot_talk_to_a_tls_node() -> None:
    async with running_node("alpha", FakeQuery()) as alpha:
        async with FederationClient(NodeKey.generate(), plaintext=True, deadline_s=5) as client:
            row = await client.ask(alpha.as_peer(), SmtpQuestion("corp1.com"))
    assert row.status == UNREACHABLE


@pytest.mark.parametrize("pinned", ["none", "version 1"])
async def test_a_peer_connects_once_serve_fetched_its_current_certificate(pinned: str) -> None:
    """alpha trusts bravo without its certificate (unreachable when added), or pinned
    bravo's version 1 certificate while bravo now presents version 2: TLS pins bytes,
    so alpha's handshake refuses bravo until `serve` fetches the current one."""
    async with running_node("alpha", FakeQuery()) as alpha, \
            running_node("bravo", FakeQuery()) as bravo:
        trust = alpha.trust
        trust.add("bravo", bravo.address, bravo.key.public.text,
                  legacy_certificate(bravo.key) if pinned == "version 1" else None)
        alpha.node.replace_trust(trust)
        bravo.trust_key("alpha", alpha.key)

        async def bravo_asks() -> str:
            async with FederationClient(bravo.key, plaintext=False, deadline_s=5,
                                        clock=alpha.clock) as client:
                return (await client.ask(alpha.as_peer(), NodeInfoQuestion())).status

        assert await bravo_asks() == UNREACHABLE
        assert await alpha.node.fetch_missing_certificates() == 1  # what `serve` retries
        assert await bravo_asks() == OK
        current = alpha.trust.by_name("bravo")
        assert current is not None and current.certificate is not None
        assert not is_legacy_certificate(current.certificate)
        assert await alpha.node.fetch_missing_certificates() == 0


def test_a_peer_cannot_bind_another_nodes_tls_key_to_itself() -> None:
    """A trusted peer wraps Bob's TLS public key in a certificate bound to itself."""
    bob, mallory = NodeKey.generate(), NodeKey.generate()
    bob_tls = derive_tls_key(bob).public_key()
    spki = bob_tls.public_bytes(serialization.Encoding.DER,
                                serialization.PublicFormat.SubjectPublicKeyInfo)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_name(mallory.key_id))])
    forged = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
              .public_key(bob_tls).serial_number(7)
              .not_valid_before(NOW - datetime.timedelta(days=1))
              .not_valid_after(NOW + datetime.timedelta(days=3650))
              .add_extension(x509.SubjectAlternativeName(
                  [x509.DNSName(server_name(mallory.key_id))]), critical=False)
              .add_extension(x509.UnrecognizedExtension(
                  LEGACY_BINDING_OID, mallory.sign(BINDING_DOMAIN + spki)), critical=False)
              .sign(derive_tls_key(mallory), hashes.SHA256()))  # not Bob's key: not self-signed
    pem = forged.public_bytes(serialization.Encoding.PEM)
    with pytest.raises(PinMismatch, match="self-signed"):
        verify_binding(_der(pem), mallory.public)
    with pytest.raises(TrustStoreError):
        TrustStore().add("mallory", "127.0.0.1:1", mallory.public.text, pem)


def test_a_certificate_naming_another_key_is_refused() -> None:
    key, other = NodeKey.generate(), NodeKey.generate()
    _, cert_pem = make_certificate(key)
    with pytest.raises(PinMismatch):
        verify_binding(_der(cert_pem), other.public)


async def test_certificates_fetched_by_serve_survive_a_reload(tmp_path: Path) -> None:
    async with running_node("alpha", FakeQuery()) as alpha, \
            running_node("bravo", FakeQuery()) as bravo:
        peers = tmp_path / "peers.json"
        trust = TrustStore()
        trust.add("bravo", bravo.address, bravo.key.public.text)  # as `peers add` unreachable
        trust.save(peers)
        alpha.node.peers_path = peers
        alpha.node.reload()  # starts a fetch of bravo's certificate in the background
        bravo.trust_key("alpha", alpha.key)
        await alpha.node.fetch_missing_certificates()  # (or this one gets it first)
        assert alpha.trust.by_name("bravo").certificate is not None  # type: ignore[union-attr]
        alpha.node.reload()  # SIGHUP (logrotate): the file has no certificate for bravo
        async with FederationClient(bravo.key, plaintext=False, deadline_s=5,
                                    clock=alpha.clock) as client:
            row = await client.ask(alpha.as_peer(), NodeInfoQuestion())
    assert row.status == OK


def legacy_certificate(key: NodeKey) -> bytes:
    """A version 1 certificate: the binding in a private extension Go cannot parse."""
    tls_key = derive_tls_key(key)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_name(key.key_id))])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(tls_key.public_key()).serial_number(int(key.key_id, 16) | 1 << 64)
            .not_valid_before(datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC))
            .not_valid_after(datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.UTC))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(server_name(key.key_id))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.UnrecognizedExtension(
                LEGACY_BINDING_OID,
                key.sign(BINDING_DOMAIN + _spki(tls_key.public_key()))), critical=False)
            .sign(tls_key, hashes.SHA256(), ecdsa_deterministic=True))
    return cert.public_bytes(serialization.Encoding.PEM)


def test_the_binding_is_a_uri_every_x509_parser_reads() -> None:
    """No object identifier arc above 2**31 (Go's parser, so grpcurl, rejects those)."""
    key = NodeKey.generate()
    _, pem = make_certificate(key)
    cert = x509.load_pem_x509_certificate(pem)
    for extension in cert.extensions:
        arcs = [int(arc) for arc in extension.oid.dotted_string.split(".")]
        assert max(arcs) < 2**31
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    (uri,) = names.get_values_for_type(x509.UniformResourceIdentifier)
    assert uri.startswith(BINDING_URI_PREFIX) and not is_legacy_certificate(pem)


def test_version_1_certificates_still_verify() -> None:
    key = NodeKey.generate()
    legacy = legacy_certificate(key)
    assert is_legacy_certificate(legacy)
    assert verify_binding(_der(legacy), key.public) == legacy
    with pytest.raises(PinMismatch):
        verify_binding(_der(legacy), NodeKey.generate().public)


@pytest.mark.parametrize("text", ["", "AAAA", "!" * 86, "A" * 85 + "=", "A" * 87])
def test_a_malformed_binding_uri_is_refused(text: str) -> None:
    key = NodeKey.generate()
    tls_key = derive_tls_key(key)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_name(key.key_id))])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(tls_key.public_key()).serial_number(3)
            .not_valid_before(NOW).not_valid_after(NOW + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName(server_name(key.key_id)),
                x509.UniformResourceIdentifier(BINDING_URI_PREFIX + text)]), critical=False)
            .sign(tls_key, hashes.SHA256()))
    with pytest.raises(PinMismatch, match="malformed|not bound"):
        verify_binding(cert.public_bytes(serialization.Encoding.DER), key.public)
