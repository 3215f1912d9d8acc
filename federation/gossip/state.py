"""The anti-entropy core: records held per origin, digests, deltas and merging; no I/O.

Every origin numbers the records it issues 1, 2, 3 ...; an update of a
record or its tombstone gets the next number, and replaces what it
supersedes. A node's *watermark* for an origin says it holds the latest
state of every record of that origin up to that version. The invariant
(docs/protocol.md, "Gossip"):

- A digest is (origin → watermark). A delta for an origin carries every
  record held above the receiver's watermark ``from_version``, in version
  order, up to ``to_version``; the receiver applies it only when
  ``from_version`` is not above its own watermark (else it would leave a
  gap) and then holds that origin up to the last record it carried (a
  version held by no record was superseded, so nothing is missed; a claimed
  ``to_version`` beyond the records is not believed). Applying a delta
  twice, late, or out of order changes nothing it should not: a record
  replaces another only with a higher version, so any order and
  duplication of deliveries converges to the same state.
- A tombstone is a record too, and wins like one. Tombstones older than
  ``horizon_days`` are collected; ``collected_through`` remembers the
  highest version collected. A peer whose watermark is above zero but below
  it would miss deletions, so it gets a *reset* instead: drop the origin's
  records, then everything from zero. A reset is honoured only by a node
  that is behind, and only with a signed record beyond what it holds.
- Only records whose origin is trusted and whose origin signature verifies
  are stored or relayed (`record.check_record`); the first bad record of a
  delta ends it, and the watermark advances only past the good ones. No
  delta about this node's own origin is taken: it is the authority there.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from federation._proto.decnet.federation.v1 import federation_pb2 as pb
from federation.gossip.record import Record, RecordRefused, check_record
from federation.keys import PeerKey

#: Trusted origin key id → its key (None: not trusted).
TrustedKeys = Callable[[str], PeerKey | None]


@dataclass(slots=True)
class OriginLog:
    """One origin's records: the latest per record id, indexed by version."""

    watermark: int = 0
    collected_through: int = 0
    by_id: dict[bytes, Record] = field(default_factory=dict)
    versions: list[int] = field(default_factory=list)  # sorted
    at: dict[int, Record] = field(default_factory=dict)
    by_body: dict[bytes, Record] = field(default_factory=dict)

    def put(self, record: Record) -> bool:
        """Keep ``record`` if it supersedes what is held for its id; True if it did."""
        held = self.by_id.get(record.record_id)
        if held is not None:
            if (record.version, record.body, record.signature) <= (
                    held.version, held.body, held.signature):
                return False  # older, the same, or the losing twin of an equivocation
            self._drop(held)
        self.by_id[record.record_id] = record
        bisect.insort(self.versions, record.version)
        self.at[record.version] = record
        self.by_body[record.body] = record
        return True

    def _drop(self, record: Record) -> None:
        del self.by_id[record.record_id]
        self.by_body.pop(record.body, None)
        self.versions.pop(bisect.bisect_left(self.versions, record.version))
        del self.at[record.version]

    def above(self, version: int) -> Iterator[Record]:
        """Records with a version above ``version``, in version order."""
        for v in self.versions[bisect.bisect_right(self.versions, version):]:
            yield self.at[v]

    def collect(self, before_day: int) -> list[Record]:
        """Drop tombstones issued before ``before_day``; remember the highest version."""
        old = [r for r in self.by_id.values() if r.tombstone and r.issued_day < before_day]
        for record in old:
            self._drop(record)
            self.collected_through = max(self.collected_through, record.version)
        return old

    def clear(self) -> None:
        self.by_id.clear()
        self.by_body.clear()
        self.versions.clear()
        self.at.clear()
        self.watermark = 0


@dataclass(frozen=True, slots=True)
class Applied:
    """What one delta did: records stored, duplicates skipped, why it stopped early."""

    origin: str
    stored: tuple[Record, ...] = ()
    duplicates: int = 0
    refused: str | None = None  # a reason from `RecordRefused` (or "gap", "malformed")
    reset: bool = False
    #: For a delta about this node's own origin: the highest version of its own
    #: records a peer holds (above its counter only if this node lost its file).
    own_seen: int = 0


@dataclass(frozen=True, slots=True)
class DeltaBudget:
    """Bounds on one message's deltas: records and their bytes."""

    max_records: int = 256
    max_bytes: int = 512 * 1024


class GossipState:
    """Every origin's records this node holds, and the digest/delta/merge rules."""

    def __init__(self, trusted: TrustedKeys, *, horizon_days: int = 30, own: str = "") -> None:
        self.trusted = trusted
        self.own = own
        self.horizon_days = horizon_days
        self.logs: dict[str, OriginLog] = {}

    # -- reading --

    def digest(self) -> dict[str, int]:
        return {origin: log.watermark for origin, log in self.logs.items() if log.watermark}

    def records(self, origin: str) -> list[Record]:
        log = self.logs.get(origin)
        return [] if log is None else list(log.above(0))

    def digest_chunk(self, after: str = "", max_entries: int = 512) -> pb.DigestChunk:
        """The digest of the origins after ``after`` (cyclically), at most ``max_entries``.

        The chunk names its range, so the other side can tell an origin this
        node lacks (inside the range, absent) from one the chunk left out.
        """
        origins = sorted(o for o, log in self.logs.items() if log.watermark)
        start = bisect.bisect_right(origins, after) if after else 0
        if start >= len(origins):
            start = 0
        picked = origins[start:start + max_entries]
        # The range starts just above the cursor, not at the first origin held
        # after it: an origin this node lacks may sort in between.
        chunk = pb.DigestChunk(first=after + "\x00" if start else "",
                               last=picked[-1] if start + max_entries < len(origins) else "")
        chunk.entries.extend(pb.DigestEntry(origin=o, version=self.logs[o].watermark,
                                            collected_through=self.logs[o].collected_through)
                             for o in picked)
        return chunk

    def deltas_for(self, chunk: pb.DigestChunk, budget: DeltaBudget = DeltaBudget()
                   ) -> list[pb.OriginDelta]:
        """What the sender of ``chunk`` lacks among the origins its range covers."""
        theirs = {entry.origin: entry.version for entry in chunk.entries}
        their_collected = {entry.origin: entry.collected_through for entry in chunk.entries}
        refused = set(chunk.refused)
        deltas: list[pb.OriginDelta] = []
        records_left, bytes_left = budget.max_records, budget.max_bytes
        for origin in sorted(self.logs):
            if origin < chunk.first or (chunk.last and origin > chunk.last) \
                    or origin in refused:
                continue
            log = self.logs[origin]
            their = theirs.get(origin, 0)
            if log.watermark <= their or records_left <= 0:
                continue
            # reset once: a peer that took this origin's collection point is catching up
            reset = 0 < their < log.collected_through \
                and their_collected.get(origin, 0) < log.collected_through
            start = 0 if reset else their
            delta = pb.OriginDelta(origin=origin, from_version=start, reset=reset,
                                   collected_through=log.collected_through,
                                   to_version=log.watermark)
            sent = start
            for record in log.above(start):
                size = len(record.body) + len(record.signature)
                if records_left <= 0 or size > bytes_left:
                    delta.to_version = sent  # the rest next round, from there
                    break
                delta.records.append(record.wire())
                sent = record.version
                records_left -= 1
                bytes_left -= size
            if delta.records:  # nothing held above theirs: nothing to say (see `apply`)
                deltas.append(delta)
        return deltas

    # -- merging --

    def apply(self, delta: pb.OriginDelta) -> Applied:
        """Merge one delta; see the module docstring for when it is refused or cut short.

        The watermark advances to the highest version among the valid records the
        delta actually carried, never to a claimed ``to_version`` beyond them: a
        relay cannot make this node skip records it never sent. A delta about this
        node's own origin is refused (it is the authority on its own records).
        """
        origin = delta.origin
        if self.trusted(origin) is None:
            return Applied(origin, refused="untrusted_origin")
        if delta.to_version < delta.from_version or (delta.reset and delta.from_version):
            return Applied(origin, refused="malformed")
        if origin == self.own:  # checked, so a forgery still costs its sender; never merged
            good, refused = self._checked(delta)
            return Applied(origin, refused=refused or "own_origin",
                           own_seen=max((r.version for r in good), default=0))
        log = self.logs.setdefault(origin, OriginLog())
        behind = delta.reset and log.watermark < delta.collected_through
        if delta.from_version > log.watermark and not behind:
            return Applied(origin, refused="gap")
        good, refused = self._checked(delta)
        # A reset wipes what is held: honoured only for a node that really is behind,
        # and with evidence, a signed record beyond what it holds.
        reset = behind and any(r.version > log.watermark for r in good)
        if reset:
            log.clear()
            log.collected_through = min(delta.collected_through, delta.to_version)
        elif delta.from_version > log.watermark:
            return Applied(origin, refused="gap")
        stored: list[Record] = []
        duplicates = 0
        for record in good:
            if record.version > log.watermark and log.put(record):
                stored.append(record)
            else:
                duplicates += 1
        if good:
            log.watermark = max(log.watermark, good[-1].version)
        if delta.from_version < delta.collected_through and good:
            # The sender no longer has that stretch's tombstones, so neither do we.
            log.collected_through = max(log.collected_through,
                                        min(delta.collected_through, delta.to_version))
        return Applied(origin, tuple(stored), duplicates, refused, reset)

    def _checked(self, delta: pb.OriginDelta) -> tuple[list[Record], str | None]:
        """The delta's records up to the first bad one, and why that one was bad."""
        good: list[Record] = []
        refused: str | None = None
        last = delta.from_version
        log = self.logs.get(delta.origin)
        for wire in delta.records:
            held = log.by_body.get(wire.body) if log is not None else None  # a re-delivery
            if held is not None and held.signature == wire.signature:
                if not last < held.version <= delta.to_version:
                    refused = "malformed"
                    break
                good.append(held)  # already verified when it first arrived
                last = held.version
                continue
            try:
                record = check_record(wire, self.trusted)
            except RecordRefused as exc:
                refused = exc.reason
                break
            if record.origin != delta.origin or not last < record.version <= delta.to_version:
                refused = "malformed"
                break
            good.append(record)
            last = record.version
        return good, refused

    def publish(self, record: Record) -> None:
        """Hold a record this node originated (its versions are complete by construction)."""
        log = self.logs.setdefault(record.origin, OriginLog())
        if record.version <= log.watermark:
            raise ValueError(f"version {record.version} is not above {log.watermark}")
        log.put(record)
        log.watermark = record.version

    def load(self, origin: str, watermark: int, collected_through: int,
             records: Iterable[Record]) -> None:
        """Restore an origin as persisted (records already checked when they arrived)."""
        log = self.logs.setdefault(origin, OriginLog())
        for record in records:
            log.put(record)
        log.watermark, log.collected_through = watermark, collected_through

    def collect(self, today: int) -> list[Record]:
        """Drop tombstones issued more than ``horizon_days`` before ``today``."""
        dropped: list[Record] = []
        for log in self.logs.values():
            dropped += log.collect(today - self.horizon_days)
        return dropped

