"""Rotation planning: first sightings and unchanged hashes are not rotations."""

from __future__ import annotations

import pytest

from node.profile.rotation import Rotation, Sighting, parse_port, plan_rotations


def s(value: str, t: int, port: int = 443, probe: str = "jarm", ip: str = "192.0.2.44") -> Sighting:
    return Sighting(ip, port, probe, value, t)


def test_first_sighting_is_not_a_rotation() -> None:
    plan = plan_rotations([s("a", 1)])
    assert plan.rotations == []
    assert plan.first == [s("a", 1)]
    assert plan.last == [(s("a", 1), 1)]


def test_unchanged_hash_is_not_a_rotation() -> None:
    assert plan_rotations([s("a", 1), s("a", 2), s("a", 3)]).rotations == []


def test_each_change_is_a_rotation_with_old_and_new() -> None:
    plan = plan_rotations([s("a", 1), s("b", 2), s("b", 3), s("a", 4)])
    assert plan.rotations == [
        Rotation("192.0.2.44", 443, "jarm", 2, "a", "b"),
        Rotation("192.0.2.44", 443, "jarm", 4, "b", "a"),
    ]
    assert plan.last == [(s("a", 4), 1)]


def test_triples_are_independent() -> None:
    plan = plan_rotations([s("a", 1), s("x", 2, port=22), s("y", 3, probe="tcpfp"),
                           s("z", 4, ip="192.0.2.45")])
    assert plan.rotations == []
    assert len(plan.first) == 4


def test_sightings_are_judged_in_time_order() -> None:
    plan = plan_rotations([s("b", 2), s("a", 1)])
    assert plan.rotations == [Rotation("192.0.2.44", 443, "jarm", 2, "a", "b")]


@pytest.mark.parametrize(("text", "port"), [
    ("443", 443), ("-", 0), (None, 0), ("", 0), ("65535", 65535),
    ("65536", None), ("x", None), ("-1", None), ("123456", None),
])
def test_ports(text: str | None, port: int | None) -> None:
    assert parse_port(text) == port
