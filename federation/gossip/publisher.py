"""What this node publishes: its summaries as records, new versions only when they change.

Pure planning, no I/O: given the current summaries (`node.query.GroupSummary`)
and what was published before (handle → record id, digest, version), it
says which records to issue: a new record (a fresh random id) for a new
summary, the next version of the same record for a changed one, and a
tombstone for a summary that is gone (its group merged away, or no longer
past the thresholds). The record id is random, never derived from the
handle, so no peer can link it back to a local id.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from federation._proto.decnet.federation.v1 import federation_pb2 as pb
from federation.gossip.record import RECORD_ID_BYTES, Kind
from federation.gossip.store import Publication
from node.query import GroupSummary

_DAY_US = 86_400 * 1_000_000
_KIND = {"identity": Kind.IDENTITY, "campaign": Kind.CAMPAIGN, "blind_key": Kind.BLIND_KEY}


@dataclass(frozen=True, slots=True)
class Planned:
    """One record to issue: for ``handle``, ``kind``, with ``summary`` (None: tombstone)."""

    handle: str
    record_id: bytes
    kind: Kind
    summary: pb.Summary | None
    digest: bytes | None


def summary_message(summary: GroupSummary) -> pb.Summary:
    """A summary as it travels: day-coarse times, sorted lists, algorithm versions."""
    message = pb.Summary(observation_count=summary.observations,
                         first_seen_day=summary.first_seen_us // _DAY_US,
                         last_seen_day=summary.last_seen_us // _DAY_US)
    for kind, version, values in summary.fingerprints:
        message.fingerprints.add(kind=kind, algorithm_version=version, values=values)
    for kind, version, hashes in summary.simhashes:
        message.simhashes.add(kind=kind, algorithm_version=version, values=hashes)
    return message


def plan(summaries: Sequence[GroupSummary], published: Mapping[str, Publication],
         new_id: Callable[[], bytes] = lambda: os.urandom(RECORD_ID_BYTES)) -> list[Planned]:
    """The records to issue, in a stable order (handles sorted; tombstones last)."""
    planned: list[Planned] = []
    current = {s.handle: s for s in summaries}
    for handle in sorted(current):
        summary = current[handle]
        message = summary_message(summary)
        digest = hashlib.sha256(summary.layer.encode() + b"\0"
                                + message.SerializeToString(deterministic=True)).digest()
        before = published.get(handle)
        if before is not None and before.digest == digest:
            continue
        planned.append(Planned(handle, before.record_id if before else new_id(),
                               _KIND[summary.layer], message, digest))
    for handle in sorted(set(published) - set(current)):
        before = published[handle]
        if before.digest is not None:  # not withdrawn yet
            planned.append(Planned(handle, before.record_id, Kind.TOMBSTONE, None, None))
    return planned
