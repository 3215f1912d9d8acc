"""Weak Ed25519 public keys are refused everywhere a key is accepted.

The curve arithmetic here is an independent oracle: affine coordinates and
field inversions, written from RFC 8032 §5.1 and sharing nothing with the
extended-coordinate code in ``federation/keys.py``. The small-order points are
derived, not pasted: order 1 and 2 have x = 0, order 4 has y = 0, and order 8
are the points whose double has y = 0.
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.errors import KeyFileError, TrustStoreError
from federation.keys import NodeKey, PeerKey, check_public_key, parse_public_key
from federation.trust import TrustStore

P = 2**255 - 19
D = -121665 * pow(121666, -1, P) % P
L = 2**252 + 27742317777372353535851937790883648493
# 2 is a non-square mod p (p = 5 mod 8), so 2^((p-1)/2) = -1 and this squares to -1.
SQRT_M1 = pow(2, (P - 1) // 4, P)
FORGED_SIGNATURE = b"\x01" + b"\x00" * 63  # R = identity, S = 0

Point = tuple[int, int]
IDENTITY: Point = (0, 1)


def sqrt_mod_p(a: int) -> int | None:
    """A square root of ``a`` mod p, or None when ``a`` is not a square."""
    a %= P
    root = pow(a, (P + 3) // 8, P)
    if root * root % P != a:
        root = root * SQRT_M1 % P
    return root if root * root % P == a else None


def x_candidates(y: int) -> list[int]:
    """The x (0, 1 or 2 of them) with (x, y) on -x² + y² = 1 + d·x²·y²."""
    x = sqrt_mod_p((y * y - 1) * pow(D * y * y + 1, -1, P))
    return [] if x is None else sorted({x, -x % P})


def on_curve(point: Point) -> bool:
    x, y = point
    return (-x * x + y * y - 1 - D * x * x * y * y) % P == 0


def add(a: Point, b: Point) -> Point:
    """The complete twisted Edwards addition law (a = -1)."""
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    return ((x1 * y2 + x2 * y1) * pow(1 + t, -1, P) % P,
            (y1 * y2 + x1 * x2) * pow(1 - t, -1, P) % P)


def times(n: int, point: Point) -> Point:
    result = IDENTITY
    for bit in bin(n)[2:]:
        result = add(result, result)
        if bit == "1":
            result = add(result, point)
    return result


def encode(point: Point, *, y_offset: int = 0, sign: int | None = None) -> bytes:
    """32 bytes: y (plus ``y_offset`` for non-canonical forms) and x's parity as bit 255."""
    x, y = point
    bit = x & 1 if sign is None else sign
    return ((y + y_offset) | bit << 255).to_bytes(32, "little")


def decode(raw: bytes) -> Point | None:
    """The point a canonical encoding names, or None (non-canonical or off the curve)."""
    value = int.from_bytes(raw, "little")
    y, sign = value & ((1 << 255) - 1), value >> 255
    if y >= P:
        return None
    matches = [x for x in x_candidates(y) if x & 1 == sign]
    return (matches[0], y) if matches else None


def order_eight_points() -> list[Point]:
    # [2](x, y) has y = (x² + y²)/(2 + x² - y²), zero when x² = -y²; on the curve
    # that gives d·y⁴ + 2y² - 1 = 0, so y² = (-1 ± sqrt(1 + d))/d.
    root = sqrt_mod_p(1 + D)
    assert root is not None
    points = []
    for y_squared in ((-1 + root) * pow(D, -1, P), (-1 - root) * pow(D, -1, P)):
        y = sqrt_mod_p(y_squared)
        if y is not None:
            points += [(x, yy) for yy in (y, -y % P) for x in x_candidates(yy)]
    return points


SMALL_ORDER: list[Point] = [IDENTITY, (0, P - 1), (SQRT_M1, 0), (P - SQRT_M1, 0),
                            *order_eight_points()]


def order_of(point: Point) -> int:
    return next(n for n in (1, 2, 4, 8) if times(n, point) == IDENTITY)


def test_the_derived_small_order_points_are_the_eight_of_the_literature() -> None:
    assert len(set(SMALL_ORDER)) == 8
    assert all(on_curve(p) for p in SMALL_ORDER)
    assert sorted(order_of(p) for p in SMALL_ORDER) == [1, 2, 4, 4, 8, 8, 8, 8]


def _assert_refused_everywhere(raw: bytes, reason: str) -> None:
    with pytest.raises(KeyFileError, match=reason):
        check_public_key(raw)
    with pytest.raises(KeyFileError, match=reason):
        parse_public_key(base64.b64encode(raw).decode("ascii"))
    with pytest.raises(KeyFileError, match=reason):
        PeerKey(raw)
    with pytest.raises(TrustStoreError, match=reason):
        TrustStore().add("weak", "127.0.0.1:1", base64.b64encode(raw).decode("ascii"))


@pytest.mark.parametrize("point", SMALL_ORDER, ids=lambda p: f"order{order_of(p)}")
def test_small_order_public_key_is_refused_everywhere(point: Point) -> None:
    _assert_refused_everywhere(encode(point), "small-order")


@pytest.mark.parametrize("point", SMALL_ORDER, ids=lambda p: f"order{order_of(p)}")
def test_non_canonical_encoding_of_small_order_point_is_refused(point: Point) -> None:
    x, y = point
    if y + P < 2**255:  # y = 0 and y = 1 have a second encoding y + p
        _assert_refused_everywhere(encode(point, y_offset=P), "non-canonical")
    if x == 0:  # -0 = 0, so the sign bit of x must be clear
        _assert_refused_everywhere(encode(point, sign=1), "non-canonical")


def test_every_y_plus_p_encoding_is_refused_with_either_sign() -> None:
    on_curve_ys = [y for y in range(2, 19) if x_candidates(y)]
    assert on_curve_ys, "some y in 2..18 must name a point for this test to mean anything"
    for y in range(19):
        for sign in (0, 1):
            with pytest.raises(KeyFileError, match="non-canonical"):
                check_public_key(((y + P) | sign << 255).to_bytes(32, "little"))


def test_y_at_or_above_p_is_refused_up_to_the_top_of_the_field() -> None:
    for y in (P, P + 1, 2**255 - 1):
        with pytest.raises(KeyFileError, match="non-canonical"):
            check_public_key(y.to_bytes(32, "little"))


def test_y_with_no_x_on_the_curve_is_refused() -> None:
    y = next(y for y in range(2, 100) if not x_candidates(y))
    with pytest.raises(KeyFileError, match="not a point on Ed25519"):
        check_public_key(y.to_bytes(32, "little"))


def test_mixed_order_key_made_from_a_real_key_is_refused() -> None:
    real = NodeKey.generate().public.raw
    point = decode(real)
    assert point is not None and check_public_key(real) == real
    for torsion in SMALL_ORDER[1:]:
        mixed = encode(add(point, torsion))
        _assert_refused_everywhere(mixed, "torsion")


seeds = st.binary(min_size=32, max_size=32)


@settings(max_examples=200)
@given(seed=seeds)
def test_generated_public_key_always_passes_and_is_prime_order(seed: bytes) -> None:
    key = NodeKey.from_private(Ed25519PrivateKey.from_private_bytes(seed))
    raw = key.public.raw
    assert check_public_key(raw) == raw
    assert parse_public_key(key.public.text) == raw
    point = decode(raw)
    assert point is not None and times(L, point) == IDENTITY


@settings(max_examples=200)
@given(raw=st.binary(min_size=32, max_size=32))
def test_random_bytes_pass_exactly_when_they_name_a_prime_order_point(raw: bytes) -> None:
    point = decode(raw)
    prime_order = point is not None and point != IDENTITY and times(L, point) == IDENTITY
    try:
        check_public_key(raw)
    except KeyFileError:
        assert not prime_order
    else:
        assert prime_order


@settings(max_examples=50)
@given(seed=seeds, torsion=st.sampled_from(SMALL_ORDER))
def test_real_key_plus_torsion_passes_only_when_the_torsion_is_the_identity(
        seed: bytes, torsion: Point) -> None:
    key = NodeKey.from_private(Ed25519PrivateKey.from_private_bytes(seed))
    point = decode(key.public.raw)
    assert point is not None
    raw = encode(add(point, torsion))
    if torsion == IDENTITY:
        assert check_public_key(raw) == raw
    else:
        with pytest.raises(KeyFileError, match="torsion"):
            check_public_key(raw)


@settings(max_examples=200)
@given(seed=seeds, message=st.binary(max_size=256),
       r=st.sampled_from([encode(p) for p in SMALL_ORDER]))
def test_signature_with_small_order_r_and_zero_s_never_verifies_under_an_accepted_key(
        seed: bytes, message: bytes, r: bytes) -> None:
    # With A of prime order, [0]B = R + [k]A needs R = -[k]A: impossible for R of small
    # order unless both are the identity, which the check has excluded.
    key = PeerKey(NodeKey.from_private(Ed25519PrivateKey.from_private_bytes(seed)).public.raw)
    assert not key.verifies(FORGED_SIGNATURE, message)
    assert not key.verifies(r + b"\x00" * 32, message)


@settings(max_examples=200)
@given(raw=st.binary(min_size=32, max_size=32), message=st.binary(max_size=64))
def test_forged_signature_never_verifies_under_any_key_that_passes_the_check(
        raw: bytes, message: bytes) -> None:
    try:
        key = PeerKey(raw)
    except KeyFileError:
        return
    assert not key.verifies(FORGED_SIGNATURE, message)
