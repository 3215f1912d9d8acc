"""This node's OPRF public keys as a gossip summary, and every origin's as gossip says.

NodeInfo alone would let a node answer each asker under its own key and so
tell askers apart (an evaluation under a key only one asker holds names that
asker). Published as a signed gossip record (kind BLIND_KEY) and relayed byte
for byte, the key an asker is given can be checked against the one every
peer was told.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from federation.gossip.record import Kind, Record
from node.query import GroupSummary

#: The summary's fingerprint kind naming an OPRF key (algorithm version = epoch).
KEY_KIND = "oprf_ristretto255"
LAYER = "blind_key"


def key_summary(public_keys: Sequence[tuple[int, bytes]]) -> GroupSummary:
    """The BLIND_KEY summary of ``(epoch, public key)`` pairs (one record per node)."""
    return GroupSummary(LAYER, LAYER,
                        tuple((KEY_KIND, epoch, (key.hex(),))
                              for epoch, key in sorted(public_keys)), (), 0, 0, 0)


def gossiped_keys(records: Iterable[Record]) -> dict[str, dict[int, bytes]]:
    """``origin → {epoch: public key}`` from the BLIND_KEY records held."""
    found: dict[str, dict[int, bytes]] = {}
    for record in records:
        if record.kind is not Kind.BLIND_KEY:
            continue
        summary = record.summary()
        if summary is None:
            continue
        keys = found.setdefault(record.origin, {})
        for listed in summary.fingerprints:
            if listed.kind == KEY_KIND and len(listed.values) == 1:
                try:
                    keys[listed.algorithm_version] = bytes.fromhex(listed.values[0])
                except ValueError:
                    continue
    return found
