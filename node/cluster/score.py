"""How well a predicted partition of observations matches the truth (scenarios/README.md).

Both partitions map each item (an observation) to a label; labels are
compared only for equality, so relabelling changes nothing. Written by
hand from the contingency table (counts of items per (truth, predicted)
label pair), with natural logarithms:

- adjusted Rand index: pair-counting agreement corrected for chance,
  computed in exact integers; 1.0 with fewer than 2 items or when the
  expected index equals the maximum index (nothing to distinguish);
- homogeneity: 1 − H(truth | predicted) / H(truth), 1.0 when H(truth) = 0;
  falls when different truths are merged;
- completeness: 1 − H(predicted | truth) / H(predicted), 1.0 when
  H(predicted) = 0; falls when one truth is split;
- singleton recall: the share of the truth's singletons that are alone in
  the prediction too; 1.0 when the truth has none.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, slots=True)
class Scores:
    """All four scores of one prediction."""

    adjusted_rand_index: float
    homogeneity: float
    completeness: float
    singleton_recall: float


def score(truth: Mapping[str, str], predicted: Mapping[str, str]) -> Scores:
    """Every score of ``predicted`` against ``truth`` (the same items in both)."""
    return Scores(adjusted_rand_index(truth, predicted), homogeneity(truth, predicted),
                  completeness(truth, predicted), singleton_recall(truth, predicted))


def adjusted_rand_index(truth: Mapping[str, str], predicted: Mapping[str, str]) -> float:
    """Hubert and Arabie's adjusted Rand index; symmetric in its arguments."""
    cells, truth_sizes, predicted_sizes = _contingency(truth, predicted)
    n = len(truth)
    if n < 2:
        return 1.0
    index = sum(_pairs(c) for c in cells.values())
    truth_pairs = sum(_pairs(a) for a in truth_sizes.values())
    predicted_pairs = sum(_pairs(b) for b in predicted_sizes.values())
    all_pairs = _pairs(n)
    # (index − expected) / (max − expected), multiplied through by 2·C(n, 2) to stay exact.
    numerator = 2 * (index * all_pairs - truth_pairs * predicted_pairs)
    denominator = (truth_pairs + predicted_pairs) * all_pairs - 2 * truth_pairs * predicted_pairs
    if denominator == 0:
        return 1.0
    return float(Fraction(numerator, denominator))


def homogeneity(truth: Mapping[str, str], predicted: Mapping[str, str]) -> float:
    """1 − H(truth | predicted) / H(truth): does each predicted cluster hold one truth?"""
    return _informed(truth, predicted)


def completeness(truth: Mapping[str, str], predicted: Mapping[str, str]) -> float:
    """1 − H(predicted | truth) / H(predicted): is each truth in one predicted cluster?"""
    return _informed(predicted, truth)


def singleton_recall(truth: Mapping[str, str], predicted: Mapping[str, str]) -> float:
    """Of the items alone in the truth, the share alone in the prediction too."""
    _check_items(truth, predicted)
    truth_sizes = Counter(truth.values())
    predicted_sizes = Counter(predicted.values())
    singletons = [item for item, label in truth.items() if truth_sizes[label] == 1]
    if not singletons:
        return 1.0
    kept = sum(1 for item in singletons if predicted_sizes[predicted[item]] == 1)
    return kept / len(singletons)


def _informed(of: Mapping[str, str], given: Mapping[str, str]) -> float:
    """1 − H(of | given) / H(of); 1.0 when H(of) = 0. Homogeneity and completeness both."""
    cells, of_sizes, given_sizes = _contingency(of, given)
    n = len(of)
    entropy = -sum(a / n * math.log(a / n) for a in of_sizes.values())
    if entropy == 0.0:
        return 1.0
    conditional = -sum(c / n * math.log(c / given_sizes[g]) for (_, g), c in cells.items())
    return min(1.0, max(0.0, 1.0 - conditional / entropy))


def _contingency(first: Mapping[str, str], second: Mapping[str, str]) -> tuple[
        Counter[tuple[str, str]], Counter[str], Counter[str]]:
    """Counts per (first label, second label), per first label and per second label."""
    _check_items(first, second)
    cells = Counter((label, second[item]) for item, label in first.items())
    return cells, Counter(first.values()), Counter(second.values())


def _check_items(first: Mapping[str, str], second: Mapping[str, str]) -> None:
    if first.keys() != second.keys():
        only_first = len(first.keys() - second.keys())
        only_second = len(second.keys() - first.keys())
        raise ValueError(f"the partitions cover different items ({only_first} only in the"
                         f" first, {only_second} only in the second)")


def _pairs(count: int) -> int:
    return count * (count - 1) // 2
