"""HammingIndex: exact neighbours, duplicates, radius edges, empty index, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from node.hamming_index import (
    ALWAYS_INDEXED_RADIUS,
    MAX_BLOCK_BITS,
    HammingIndex,
    block_count,
    block_widths,
)

BASE = 0x0123_4567_89AB_CDEF


def flip(value: int, *bits: int) -> int:
    for bit in bits:
        value ^= 1 << bit
    return value


def test_values_within_the_radius_are_found_and_farther_ones_are_not() -> None:
    values = [flip(BASE, *range(k)) for k in range(10)]  # distance k from BASE at position k
    index = HammingIndex.build(values)
    for radius in range(10):
        assert index.within(BASE, radius).tolist() == list(range(radius + 1))


def test_matches_spread_over_every_block_are_found() -> None:
    near = [flip(BASE, bit) for bit in range(64)]
    index = HammingIndex.build([BASE ^ 0xFFFF_FFFF_FFFF_FFFF, *near])
    assert index.within(BASE, 1).tolist() == list(range(1, 65))
    assert index.within(BASE, 0).tolist() == []


def test_distances_within_reports_each_matchs_distance() -> None:
    values = [flip(BASE, 1, 40, 63), BASE, flip(BASE, 20), 0]
    positions, distances = HammingIndex.build(values).distances_within(BASE, 5)
    assert positions.tolist() == [0, 1, 2]
    assert distances.tolist() == [3, 0, 1]
    assert positions.dtype == np.int64 and distances.dtype == np.int64


def test_duplicates_are_each_counted_at_their_own_position() -> None:
    values = [BASE, 7, BASE, flip(BASE, 3), BASE]
    index = HammingIndex.build(values)
    assert index.within(BASE, 0).tolist() == [0, 2, 4]
    assert index.within(BASE, 1).tolist() == [0, 2, 3, 4]


def test_radius_zero_finds_only_exact_copies() -> None:
    values = [BASE, flip(BASE, 0), flip(BASE, 63), BASE]
    assert HammingIndex.build(values).within(BASE, 0).tolist() == [0, 3]


def test_radius_64_returns_every_position() -> None:
    values = np.random.default_rng(5).integers(0, 2**64, size=3000, dtype=np.uint64)
    index = HammingIndex.build(values)
    assert index.within(12345, 64).tolist() == list(range(3000))
    assert index.within(12345, 100).tolist() == list(range(3000))


def test_positions_come_back_ascending_int64() -> None:
    rng = np.random.default_rng(9)
    values = rng.integers(0, 2**64, size=5000, dtype=np.uint64)
    positions = HammingIndex.build(values).within(int(values[17]), 24)
    assert positions.dtype == np.int64
    assert np.all(np.diff(positions) > 0)
    assert 17 in positions


def test_the_extreme_values_are_indexed() -> None:
    top = 2**64 - 1
    index = HammingIndex.build([0, top, top - 1])
    assert index.within(top, 1).tolist() == [1, 2]
    assert index.within(0, 0).tolist() == [0]


def test_empty_index_answers_with_empty_arrays() -> None:
    index = HammingIndex.build([])
    assert len(index) == 0
    for radius in (0, 3, 16, 64):
        positions, distances = index.distances_within(BASE, radius)
        assert positions.tolist() == [] and distances.tolist() == []
        assert positions.dtype == np.int64


def test_a_uint64_array_and_python_ints_build_the_same_index() -> None:
    values = [BASE, 2**64 - 1, 0, 2**63]
    from_ints = HammingIndex.build(values)
    from_array = HammingIndex.build(np.array(values, dtype=np.uint64))
    assert len(from_ints) == len(from_array) == 4
    for radius in (0, 1, 33, 64):
        assert from_ints.within(2**63, radius).tolist() == from_array.within(2**63, radius).tolist()


@pytest.mark.parametrize("bad", [-1, 2**64, 1.5, True, "1", None])
def test_values_outside_64_unsigned_bits_are_rejected(bad: object) -> None:
    with pytest.raises(ValueError):
        HammingIndex.build([1, bad])  # type: ignore[list-item]


@pytest.mark.parametrize("bad", [np.array([1, -1], dtype=np.int64), np.array([1.0]),
                                 np.zeros((2, 2), dtype=np.uint64), np.array([True])])
def test_arrays_that_are_not_1d_unsigned_64_bit_values_are_rejected(bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        HammingIndex.build(bad)


def test_a_bad_probe_or_radius_is_rejected() -> None:
    index = HammingIndex.build([BASE])
    for probe in (-1, 2**64, 2.0):
        with pytest.raises(ValueError):
            index.within(probe, 3)  # type: ignore[arg-type]
    for radius in (-1, 2.0, True):
        with pytest.raises(ValueError):
            index.within(BASE, radius)  # type: ignore[arg-type]


def test_a_block_count_outside_the_supported_range_is_rejected() -> None:
    for blocks in (2, 9):
        with pytest.raises(ValueError):
            HammingIndex.build([BASE], blocks=blocks)


@pytest.mark.parametrize(("n", "blocks"), [(0, 8), (1, 8), (1_000, 8), (10_000, 7),
                                           (100_000, 5), (1_000_000, 4), (4_000_000, 4)])
def test_block_count_grows_block_width_with_the_number_of_values(n: int, blocks: int) -> None:
    assert block_count(n) == blocks


@pytest.mark.parametrize("blocks", range(3, 9))
def test_blocks_are_contiguous_and_cover_64_bits(blocks: int) -> None:
    widths = block_widths(blocks)
    assert sum(widths) == 64 and len(widths) == blocks
    assert max(widths) - min(widths) <= 1 and max(widths) <= MAX_BLOCK_BITS


def test_radii_up_to_16_never_fall_back_to_a_scan() -> None:
    for n in (10, 1000, 100_000):
        values = np.random.default_rng(n).integers(0, 2**64, size=n, dtype=np.uint64)
        index = HammingIndex.build(values)
        assert not any(index.scans(radius) for radius in range(ALWAYS_INDEXED_RADIUS + 1))
        assert index.scans(64)


def test_the_scan_fallback_gives_the_same_answers_as_the_blocks() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(0, 2**64, size=4000, dtype=np.uint64)
    values[:100] = values[0] ^ (np.uint64(1) << rng.integers(0, 64, 100).astype(np.uint64))
    scanning = HammingIndex.build(values, scan_from_radius=0)
    indexed = HammingIndex.build(values, scan_from_radius=65)
    for radius in (0, 2, 5, 16, 30, 64):
        assert scanning.scans(radius) and not indexed.scans(radius)
        a, b = scanning.distances_within(int(values[0]), radius), \
            indexed.distances_within(int(values[0]), radius)
        assert a[0].tolist() == b[0].tolist() and a[1].tolist() == b[1].tolist()


def test_changing_the_callers_array_after_build_changes_no_answer() -> None:
    values = np.array([BASE, 1, 2], dtype=np.uint64)
    index = HammingIndex.build(values)
    values[0] = 0
    assert index.within(BASE, 0).tolist() == [0]
