"""How far apart are keystroke SimHashes of the same typist, and of different typists?

Calibrates the clusterer's `KEYSTROKE_DISTANCE` and `MIN_KEYSTROKE_SAMPLES`
(node/cluster) on the simulator's typing model (node/simulate/keystrokes.py):
per typist, sessions typing different command sets (the defaults of every
phase, shuffled, cut to a length); across typists, sessions typing the same
text. Prints, per minimum sample count, the distance distribution within and
across typists and the share of each pair kind a distance bound accepts.
Asserts nothing. Usage: python bench/keystrokes.py [--typists N] [--sessions N]
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from node.profile.simhash import hamming  # noqa: E402
from node.profile.transcripts import InputChunk, keystroke_profile  # noqa: E402
from node.simulate.keystrokes import TypingRhythm  # noqa: E402
from node.simulate.phases import DEFAULT_COMMANDS  # noqa: E402

_POOL = sorted({c for commands in DEFAULT_COMMANDS.values() for c in commands})


def session(rhythm: TypingRhythm, rng: random.Random, text: tuple[str, ...]) -> tuple[int, int]:
    """(SimHash, samples) of one session typing ``text``."""
    typed = rhythm.type_commands(text, 0.0, rng)
    profile = keystroke_profile(InputChunk(c.t, c.data) for c in typed.chunks
                                if c.channel == "i")
    return profile.simhash, profile.samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--typists", type=int, default=40)
    parser.add_argument("--sessions", type=int, default=6)
    args = parser.parse_args()
    rng = random.Random(7)
    rhythms = [TypingRhythm(f"typist-{t}") for t in range(args.typists)]
    for length in (2, 4, 8):
        scripts = [tuple(rng.sample(_POOL, length)) for _ in range(args.sessions)]
        # every typist types every script: same text within a column, same hands within a row
        typed = [[session(r, rng, script) for script in scripts] for r in rhythms]
        samples = sorted(s for row in typed for _, s in row)
        again = [session(r, rng, scripts[0]) for r in rhythms]  # the same text, once more
        kinds = {
            "same typist, same text": [hamming(a[0], b[0]) for a, b
                                       in zip((row[0] for row in typed), again, strict=True)],
            "same typist, other text": [hamming(a[0], b[0]) for row in typed
                                        for a, b in itertools.combinations(row, 2)],
            "other typist, same text": [hamming(typed[i][c][0], typed[j][c][0])
                                        for c in range(len(scripts))
                                        for i, j in itertools.combinations(range(len(typed)), 2)],
        }
        print(f"{length} commands per session: timing samples p10"
              f" {samples[len(samples) // 10]}, median {samples[len(samples) // 2]}")
        for bound in (3, 6, 10, 14):
            shares = "   ".join(f"{kind} {sum(d <= bound for d in found) / len(found):6.1%}"
                               for kind, found in kinds.items())
            print(f"  distance <= {bound:2d}: {shares}")


if __name__ == "__main__":
    main()
