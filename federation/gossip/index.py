"""The federated index: what other operators' gossiped summaries say, answered locally.

Built from the live records of trusted origins other than this node:
exact fingerprint values → the origins that reported them, and per SimHash
kind a Hamming index of the reported hashes. Every answer counts distinct
origins and never names one: "seen by 3 operators", not who.

OUIs (vendors) are listed in summaries but never match on their own: a
vendor is not a machine.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from federation.gossip.record import Kind, Record
from node.cluster.graph import KEYSTROKE_DISTANCE
from node.hamming_index import HammingIndex
from node.query import GroupSummary, SharedMatch

#: Fingerprint kinds that match on their own (exact value).
MATCHING_FINGERPRINTS = frozenset({"ja3", "ja4", "ja4h", "hassh", "jarm", "tls_cert"})
#: Largest Hamming distance at which a gossiped SimHash matches a local one, per kind:
#: the identity layer's own keystroke distance, and a near-duplicate mail body.
SIMHASH_WITHIN = {"keystroke": KEYSTROKE_DISTANCE, "mail_body": 3}


@dataclass(frozen=True, slots=True)
class Seen:
    """How many distinct other operators reported a value (and, for SimHashes, how near)."""

    operators: int
    min_distance: int | None = None


class FederatedIndex:
    """Exact and near lookups over other operators' records."""

    def __init__(self, records: Iterable[Record], own_origin: str) -> None:
        self._exact: dict[tuple[str, str], set[str]] = defaultdict(set)
        hashes: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self.records = 0
        for record in records:
            if record.origin == own_origin or record.kind in (Kind.TOMBSTONE, Kind.BLIND_KEY):
                continue
            summary = record.summary()
            if summary is None:
                continue
            self.records += 1
            for listed in summary.fingerprints:
                if listed.kind in MATCHING_FINGERPRINTS:
                    for value in listed.values:
                        self._exact[(listed.kind, value)].add(record.origin)
            for simhashes in summary.simhashes:
                hashes[simhashes.kind] += [(v, record.origin) for v in simhashes.values]
        self._near: dict[str, tuple[HammingIndex, list[str]]] = {
            kind: (HammingIndex.build(np.array([v for v, _ in pairs], dtype=np.uint64)),
                   [origin for _, origin in pairs])
            for kind, pairs in hashes.items()}
        self.origins = len({o for owners in self._exact.values() for o in owners}
                           | {o for _, owners in self._near.values() for o in owners})

    def fingerprint(self, kind: str, value: str) -> Seen:
        return Seen(len(self._exact.get((kind, value), ())))

    def simhash(self, kind: str, value: int, within: int) -> Seen:
        found = self._near.get(kind)
        if found is None:
            return Seen(0)
        index, owners = found
        positions, distances = index.distances_within(value, within)
        origins = {owners[p] for p in positions.tolist()}
        return Seen(len(origins), int(distances.min()) if len(distances) else None)

    def matches(self, summary: GroupSummary) -> SharedMatch:
        """Which other operators reported any of this local summary's matching values."""
        origins: set[str] = set()
        signals: list[str] = []
        for kind, _, values in summary.fingerprints:
            if kind not in MATCHING_FINGERPRINTS:
                continue
            for value in values:
                owners = self._exact.get((kind, value), set())
                if owners:
                    origins |= owners
                    signals.append(f"{kind} {value}")
        for kind, _, hashes in summary.simhashes:
            found = self._near.get(kind)
            if found is None:
                continue
            index, owners_of = found
            for simhash in hashes:
                positions, distances = index.distances_within(simhash, SIMHASH_WITHIN[kind])
                if len(positions):
                    origins |= {owners_of[p] for p in positions.tolist()}
                    signals.append(f"{kind} SimHash within {int(distances.min())}")
        return SharedMatch(len(origins), tuple(dict.fromkeys(signals)))


def load_records(path: Path, trusted: Callable[[str], bool],
                 kind: Kind | None = None) -> list[Record]:
    """The live records of trusted origins in a gossip file (only of ``kind`` if given),
    read-only (a running `serve` may be writing it); none when there is no file yet."""
    if not path.exists():
        return []
    wanted = None if kind is None else int(kind)
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
        rows = db.execute("SELECT origin, record_id, version, kind, issued_day, schema_minor,"
                          " body, signature FROM records WHERE kind != ?"
                          " AND (? IS NULL OR kind = ?)",
                          (int(Kind.TOMBSTONE), wanted, wanted)).fetchall()
    return [Record(bytes(body), bytes(sig), origin, version, bytes(rid), Kind(kind), day, minor)
            for origin, rid, version, kind, day, minor, body, sig in rows if trusted(origin)]

