"""Typing rhythm: an actor's keystrokes, timed so its sessions share a keystroke SimHash.

The profiler (`node.profile.transcripts`) buckets each digraph's median gap
(bounds 0.03/0.06/0.12/0.25/0.5/1.0 s) and SimHashes the ``digraph:bucket``
tokens. A rhythm therefore fixes, per digraph and from the actor's seed
alone, a gap at the geometric centre of one bucket, and every keystroke
varies it by at most ±20 %: inside the bucket, so the same actor typing the
same text gets the same SimHash in every session, and overlapping text
gets a near one. Gaps between commands (thinking, reading output) are
longer than the profiler's 1.5 s window and make no samples.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from typing import Final

#: Geometric centres of the profiler's gap buckets 0..5, seconds.
BUCKET_CENTRES_S: Final = (0.02, 0.0424, 0.0849, 0.1732, 0.3536, 0.7071)
#: Largest factor (and its inverse) a keystroke's gap strays from its digraph's centre.
_SPREAD: Final = 0.2
#: Think time after a command's output before the next is typed, seconds.
THINK_S: Final = (1.8, 4.0)
#: After Enter, the prompt comes back this much later.
ECHO_DELAY_S: Final = 0.05


@dataclass(frozen=True, slots=True)
class Chunk:
    """One transcript chunk: seconds since the session started, channel (i/o), data."""

    t: float
    channel: str
    data: str


@dataclass(frozen=True, slots=True)
class Typed:
    """A typed session: its chunks and the time each command's Enter was pressed."""

    chunks: tuple[Chunk, ...]
    enter_times: tuple[float, ...]


class TypingRhythm:
    """An actor's rhythm, fixed by a seed: a base speed and a bucket per digraph."""

    def __init__(self, seed: str) -> None:
        self._seed = seed.encode()
        self._speed = 1 + self._draw(b"speed") % 3  # buckets 1..3: fast, medium, slow

    def gap_s(self, digraph: str) -> float:
        """The centre gap of this digraph for this actor."""
        shift = (-1, 0, 0, 1, 2)[self._draw(digraph.encode()) % 5]
        bucket = min(max(self._speed + shift, 0), len(BUCKET_CENTRES_S) - 1)
        return BUCKET_CENTRES_S[bucket]

    def type_commands(self, commands: tuple[str, ...], start_s: float,
                      rng: random.Random) -> Typed:
        """Chunks of typing ``commands`` (each ended by Enter) from ``start_s`` on."""
        chunks: list[Chunk] = []
        enters: list[float] = []
        t = start_s
        for command in commands:
            previous = ""
            for char in command + "\r":
                if previous:
                    t += self.gap_s(previous + char) * math.exp(rng.uniform(-_SPREAD, _SPREAD))
                chunks.append(Chunk(round(t, 6), "i", char))
                previous = char
            enters.append(round(t, 6))
            chunks.append(Chunk(round(t + ECHO_DELAY_S, 6), "o", "\r\n# "))
            t += ECHO_DELAY_S + rng.uniform(*THINK_S)
        return Typed(tuple(chunks), tuple(enters))

    def _draw(self, label: bytes) -> int:
        digest = hashlib.sha256(self._seed + b"\x00" + label).digest()
        return int.from_bytes(digest[:8], "big")
