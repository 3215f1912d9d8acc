"""Properties of the OPRF/VOPRF core: blinding cancels, a proof binds the key and every
element in its place, and bytes from a peer are accepted only as canonical elements."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from federation.blind.oprf import (
    MAX_INPUT_BYTES,
    Blinding,
    DeserializeError,
    Evaluation,
    InvalidInputError,
    KeyPair,
    Mode,
    OprfClient,
    OprfServer,
    VerifyError,
    VoprfClient,
    VoprfServer,
    derive_key_pair,
    deserialize_element,
    deserialize_scalar,
    hash_to_group,
)

#: The field prime and the group order, to build encodings on either side of the limits.
P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493

OPRF_KEY = derive_key_pair(b"\x01" * 32, b"property tests", Mode.OPRF)
VOPRF_KEY = derive_key_pair(b"\x02" * 32, b"property tests", Mode.VOPRF)
OTHER_KEY = derive_key_pair(b"\x03" * 32, b"property tests", Mode.VOPRF)

inputs = st.binary(max_size=80)
batches = st.lists(inputs, min_size=1, max_size=5)
scalars = st.integers(1, L - 1).map(lambda n: n.to_bytes(32, "little"))
valid_elements = inputs.map(lambda data: hash_to_group(data, Mode.VOPRF))


def le(n: int) -> bytes:
    return n.to_bytes(32, "little")


def answered(batch: list[bytes]) -> tuple[VoprfClient, list[Blinding], Evaluation]:
    """A client's blindings of ``batch`` and the honest server's answer."""
    client = VoprfClient(VOPRF_KEY.public_key)
    blindings = [client.blind(item) for item in batch]
    evaluation = VoprfServer(VOPRF_KEY).blind_evaluate([b.blinded_element for b in blindings])
    return client, blindings, evaluation


@given(inputs)
def test_oprf_output_is_the_servers_direct_evaluation(data: bytes) -> None:
    client, server = OprfClient(), OprfServer(OPRF_KEY)
    blinding = client.blind(data)
    output = client.finalize(blinding, server.blind_evaluate(blinding.blinded_element))
    assert output == server.evaluate(data)
    assert len(output) == 64


@given(batches)
def test_voprf_outputs_are_the_servers_direct_evaluations(batch: list[bytes]) -> None:
    client, blindings, evaluation = answered(batch)
    server = VoprfServer(VOPRF_KEY)
    assert client.finalize(blindings, evaluation) == tuple(server.evaluate(x) for x in batch)


@given(inputs, scalars, scalars)
def test_different_blinds_give_the_same_output(data: bytes, blind_a: bytes,
                                               blind_b: bytes) -> None:
    assume(blind_a != blind_b)
    client, server = VoprfClient(VOPRF_KEY.public_key), VoprfServer(VOPRF_KEY)
    outputs = []
    for blind in (blind_a, blind_b):
        blinding = client.blind(data, blind)
        evaluation = server.blind_evaluate([blinding.blinded_element])
        outputs.append(client.finalize([blinding], evaluation))
    assert outputs[0] == outputs[1]


def test_the_modes_are_separate_prfs() -> None:
    same_secret = KeyPair.from_secret_key(VOPRF_KEY.secret_key)
    assert OprfServer(same_secret).evaluate(b"x") != VoprfServer(same_secret).evaluate(b"x")


@given(batches, st.data())
def test_a_tampered_evaluated_element_fails_verification(batch: list[bytes],
                                                         data: st.DataObject) -> None:
    client, blindings, evaluation = answered(batch)
    index = data.draw(st.integers(0, len(batch) - 1))
    forged = data.draw(valid_elements)
    assume(forged != evaluation.evaluated_elements[index])
    elements = list(evaluation.evaluated_elements)
    elements[index] = forged
    with pytest.raises(VerifyError):
        client.finalize(blindings, Evaluation(tuple(elements), evaluation.proof))


@given(batches, st.sampled_from(["c", "s"]), st.integers(1, L - 1))
def test_a_tampered_proof_fails_verification(batch: list[bytes], part: str, delta: int) -> None:
    client, blindings, evaluation = answered(batch)
    c = int.from_bytes(evaluation.proof[:32], "little")
    s = int.from_bytes(evaluation.proof[32:], "little")
    if part == "c":
        c = (c + delta) % L
    else:
        s = (s + delta) % L
    with pytest.raises(VerifyError):
        client.finalize(blindings, Evaluation(evaluation.evaluated_elements, le(c) + le(s)))


@given(batches)
def test_a_proof_does_not_verify_under_another_public_key(batch: list[bytes]) -> None:
    _, blindings, evaluation = answered(batch)
    with pytest.raises(VerifyError):
        VoprfClient(OTHER_KEY.public_key).finalize(blindings, evaluation)


@given(batches)
def test_another_keys_answer_does_not_verify(batch: list[bytes]) -> None:
    client = VoprfClient(VOPRF_KEY.public_key)
    blindings = [client.blind(item) for item in batch]
    evaluation = VoprfServer(OTHER_KEY).blind_evaluate([b.blinded_element for b in blindings])
    with pytest.raises(VerifyError):
        client.finalize(blindings, evaluation)


@given(st.lists(inputs, min_size=2, max_size=5, unique=True), st.data())
def test_swapping_two_answers_in_a_batch_fails_verification(batch: list[bytes],
                                                            data: st.DataObject) -> None:
    client, blindings, evaluation = answered(batch)
    i = data.draw(st.integers(0, len(batch) - 2))
    j = data.draw(st.integers(i + 1, len(batch) - 1))
    elements = list(evaluation.evaluated_elements)
    elements[i], elements[j] = elements[j], elements[i]
    with pytest.raises(VerifyError):
        client.finalize(blindings, Evaluation(tuple(elements), evaluation.proof))


@given(batches)
def test_a_dropped_answer_fails_verification(batch: list[bytes]) -> None:
    client, blindings, evaluation = answered(batch)
    with pytest.raises(VerifyError):
        client.finalize(blindings, Evaluation(evaluation.evaluated_elements[:-1],
                                              evaluation.proof))


# Encodings a hostile peer may send in place of an element.
wrong_lengths = st.binary(max_size=64).filter(lambda b: len(b) != 32)
field_overflows = st.integers(P, 2**255 - 1).map(le)  # s >= p: not a reduced field element
# Bit 255 set: the same element plus 2^255, which libsodium 1.0.18's decoder alone accepts.
high_bit_set = valid_elements.map(lambda e: e[:31] + bytes([e[31] | 0x80]))
odd_s = valid_elements.map(lambda e: bytes([e[0] | 1]) + e[1:])  # "negative" s
malformed = st.one_of(wrong_lengths, field_overflows, high_bit_set, odd_s,
                      st.just(bytes(32)))  # the identity


@given(malformed)
def test_malformed_elements_are_refused(encoding: bytes) -> None:
    with pytest.raises(DeserializeError):
        deserialize_element(encoding)
    with pytest.raises(DeserializeError):
        OprfServer(OPRF_KEY).blind_evaluate(encoding)
    with pytest.raises(DeserializeError):
        VoprfServer(VOPRF_KEY).blind_evaluate([hash_to_group(b"fine", Mode.VOPRF), encoding])
    with pytest.raises(DeserializeError):
        OprfClient().finalize(OprfClient().blind(b"q"), encoding)


@given(malformed, batches)
def test_malformed_evaluated_elements_are_refused_before_verification(
        encoding: bytes, batch: list[bytes]) -> None:
    client, blindings, evaluation = answered(batch)
    elements = (encoding, *evaluation.evaluated_elements[1:])
    with pytest.raises(DeserializeError):
        client.finalize(blindings, Evaluation(elements, evaluation.proof))


@given(valid_elements)
def test_canonical_elements_round_trip(element: bytes) -> None:
    assert deserialize_element(element) == element


@given(st.integers(L, 2**256 - 1), st.booleans(), batches)
def test_unreduced_proof_scalars_are_refused(n: int, in_c: bool, batch: list[bytes]) -> None:
    with pytest.raises(DeserializeError):
        deserialize_scalar(le(n))
    client, blindings, evaluation = answered(batch)
    proof = le(n) + evaluation.proof[32:] if in_c else evaluation.proof[:32] + le(n)
    with pytest.raises(DeserializeError):
        client.finalize(blindings, Evaluation(evaluation.evaluated_elements, proof))


@given(st.binary(max_size=100).filter(lambda b: len(b) != 64), batches)
def test_a_proof_of_the_wrong_size_is_refused(proof: bytes, batch: list[bytes]) -> None:
    client, blindings, evaluation = answered(batch)
    with pytest.raises(DeserializeError):
        client.finalize(blindings, Evaluation(evaluation.evaluated_elements, proof))


def test_an_empty_batch_is_refused() -> None:
    with pytest.raises(DeserializeError):
        VoprfServer(VOPRF_KEY).blind_evaluate([])


def test_an_input_too_long_to_frame_cannot_be_blinded() -> None:
    with pytest.raises(InvalidInputError):
        OprfClient().blind(bytes(MAX_INPUT_BYTES + 1))


def test_a_public_key_from_a_peer_must_be_a_valid_element() -> None:
    with pytest.raises(DeserializeError):
        VoprfClient(bytes(32))


def test_a_key_pair_must_agree_with_itself() -> None:
    with pytest.raises(ValueError, match="not secret_key"):
        KeyPair(VOPRF_KEY.secret_key, OTHER_KEY.public_key)
    with pytest.raises(ValueError, match="zero"):
        KeyPair.from_secret_key(bytes(32))


def test_secrets_stay_out_of_reprs() -> None:
    blinding = OprfClient().blind(b"secret input")
    assert VOPRF_KEY.secret_key.hex() not in repr(VOPRF_KEY)
    assert "secret input" not in repr(blinding) and blinding.blind.hex() not in repr(blinding)
