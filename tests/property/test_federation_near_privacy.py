"""Property: a value below the privacy thresholds changes no answer, so probing recovers no bit.

The hardening review recovered a SimHash seen once (``min_count=3``) in 74
questions by asking around a common value and watching ``count_within``
change. Here the stored values below the thresholds are random, the
questions are random, and the review's procedure runs too: every answer is
byte-identical with and without the hidden values, and the procedure finds
nothing to recover.
"""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from federation.keys import NodeKey
from federation.privacy import PrivacyPolicy
from federation.service import FederationService
from federation.wire import SIMHASH_NEAR, SimhashQuestion, decode_answer
from node.query import NearAggregate
from tests.federation_helpers import T0, FakeQuery, make_node, probe_hidden_value, signed_request

ASKER = NodeKey.generate()
POLICY = PrivacyPolicy(min_count=3, min_distinct_attackers=2, rate_per_s=1e6,
                       burst=1_000_000, daily_distinct_questions=1_000_000)
hashes = st.integers(1, 2**64 - 1)
#: (sightings, distinct attackers) that fail at least one threshold on their own
below = st.one_of(st.tuples(st.integers(1, 2), st.integers(1, 2)),
                  st.tuples(st.integers(3, 50), st.just(1)))
questions = st.lists(st.tuples(hashes, st.integers(0, POLICY.max_simhash_distance)),
                     min_size=1, max_size=30)


def _service(stored: list[tuple[int, int, int]]) -> FederationService:
    node = make_node([ASKER], policy=POLICY,
                     query=FakeQuery(simhash_values={"keystroke": stored}))
    return node.service


def _answers(service: FederationService, asked: list[tuple[int, int]]) -> list[bytes]:
    async def run() -> list[bytes]:
        out = []
        for probe, radius in asked:
            request = signed_request(ASKER, SimhashQuestion("keystroke", probe, radius),
                                     now_s=T0)
            out.append((await service.handle(request.method, request.body,
                                             request.metadata)).body)
        return out
    return asyncio.run(run())


def _near(hidden_from: int) -> st.SearchStrategy[int]:
    """A hash within a few bits of ``hidden_from`` (so radius questions can reach it)."""
    return st.lists(st.integers(0, 63), min_size=1, max_size=8, unique=True).map(
        lambda bits: hidden_from ^ sum(1 << b for b in bits))


@settings(max_examples=60)
@given(data=st.data(), common=hashes, asked=questions)
def test_values_below_the_thresholds_change_no_answer(data: st.DataObject, common: int,
                                                      asked: list[tuple[int, int]]) -> None:
    hidden = data.draw(st.lists(st.tuples(_near(common), below), min_size=1, max_size=5))
    visible = [(common, 3, 2)]
    with_hidden = visible + [(h, c, d) for h, (c, d) in hidden if h != common]
    probes = asked + [(common, r) for r in range(0, POLICY.max_simhash_distance + 1, 4)]
    assert _answers(_service(with_hidden), probes) == _answers(_service(visible), probes)


@settings(max_examples=10)
@given(common=hashes, hidden=st.data())
def test_the_reviews_probing_procedure_recovers_nothing(common: int,
                                                        hidden: st.DataObject) -> None:
    value = hidden.draw(_near(common))
    counts = hidden.draw(below)
    service = _service([(common, 3, 2), (value, *counts)])

    async def ask(probe: int, radius: int) -> int:
        request = signed_request(ASKER, SimhashQuestion("keystroke", probe, radius), now_s=T0)
        reply = await service.handle(request.method, request.body, request.metadata)
        _, answer = decode_answer(SIMHASH_NEAR, reply.body)
        assert isinstance(answer, NearAggregate)
        return answer.count_within

    recovered = asyncio.run(probe_hidden_value(ask, common, POLICY.max_simhash_distance))
    assert recovered is None
