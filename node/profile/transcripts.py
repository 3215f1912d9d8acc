"""Keystroke digraph SimHash of an interactive session, from transcript input chunks.

Only attacker input (``ch == "i"``) counts. Walking the input chunks in time
order, two consecutive chunks that are each exactly one character form a
digraph sample when the gap between them is in (0, 1.5] s; a paste, a
multi-character chunk or an undecodable byte breaks the chain. Per digraph the
median gap is bucketed (0.03/0.06/0.12/0.25/0.5/1.0 s upper bounds → 0..5,
above → 6) and the token ``"<digraph>:<bucket>"`` is weighted by the digraph's
sample count. Fewer than `MIN_DIGRAPHS` distinct digraphs or `MIN_SAMPLES`
samples is no signal (SimHash 0): too little typing to say whose hands.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from statistics import median
from typing import NamedTuple

from node.profile.simhash import NO_SIGNAL, simhash

MAX_GAP_S = 1.5
BUCKET_BOUNDS_S = (0.03, 0.06, 0.12, 0.25, 0.5, 1.0)
MIN_DIGRAPHS = 8
MIN_SAMPLES = 20
_UNDECODABLE = "\ufffd"


class InputChunk(NamedTuple):
    """One attacker input chunk: seconds since session start and the text typed."""

    t: float
    d: str


class KeystrokeProfile(NamedTuple):
    """A session's keystroke SimHash (0 = no signal) and what it was built from."""

    simhash: int
    digraphs: int
    samples: int


def gap_bucket(gap_s: float) -> int:
    """Bucket index of a median inter-key gap."""
    return bisect.bisect_left(BUCKET_BOUNDS_S, gap_s)


def digraph_gaps(chunks: Iterable[InputChunk]) -> dict[str, list[float]]:
    """Digraph → inter-key gaps, from input chunks in any order (sorted here)."""
    gaps: dict[str, list[float]] = {}
    previous: InputChunk | None = None
    for chunk in sorted(chunks):
        if len(chunk.d) != 1 or chunk.d == _UNDECODABLE:
            previous = None
            continue
        if previous is not None:
            gap = chunk.t - previous.t
            if 0 < gap <= MAX_GAP_S:
                gaps.setdefault(previous.d + chunk.d, []).append(gap)
        previous = chunk
    return gaps


def keystroke_tokens(gaps: dict[str, list[float]]) -> list[tuple[str, int]]:
    """``("<digraph>:<bucket>", count)`` per digraph, sorted for determinism."""
    return sorted((f"{digraph}:{gap_bucket(median(values))}", len(values))
                  for digraph, values in gaps.items())


def keystroke_profile(chunks: Iterable[InputChunk]) -> KeystrokeProfile:
    """The session's keystroke SimHash, or 0 below the evidence thresholds."""
    gaps = digraph_gaps(chunks)
    samples = sum(len(v) for v in gaps.values())
    if len(gaps) < MIN_DIGRAPHS or samples < MIN_SAMPLES:
        return KeystrokeProfile(NO_SIGNAL, len(gaps), samples)
    return KeystrokeProfile(simhash(keystroke_tokens(gaps)), len(gaps), samples)
