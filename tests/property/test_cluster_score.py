"""Clustering scores: the README's definitions, checked against brute force and by their laws."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from node.cluster.score import (
    Scores,
    adjusted_rand_index,
    completeness,
    homogeneity,
    score,
    singleton_recall,
)

Partition = dict[str, str]

_labels = st.sampled_from("ABCDEF")


@st.composite
def partitions(draw: st.DrawFn, min_size: int = 0) -> Partition:
    size = draw(st.integers(min_size, 14))
    return {f"ip{i}": draw(_labels) for i in range(size)}


@st.composite
def pairs_of_partitions(draw: st.DrawFn, min_size: int = 0) -> tuple[Partition, Partition]:
    truth = draw(partitions(min_size))
    return truth, {item: draw(_labels) for item in truth}


def relabelled(partition: Partition, suffix: str) -> Partition:
    """The same partition under other label names."""
    names = {label: f"{label[::-1]}-{suffix}" for label in set(partition.values())}
    return {item: names[label] for item, label in partition.items()}


def brute_force_ari(truth: Partition, predicted: Partition) -> float:
    """ARI from pair counting over every pair of items (the textbook form, independent code)."""
    items = sorted(truth)
    n = len(items)
    if n < 2:
        return 1.0
    both = same_truth = same_predicted = 0
    for a, b in itertools.combinations(items, 2):
        t, p = truth[a] == truth[b], predicted[a] == predicted[b]
        both += t and p
        same_truth += t
        same_predicted += p
    pairs = n * (n - 1) / 2
    expected = same_truth * same_predicted / pairs
    maximum = (same_truth + same_predicted) / 2
    if maximum == expected:
        return 1.0
    return (both - expected) / (maximum - expected)


def entropy(partition: Partition) -> float:
    n = len(partition)
    return -sum(c / n * math.log(c / n) for c in Counter(partition.values()).values())


def joint_entropy(first: Partition, second: Partition) -> float:
    n = len(first)
    counts = Counter((first[item], second[item]) for item in first)
    return -sum(c / n * math.log(c / n) for c in counts.values())


@given(partitions())
def test_identical_partitions_score_one_everywhere(truth: Partition) -> None:
    assert score(truth, dict(truth)) == Scores(1.0, 1.0, 1.0, 1.0)
    assert score(truth, relabelled(truth, "x")) == Scores(1.0, 1.0, 1.0, 1.0)


@given(pairs_of_partitions())
def test_ari_is_symmetric(pair: tuple[Partition, Partition]) -> None:
    truth, predicted = pair
    assert adjusted_rand_index(truth, predicted) == adjusted_rand_index(predicted, truth)


@given(pairs_of_partitions())
def test_every_score_is_invariant_to_relabelling(pair: tuple[Partition, Partition]) -> None:
    truth, predicted = pair
    assert score(relabelled(truth, "t"), relabelled(predicted, "p")) == score(truth, predicted)


@given(pairs_of_partitions())
def test_ari_matches_brute_force_pair_counting(pair: tuple[Partition, Partition]) -> None:
    truth, predicted = pair
    assert adjusted_rand_index(truth, predicted) == pytest.approx(brute_force_ari(truth,
                                                                                  predicted))


@given(pairs_of_partitions())
def test_homogeneity_of_truth_is_completeness_of_swapped(
        pair: tuple[Partition, Partition]) -> None:
    truth, predicted = pair
    assert homogeneity(truth, predicted) == completeness(predicted, truth)


@given(pairs_of_partitions(min_size=1))
def test_homogeneity_and_completeness_follow_their_entropy_definitions(
        pair: tuple[Partition, Partition]) -> None:
    truth, predicted = pair
    h_truth, h_predicted = entropy(truth), entropy(predicted)
    joint = joint_entropy(truth, predicted)
    expected_h = 1.0 if h_truth == 0 else 1 - (joint - h_predicted) / h_truth
    expected_c = 1.0 if h_predicted == 0 else 1 - (joint - h_truth) / h_predicted
    assert homogeneity(truth, predicted) == pytest.approx(expected_h, abs=1e-9)
    assert completeness(truth, predicted) == pytest.approx(expected_c, abs=1e-9)
    assert 0.0 <= homogeneity(truth, predicted) <= 1.0
    assert 0.0 <= completeness(truth, predicted) <= 1.0


@given(partitions(min_size=2), st.data())
def test_merging_two_truth_clusters_lowers_homogeneity_only(truth: Partition,
                                                            data: st.DataObject) -> None:
    labels = sorted(set(truth.values()))
    assume(len(labels) >= 2)
    first, second = data.draw(st.lists(st.sampled_from(labels), min_size=2, max_size=2,
                                       unique=True))
    merged = {item: first if label == second else label for item, label in truth.items()}

    assert homogeneity(truth, merged) < 1.0
    assert completeness(truth, merged) == 1.0


@given(partitions(min_size=2), st.data())
def test_splitting_a_truth_cluster_lowers_completeness_only(truth: Partition,
                                                            data: st.DataObject) -> None:
    sizes = Counter(truth.values())
    big = sorted(label for label, count in sizes.items() if count >= 2)
    assume(big)
    label = data.draw(st.sampled_from(big))
    members = sorted(item for item, lab in truth.items() if lab == label)
    moved = data.draw(st.sets(st.sampled_from(members), min_size=1, max_size=len(members) - 1))
    split = {item: f"{lab}-split" if item in moved else lab for item, lab in truth.items()}

    assert completeness(truth, split) < 1.0
    assert homogeneity(truth, split) == 1.0


@given(pairs_of_partitions())
def test_singleton_recall_is_the_share_of_true_singletons_kept_alone(
        pair: tuple[Partition, Partition]) -> None:
    truth, predicted = pair
    truth_sizes, predicted_sizes = Counter(truth.values()), Counter(predicted.values())
    singles = [i for i in truth if truth_sizes[truth[i]] == 1]
    kept = [i for i in singles if predicted_sizes[predicted[i]] == 1]
    expected = 1.0 if not singles else len(kept) / len(singles)
    assert singleton_recall(truth, predicted) == expected


def test_hand_computed_values() -> None:
    truth = {"a": "x", "b": "x", "c": "y", "d": "y"}
    all_in_one = dict.fromkeys(truth, "one")
    all_alone = {item: item for item in truth}

    # Pairs: 6; same-truth pairs 2; one cluster: same-predicted 6, both 2 →
    # expected 2, max 4 → ARI (2 - 2) / (4 - 2) = 0.
    assert adjusted_rand_index(truth, all_in_one) == 0.0
    # All alone: same-predicted 0, expected 0, max 1, index 0 → 0.
    assert adjusted_rand_index(truth, all_alone) == 0.0
    # H(truth) = ln 2; one cluster: H(truth | predicted) = ln 2 → homogeneity 0;
    # H(predicted) = 0 → completeness 1.
    assert homogeneity(truth, all_in_one) == 0.0
    assert completeness(truth, all_in_one) == 1.0
    # All alone: homogeneity 1; H(predicted) = ln 4, H(predicted | truth) = ln 2 → 1/2.
    assert homogeneity(truth, all_alone) == 1.0
    assert completeness(truth, all_alone) == pytest.approx(0.5)
    # {a,b,c} together, d alone: pairs with both same: (a,b) → 1; same-truth 2;
    # same-predicted 3; expected 2*3/6 = 1; max 2.5 → ARI 0.
    assert adjusted_rand_index(truth, {"a": "1", "b": "1", "c": "1", "d": "2"}) == 0.0
    # A half-right prediction of six items, counted by hand:
    six_truth = dict(zip("abcdef", "xxxyyy", strict=True))
    six_pred = dict(zip("abcdef", "ppqqqq", strict=True))
    # both: (a,b) and (d,e),(d,f),(e,f) → 4; same-truth 6; same-predicted 1 + 6 = 7;
    # expected 6*7/15 = 2.8; max 6.5 → (4 - 2.8) / (6.5 - 2.8) = 1.2 / 3.7.
    assert adjusted_rand_index(six_truth, six_pred) == pytest.approx(1.2 / 3.7)


def test_edge_cases_of_the_definitions() -> None:
    assert adjusted_rand_index({}, {}) == 1.0
    assert adjusted_rand_index({"a": "x"}, {"a": "y"}) == 1.0
    # Every item alone in both: expected index 0 equals max index 0.
    assert adjusted_rand_index({"a": "1", "b": "2"}, {"a": "p", "b": "q"}) == 1.0
    assert homogeneity({"a": "x", "b": "x"}, {"a": "p", "b": "q"}) == 1.0  # H(truth) = 0
    assert completeness({"a": "x", "b": "y"}, {"a": "p", "b": "p"}) == 1.0  # H(pred) = 0
    assert singleton_recall({"a": "x", "b": "x"}, {"a": "p", "b": "q"}) == 1.0
    assert singleton_recall({"a": "x", "b": "y", "c": "y"}, {"a": "p", "b": "p", "c": "q"}) \
        == 0.0


def test_partitions_of_different_items_are_refused() -> None:
    with pytest.raises(ValueError, match="different items"):
        score({"a": "x"}, {"b": "x"})
