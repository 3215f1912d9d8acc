"""The published test vectors: RFC 9497 Appendix A.1.1 and A.1.2 (ristretto255-SHA512,
OPRF and VOPRF modes) and RFC 9380 Appendix K.3 (expand_message_xmd with SHA-512).

Every value below is the RFC's; none is produced by the code under test.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from federation.blind.oprf import (
    Evaluation,
    KeyPair,
    Mode,
    OprfClient,
    OprfServer,
    VoprfClient,
    VoprfServer,
    context_string,
    derive_key_pair,
    expand_message_xmd,
)

h = bytes.fromhex

SEED = h("a3" * 32)
KEY_INFO = h("74657374206b6579")  # "test key"
INPUT_1 = h("00")
INPUT_2 = h("5a" * 17)
BLIND_1 = h("64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706")
BLIND_2 = h("222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e")

# A.1.1 OPRF mode
OPRF_SK = h("5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e")

# A.1.2 VOPRF mode
VOPRF_SK = h("e6f73f344b79b379f1a0dd37e07ff62e38d9f71345ce62ae3a9bc60b04ccd909")
VOPRF_PK = h("c803e2cc6b05fc15064549b5920659ca4a77b2cca6f04f6b357009335476ad4e")


@dataclass(frozen=True)
class Vector:
    input: bytes
    blind: bytes
    blinded_element: bytes
    evaluation_element: bytes
    output: bytes
    proof: bytes = b""
    proof_random_scalar: bytes = b""


OPRF_VECTORS = [
    Vector(  # A.1.1.1
        INPUT_1, BLIND_1,
        h("609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c"),
        h("7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e"),
        h("527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3"
          "ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6"),
    ),
    Vector(  # A.1.1.2
        INPUT_2, BLIND_1,
        h("da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418"),
        h("b4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25"),
        h("f4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4"
          "f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73"),
    ),
]

VOPRF_OUTPUT_1 = h("b58cfbe118e0cb94d79b5fd6a6dafb98764dff49c14e1770b566e42402da1a7d"
                   "a4d8527693914139caee5bd03903af43a491351d23b430948dd50cde10d32b3c")
VOPRF_OUTPUT_2 = h("8a9a2f3c7f085b65933594309041fc1898d42d0858e59f90814ae90571a6df60"
                   "356f4610bf816f27afdd84f47719e480906d27ecd994985890e5f539e7ea74b6")
VOPRF_BLINDED_1 = h("863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945")
VOPRF_EVALUATED_1 = h("aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e")

VOPRF_VECTORS = [
    Vector(  # A.1.2.1
        INPUT_1, BLIND_1, VOPRF_BLINDED_1, VOPRF_EVALUATED_1, VOPRF_OUTPUT_1,
        h("ddef93772692e535d1a53903db24367355cc2cc78de93b3be5a8ffcc6985dd06"
          "6d4346421d17bf5117a2a1ff0fcb2a759f58a539dfbe857a40bce4cf49ec600d"),
        BLIND_2,
    ),
    Vector(  # A.1.2.2
        INPUT_2, BLIND_1,
        h("cc0b2a350101881d8a4cba4c80241d74fb7dcbfde4a61fde2f91443c2bf9ef0c"),
        h("60a59a57208d48aca71e9e850d22674b611f752bed48b36f7a91b372bd7ad468"),
        VOPRF_OUTPUT_2,
        h("401a0da6264f8cf45bb2f5264bc31e109155600babb3cd4e5af7d181a2c9dc0a"
          "67154fabf031fd936051dec80b0b6ae29c9503493dde7393b722eafdf5a50b02"),
        BLIND_2,
    ),
]

# A.1.2.3: both inputs in one batch, the second blinded with BLIND_2, one proof.
BATCH_INPUTS = [INPUT_1, INPUT_2]
BATCH_BLINDS = [BLIND_1, BLIND_2]
BATCH_BLINDED = [VOPRF_BLINDED_1,
                 h("90a0145ea9da29254c3a56be4fe185465ebb3bf2a1801f7124bbbadac751e654")]
BATCH_EVALUATED = [VOPRF_EVALUATED_1,
                   h("cc5ac221950a49ceaa73c8db41b82c20372a4c8d63e5dded2db920b7eee36a2a")]
BATCH_PROOF = h("cc203910175d786927eeb44ea847328047892ddf8590e723c37205cb74600b0a"
                "5ab5337c8eb4ceae0494c2cf89529dcf94572ed267473d567aeed6ab873dee08")
BATCH_PROOF_RANDOM_SCALAR = h("419c4f4f5052c53c45f3da494d2b67b220d02118e0857cdbcf037f9ea84bbe0c")
BATCH_OUTPUTS = (VOPRF_OUTPUT_1, VOPRF_OUTPUT_2)


def test_context_strings_frame_the_mode_byte() -> None:
    assert context_string(Mode.OPRF) == b"OPRFV1-\x00-ristretto255-SHA512"
    assert context_string(Mode.VOPRF) == b"OPRFV1-\x01-ristretto255-SHA512"


XMD_DST = b"QUUX-V01-CS02-with-expander-SHA512-256"


@pytest.mark.parametrize(("msg", "length", "expected"), [
    (b"", 0x20, "6b9a7312411d92f921c6f68ca0b6380730a1a4d982c507211a90964c394179ba"),
    (b"abc", 0x20, "0da749f12fbe5483eb066a5f595055679b976e93abe9be6f0f6318bce7aca8dc"),
    (b"", 0x80, "41b037d1734a5f8df225dd8c7de38f851efdb45c372887be655212d07251b921"
                "b052b62eaed99b46f72f2ef4cc96bfaf254ebbbec091e1a3b9e4fb5e5b619d2e"
                "0c5414800a1d882b62bb5cd1778f098b8eb6cb399d5d9d18f5d5842cf5d13d7e"
                "b00a7cff859b605da678b318bd0e65ebff70bec88c753b159a805d2c89c55961"),
    (b"abc", 0x80, "7f1dddd13c08b543f2e2037b14cefb255b44c83cc397c1786d975653e36a6b11"
                   "bdd7732d8b38adb4a0edc26a0cef4bb45217135456e58fbca1703cd6032cb134"
                   "7ee720b87972d63fbf232587043ed2901bce7f22610c0419751c065922b48843"
                   "1851041310ad659e4b23520e1772ab29dcdeb2002222a363f0c2b1c972b3efe1"),
])
def test_expand_message_xmd_matches_rfc9380(msg: bytes, length: int, expected: str) -> None:
    assert expand_message_xmd(msg, XMD_DST, length) == h(expected)


def test_derive_key_pair_gives_the_rfc_oprf_key() -> None:
    assert derive_key_pair(SEED, KEY_INFO, Mode.OPRF).secret_key == OPRF_SK


def test_derive_key_pair_gives_the_rfc_voprf_key_pair() -> None:
    key_pair = derive_key_pair(SEED, KEY_INFO, Mode.VOPRF)
    assert key_pair.secret_key == VOPRF_SK
    assert key_pair.public_key == VOPRF_PK


@pytest.mark.parametrize("vector", OPRF_VECTORS, ids=["A.1.1.1", "A.1.1.2"])
def test_oprf_vector(vector: Vector) -> None:
    client = OprfClient()
    server = OprfServer(KeyPair.from_secret_key(OPRF_SK))
    blinding = client.blind(vector.input, vector.blind)
    assert blinding.blinded_element == vector.blinded_element
    assert server.blind_evaluate(vector.blinded_element) == vector.evaluation_element
    assert client.finalize(blinding, vector.evaluation_element) == vector.output
    assert server.evaluate(vector.input) == vector.output


@pytest.mark.parametrize("vector", VOPRF_VECTORS, ids=["A.1.2.1", "A.1.2.2"])
def test_voprf_vector(vector: Vector) -> None:
    client = VoprfClient(VOPRF_PK)
    server = VoprfServer(derive_key_pair(SEED, KEY_INFO, Mode.VOPRF))
    blinding = client.blind(vector.input, vector.blind)
    assert blinding.blinded_element == vector.blinded_element
    evaluation = server.blind_evaluate([vector.blinded_element], vector.proof_random_scalar)
    assert evaluation == Evaluation((vector.evaluation_element,), vector.proof)
    assert client.finalize([blinding], evaluation) == (vector.output,)
    assert server.evaluate(vector.input) == vector.output


def test_voprf_batch_of_two_vector() -> None:
    """A.1.2.3: one proof over both elements, and the client accepts exactly it."""
    client = VoprfClient(VOPRF_PK)
    server = VoprfServer(derive_key_pair(SEED, KEY_INFO, Mode.VOPRF))
    blindings = [client.blind(i, b) for i, b in zip(BATCH_INPUTS, BATCH_BLINDS, strict=True)]
    assert [b.blinded_element for b in blindings] == BATCH_BLINDED
    evaluation = server.blind_evaluate(BATCH_BLINDED, BATCH_PROOF_RANDOM_SCALAR)
    assert evaluation == Evaluation(tuple(BATCH_EVALUATED), BATCH_PROOF)
    assert client.finalize(blindings, Evaluation(tuple(BATCH_EVALUATED), BATCH_PROOF)) \
        == BATCH_OUTPUTS
