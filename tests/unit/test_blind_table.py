"""The blind answer table: what an evaluation opens, what it does not, and forged tables."""

from __future__ import annotations

import dataclasses

import pytest

from federation.blind.oprf import KeyPair, VoprfClient, VoprfServer
from federation.blind.table import (
    RECORD_BYTES,
    BlindAggregate,
    TableError,
    build_table,
    fingerprint_item,
    open_record,
    sign_table,
    smtp_item,
    table_items,
    verify_table,
)
from federation.keys import NodeKey
from federation.privacy import DAY_S, SharedSeen

SEEN = SharedSeen(True, 7, 3, 20_500 * DAY_S, 20_503 * DAY_S)


def _ask(server: VoprfServer, item: bytes) -> bytes:
    client = VoprfClient(server.key_pair.public_key)
    blinding = client.blind(item)
    (output,) = client.finalize([blinding], server.blind_evaluate([blinding.blinded_element]))
    return output


def test_an_evaluated_item_opens_its_record_and_others_are_not_in_the_table() -> None:
    node, server = NodeKey.generate(), VoprfServer(KeyPair.generate())
    table = build_table(table_items({"corp1.com": SEEN}, {}), server, node, 5, 1)
    verify_table(table, node.public, epoch=5, oprf_public_key=server.key_pair.public_key)
    # an SMTP answer carries no distinct attackers, blind or open
    assert open_record(_ask(server, smtp_item("corp1.com")), table) \
        == BlindAggregate(7, 0, 20_500, 20_503)
    assert open_record(_ask(server, smtp_item("corp2.com")), table) is None
    # a fingerprint with the same text is another item
    assert open_record(_ask(server, fingerprint_item("smtp", "corp1.com")), table) is None
    assert len(table.records) == RECORD_BYTES == 44


def test_the_table_reveals_its_size_only() -> None:
    node, server = NodeKey.generate(), VoprfServer(KeyPair.generate())
    table = build_table(table_items({f"d{i}.example.org": SEEN for i in range(50)}, {}),
                        server, node, 5, 1)
    assert len(table.records) == 50 * RECORD_BYTES
    assert b"example" not in table.records and table.header.records == 50
    tags = [table.records[i * RECORD_BYTES:i * RECORD_BYTES + 16] for i in range(50)]
    assert tags == sorted(tags) and len(set(tags)) == 50


def test_another_epoch_key_finds_nothing() -> None:
    node = NodeKey.generate()
    old, new = VoprfServer(KeyPair.generate()), VoprfServer(KeyPair.generate())
    table = build_table(table_items({"corp1.com": SEEN}, {}), old, node, 5, 1)
    assert open_record(_ask(new, smtp_item("corp1.com")), table) is None


def test_a_table_signed_by_another_key_or_for_another_epoch_is_refused() -> None:
    node, other = NodeKey.generate(), NodeKey.generate()
    server = VoprfServer(KeyPair.generate())
    table = build_table(table_items({"corp1.com": SEEN}, {}), server, node, 5, 1)
    public = server.key_pair.public_key
    with pytest.raises(TableError, match="not signed"):
        verify_table(table, other.public, epoch=5, oprf_public_key=public)
    forged = sign_table(other, 5, public, 1, table.records)
    with pytest.raises(TableError, match="not signed"):
        verify_table(dataclasses.replace(forged, header=dataclasses.replace(
            forged.header, key_id=node.key_id)), node.public, epoch=5, oprf_public_key=public)
    with pytest.raises(TableError, match="another epoch"):
        verify_table(table, node.public, epoch=6, oprf_public_key=public)
    with pytest.raises(TableError, match="another epoch"):
        verify_table(table, node.public, epoch=5,
                     oprf_public_key=KeyPair.generate().public_key)


def test_tampered_records_are_refused() -> None:
    node, server = NodeKey.generate(), VoprfServer(KeyPair.generate())
    table = build_table(table_items({"corp1.com": SEEN, "corp2.com": SEEN}, {}), server, node,
                        5, 1)
    public = server.key_pair.public_key
    flipped = bytearray(table.records)
    flipped[20] ^= 1
    with pytest.raises(TableError, match="differ"):
        verify_table(dataclasses.replace(table, records=bytes(flipped)), node.public, epoch=5,
                     oprf_public_key=public)
    with pytest.raises(TableError, match="differ"):
        verify_table(dataclasses.replace(table, records=table.records[:RECORD_BYTES]),
                     node.public, epoch=5, oprf_public_key=public)
    # a record re-sealed by the signer under the wrong aggregate key does not open
    swapped = table.records[RECORD_BYTES:] + table.records[:RECORD_BYTES]
    resigned = sign_table(node, 5, public, 2, swapped)
    with pytest.raises(TableError, match="not sorted"):
        verify_table(resigned, node.public, epoch=5, oprf_public_key=public)


def test_two_versions_of_a_table_share_no_tag_and_no_keystream() -> None:
    """Retaken snapshots in one epoch: nothing links a record to its previous version."""
    node, server = NodeKey.generate(), VoprfServer(KeyPair.generate())
    first = build_table(table_items({"corp1.com": SEEN}, {}), server, node, 5, 1)
    grown = dataclasses.replace(SEEN, count=SEEN.count + 1)
    second = build_table(table_items({"corp1.com": grown}, {}), server, node, 5, 2)
    assert first.records[:16] != second.records[:16]
    plain_xor = bytes(a ^ b for a, b in zip(first.records[16:28], second.records[16:28],
                                            strict=True))
    assert plain_xor != (7 ^ 8).to_bytes(4, "big") + bytes(8)  # not the counts' XOR
    output = _ask(server, smtp_item("corp1.com"))
    assert open_record(output, first) == BlindAggregate(7, 0, 20_500, 20_503)
    assert open_record(output, second) == BlindAggregate(8, 0, 20_500, 20_503)
