"""The method table: one entry per RPC of the contract, budget keys from normalised questions."""

from __future__ import annotations

import asyncio

import pytest

from federation._proto.decnet.federation.v1 import federation_pb2 as pb
from federation.errors import InvalidQuestion, Oversized
from federation.keys import NodeKey
from federation.methods import TABLE, method_named
from federation.privacy import PrivacyPolicy
from federation.wire import (
    SERVICE,
    FingerprintQuestion,
    Question,
    SimhashQuestion,
    SmtpQuestion,
    decode_question,
    encode_question,
    method_of,
)
from tests.federation_helpers import make_node, signed_request

CALLER = NodeKey.generate()
BANNER = "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.1"


def test_every_rpc_of_the_contract_has_exactly_one_entry() -> None:
    service = pb.DESCRIPTOR.services_by_name["Federation"]
    assert set(TABLE) == {f"/{SERVICE}/{name}" for name in service.methods_by_name}
    assert all(method.name == name for name, method in TABLE.items())


def _budget_key(question: Question) -> bytes:
    method = method_named(method_of(question))
    _, decoded = decode_question(method.name, encode_question(question, 1))
    return method.check(decoded, PrivacyPolicy()).budget_key


@pytest.mark.parametrize(("first", "second", "same_slot"), [
    (SmtpQuestion("bücher.de"), SmtpQuestion("xn--bcher-kva.de"), True),
    (SmtpQuestion("Corp1.COM."), SmtpQuestion("corp1.com"), True),
    (FingerprintQuestion("ja3", "E7D705A3286E19EA42F587B344EE6865"),
     FingerprintQuestion("ja3", "e7d705a3286e19ea42f587b344ee6865"), True),
    (FingerprintQuestion("ssh_banner", BANNER),
     FingerprintQuestion("ssh_banner", BANNER.upper()), False),
    (SimhashQuestion("keystroke", 5, 3), SimhashQuestion("keystroke", 5, 4), False),
], ids=["idna", "case-and-dot", "ja3-case", "banner-case", "radius"])
def test_budget_keys_come_from_the_normalised_question(first: Question, second: Question,
                                                       same_slot: bool) -> None:
    assert (_budget_key(first) == _budget_key(second)) is same_slot


def test_a_request_over_its_methods_own_limit_is_refused_first() -> None:
    node = make_node([CALLER])
    request = signed_request(CALLER, SimhashQuestion("k" * 200, 1, 1))
    with pytest.raises(Oversized, match="exceeds 128"):
        asyncio.run(node.service.handle(request.method, request.body, request.metadata))


def test_an_unknown_method_has_no_entry() -> None:
    with pytest.raises(InvalidQuestion):
        method_named(f"/{SERVICE}/DumpObservations")
