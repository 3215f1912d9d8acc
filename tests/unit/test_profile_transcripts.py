"""Keystroke digraph SimHash: input only, single keys, (0, 1.5] s gaps, evidence thresholds."""

from __future__ import annotations

import pytest

from node.profile.simhash import simhash
from node.profile.transcripts import (
    InputChunk,
    digraph_gaps,
    gap_bucket,
    keystroke_profile,
    keystroke_tokens,
)


def typed(text: str, gap: float = 0.1, start: float = 1.0) -> list[InputChunk]:
    return [InputChunk(start + i * gap, ch) for i, ch in enumerate(text)]


@pytest.mark.parametrize(("gap", "bucket"), [
    (0.001, 0), (0.03, 0), (0.031, 1), (0.06, 1), (0.1, 2), (0.12, 2), (0.2, 3), (0.25, 3),
    (0.4, 4), (0.5, 4), (0.9, 5), (1.0, 5), (1.2, 6), (1.5, 6),
])
def test_gap_buckets(gap: float, bucket: int) -> None:
    assert gap_bucket(gap) == bucket


def test_consecutive_single_keys_form_digraphs() -> None:
    assert digraph_gaps(typed("abc")) == {"ab": [pytest.approx(0.1)], "bc": [pytest.approx(0.1)]}


def test_pastes_break_the_chain() -> None:
    chunks = [InputChunk(1.0, "a"), InputChunk(1.1, "pasted"), InputChunk(1.2, "b"),
              InputChunk(1.3, "c")]
    assert set(digraph_gaps(chunks)) == {"bc"}


def test_undecodable_bytes_break_the_chain() -> None:
    chunks = [InputChunk(1.0, "a"), InputChunk(1.1, "\ufffd"), InputChunk(1.2, "b")]
    assert digraph_gaps(chunks) == {}


@pytest.mark.parametrize("gap", [0.0, 1.5001, 3.0])
def test_gaps_outside_zero_to_one_and_a_half_seconds_are_dropped(gap: float) -> None:
    assert digraph_gaps([InputChunk(1.0, "a"), InputChunk(1.0 + gap, "b")]) == {}


def test_gap_of_exactly_one_and_a_half_seconds_counts() -> None:
    assert digraph_gaps([InputChunk(1.0, "a"), InputChunk(2.5, "b")]) == {"ab": [1.5]}


def test_chunks_are_ordered_by_time() -> None:
    assert digraph_gaps(reversed(typed("ab"))) == digraph_gaps(typed("ab"))


def test_tokens_use_the_median_gap_and_count_as_weight() -> None:
    gaps = {"ab": [0.1, 0.2, 0.9], "cd": [0.02]}
    assert keystroke_tokens(gaps) == [("ab:3", 3), ("cd:0", 1)]


def test_below_eight_distinct_digraphs_is_no_signal() -> None:
    profile = keystroke_profile(typed("abcdefgh" * 4))
    assert (profile.digraphs, profile.samples) == (8, 31)
    assert profile.simhash != 0
    seven = keystroke_profile(typed("abcdefg" * 5))
    assert seven.digraphs == 7
    assert seven.samples >= 20
    assert seven.simhash == 0


def test_below_twenty_samples_is_no_signal() -> None:
    nineteen = keystroke_profile(typed("abcdefghijklmnopqrst"))  # 19 digraphs, 19 samples
    assert (nineteen.digraphs, nineteen.samples, nineteen.simhash) == (19, 19, 0)
    twenty = keystroke_profile(typed("abcdefghijklmnopqrstu"))
    assert (twenty.samples, twenty.simhash != 0) == (20, True)


def test_the_simhash_is_charikar_over_the_tokens() -> None:
    chunks = typed("the quick brown fox jumps over")
    expected = simhash(keystroke_tokens(digraph_gaps(chunks)))
    assert keystroke_profile(chunks).simhash == expected
