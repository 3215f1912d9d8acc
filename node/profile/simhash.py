"""64-bit Charikar SimHash over weighted tokens, and its canonical 16-hex form.

Each token is hashed to 64 bits (BLAKE2b, so every node computes the same
value); bit i of the SimHash is set when the weights of the tokens with bit i
set outweigh those without. Similar token multisets give SimHashes within a
small Hamming distance. Zero is reserved for "no signal".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from node.profile.rejection import Rejected

BITS = 64
NO_SIGNAL = 0
_HEX16 = re.compile(r"[0-9a-f]{16}")
_MASK = (1 << BITS) - 1


def token_hash(token: str) -> int:
    """Stable 64-bit hash of a token (big-endian BLAKE2b-64 of its UTF-8)."""
    digest = hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def simhash(weighted_tokens: Iterable[tuple[str, int]]) -> int:
    """Charikar SimHash of (token, weight) pairs; 0 for no tokens."""
    totals = [0] * BITS
    seen = False
    for token, weight in weighted_tokens:
        if weight <= 0:
            continue
        seen = True
        h = token_hash(token)
        for bit in range(BITS):
            if h >> bit & 1:
                totals[bit] += weight
            else:
                totals[bit] -= weight
    if not seen:
        return NO_SIGNAL
    value = 0
    for bit in range(BITS):
        if totals[bit] > 0:
            value |= 1 << bit
    return value


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit values."""
    return ((a ^ b) & _MASK).bit_count()


def format_simhash(value: int) -> str:
    """Canonical form: 16 lowercase hex digits, big-endian."""
    return f"{value & _MASK:016x}"


def parse_simhash(text: str) -> int | Rejected | None:
    """A 16-hex SimHash as an int; None for zero (no signal) or absent; else rejected."""
    value = text.strip().lower()
    if value in ("", "-"):
        return None
    if value.startswith("0x"):
        value = value[2:]
    if not _HEX16.fullmatch(value):
        return Rejected("simhash:bad_format")
    number = int(value, 16)
    return None if number == NO_SIGNAL else number
