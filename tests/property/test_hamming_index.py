"""HammingIndex answers exactly what a brute-force scan answers, for any set, probe and radius."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from node.hamming_index import MAX_BLOCKS, MIN_BLOCKS, HammingIndex, block_count

_hash = st.integers(0, 2**64 - 1)
_radius = st.one_of(st.integers(0, 20), st.integers(0, 64))
_few_bits = st.lists(st.integers(0, 63), max_size=6)


def _near(seed: int, bits: list[int]) -> int:
    for bit in bits:
        seed ^= 1 << bit
    return seed


@st.composite
def _clustered(draw: st.DrawFn, max_size: int = 60) -> list[int]:
    """Values around a few seeds (a few bits flipped each), some copied, some unrelated."""
    seeds = draw(st.lists(_hash, min_size=1, max_size=4))
    near = st.builds(_near, st.sampled_from(seeds), _few_bits)
    return draw(st.lists(st.one_of(near, near, _hash), max_size=max_size))


@st.composite
def _probe(draw: st.DrawFn, values: list[int]) -> int:
    around_a_stored_value = draw(st.booleans())
    if values and around_a_stored_value:
        return _near(draw(st.sampled_from(values)), draw(_few_bits))
    return draw(_hash)


def _brute(values: list[int], probe: int, radius: int) -> tuple[list[int], list[int]]:
    found = [(i, (v ^ probe).bit_count()) for i, v in enumerate(values)
             if (v ^ probe).bit_count() <= radius]
    return [i for i, _ in found], [d for _, d in found]


def _agrees(index: HammingIndex, values: list[int], probe: int, radius: int) -> None:
    positions, distances = index.distances_within(probe, radius)
    assert (positions.tolist(), distances.tolist()) == _brute(values, probe, radius)
    assert index.within(probe, radius).tolist() == positions.tolist()


@settings(max_examples=150)
@given(st.data(), _clustered(), st.integers(MIN_BLOCKS + 1, MAX_BLOCKS))
def test_every_block_count_answers_exactly_like_a_scan_at_every_radius(
        data: st.DataObject, values: list[int], blocks: int) -> None:
    index = HammingIndex.build(values, blocks=blocks, scan_from_radius=65)  # blocks only
    for _ in range(4):
        _agrees(index, values, data.draw(_probe(values)), data.draw(_radius))


@settings(max_examples=15)
@given(st.data(), _clustered())
def test_three_wide_blocks_answer_exactly_like_a_scan(
        data: st.DataObject, values: list[int]) -> None:
    # 22-bit blocks: 4 M-entry tables, so fewer examples and radii where masks stay small.
    index = HammingIndex.build(values, blocks=MIN_BLOCKS, scan_from_radius=65)
    for _ in range(4):
        _agrees(index, values, data.draw(_probe(values)), data.draw(st.integers(0, 16)))


@settings(max_examples=150)
@given(st.data(), _clustered())
def test_small_sets_answer_exactly_like_a_scan(data: st.DataObject, values: list[int]) -> None:
    index = HammingIndex.build(values)
    for _ in range(4):
        _agrees(index, values, data.draw(_probe(values)), data.draw(_radius))


def _generated(n: int, seed: int) -> list[int]:
    """n values, a fifth of them near-duplicates (1-6 bits flipped) of a few dozen seeds."""
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 2**64, size=n, dtype=np.uint64)
    near = n // 5
    seeds = values[rng.integers(0, 30, size=near)]
    for _ in range(rng.integers(1, 7)):
        seeds ^= np.uint64(1) << rng.integers(0, 64, size=near).astype(np.uint64)
    values[n - near:] = seeds
    return [int(v) for v in values]


@settings(max_examples=25)
@given(st.data(), st.sampled_from([300, 2_000, 9_000, 40_000]), st.integers(0, 2**32 - 1))
def test_larger_sets_with_the_default_block_count_answer_exactly_like_a_scan(
        data: st.DataObject, n: int, seed: int) -> None:
    values = _generated(n, seed)
    index = HammingIndex.build(np.array(values, dtype=np.uint64))
    assert len(index) == n and block_count(n) in (8, 7, 6, 5)
    for _ in range(3):
        _agrees(index, values, data.draw(_probe(values)), data.draw(_radius))
