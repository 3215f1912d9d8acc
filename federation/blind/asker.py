"""Asking blind: a peer answers "seen corp1.com?" without learning what was asked.

Per peer: its signed NodeInfo names the OPRF public key of the current
epoch; its signed blind answer table of that epoch is fetched (or taken from
the cache when the peer says it is unchanged) and verified; every question's
item, normalised exactly as the peer stores it, is blinded and the whole batch
evaluated in one call; the batch's proof is checked against that public key,
the outputs unblinded, and each item's record looked up and opened. A missing
tag is "not seen". The peer sees random group elements, their number and when.

A peer that does not serve blind questions is a row with status ``no_blind``:
the question is never sent to it in the open unless the operator says so
(``--open``).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.message import DecodeError

from federation._proto.decnet.federation.v1 import federation_pb2 as pb
from federation.blind.oprf import Evaluation, OprfError, VoprfClient
from federation.blind.table import (
    RECORD_BYTES,
    SignedTable,
    TableError,
    TableHeader,
    fingerprint_item,
    open_record,
    smtp_item,
    verify_table,
)
from federation.client import BAD_ANSWER, OK, REFUSED, FederationClient, PeerAnswer
from federation.privacy import DAY_S, SharedSeen
from federation.snapshot import NEVER_SEEN
from federation.trust import Peer
from federation.wire import (
    BlindEvaluateQuestion,
    BlindEvaluation,
    BlindTableChunk,
    BlindTableQuestion,
    FingerprintQuestion,
    NodeInfo,
    NodeInfoQuestion,
    SeenAnswer,
    SmtpQuestion,
)
from node.query import fingerprint_question, smtp_question

#: The asker's cache of peers' tables, in its node home.
BLIND_TABLES_DIR = "blind-tables"
#: Status of a peer that lists no OPRF key.
NOT_BLIND = "no_blind"
BLIND = "blind"
#: Blinded elements per BlindEvaluate call (a node's default `max_blind_batch`).
BATCH = 16
#: What a batch of no real items evaluates (every question normalised to nothing
#: stored): the call still says which table version is current.
_PROBE = b"decnet-fed/v1/blind-probe"
#: Largest table accepted (44 MB): a peer cannot make the asker hold more.
MAX_TABLE_RECORDS = 1_000_000

BlindQuestion = SmtpQuestion | FingerprintQuestion


def blind_item(question: BlindQuestion) -> bytes | None:
    """The PRF input of a question, normalised as the answering node stores it; None when
    no node ever stores it (the answer is "not seen" without asking). `MalformedQuery`
    for a malformed one, as the open path refuses it."""
    if isinstance(question, SmtpQuestion):
        stored = smtp_question(question.domain)
        return None if stored is None else smtp_item(stored)
    value = fingerprint_question(question.kind, question.value)
    return None if value is None else fingerprint_item(question.kind, value)


class _RowFailure(Exception):
    """Asking this peer failed: the rows carry ``status`` and ``error``."""

    def __init__(self, status: str, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


class TableCache:
    """Verified tables, one per peer key: in memory, and in a directory of the node home
    (None: memory only) so the next `query` starts warm."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._held: dict[str, SignedTable] = {}

    def _path(self, key_id: str) -> Path | None:
        if self.directory is None or not key_id.isalnum():
            return None
        return self.directory / f"{key_id}.table"

    def latest(self, peer: Peer) -> SignedTable | None:
        """The table last saved for ``peer`` (any epoch), verified against its key when
        read from disk; None if there is none or it does not verify."""
        held = self._held.get(peer.key.key_id)
        if held is not None:
            return held
        path = self._path(peer.key.key_id)
        if path is None:
            return None
        try:
            message = pb.BlindTableResponse.FromString(path.read_bytes())
            table = verify_table(_table_of(peer, message, message.chunk), peer.key,
                                 epoch=message.epoch, oprf_public_key=message.oprf_public_key)
        except (OSError, ValueError, DecodeError, TableError):
            return None  # absent or damaged: fetched again
        self._held[peer.key.key_id] = table
        return table

    def save(self, table: SignedTable) -> None:
        self._held[table.header.key_id] = table
        path = self._path(table.header.key_id)
        if path is None or self.directory is None:
            return
        header = table.header
        body = pb.BlindTableResponse(
            epoch=header.epoch, oprf_public_key=header.oprf_public_key,
            version=header.version, records=header.records,
            records_sha256=header.records_sha256, signature=table.signature,
            chunk=table.records).SerializeToString()
        try:
            self.directory.mkdir(mode=0o700, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=self.directory, prefix=".table-")
            with os.fdopen(fd, "wb") as out:
                out.write(body)
            os.replace(name, path)
        except OSError:
            pass  # a cache: the next question fetches the table again


def _table_of(peer: Peer, message: pb.BlindTableResponse | BlindTableChunk,
              records: bytes) -> SignedTable:
    header = TableHeader(peer.key.key_id, message.epoch, message.oprf_public_key,
                         message.version, message.records, message.records_sha256)
    return SignedTable(header, message.signature, records)


@dataclass(frozen=True, slots=True)
class _Asked:
    status: str
    error: str | None
    answers: tuple[SharedSeen, ...]
    latency_s: float


async def ask_blind(client: FederationClient, peers: Sequence[Peer],
                    questions: Sequence[BlindQuestion], cache: TableCache,
                    gossiped: Mapping[str, Mapping[int, bytes]] | None = None
                    ) -> list[list[PeerAnswer]]:
    """For each question, one row per peer (in the order of ``peers``), asked blind.

    ``gossiped`` (origin → epoch → OPRF key, `federation.blind.published`) is what
    gossip says each peer's keys are: a peer whose NodeInfo names another key for
    an epoch gossip knows is a bad answer (it could be telling askers apart).
    """
    items = [blind_item(question) for question in questions]
    known = gossiped or {}
    asked = await asyncio.gather(*(_ask_peer(client, peer, items, cache,
                                             known.get(peer.key.key_id, {}))
                                   for peer in peers))
    return [[PeerAnswer(peer.name, peer.address, result.status,
                        SeenAnswer(result.answers[index], DAY_S) if result.status == OK
                        else None, result.error, result.latency_s, BLIND)
             for peer, result in zip(peers, asked, strict=True)]
            for index in range(len(questions))]


async def _ask_peer(client: FederationClient, peer: Peer, items: Sequence[bytes | None],
                    cache: TableCache, gossiped: Mapping[int, bytes]) -> _Asked:
    started = time.perf_counter()
    try:
        answers = await _answers(client, peer, items, cache, gossiped)
    except _RowFailure as failure:
        return _Asked(failure.status, failure.error, (), time.perf_counter() - started)
    return _Asked(OK, None, answers, time.perf_counter() - started)


async def _answers(client: FederationClient, peer: Peer, items: Sequence[bytes | None],
                   cache: TableCache, gossiped: Mapping[int, bytes]) -> tuple[SharedSeen, ...]:
    """One BlindEvaluate when the cached table's epoch still evaluates and its version is
    current; NodeInfo and BlindTable only when they are needed."""
    asked = [item for item in items if item is not None]
    table = cache.latest(peer)
    evaluated: tuple[list[bytes], int] | None = None
    if table is not None and gossiped.get(table.header.epoch,
                                          table.header.oprf_public_key) != \
            table.header.oprf_public_key:
        table = None  # gossip knows a newer key for that epoch: the cache is stale
    if table is not None:
        try:
            evaluated = await _evaluate(client, peer, table.header.epoch,
                                        table.header.oprf_public_key, asked)
        except _EpochOver:
            table = None  # the key is gone: ask from the start
        except _RowFailure as failure:
            if failure.status != BAD_ANSWER:
                raise
            table = None  # a proof that fails the cached key (the peer lost its state)
    if table is None or evaluated is None:
        epoch, public_key = await _oprf_key(client, peer)
        _check_gossiped(epoch, public_key, gossiped)
        try:
            evaluated = await _evaluate(client, peer, epoch, public_key, asked)
        except _EpochOver as over:  # rotated between the two calls: the row says so
            raise _RowFailure(REFUSED, str(over)) from None
    else:
        epoch, public_key = table.header.epoch, table.header.oprf_public_key
    outputs, version = evaluated
    if table is None or table.header.epoch != epoch or table.header.version != version:
        table = await _table(client, peer, epoch, public_key, cache,
                             have=None if table is None or table.header.epoch != epoch
                             else table)
    by_item = dict(zip(asked, outputs, strict=True))
    found: list[SharedSeen] = []
    for item in items:
        try:
            record = None if item is None else open_record(by_item[item], table)
        except TableError as exc:
            raise _RowFailure(BAD_ANSWER, str(exc)) from None
        found.append(NEVER_SEEN if record is None else record.shared())
    return tuple(found)


def _check_gossiped(epoch: int, public_key: bytes, gossiped: Mapping[int, bytes]) -> None:
    if gossiped.get(epoch, public_key) != public_key:
        raise _RowFailure(BAD_ANSWER, f"its OPRF key for epoch {epoch} differs from the one it"
                          " gossips to every peer: it may be telling askers apart")


class _EpochOver(Exception):
    """The peer no longer evaluates with that epoch's key (FAILED_PRECONDITION)."""


async def _ask(client: FederationClient, peer: Peer,
               question: NodeInfoQuestion | BlindTableQuestion | BlindEvaluateQuestion
               ) -> PeerAnswer:
    row = await client.ask(peer, question)
    if row.status != OK:
        raise _RowFailure(row.status, row.error or row.status)
    return row


async def _oprf_key(client: FederationClient, peer: Peer) -> tuple[int, bytes]:
    info = (await _ask(client, peer, NodeInfoQuestion())).answer
    assert isinstance(info, NodeInfo)
    if not info.oprf_keys:
        raise _RowFailure(NOT_BLIND, "does not serve blind questions (--open asks it openly)")
    return max(info.oprf_keys)


async def _table(client: FederationClient, peer: Peer, epoch: int, public_key: bytes,
                 cache: TableCache, have: SignedTable | None) -> SignedTable:
    """The peer's verified table of ``epoch``, fetched chunk by chunk (``have``: the
    version held, answered ``unchanged`` if still current). A table rebuilt while it
    was being fetched is fetched again, once."""
    for _ in range(2):
        fetched = await _fetch(client, peer, epoch, have)
        if fetched is None:
            continue  # a new version appeared mid-fetch
        if fetched is have:
            return have
        try:
            table = verify_table(fetched, peer.key, epoch=epoch, oprf_public_key=public_key)
        except TableError as exc:
            raise _RowFailure(BAD_ANSWER, str(exc)) from None
        cache.save(table)
        return table
    raise _RowFailure(BAD_ANSWER, "its blind table changed twice while it was fetched")


async def _fetch(client: FederationClient, peer: Peer, epoch: int,
                 have: SignedTable | None) -> SignedTable | None:
    """The chunks of one table version, unverified (``have`` if unchanged; None if the
    version changed between chunks)."""
    parts: list[bytes] = []
    received = 0
    first: BlindTableChunk | None = None
    version = 0 if have is None else have.header.version
    while True:
        chunk = (await _ask(client, peer, BlindTableQuestion(
            epoch, version, received // RECORD_BYTES))).answer
        assert isinstance(chunk, BlindTableChunk)
        if chunk.unchanged and have is not None and chunk.version == have.header.version:
            return have
        if first is None:
            first, version = chunk, 0  # a new version: every chunk from here on is of it
            if first.records > MAX_TABLE_RECORDS:
                raise _RowFailure(BAD_ANSWER, f"blind table of {first.records:,} records, more"
                                  f" than the {MAX_TABLE_RECORDS:,} accepted")
        if chunk.version != first.version:
            return None
        if (chunk.offset, chunk.signature) != (received // RECORD_BYTES, first.signature) \
                or len(chunk.chunk) % RECORD_BYTES \
                or received + len(chunk.chunk) > first.records * RECORD_BYTES:
            raise _RowFailure(BAD_ANSWER, "blind table chunks that do not add up")
        parts.append(chunk.chunk)
        received += len(chunk.chunk)
        if not chunk.chunk or received >= first.records * RECORD_BYTES:
            return _table_of(peer, first, b"".join(parts))


async def _evaluate(client: FederationClient, peer: Peer, epoch: int, public_key: bytes,
                    items: Sequence[bytes]) -> tuple[list[bytes], int]:
    """The PRF outputs of ``items`` under the peer's epoch key (proofs checked), and the
    version of that epoch's table the peer holds now. `_EpochOver` if the key is gone."""
    try:
        voprf = VoprfClient(public_key)
    except OprfError as exc:
        raise _RowFailure(BAD_ANSWER, f"OPRF public key: {exc}") from None
    outputs: list[bytes] = []
    version = 0
    for start in range(0, max(len(items), 1), BATCH):
        batch = items[start:start + BATCH] or [_PROBE]  # nothing to ask: still learn the version
        blindings = [voprf.blind(item) for item in batch]
        row = await client.ask(peer, BlindEvaluateQuestion(
            epoch, tuple(b.blinded_element for b in blindings)))
        if row.status != OK:
            if (row.error or "").startswith("FAILED_PRECONDITION"):
                raise _EpochOver(row.error or "")
            raise _RowFailure(row.status, row.error or row.status)
        evaluation = row.answer
        assert isinstance(evaluation, BlindEvaluation)
        if evaluation.epoch != epoch:
            raise _RowFailure(BAD_ANSWER, "evaluation of another epoch than asked")
        try:
            found = voprf.finalize(blindings, Evaluation(evaluation.evaluated,
                                                         evaluation.proof))
        except OprfError as exc:
            raise _RowFailure(BAD_ANSWER, f"blind evaluation refused: {exc}") from None
        outputs += found if items else []
        version = evaluation.table_version
    return outputs, version
