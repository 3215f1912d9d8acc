"""Envelopes: sign/verify, domain separation, and the freshness checks (clock window, nonces)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.envelope import (
    NONCE_BYTES,
    Envelope,
    decode_envelope,
    encode_envelope,
    sign_answer,
    sign_request,
    verify_answer,
    verify_request,
)
from federation.errors import (
    BadAnswer,
    BadSignature,
    GarbledEnvelope,
    OutsideClockWindow,
    OverBudget,
    ReplayedRequest,
)
from federation.keys import NodeKey
from federation.replay import NonceCache, check_clock_window
from federation.wire import METHODS, SMTP_TARGET_SEEN

KEY = NodeKey.generate()
OTHER = NodeKey.generate()
NOW_MS = 1_772_442_600_000
BODY = b"\x08\x01\x12\tcorp1.com"


def signed(method: str = SMTP_TARGET_SEEN, body: bytes = BODY) -> tuple[Envelope, bytes]:
    return sign_request(KEY, method, 1, body, now_ms=NOW_MS)


def test_request_signature_verifies_and_round_trips_through_metadata_bytes() -> None:
    envelope, digest = signed()
    decoded = decode_envelope(encode_envelope(envelope))
    assert decoded == envelope
    assert verify_request(decoded, KEY.public, SMTP_TARGET_SEEN, BODY) == digest


def test_signature_by_another_key_is_bad() -> None:
    envelope, _ = signed()
    with pytest.raises(BadSignature):
        verify_request(envelope, OTHER.public, SMTP_TARGET_SEEN, BODY)


@pytest.mark.parametrize("method", [m for m in METHODS if m != SMTP_TARGET_SEEN])
def test_signature_for_one_method_never_verifies_for_another(method: str) -> None:
    envelope, _ = signed()
    moved = Envelope(envelope.key_id, method, envelope.schema_version, envelope.timestamp_ms,
                     envelope.nonce, envelope.signature)
    with pytest.raises(BadSignature):
        verify_request(envelope, KEY.public, method, BODY)
    with pytest.raises(BadSignature):
        verify_request(moved, KEY.public, method, BODY)


def test_answer_is_bound_to_its_request_and_is_not_a_request() -> None:
    _, digest = signed()
    _, other_digest = signed()
    answer = sign_answer(KEY, SMTP_TARGET_SEEN, 1, digest, b"answer", now_ms=NOW_MS)
    verify_answer(answer, KEY.public, SMTP_TARGET_SEEN, digest, b"answer")
    with pytest.raises(BadAnswer):
        verify_answer(answer, KEY.public, SMTP_TARGET_SEEN, other_digest, b"answer")
    with pytest.raises(BadAnswer):
        verify_answer(answer, KEY.public, SMTP_TARGET_SEEN, digest, b"answeR")
    with pytest.raises(BadAnswer):
        verify_answer(answer, OTHER.public, SMTP_TARGET_SEEN, digest, b"answer")
    with pytest.raises(BadSignature):  # an answer's signature is never a request's
        verify_request(answer, KEY.public, SMTP_TARGET_SEEN, b"answer")


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_tampering_any_byte_of_any_signed_field_fails_verification(data: st.DataObject) -> None:
    body = data.draw(st.binary(min_size=1, max_size=64), label="body")
    envelope, _ = sign_request(KEY, SMTP_TARGET_SEEN, 1, body, now_ms=NOW_MS)
    field = data.draw(st.sampled_from(
        ["key_id", "method", "schema_version", "timestamp_ms", "nonce", "signature", "body"]))
    fields = {"key_id": envelope.key_id, "method": envelope.method,
              "schema_version": envelope.schema_version, "timestamp_ms": envelope.timestamp_ms,
              "nonce": envelope.nonce, "signature": envelope.signature}
    if field in ("schema_version", "timestamp_ms"):
        delta = data.draw(st.integers(1, 2**31 - 1))
        fields[field] = int(fields[field]) ^ delta  # type: ignore[call-overload]
    elif field == "body":
        index = data.draw(st.integers(0, len(body) - 1))
        flip = data.draw(st.integers(1, 255))
        body = body[:index] + bytes([body[index] ^ flip]) + body[index + 1:]
    else:
        raw = fields[field]
        raw_bytes = raw.encode() if isinstance(raw, str) else raw
        assert isinstance(raw_bytes, bytes)
        index = data.draw(st.integers(0, len(raw_bytes) - 1))
        flip = data.draw(st.integers(1, 127))
        tampered = raw_bytes[:index] + bytes([raw_bytes[index] ^ flip]) + raw_bytes[index + 1:]
        fields[field] = tampered.decode("latin-1") if isinstance(raw, str) else tampered
    forged = Envelope(**fields)  # type: ignore[arg-type]
    with pytest.raises(BadSignature):
        verify_request(forged, KEY.public, SMTP_TARGET_SEEN, body)


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=64), other=st.binary(max_size=64),
       method=st.sampled_from(METHODS), other_method=st.sampled_from(METHODS))
def test_a_signature_for_one_method_and_request_never_verifies_for_another(
        body: bytes, other: bytes, method: str, other_method: str) -> None:
    if (body, method) == (other, other_method):
        return
    envelope, _ = sign_request(KEY, method, 1, body, now_ms=NOW_MS)
    with pytest.raises(BadSignature):
        verify_request(Envelope(envelope.key_id, other_method, 1, NOW_MS, envelope.nonce,
                                envelope.signature), KEY.public, other_method, other)


@pytest.mark.parametrize("raw", [
    b"\xff\xff\xff", b"", b"x" * 600,
    encode_envelope(Envelope("NOTHEX", SMTP_TARGET_SEEN, 1, 0, b"n" * NONCE_BYTES, b"s" * 64)),
    encode_envelope(Envelope("0" * 16, "no-method", 1, 0, b"n" * NONCE_BYTES, b"s" * 64)),
    encode_envelope(Envelope("0" * 16, SMTP_TARGET_SEEN, 1, 0, b"short", b"s" * 64)),
    encode_envelope(Envelope("0" * 16, SMTP_TARGET_SEEN, 1, 0, b"n" * NONCE_BYTES, b"s")),
])
def test_garbled_envelopes_are_refused(raw: bytes) -> None:
    with pytest.raises(GarbledEnvelope):
        decode_envelope(raw)


@pytest.mark.parametrize(("offset_ms", "reason"), [
    (-120_001, "stale"), (120_001, "future"), (-10**12, "stale"), (10**12, "future")])
def test_timestamps_outside_the_window_are_refused_with_a_reason(offset_ms: int,
                                                                reason: str) -> None:
    with pytest.raises(OutsideClockWindow, match=reason):
        check_clock_window(NOW_MS + offset_ms, NOW_MS, 120_000)


@pytest.mark.parametrize("offset_ms", [-120_000, 0, 120_000])
def test_timestamps_inside_the_window_pass(offset_ms: int) -> None:
    check_clock_window(NOW_MS + offset_ms, NOW_MS, 120_000)


def test_nonce_is_accepted_once_inside_the_window_then_forgotten() -> None:
    cache = NonceCache(window_ms=120_000, max_entries=10)
    cache.check("k", b"n1", NOW_MS)
    cache.remember("k", b"n1", NOW_MS, NOW_MS)
    with pytest.raises(ReplayedRequest):
        cache.check("k", b"n1", NOW_MS + 119_000)
    with pytest.raises(ReplayedRequest):
        cache.remember("k", b"n1", NOW_MS, NOW_MS + 1)
    cache.remember("other-key", b"n1", NOW_MS, NOW_MS)  # nonces are per key
    cache.check("k", b"n1", NOW_MS + 120_001)  # the clock check refuses it from now on
    assert len(cache) == 0


def test_full_nonce_cache_fails_closed() -> None:
    cache = NonceCache(window_ms=1000, max_entries=2)
    cache.remember("k", b"1", NOW_MS, NOW_MS)
    cache.remember("k", b"2", NOW_MS, NOW_MS)
    with pytest.raises(OverBudget):
        cache.remember("k", b"3", NOW_MS, NOW_MS)
    cache.remember("k", b"3", NOW_MS + 2000, NOW_MS + 1001)  # the old ones expired
