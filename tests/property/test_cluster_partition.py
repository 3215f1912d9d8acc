"""Clustering invariants: input order and a uniform time shift change nothing."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from node.cluster import rarity
from node.cluster.campaigns import Crew, PhaseSpan, cluster_campaigns
from node.cluster.graph import Partition, score
from node.cluster.identities import Member, cluster_identities

_TOOLS = st.frozensets(st.tuples(st.sampled_from(["ja3", "hassh"]),
                                 st.sampled_from(["a" * 32, "b" * 32, "c" * 32])), max_size=2)
_INFRA = st.frozensets(st.tuples(st.sampled_from(["payload", "c2"]),
                                 st.sampled_from(["x", "y", "z"])), max_size=2)
_TRACES = st.frozensets(st.tuples(st.just("eui64"), st.sampled_from(["i1", "i2"])), max_size=1)
_KEYS = st.lists(st.sampled_from([0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210]).flatmap(
    lambda base: st.sampled_from([base, base ^ 1, base ^ 0xFF00])), max_size=2).map(tuple)


@st.composite
def members(draw: st.DrawFn) -> list[Member]:
    count = draw(st.integers(1, 14))
    return [Member(f"198.18.0.{i}", draw(_TOOLS), draw(_TRACES), draw(_INFRA), draw(_KEYS))
            for i in range(count)]


def by_key(partition: Partition, keys: list[str]) -> set[frozenset[str]]:
    found: dict[int, set[str]] = {}
    for index, group in enumerate(partition.group):
        found.setdefault(group, set()).add(keys[index])
    return {frozenset(g) for g in found.values()}


@settings(max_examples=200, deadline=None)
@given(members(), st.randoms(use_true_random=False))
def test_identities_do_not_depend_on_input_order(found: list[Member], rnd: object) -> None:
    shuffled = list(found)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    first = by_key(cluster_identities(found), [m.key for m in found])
    again = by_key(cluster_identities(shuffled), [m.key for m in shuffled])
    assert first == again


@settings(max_examples=200, deadline=None)
@given(members())
def test_every_link_carries_enough_evidence(found: list[Member]) -> None:
    partition = cluster_identities(found)
    for link in partition.links:
        assert link.score + 1e-9 >= rarity.LINK
        assert score(link.evidence) == link.score
    assert all(0.0 < c <= 1.0 for c in partition.confidence.values())


_HOUR = 3600 * 1_000_000


@st.composite
def crews(draw: st.DrawFn) -> list[Crew]:
    count = draw(st.integers(1, 10))
    out = []
    for i in range(count):
        start = draw(st.integers(0, 200)) * _HOUR
        first = {hp: PhaseSpan(draw(st.sampled_from(["discovery", "delivery"])),
                               start + draw(st.integers(0, 30)) * _HOUR)
                 for hp in draw(st.frozensets(st.sampled_from(["web-02", "db-01"]), max_size=2))}
        last = {hp: PhaseSpan(draw(st.sampled_from(["persistence", "collection"])),
                              start + draw(st.integers(0, 30)) * _HOUR)
                for hp in draw(st.frozensets(st.sampled_from(["web-02", "db-01"]), max_size=2))}
        out.append(Crew(f"198.18.1.{i}", draw(_INFRA), first, last, draw(_KEYS),
                        (start, start + draw(st.integers(0, 50)) * _HOUR)))
    return out


def shifted(crew: Crew, by: int) -> Crew:
    return Crew(crew.key, crew.infrastructure,
                {hp: PhaseSpan(s.phase, s.time_us + by) for hp, s in crew.first_phase.items()},
                {hp: PhaseSpan(s.phase, s.time_us + by) for hp, s in crew.last_phase.items()},
                crew.keystrokes, (crew.window_us[0] + by, crew.window_us[1] + by))


@settings(max_examples=200, deadline=None)
@given(crews(), st.integers(-10**15, 10**15), st.randoms(use_true_random=False))
def test_campaigns_ignore_order_and_a_uniform_time_shift(found: list[Crew], by: int,
                                                         rnd: object) -> None:
    moved = [shifted(c, by) for c in found]
    rnd.shuffle(moved)  # type: ignore[attr-defined]
    assert by_key(cluster_campaigns(found), [c.key for c in found]) == \
        by_key(cluster_campaigns(moved), [c.key for c in moved])
