"""The blind answer table: ``tag → sealed aggregate`` per epoch, and how an asker opens it.

For every item that passes the node's privacy thresholds (an SMTP target
domain, a client or server fingerprint), the node computes the PRF output
``y = F(k_epoch, item)`` with its epoch's OPRF key, and from ``y`` and the
table's version a 16-byte tag and a 32-byte record key. The record is the
coarsened aggregate (count, distinct attackers, first and last UTC day: 12
bytes) sealed with
ChaCha20-Poly1305 under that key, bound to the node, the epoch and the tag.
An asker who obtained ``y`` for an item (one blind evaluation, `oprf`) finds
the tag and opens the record; without ``y`` a record is 44 random-looking
bytes. Records are sorted by tag, so the table reveals its size and nothing
else: not which items, not their order, not their aggregates.

The table is signed as a whole (`TableHeader`: node, epoch, OPRF public key,
version, record count, SHA-256 of the records) so a relay or a stranger
cannot pass off another one. No I/O here; `federation.blind.state` keeps the
tables, the server serves them, the client fetches and caches them.

Each record key encrypts exactly one plaintext, once (it is unique to the item,
the epoch key and the table version): the nonce is fixed.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from federation.blind.oprf import ELEMENT_BYTES, OUTPUT_BYTES, VoprfServer
from federation.keys import NodeKey, PeerKey
from federation.privacy import DAY_S, SharedSeen

TAG_BYTES: Final = 16
PLAINTEXT_BYTES: Final = 12
RECORD_BYTES: Final = TAG_BYTES + PLAINTEXT_BYTES + 16  # + the AEAD tag
HEADER_DOMAIN: Final = b"decnet-fed/v1/blind-table\x00"
_TAG_DOMAIN: Final = b"decnet-fed/v1/blind-tag\x00"
_KEY_DOMAIN: Final = b"decnet-fed/v1/blind-key\x00"
_AAD_DOMAIN: Final = b"decnet-fed/v1/blind-record\x00"
_NONCE: Final = bytes(12)
_PLAIN: Final = struct.Struct(">IIHH")
_U32: Final = 0xFFFF_FFFF
_U16: Final = 0xFFFF

#: Item kinds a table may hold; a fingerprint item names its kind too.
SMTP: Final = "smtp"
FINGERPRINT: Final = "fp"


class TableError(ValueError):
    """A table that is not the signed table of the node it claims, or a malformed one."""


def smtp_item(domain: str) -> bytes:
    """The PRF input of a domain in its stored form (`node.query.smtp_question`)."""
    return f"{SMTP}\x00{domain}".encode()


def fingerprint_item(kind: str, value: str) -> bytes:
    """The PRF input of a fingerprint in its stored form (`node.query.fingerprint_question`)."""
    return f"{FINGERPRINT}\x00{kind}\x00{value}".encode()


def derive(output: bytes, version: int) -> tuple[bytes, bytes]:
    """``(tag, record key)`` of one PRF output in the table of ``version``.

    The version is part of both: the snapshot is retaken hourly within an
    epoch, and with tag and key fixed per epoch two versions would seal
    different aggregates under one key and nonce (their XOR readable) and
    show which records changed, to anyone fetching both, without an evaluation.
    """
    if len(output) != OUTPUT_BYTES:
        raise ValueError("a PRF output is 64 bytes")
    framed = struct.pack(">Q", version) + output
    tag = hashlib.sha512(_TAG_DOMAIN + framed).digest()[:TAG_BYTES]
    key = hashlib.sha512(_KEY_DOMAIN + framed).digest()[:32]
    return tag, key


@dataclass(frozen=True, slots=True)
class BlindAggregate:
    """What a record holds: a seen aggregate at day granularity (it exists: seen)."""

    count: int
    distinct_attackers: int
    first_day: int
    last_day: int

    @classmethod
    def of(cls, seen: SharedSeen) -> BlindAggregate:
        first = (seen.first_seen_s or 0) // DAY_S
        last = (seen.last_seen_s or 0) // DAY_S
        return cls(min(seen.count, _U32), min(seen.distinct_attackers, _U32),
                   min(max(first, 0), _U16), min(max(last, 0), _U16))

    def shared(self) -> SharedSeen:
        """As the open path answers it (days as seconds at their start)."""
        return SharedSeen(True, self.count, self.distinct_attackers,
                          self.first_day * DAY_S, self.last_day * DAY_S)


@dataclass(frozen=True, slots=True)
class TableHeader:
    """What the node signs: its table of one epoch, at one version, and the key behind it."""

    key_id: str
    epoch: int
    oprf_public_key: bytes
    version: int
    records: int
    records_sha256: bytes

    def signed_bytes(self) -> bytes:
        key_id = self.key_id.encode()
        return b"".join((HEADER_DOMAIN, struct.pack(">H", len(key_id)), key_id,
                         struct.pack(">QQI", self.epoch, self.version, self.records),
                         self.oprf_public_key, self.records_sha256))


@dataclass(frozen=True, slots=True)
class SignedTable:
    """A whole table: header, the node's Ed25519 signature over it, the sorted records."""

    header: TableHeader
    signature: bytes
    records: bytes

    def find(self, tag: bytes) -> bytes | None:
        """The record under ``tag`` (binary search over the sorted records), else None."""
        count = self.header.records
        index = bisect.bisect_left(_Tags(self.records), tag, 0, count)
        if index < count:
            record = self.records[index * RECORD_BYTES:(index + 1) * RECORD_BYTES]
            if record[:TAG_BYTES] == tag:
                return record
        return None


class _Tags:
    """The records' tags as a sequence, for `bisect` (no copy)."""

    def __init__(self, records: bytes) -> None:
        self._records = records

    def __getitem__(self, index: int) -> bytes:
        start = index * RECORD_BYTES
        return self._records[start:start + TAG_BYTES]

    def __len__(self) -> int:
        return len(self._records) // RECORD_BYTES


def _aad(key_id: str, epoch: int, tag: bytes) -> bytes:
    return _AAD_DOMAIN + key_id.encode() + b"\x00" + struct.pack(">Q", epoch) + tag


def seal(output: bytes, aggregate: BlindAggregate, key_id: str, epoch: int,
         version: int) -> bytes:
    """One record: the tag, then the sealed aggregate."""
    tag, key = derive(output, version)
    plain = _PLAIN.pack(aggregate.count, aggregate.distinct_attackers, aggregate.first_day,
                        aggregate.last_day)
    return tag + ChaCha20Poly1305(key).encrypt(_NONCE, plain, _aad(key_id, epoch, tag))


def open_record(output: bytes, table: SignedTable) -> BlindAggregate | None:
    """The aggregate of the item whose PRF output is ``output``; None: not in the table.

    A record under the right tag that does not open is `TableError`: the table
    was built with another key than the one that evaluated (or was tampered with).
    """
    tag, key = derive(output, table.header.version)
    record = table.find(tag)
    if record is None:
        return None
    try:
        plain = ChaCha20Poly1305(key).decrypt(
            _NONCE, record[TAG_BYTES:], _aad(table.header.key_id, table.header.epoch, tag))
    except InvalidTag:
        raise TableError("a record of the table does not open with its evaluation") from None
    return BlindAggregate(*_PLAIN.unpack(plain))


def build_table(items: Mapping[bytes, SharedSeen], server: VoprfServer, node: NodeKey,
                epoch: int, version: int) -> SignedTable:
    """Seal every item's aggregate under the epoch's key, sort, and sign the whole."""
    records = sorted(seal(server.evaluate(item), BlindAggregate.of(seen), node.key_id, epoch,
                          version) for item, seen in items.items())
    return sign_table(node, epoch, server.key_pair.public_key, version, b"".join(records))


def sign_table(node: NodeKey, epoch: int, oprf_public_key: bytes, version: int,
               records: bytes) -> SignedTable:
    header = TableHeader(node.key_id, epoch, oprf_public_key, version,
                         len(records) // RECORD_BYTES, hashlib.sha256(records).digest())
    return SignedTable(header, node.sign(header.signed_bytes()), records)


def verify_table(table: SignedTable, peer: PeerKey, *, epoch: int,
                 oprf_public_key: bytes) -> SignedTable:
    """``table`` if it is ``peer``'s signed table of ``epoch`` under ``oprf_public_key``
    with exactly the records it names, sorted; else `TableError`."""
    header = table.header
    if header.key_id != peer.key_id or not peer.verifies(table.signature,
                                                         header.signed_bytes()):
        raise TableError(f"table not signed by {peer.key_id}")
    if header.epoch != epoch or header.oprf_public_key != oprf_public_key:
        raise TableError("table of another epoch or OPRF key than the peer evaluates with")
    if len(header.oprf_public_key) != ELEMENT_BYTES:
        raise TableError("malformed OPRF public key")
    if len(table.records) != header.records * RECORD_BYTES \
            or hashlib.sha256(table.records).digest() != header.records_sha256:
        raise TableError("table records differ from what its header signs")
    if not _strictly_sorted(table.records):
        raise TableError("table records are not sorted by distinct tags")
    return table


def _strictly_sorted(records: bytes) -> bool:
    """Whether the records' tags increase strictly (as two big-endian 64-bit halves)."""
    rows = np.frombuffer(records, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    if len(rows) < 2:
        return True
    high = rows[:, :8].copy().view(">u8").ravel()
    low = rows[:, 8:TAG_BYTES].copy().view(">u8").ravel()
    increasing = (high[1:] > high[:-1]) | ((high[1:] == high[:-1]) & (low[1:] > low[:-1]))
    return bool(increasing.all())


def table_items(smtp: Mapping[str, SharedSeen],
                fingerprints: Mapping[tuple[str, str], SharedSeen]
                ) -> dict[bytes, SharedSeen]:
    """The PRF inputs of everything a snapshot shares, with exactly the aggregates the open
    path answers (an SMTP answer has never carried distinct attackers)."""
    items = {smtp_item(domain): dataclasses.replace(seen, distinct_attackers=0)
             for domain, seen in smtp.items() if seen.seen}
    items.update((fingerprint_item(kind, value), seen)
                 for (kind, value), seen in fingerprints.items() if seen.seen)
    return items
