"""How much a shared exact value says, by how rare it is in the node's own population.

A stock SSH library's HASSH, a common HTTP client's JA3, a public code host
or a big website probed through an SSH proxy are seen from many unrelated
sources; a tool build, a dropper or a C2 host of one actor from few. So a
value seen by ``df`` members (observations at the identity layer, identities
at the campaign layer) weighs:

- 1 when ``df <= RARE`` (16): one such value links on its own;
- ``log(COMMON / df) / log(COMMON / RARE)`` in between, falling from 1 to 0:
  a pair needs several of them together (two values seen by 32 each weigh
  0.5 + 0.5);
- 0 from ``COMMON`` (64) on: never evidence.

Two members link when the weights of what they share add up to `LINK` (1).
So two dozen scanners sharing one stock fingerprint (0.71) stay apart,
while an actor rotating over two dozen addresses with its own JA3 and HASSH
(0.71 + 0.71) is one identity. The thresholds are absolute counts, not
shares of the population: an actor's tooling is rare whether the node has
seen a hundred sources or a million. ``COMMON`` bounds the candidate pairs a
value makes (at most 2,016): at 256, the bench/ingest.py corpus (20 k
sources, client fingerprints drawn from pools of a few hundred) made 15 M
candidate pairs and a 66 s pass, at 64 it makes 0.2 M. The price: an actor
rotating over more than 64 addresses links only through values it shares
with fewer of them.
"""

from __future__ import annotations

import math

#: Seen by at most this many members, a value links on its own.
RARE = 16
#: Seen by this many members or more, a value is no evidence at all.
COMMON = 64
#: Summed weight at which two members link.
LINK = 1.0


def weight(df: int) -> float:
    """The evidence of one shared value seen by ``df`` members (``df`` >= 2 to be shared)."""
    if df <= RARE:
        return 1.0
    if df >= COMMON:
        return 0.0
    return math.log(COMMON / df) / math.log(COMMON / RARE)


def confidence(score: float) -> float:
    """A link's confidence in [0, 1) from its summed evidence: 1 - e^-score (1 → 0.63, 3 → 0.95)."""
    return 1.0 - math.exp(-score)
