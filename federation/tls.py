"""Transport security bound to the node identity: no CA, the peer's public key is the pin.

gRPC's TLS stack (BoringSSL) does not negotiate Ed25519 certificates, so the
TLS key is an ECDSA P-256 key *derived* from the node's Ed25519 seed (HKDF,
stable across restarts, never stored). Its self-signed certificate carries a
binding: the node's Ed25519 signature over the certificate's
SubjectPublicKeyInfo, as a ``decnet-fed:tls-binding:v2:<base64url>`` URI in
the subject alternative names, which every X.509 parser reads (Go's, so
grpcurl, rejects the 128-bit arcs of the private extension OID that version 1
certificates used; those are still accepted, see `verify_binding`). The
certificate is deterministic (serial from the key id, fixed validity, RFC 6979
ECDSA), so the same node presents the same bytes after every restart and a
peer may store them.

Both directions use it (mutual TLS): a client pins the server's certificate as
its only root, with the name ``<key id>.decnet-fed.invalid``, and presents its
own; the server accepts only client certificates of trusted peers
(`federation.peer_certs`). A certificate is trusted only after its binding
verified against the public key in the trust store, so a man in the middle
must present either another certificate (no valid binding: refused) or this
one (without its private key the handshake fails).
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import ssl

import grpc
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import NameOID

from federation.errors import PeerUnreachable, PinMismatch
from federation.keys import NodeKey, PeerKey

#: OID of version 1's binding extension (a 2.25 UUID arc). Read, never written:
#: peers may still pin, and old nodes still present, version 1 certificates.
LEGACY_BINDING_OID = x509.ObjectIdentifier("2.25.190152281553622839574187218651419553027")
#: Scheme and prefix of the binding URI (version 2 certificates).
BINDING_URI_PREFIX = "decnet-fed:tls-binding:v2:"
BINDING_DOMAIN = b"decnet-fed/v1/tls-binding\x00"
_HKDF_INFO = b"decnet-fed/v1/tls-key p256"
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
#: Fixed validity: the certificate is pinned, never expires by date, and is the
#: same bytes after every restart. 9999-12-31 is RFC 5280's "no expiry" date.
_NOT_BEFORE = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
_NOT_AFTER = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.UTC)


def server_name(key_id: str) -> str:
    """The DNS name in a node's certificate (and the client's target-name override)."""
    return f"{key_id}.decnet-fed.invalid"


def derive_tls_key(key: NodeKey) -> ec.EllipticCurvePrivateKey:
    """The node's P-256 TLS key, derived from (and only from) its Ed25519 seed."""
    material = HKDF(hashes.SHA256(), 48, salt=None, info=_HKDF_INFO).derive(key.seed())
    scalar = int.from_bytes(material, "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def _spki(public: ec.EllipticCurvePublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)


def make_certificate(key: NodeKey) -> tuple[bytes, bytes]:
    """``(private key PEM, certificate PEM)`` of the node's bound, self-signed certificate.

    Deterministic: the same key always gives the same bytes.
    """
    tls_key = derive_tls_key(key)
    binding = key.sign(BINDING_DOMAIN + _spki(tls_key.public_key()))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_name(key.key_id))])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(tls_key.public_key())
        .serial_number(int(key.key_id, 16) | 1 << 64)
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName(server_name(key.key_id)),
            x509.UniformResourceIdentifier(BINDING_URI_PREFIX + _b64url(binding)),
        ]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(tls_key, hashes.SHA256(), ecdsa_deterministic=True)
    )
    key_pem = tls_key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def verify_binding(cert_der: bytes, peer: PeerKey) -> bytes:
    """The certificate as PEM if it is ``peer``'s own, else `PinMismatch`.

    Its own means: self-signed by its TLS key (so whoever made it holds that
    key), naming ``peer``'s key id, and carrying ``peer``'s Ed25519 signature
    over that TLS key. Without the self-signature check, a trusted peer could
    wrap another node's TLS public key in a certificate it binds to itself and
    be taken for that node.
    """
    try:
        cert = x509.load_der_x509_certificate(cert_der)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        public = cert.public_key()
    except (ValueError, x509.ExtensionNotFound):
        raise PinMismatch("peer certificate carries no identity binding") from None
    binding = _binding(cert, names)
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise PinMismatch("peer certificate binding malformed")
    if names.get_values_for_type(x509.DNSName) != [server_name(peer.key_id)]:
        raise PinMismatch(f"peer certificate does not name key {peer.key_id}")
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        raise PinMismatch("peer certificate is not self-signed by its own key") from None
    if not peer.verifies(binding, BINDING_DOMAIN + _spki(public)):
        raise PinMismatch(f"peer certificate is not bound to key {peer.key_id}")
    return cert.public_bytes(serialization.Encoding.PEM)


def is_legacy_certificate(pem: bytes) -> bool:
    """Whether a (verified) certificate is version 1's, whose binding Go cannot parse."""
    cert = x509.load_pem_x509_certificate(pem)
    try:
        cert.extensions.get_extension_for_oid(LEGACY_BINDING_OID)
    except x509.ExtensionNotFound:
        return False
    return True


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _binding(cert: x509.Certificate, names: x509.SubjectAlternativeName) -> bytes:
    """The Ed25519 signature a certificate carries: exactly one binding URI (version 2)
    or, without any, version 1's extension; anything else is `PinMismatch`."""
    uris = [uri for uri in names.get_values_for_type(x509.UniformResourceIdentifier)
            if uri.startswith(BINDING_URI_PREFIX)]
    if len(uris) > 1:
        raise PinMismatch("peer certificate carries more than one identity binding")
    if uris:
        text = uris[0].removeprefix(BINDING_URI_PREFIX)
        try:
            signature = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except ValueError:
            raise PinMismatch("peer certificate binding malformed") from None
        if len(signature) != 64 or _b64url(signature) != text:
            raise PinMismatch("peer certificate binding malformed")
        return signature
    try:
        legacy = cert.extensions.get_extension_for_oid(LEGACY_BINDING_OID).value
    except x509.ExtensionNotFound:
        raise PinMismatch("peer certificate carries no identity binding") from None
    if not isinstance(legacy, x509.UnrecognizedExtension):
        raise PinMismatch("peer certificate binding malformed")
    return legacy.value


async def fetch_certificate(host: str, port: int) -> bytes:
    """The DER certificate a TLS server presents (unverified: `verify_binding` decides)."""
    context = ssl.create_default_context()
    # TLS 1.3: the server's certificate arrives before it asks for ours, so this
    # works against a server that demands a client certificate we lack.
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # noqa: S501 - verified by the identity binding instead
    context.set_alpn_protocols(["h2"])
    try:
        _, writer = await asyncio.open_connection(host, port, ssl=context)
    except (OSError, ssl.SSLError) as exc:
        raise PeerUnreachable(f"TLS connect failed: {exc}") from None
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (OSError, ssl.SSLError):
            pass
    if not der:
        raise PinMismatch("peer presented no certificate")
    assert isinstance(der, bytes)
    return der


def channel_credentials(peer_cert_pem: bytes, own: NodeKey) -> grpc.ChannelCredentials:
    """Credentials trusting exactly this (verified) certificate and presenting our own."""
    key_pem, cert_pem = make_certificate(own)
    return grpc.ssl_channel_credentials(root_certificates=peer_cert_pem,
                                        private_key=key_pem, certificate_chain=cert_pem)


def certificate_der(pem: bytes) -> bytes:
    """DER of a PEM certificate; anything else is `PinMismatch`."""
    try:
        return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    except ValueError:
        raise PinMismatch("not a PEM certificate") from None


def certificate_spki(cert_pem: bytes) -> bytes:
    """The SubjectPublicKeyInfo DER of a PEM certificate (the key the handshake proved)."""
    public = x509.load_pem_x509_certificate(cert_pem).public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise PinMismatch("certificate key is not P-256")
    return _spki(public)
