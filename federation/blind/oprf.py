"""RFC 9497 OPRF (mode 0x00) and VOPRF (mode 0x01), ciphersuite ristretto255-SHA512, no I/O.

The client hashes its input to a group element and multiplies it by a random
blind; the server multiplies what it receives by its secret key; the client
divides the blind out and hashes the result. The server sees one uniformly
random element per question and learns nothing of the input; the client learns
the PRF output and nothing of the key. In VOPRF mode the server also returns one
DLEQ proof for a whole batch that it used the key whose public half the client
holds, so it cannot answer one client with a key kept for tracking it.

All group and scalar arithmetic is libsodium's: the system's library (Debian's
``libsodium23``), called through pysodium's ctypes bindings; this module hashes,
frames and checks. Every element or scalar that arrives from a peer
passes `deserialize_element` / `deserialize_scalar` before it is used: an
identity element would make an answer that carries no key at all, and a
second encoding of one element would be a second name for the same question.

::

    OprfError
    ├── DeserializeError     peer bytes: not a canonical non-identity element,
    │                        scalar or proof; an empty or oversized batch
    ├── InvalidInputError    an input that cannot be blinded (too long, hashes to identity)
    ├── VerifyError          a VOPRF answer whose proof fails, or for another number of questions
    └── DeriveKeyPairError   no non-zero key within 256 counters (never, in practice)

    LibsodiumUnavailableError (an ImportError, raised when this module is imported):
    no libsodium 1.0.18 or later could be loaded; the message says what to install.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import MappingProxyType, ModuleType
from typing import Final

SUITE_ID: Final = b"ristretto255-SHA512"
ELEMENT_BYTES: Final = 32
SCALAR_BYTES: Final = 32
PROOF_BYTES: Final = 2 * SCALAR_BYTES
#: Nh: a finalized output is one SHA-512 digest.
OUTPUT_BYTES: Final = 64
#: Nseed: DeriveKeyPair takes exactly this much seed.
SEED_BYTES: Final = 32
#: Inputs, key infos and batch indices are framed with a two-byte length.
MAX_INPUT_BYTES: Final = 0xFFFF
MAX_BATCH: Final = 0xFFFF

#: Both hash-to-group (one-way map) and hash-to-scalar (wide reduction) take 64 uniform bytes.
_UNIFORM_BYTES = 64
_SHA512_BLOCK_BYTES = 128
_SHA512_DIGEST_BYTES = 64
#: ristretto255 encodes the identity as 32 zero bytes (and only so, canonically).
_IDENTITY = bytes(ELEMENT_BYTES)


class Mode(enum.IntEnum):
    OPRF = 0x00
    VOPRF = 0x01


class OprfError(Exception):
    """Base of the errors this module raises on protocol data."""


class DeserializeError(OprfError):
    """Bytes from a peer are not a valid element, scalar, proof or batch."""


class InvalidInputError(OprfError):
    """The client cannot blind this input."""


class VerifyError(OprfError):
    """A VOPRF evaluation whose proof does not verify under the server's public key."""


class DeriveKeyPairError(OprfError):
    """Every counter from 0 to 255 hashed to the zero scalar."""


class LibsodiumUnavailableError(ImportError):
    """libsodium is missing, older than 1.0.18 or fails to initialise. An ImportError because
    importing this module raises it: a caller cannot name a class it failed to import."""


#: ristretto255 and its scalar arithmetic first shipped in libsodium 1.0.18.
_MIN_LIBSODIUM: Final = (1, 0, 18)
_INSTALL_HINT: Final = ("install libsodium 1.0.18 or later, the system library pysodium binds"
                        " (Debian/Ubuntu: apt install libsodium23)")


def _load_libsodium() -> ModuleType:
    """pysodium, on a working libsodium. pysodium loads the library when imported and fails
    with ValueError when none is found, OSError when it will not load and AttributeError when
    a symbol is missing; a too-old library would fail only at the first call. It never calls
    sodium_init(), which libsodium requires first (it picks implementations, seeds the RNG)."""
    try:
        import pysodium
    except (OSError, ValueError, AttributeError) as exc:
        raise LibsodiumUnavailableError(
            f"libsodium cannot be loaded ({exc or type(exc).__name__}): {_INSTALL_HINT}") from exc
    if not pysodium.sodium_version_check(*_MIN_LIBSODIUM):
        found = ".".join(map(str, (pysodium.sodium_major, pysodium.sodium_minor,
                                   pysodium.sodium_patch)))
        raise LibsodiumUnavailableError(f"libsodium {found} has no ristretto255: {_INSTALL_HINT}")
    if pysodium.sodium_init() < 0:
        raise LibsodiumUnavailableError("libsodium failed to initialise (sodium_init)")
    bindings: ModuleType = pysodium
    return bindings


_sodium: Final = _load_libsodium()


def context_string(mode: Mode) -> bytes:
    """``"OPRFV1-" || I2OSP(mode, 1) || "-" || identifier`` (RFC 9497 §3.1)."""
    return b"OPRFV1-" + bytes([mode]) + b"-" + SUITE_ID


@dataclass(frozen=True, slots=True)
class _Context:
    """The domain separation tags of one mode, built once."""

    mode: Mode
    hash_to_group_dst: bytes
    hash_to_scalar_dst: bytes
    derive_key_pair_dst: bytes
    seed_dst: bytes

    @classmethod
    def of(cls, mode: Mode) -> _Context:
        context = context_string(mode)
        return cls(mode, b"HashToGroup-" + context, b"HashToScalar-" + context,
                   b"DeriveKeyPair" + context, b"Seed-" + context)


_CONTEXTS: Final = MappingProxyType({mode: _Context.of(mode) for mode in Mode})


def expand_message_xmd(msg: bytes, dst: bytes, length: int) -> bytes:
    """RFC 9380 §5.3.1 with SHA-512: ``length`` uniform bytes from ``msg`` under ``dst``."""
    blocks = -(-length // _SHA512_DIGEST_BYTES)
    if blocks > 255 or length > 0xFFFF or len(dst) > 255:
        raise ValueError("expand_message_xmd: length or DST out of range")
    dst_prime = dst + bytes([len(dst)])
    b_0 = hashlib.sha512(bytes(_SHA512_BLOCK_BYTES) + msg + length.to_bytes(2, "big")
                         + b"\x00" + dst_prime).digest()
    b_i = hashlib.sha512(b_0 + b"\x01" + dst_prime).digest()
    uniform = [b_i]
    for i in range(2, blocks + 1):
        mixed = bytes(x ^ y for x, y in zip(b_0, b_i, strict=True))
        b_i = hashlib.sha512(mixed + bytes([i]) + dst_prime).digest()
        uniform.append(b_i)
    return b"".join(uniform)[:length]


def hash_to_group(msg: bytes, mode: Mode, dst: bytes | None = None) -> bytes:
    """hash_to_ristretto255 (RFC 9380 App. B) under ``"HashToGroup-" || contextString``."""
    tag = _CONTEXTS[mode].hash_to_group_dst if dst is None else dst
    element: bytes = _sodium.crypto_core_ristretto255_from_hash(
        expand_message_xmd(msg, tag, _UNIFORM_BYTES))
    return element


def hash_to_scalar(msg: bytes, mode: Mode, dst: bytes | None = None) -> bytes:
    """64 uniform bytes reduced mod the group order, under ``"HashToScalar-" || contextString``."""
    tag = _CONTEXTS[mode].hash_to_scalar_dst if dst is None else dst
    return _reduce(expand_message_xmd(msg, tag, _UNIFORM_BYTES))


def deserialize_element(data: bytes) -> bytes:
    """``data`` if it is the canonical encoding of a ristretto255 element other than the
    identity; `DeserializeError` otherwise."""
    data = bytes(data)
    if len(data) != ELEMENT_BYTES:
        raise DeserializeError(f"an element is {ELEMENT_BYTES} bytes, not {len(data)}")
    # libsodium 1.0.18 (Debian 12's) decodes ignoring bit 255: without this check one
    # element would have two accepted encodings. The length was checked first because
    # pysodium passes the buffer to libsodium, which reads 32 bytes, without checking it.
    if data[-1] & 0x80 or not _sodium.crypto_core_ristretto255_is_valid_point(data):
        raise DeserializeError("not a canonical ristretto255 encoding")
    if data == _IDENTITY:
        raise DeserializeError("the identity element")
    return data


def deserialize_scalar(data: bytes) -> bytes:
    """``data`` if it is a scalar below the group order, little-endian; `DeserializeError`
    otherwise (zero is a valid scalar)."""
    data = bytes(data)
    if len(data) != SCALAR_BYTES:
        raise DeserializeError(f"a scalar is {SCALAR_BYTES} bytes, not {len(data)}")
    if _reduce(data + bytes(SCALAR_BYTES)) != data:
        raise DeserializeError("scalar not reduced mod the group order")
    return data


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A server key: ``public_key`` is always ``secret_key``·G (checked on construction)."""

    secret_key: bytes = field(repr=False)
    public_key: bytes

    def __post_init__(self) -> None:
        _nonzero_scalar(self.secret_key, "secret key")
        if _mul_base(self.secret_key) != self.public_key:
            raise ValueError("public key is not secret_key·G")

    @classmethod
    def from_secret_key(cls, secret_key: bytes) -> KeyPair:
        return cls(secret_key, _mul_base(_nonzero_scalar(secret_key, "secret key")))

    @classmethod
    def generate(cls) -> KeyPair:
        return cls.from_secret_key(_random_scalar())


def derive_key_pair(seed: bytes, info: bytes, mode: Mode) -> KeyPair:
    """The key pair RFC 9497 §3.2.1 derives from ``seed`` and the public ``info``."""
    if len(seed) != SEED_BYTES:
        raise ValueError(f"seed must be {SEED_BYTES} bytes")
    if len(info) > MAX_INPUT_BYTES:
        raise ValueError(f"key info longer than {MAX_INPUT_BYTES} bytes")
    derive_input = bytes(seed) + _frame(info)
    dst = _CONTEXTS[mode].derive_key_pair_dst
    for counter in range(256):
        secret_key = hash_to_scalar(derive_input + bytes([counter]), mode, dst)
        if secret_key != bytes(SCALAR_BYTES):
            return KeyPair.from_secret_key(secret_key)
    raise DeriveKeyPairError("every counter gave the zero scalar")


@dataclass(frozen=True, slots=True)
class Blinding:
    """What the client keeps until the answer comes; only ``blinded_element`` is sent."""

    input: bytes = field(repr=False)
    blind: bytes = field(repr=False)
    blinded_element: bytes


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A VOPRF server's answer to a batch: one element per question, in order, and one proof
    (``c || s``) covering them all."""

    evaluated_elements: tuple[bytes, ...]
    proof: bytes


@dataclass(frozen=True, slots=True)
class OprfClient:
    """The client of mode 0x00: nothing to configure, the output is not verifiable."""

    def blind(self, input: bytes, blind: bytes | None = None) -> Blinding:
        return _blind(_CONTEXTS[Mode.OPRF], input, blind)

    def finalize(self, blinding: Blinding, evaluated_element: bytes) -> bytes:
        """The PRF output for ``blinding.input`` (`DeserializeError` on a bad element)."""
        return _finalize_hash(blinding.input,
                              _unblind(blinding.blind, deserialize_element(evaluated_element)))


@dataclass(frozen=True, slots=True)
class OprfServer:
    """The server of mode 0x00."""

    key_pair: KeyPair

    def blind_evaluate(self, blinded_element: bytes) -> bytes:
        return _mul(self.key_pair.secret_key, deserialize_element(blinded_element))

    def evaluate(self, input: bytes) -> bytes:
        """The PRF output for an input the server holds itself (no blinding)."""
        return _evaluate(_CONTEXTS[Mode.OPRF], self.key_pair.secret_key, input)


@dataclass(frozen=True, slots=True)
class VoprfClient:
    """The client of mode 0x01, pinned to the public key every answer must prove."""

    public_key: bytes

    def __post_init__(self) -> None:
        deserialize_element(self.public_key)

    def blind(self, input: bytes, blind: bytes | None = None) -> Blinding:
        return _blind(_CONTEXTS[Mode.VOPRF], input, blind)

    def finalize(self, blindings: Sequence[Blinding], evaluation: Evaluation) -> tuple[bytes, ...]:
        """The outputs, in the order of ``blindings``, if ``evaluation`` proves one key for
        all; `VerifyError` (or `DeserializeError` on malformed bytes) otherwise."""
        if not blindings or len(evaluation.evaluated_elements) != len(blindings):
            raise VerifyError(f"{len(evaluation.evaluated_elements)} evaluated elements for"
                              f" {len(blindings)} questions")
        evaluated = [deserialize_element(element) for element in evaluation.evaluated_elements]
        if len(evaluation.proof) != PROOF_BYTES:
            raise DeserializeError(f"a proof is {PROOF_BYTES} bytes, not {len(evaluation.proof)}")
        c = deserialize_scalar(evaluation.proof[:SCALAR_BYTES])
        s = deserialize_scalar(evaluation.proof[SCALAR_BYTES:])
        context = _CONTEXTS[Mode.VOPRF]
        blinded = [blinding.blinded_element for blinding in blindings]
        m, z = _compute_composites(context, self.public_key, blinded, evaluated)
        t2 = _add(_mul_base(s), _mul(c, self.public_key))
        t3 = _add(_mul(s, m), _mul(c, z))
        expected_c = _challenge(context, self.public_key, m, z, t2, t3)
        if not hmac.compare_digest(expected_c, c):
            raise VerifyError("the proof does not verify under the server's public key")
        return tuple(_finalize_hash(blinding.input, _unblind(blinding.blind, element))
                     for blinding, element in zip(blindings, evaluated, strict=True))


@dataclass(frozen=True, slots=True)
class VoprfServer:
    """The server of mode 0x01: answers a batch with one proof."""

    key_pair: KeyPair

    def blind_evaluate(self, blinded_elements: Sequence[bytes],
                       r: bytes | None = None) -> Evaluation:
        """``secret_key``·B for each element B, and the DLEQ proof; ``r`` fixes the proof's
        random scalar (test vectors only)."""
        if not 1 <= len(blinded_elements) <= MAX_BATCH:
            raise DeserializeError(f"a batch holds 1 to {MAX_BATCH} elements,"
                                   f" not {len(blinded_elements)}")
        blinded = [deserialize_element(element) for element in blinded_elements]
        secret_key, public_key = self.key_pair.secret_key, self.key_pair.public_key
        evaluated = [_mul(secret_key, element) for element in blinded]
        context = _CONTEXTS[Mode.VOPRF]
        # ComputeCompositesFast: Z = k·M, one multiplication instead of one per element.
        m = _composite(context, public_key, blinded, evaluated, blinded)
        z = _mul(secret_key, m)
        r = _random_scalar() if r is None else _nonzero_scalar(r, "proof scalar")
        t2, t3 = _mul_base(r), _mul(r, m)
        c = _challenge(context, public_key, m, z, t2, t3)
        s = _scalar_sub(r, _scalar_mul(c, secret_key))
        return Evaluation(tuple(evaluated), c + s)

    def evaluate(self, input: bytes) -> bytes:
        """The PRF output for an input the server holds itself (no blinding)."""
        return _evaluate(_CONTEXTS[Mode.VOPRF], self.key_pair.secret_key, input)


def _input_element(context: _Context, input: bytes) -> bytes:
    if len(input) > MAX_INPUT_BYTES:
        raise InvalidInputError(f"input longer than {MAX_INPUT_BYTES} bytes")
    element = hash_to_group(input, context.mode)
    if element == _IDENTITY:
        raise InvalidInputError("input hashes to the identity element")
    return element


def _blind(context: _Context, input: bytes, blind: bytes | None) -> Blinding:
    element = _input_element(context, input)
    blind = _random_scalar() if blind is None else _nonzero_scalar(blind, "blind")
    return Blinding(bytes(input), blind, _mul(blind, element))


def _evaluate(context: _Context, secret_key: bytes, input: bytes) -> bytes:
    return _finalize_hash(input, _mul(secret_key, _input_element(context, input)))


def _unblind(blind: bytes, evaluated_element: bytes) -> bytes:
    inverse: bytes = _sodium.crypto_core_ristretto255_scalar_invert(blind)
    return _mul(inverse, evaluated_element)


def _finalize_hash(input: bytes, unblinded_element: bytes) -> bytes:
    return hashlib.sha512(_frame(input) + _frame(unblinded_element) + b"Finalize").digest()


def _composite(context: _Context, public_key: bytes, blinded: Sequence[bytes],
               evaluated: Sequence[bytes], terms: Sequence[bytes]) -> bytes:
    """Σ dᵢ·termsᵢ, the weights dᵢ hashed from the key and every (Cᵢ, Dᵢ) pair so that no
    element can be swapped, dropped or reordered without changing them."""
    seed = hashlib.sha512(_frame(public_key) + _frame(context.seed_dst)).digest()
    total: bytes | None = None
    for i, (c_i, d_i, term) in enumerate(zip(blinded, evaluated, terms, strict=True)):
        transcript = (_frame(seed) + i.to_bytes(2, "big") + _frame(c_i) + _frame(d_i)
                      + b"Composite")
        weighted = _mul(hash_to_scalar(transcript, context.mode), term)
        total = weighted if total is None else _add(total, weighted)
    return _IDENTITY if total is None else total


def _compute_composites(context: _Context, public_key: bytes, blinded: Sequence[bytes],
                        evaluated: Sequence[bytes]) -> tuple[bytes, bytes]:
    """(M, Z) as a client computes them, without the key."""
    return (_composite(context, public_key, blinded, evaluated, blinded),
            _composite(context, public_key, blinded, evaluated, evaluated))


def _challenge(context: _Context, public_key: bytes, m: bytes, z: bytes, t2: bytes,
               t3: bytes) -> bytes:
    transcript = b"".join(_frame(part) for part in (public_key, m, z, t2, t3)) + b"Challenge"
    return hash_to_scalar(transcript, context.mode)


def _frame(data: bytes) -> bytes:
    """``I2OSP(len(data), 2) || data``."""
    return len(data).to_bytes(2, "big") + data


# Typed doors into pysodium (it ships no annotations). libsodium refuses to encode the
# identity as a product, so `_mul` and `_mul_base` return it themselves; the callers
# pass only elements that already decoded, so that is the one refusal left. pysodium
# reports libsodium's -1 as a ValueError without arguments, and its own complaints (a
# wrong length, a function this libsodium lacks) as a ValueError with a message: those
# are bugs here, and propagate.

def _mul(scalar: bytes, element: bytes) -> bytes:
    try:
        product: bytes = _sodium.crypto_scalarmult_ristretto255(scalar, element)
    except ValueError as exc:
        if exc.args:
            raise
        return _IDENTITY
    return product


def _mul_base(scalar: bytes) -> bytes:
    try:
        product: bytes = _sodium.crypto_scalarmult_ristretto255_base(scalar)
    except ValueError as exc:
        if exc.args:
            raise
        return _IDENTITY
    return product


def _add(a: bytes, b: bytes) -> bytes:
    total: bytes = _sodium.crypto_core_ristretto255_add(a, b)
    return total


def _reduce(wide: bytes) -> bytes:
    scalar: bytes = _sodium.crypto_core_ristretto255_scalar_reduce(wide)
    return scalar


def _scalar_mul(a: bytes, b: bytes) -> bytes:
    product: bytes = _sodium.crypto_core_ristretto255_scalar_mul(a, b)
    return product


def _scalar_sub(a: bytes, b: bytes) -> bytes:
    difference: bytes = _sodium.crypto_core_ristretto255_scalar_sub(a, b)
    return difference


def _random_scalar() -> bytes:
    """A uniformly random non-zero scalar (libsodium rejects zero)."""
    scalar: bytes = _sodium.crypto_core_ristretto255_scalar_random()
    return scalar


def _nonzero_scalar(data: bytes, what: str) -> bytes:
    """A caller-supplied scalar, reduced and non-zero; `ValueError` names ``what`` otherwise."""
    try:
        scalar = deserialize_scalar(data)
    except DeserializeError as exc:
        raise ValueError(f"{what}: {exc}") from None
    if scalar == bytes(SCALAR_BYTES):
        raise ValueError(f"{what} must not be zero")
    return scalar
