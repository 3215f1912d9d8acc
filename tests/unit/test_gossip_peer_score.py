"""Peer misbehaviour score: weighted penalties, linear recovery, cool-down; virtual time."""

from __future__ import annotations

import dataclasses

import pytest

from federation.gossip.peer_score import OFFENCES, Offence, PeerScoreConfig, PeerScores

PEER = "0123456789abcdef"
CONFIG = PeerScoreConfig()


def test_penalties_are_ordered_by_how_deliberate_the_offence_must_be() -> None:
    costs = [CONFIG.penalty(o) for o in ("invalid_signature", "replayed", "malformed_record",
                                         "untrusted_origin", "over_budget")]
    assert costs == sorted(costs, reverse=True)
    assert costs[0] > costs[-1] * 10
    assert set(OFFENCES) == {"invalid_signature", "replayed", "malformed_record",
                             "untrusted_origin", "over_budget"}


@pytest.mark.parametrize(("offences", "elapsed_s", "score"), [
    ([], 0.0, 100.0),
    (["over_budget"], 0.0, 98.0),
    (["invalid_signature"], 0.0, 60.0),
    (["invalid_signature"], 720.0, 80.0),                 # 100 points an hour, linearly
    (["invalid_signature"], 1440.0, 100.0),
    (["invalid_signature"], 100_000.0, 100.0),            # never above the maximum
    (["invalid_signature"] * 10, 0.0, -100.0),            # never below the floor
    (["invalid_signature"] * 10, 7200.0, 100.0),          # so the worst heals in 2 h
    (["malformed_record", "untrusted_origin"], 180.0, 90.0),
])
def test_score_after_offences_then_elapsed_time(offences: list[Offence], elapsed_s: float,
                                                score: float) -> None:
    scores = PeerScores(CONFIG)
    for offence in offences:
        scores.penalise(PEER, offence, 0.0)
    assert scores.score(PEER, elapsed_s) == pytest.approx(score)


def test_recovery_between_offences_counts_before_the_next_penalty() -> None:
    scores = PeerScores(CONFIG)
    scores.penalise(PEER, "invalid_signature", 0.0)              # 60
    assert scores.penalise(PEER, "invalid_signature", 360.0) == pytest.approx(30.0)  # 70 - 40


def test_falling_below_the_threshold_ignores_the_peer_for_the_cool_down() -> None:
    scores = PeerScores(CONFIG)
    scores.penalise(PEER, "invalid_signature", 0.0)
    scores.penalise(PEER, "invalid_signature", 0.0)
    assert not scores.ignored(PEER, 0.0)                         # 20: still heard
    scores.penalise(PEER, "invalid_signature", 10.0)             # ≈ -20
    assert scores.ignored(PEER, 10.0)
    assert scores.ignored(PEER, 10.0 + CONFIG.cooldown_s - 0.001)
    assert not scores.ignored(PEER, 10.0 + CONFIG.cooldown_s)
    view = scores.view(PEER, 20.0)
    assert (view.ignored, view.ignored_until_s) == (True, 10.0 + CONFIG.cooldown_s)
    assert (view.offences, view.last_offence) == (3, "invalid_signature")


def test_an_offence_while_below_the_threshold_restarts_the_cool_down() -> None:
    scores = PeerScores(CONFIG)
    for _ in range(3):
        scores.penalise(PEER, "invalid_signature", 0.0)
    assert scores.score(PEER, CONFIG.cooldown_s) < CONFIG.ignore_below   # on probation
    assert not scores.ignored(PEER, CONFIG.cooldown_s)
    scores.penalise(PEER, "over_budget", CONFIG.cooldown_s)
    assert scores.ignored(PEER, 2 * CONFIG.cooldown_s - 1)


def test_light_offences_alone_need_many_to_ignore_a_peer() -> None:
    scores = PeerScores(CONFIG)
    for _ in range(50):
        scores.penalise(PEER, "over_budget", 0.0)
    assert not scores.ignored(PEER, 0.0)                         # exactly 0: not below
    scores.penalise(PEER, "over_budget", 0.0)
    assert scores.ignored(PEER, 0.0)


def test_peers_are_scored_apart_and_strangers_read_as_a_clean_slate() -> None:
    scores = PeerScores(CONFIG)
    for _ in range(3):
        scores.penalise(PEER, "invalid_signature", 0.0)
    other = scores.view("fedcba9876543210", 0.0)
    assert (other.score, other.ignored, other.offences, other.last_offence) == (
        100.0, False, 0, None)
    assert len(scores) == 1
    scores.forget(PEER)
    assert not scores.ignored(PEER, 0.0) and len(scores) == 0


def test_a_clock_stepping_back_heals_nothing() -> None:
    scores = PeerScores(CONFIG)
    scores.penalise(PEER, "invalid_signature", 1000.0)
    assert scores.score(PEER, 0.0) == pytest.approx(60.0)
    assert scores.score(PEER, 1000.0) == pytest.approx(60.0)


def test_an_unknown_offence_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown offence"):
        PeerScores(CONFIG).penalise(PEER, "rude", 0.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(("field", "value"), [
    ("ignore_below", 101.0), ("recovery_per_s", 0.0), ("cooldown_s", -1.0),
    ("replayed_penalty", -1.0), ("ignore_below", -101.0),
])
def test_a_bad_config_value_names_its_field(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(CONFIG, **{field: value})
