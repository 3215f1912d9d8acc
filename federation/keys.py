"""The node's identity: an Ed25519 key pair, its text form and its key id.

The public key is the one thing two operators exchange (base64 of the 32 raw
bytes, as printed by ``decnet-fed whoami``). The key id is a short hash of it
(16 hex digits of SHA-256) that names the signer in every envelope. The
private key lives in the node home as PKCS#8 PEM with mode 0600; a key file
readable by group or others is refused, never silently fixed.

Every public key this node accepts -- typed at ``peers add``, read from the
trust store, or bound into a peer's TLS certificate -- passes
`check_public_key` first, because OpenSSL's Ed25519 verify does not: under a
small-order key (the identity, y = 1, for one) the 64 bytes ``01 || 00*63``
verify as a signature of any message, with no private key behind them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from federation.errors import KeyFileError

KEY_FILENAME = "node.key"
PUBLIC_KEY_BYTES = 32
KEY_ID_HEX_DIGITS = 16
SIGNATURE_BYTES = 64

# Ed25519 (RFC 8032 §5.1): -x^2 + y^2 = 1 + d x^2 y^2 over GF(p); L is the order of
# the base point's subgroup, and the whole group has 8L points.
_P = 2**255 - 19
_D = -121665 * pow(121666, -1, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)
_L = 2**252 + 27742317777372353535851937790883648493
_Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T): x = X/Z, y = Y/Z, xy = T/Z
_IDENTITY: _Point = (0, 1, 1, 0)
_NON_CANONICAL = "non-canonical Ed25519 public key encoding refused"


def key_id_for(public_key: bytes) -> str:
    """The key id of a raw Ed25519 public key: first 8 bytes of SHA-256, in hex."""
    return hashlib.sha256(public_key).hexdigest()[:KEY_ID_HEX_DIGITS]


def encode_public_key(public_key: bytes) -> str:
    """Base64 text of a raw public key (what `whoami` prints and `peers add --key` takes)."""
    return base64.b64encode(public_key).decode("ascii")


def parse_public_key(text: str) -> bytes:
    """The raw 32 bytes of a base64 (standard or URL-safe) Ed25519 public key."""
    cleaned = text.strip()
    if cleaned.startswith("ed25519:"):
        cleaned = cleaned[len("ed25519:"):]
    cleaned = cleaned.replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError("public key is not base64") from None
    return check_public_key(raw)


def check_public_key(raw: bytes) -> bytes:
    """``raw`` itself when it is a canonical Ed25519 point of prime order L, else KeyFileError.

    Refused: a length other than 32; a non-canonical encoding (y >= p, or x = 0
    with the sign bit set); a y with no x on the curve; a point of small order
    ([8]P is the identity; the 8 such points let a signature be forged without a
    private key); a point with a torsion component ([L]P is not the identity; key
    generation never makes one, and refusing it leaves one encoding per key). Keys
    are public, so this need not run in constant time. It runs when a key is
    loaded, never per request: 1.2 ms per key measured (CPython 3.11, 200 keys),
    1.1 ms of it in [L]P (253 doublings, 73 additions), 0.1 ms decoding, 0.01 ms
    for [8]P -- about a dozen OpenSSL verifies (0.1 ms each) per peer loaded.
    """
    if len(raw) != PUBLIC_KEY_BYTES:
        raise KeyFileError(f"public key must be {PUBLIC_KEY_BYTES} bytes, got {len(raw)}")
    point = _decode_point(raw)
    if _is_identity(_double(_double(_double(point)))):
        raise KeyFileError("small-order Ed25519 public key refused")
    if not _is_identity(_multiply(point, _L)):
        raise KeyFileError("Ed25519 public key with a torsion component (mixed order) refused")
    return raw


def _decode_point(raw: bytes) -> _Point:
    """RFC 8032 §5.1.3 to the letter, y >= p and x = -0 included (OpenSSL loads both)."""
    encoded = int.from_bytes(raw, "little")
    sign, y = encoded >> 255, encoded & ((1 << 255) - 1)
    if y >= _P:
        raise KeyFileError(_NON_CANONICAL)
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P  # never 0: d is not a square, so d y^2 != -1
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    vxx = v * x * x % _P
    if vxx == -u % _P:
        x = x * _SQRT_M1 % _P
    elif vxx != u:
        raise KeyFileError("not a point on Ed25519")
    if x == 0 and sign:
        raise KeyFileError(_NON_CANONICAL)
    if x & 1 != sign:
        x = _P - x
    return (x, y, 1, x * y % _P)


def _is_identity(point: _Point) -> bool:
    x, y, z, _ = point
    return x % _P == 0 and (y - z) % _P == 0


def _double(point: _Point) -> _Point:
    """RFC 8032 §5.1.4 doubling (a = -1)."""
    x1, y1, z1, _ = point
    a, b, c = x1 * x1 % _P, y1 * y1 % _P, 2 * z1 * z1 % _P
    h = a + b
    e = h - (x1 + y1) ** 2
    g = a - b
    f = c + g
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _add(p1: _Point, p2: _Point) -> _Point:
    """RFC 8032 §5.1.4 addition; complete, so it also adds a point to itself."""
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % _P
    b = (y1 + x1) * (y2 + x2) % _P
    c = 2 * _D * t1 * t2 % _P
    d = 2 * z1 * z2 % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _multiply(point: _Point, scalar: int) -> _Point:
    result = _IDENTITY
    for bit in bin(scalar)[2:]:
        result = _double(result)
        if bit == "1":
            result = _add(result, point)
    return result


@dataclass(frozen=True, slots=True)
class PeerKey:
    """A peer's public key, ready to verify signatures."""

    raw: bytes
    key_id: str = field(init=False)
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_public_key(self.raw)  # no PeerKey ever exists for a weak key
        object.__setattr__(self, "key_id", key_id_for(self.raw))
        object.__setattr__(self, "_key", Ed25519PublicKey.from_public_bytes(self.raw))

    @property
    def text(self) -> str:
        return encode_public_key(self.raw)

    def verifies(self, signature: bytes, message: bytes) -> bool:
        """True when ``signature`` is this key's Ed25519 signature of ``message``."""
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, slots=True)
class NodeKey:
    """This node's key pair."""

    private: Ed25519PrivateKey = field(repr=False)
    public: PeerKey

    @classmethod
    def from_private(cls, private: Ed25519PrivateKey) -> NodeKey:
        raw = private.public_key().public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw)
        return cls(private, PeerKey(raw))

    @classmethod
    def generate(cls) -> NodeKey:
        return cls.from_private(Ed25519PrivateKey.generate())

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)

    def seed(self) -> bytes:
        """The 32-byte private seed (used to derive the TLS key; never leaves the node)."""
        return self.private.private_bytes(serialization.Encoding.Raw,
                                          serialization.PrivateFormat.Raw,
                                          serialization.NoEncryption())

    def pem(self) -> bytes:
        return self.private.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())


def refuse_writable_by_others(path: Path, what: str) -> None:
    """`KeyFileError` if ``path`` is not a regular file or group/others may write it.

    For the trust store and the audit log: whoever can write them decides whom
    this node trusts, or what its record says.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise KeyFileError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise KeyFileError(f"{what} {path} is not a regular file")
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise KeyFileError(f"{what} {path} is writable by group or others (mode"
                           f" {stat.S_IMODE(mode):04o}); refusing to use it: chmod 600 {path}")


def create_key_file(path: Path) -> NodeKey:
    """Write a new key pair to ``path`` (mode 0600); fails if the file exists."""
    key = NodeKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path} already exists") from None
    with os.fdopen(fd, "wb") as out:
        out.write(key.pem())
        out.flush()
        os.fsync(out.fileno())
    return key


def load_key_file(path: Path) -> NodeKey:
    """Read the node key, refusing a file that group or others can read or write."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyFileError(f"no node key at {path}: run `decnet-fed init`") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read the node key {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise KeyFileError(f"{path} is not a regular file: restore the node key from a backup")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"{path} is accessible by group or others (mode {stat.S_IMODE(mode):04o});"
            f" refusing to use it: chmod 600 {path}")
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise KeyFileError(f"cannot read the node key {path}: {exc.strerror or exc}") from None
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} is not a PEM private key ({exc})") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 private key")
    return NodeKey.from_private(private)


def ensure_key_file(path: Path) -> tuple[NodeKey, bool]:
    """Load the node key, creating it first if there is none; ``(key, created)``."""
    if path.exists():
        return load_key_file(path), False
    return create_key_file(path), True
