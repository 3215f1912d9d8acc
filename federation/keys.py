"""The node's identity: an Ed25519 key pair, its text form and its key id.

The public key is the one thing two operators exchange (base64 of the 32 raw
bytes, as printed by ``decnet-fed whoami``). The key id is a short hash of it
(16 hex digits of SHA-256) that names the signer in every envelope. The
private key lives in the node home as PKCS#8 PEM with mode 0600; a key file
readable by group or others is refused, never silently fixed.
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
    if len(raw) != PUBLIC_KEY_BYTES:
        raise KeyFileError(f"public key must be {PUBLIC_KEY_BYTES} bytes, got {len(raw)}")
    try:
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise KeyFileError("not an Ed25519 public key") from None
    return raw


@dataclass(frozen=True, slots=True)
class PeerKey:
    """A peer's public key, ready to verify signatures."""

    raw: bytes
    key_id: str = field(init=False)
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
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
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"{path} is accessible by group or others (mode {stat.S_IMODE(mode):04o});"
            f" refusing to use it: chmod 600 {path}")
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
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
