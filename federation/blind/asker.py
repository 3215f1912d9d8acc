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
from federation.client import BAD_ANSWER, OK, FederationClient, PeerAnswer
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
OPEN = "open"
#: Blinded elements per BlindEvaluate call (a node's default `max_blind_batch`).
BATCH = 64
#: Chunks one table may take; a table past this many is refused as oversized.
MAX_CHUNKS = 256

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
    """Verified tables per peer key, in a directory of the node home (None: none kept)."""

    def __init__(self, directory: Path | None) -> None:
        self._directory = directory

    def _path(self, key_id: str) -> Path | None:
        if self._directory is None or not key_id.isalnum():
            return None
        return self._directory / f"{key_id}.table"

    def load(self, peer: Peer, epoch: int, public_key: bytes) -> SignedTable | None:
        """The cached table of ``peer`` for ``epoch``, verified again; None if absent."""
        path = self._path(peer.key.key_id)
        if path is None:
            return None
        try:
            message = pb.BlindTableResponse.FromString(path.read_bytes())
            return verify_table(_table_of(peer, message, message.chunk), peer.key, epoch=epoch,
                                oprf_public_key=public_key)
        except (OSError, ValueError, TableError):
            return None  # absent, of another epoch, damaged: fetched again

    def save(self, table: SignedTable) -> None:
        path = self._path(table.header.key_id)
        if path is None or self._directory is None:
            return
        header = table.header
        body = pb.BlindTableResponse(
            epoch=header.epoch, oprf_public_key=header.oprf_public_key,
            version=header.version, records=header.records,
            records_sha256=header.records_sha256, signature=table.signature,
            chunk=table.records).SerializeToString()
        try:
            self._directory.mkdir(mode=0o700, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=self._directory, prefix=".table-")
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
    epoch, public_key = await _oprf_key(client, peer)
    if gossiped.get(epoch, public_key) != public_key:
        raise _RowFailure(BAD_ANSWER, f"its OPRF key for epoch {epoch} differs from the one it"
                          " gossips to every peer: it may be telling askers apart")
    table = await _table(client, peer, epoch, public_key, cache)
    asked = [item for item in items if item is not None]
    outputs: dict[bytes, bytes] = {}
    if asked:
        outputs = dict(zip(asked, await _evaluate(client, peer, epoch, public_key, asked),
                           strict=True))
    found: list[SharedSeen] = []
    for item in items:
        try:
            record = None if item is None else open_record(outputs[item], table)
        except TableError as exc:
            raise _RowFailure(BAD_ANSWER, str(exc)) from None
        found.append(NEVER_SEEN if record is None else record.shared())
    return tuple(found)


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
                 cache: TableCache) -> SignedTable:
    """The peer's verified table of ``epoch``: the cached one if the peer says it is
    current, else fetched chunk by chunk."""
    cached = cache.load(peer, epoch, public_key)
    have = 0 if cached is None else cached.header.version
    parts: list[bytes] = []
    first: BlindTableChunk | None = None
    for _ in range(MAX_CHUNKS):
        offset = sum(len(part) for part in parts) // RECORD_BYTES
        chunk = (await _ask(client, peer, BlindTableQuestion(epoch, have, offset))).answer
        assert isinstance(chunk, BlindTableChunk)
        if chunk.unchanged and cached is not None and chunk.version == have:
            return cached
        if first is None:
            first = chunk
            have = 0  # a new version: every chunk from here on is of it
        if (chunk.version, chunk.offset, chunk.signature) != \
                (first.version, offset, first.signature) or len(chunk.chunk) % RECORD_BYTES:
            raise _RowFailure(BAD_ANSWER, "blind table chunks of different tables")
        parts.append(chunk.chunk)
        if not chunk.chunk or offset + len(chunk.chunk) // RECORD_BYTES >= first.records:
            break
    else:
        raise _RowFailure(BAD_ANSWER, f"blind table larger than {MAX_CHUNKS} chunks")
    assert first is not None
    try:
        table = verify_table(_table_of(peer, first, b"".join(parts)), peer.key, epoch=epoch,
                             oprf_public_key=public_key)
    except TableError as exc:
        raise _RowFailure(BAD_ANSWER, str(exc)) from None
    cache.save(table)
    return table


async def _evaluate(client: FederationClient, peer: Peer, epoch: int, public_key: bytes,
                    items: Sequence[bytes]) -> list[bytes]:
    """The PRF outputs of ``items`` under the peer's epoch key, proofs checked."""
    try:
        voprf = VoprfClient(public_key)
    except OprfError as exc:
        raise _RowFailure(BAD_ANSWER, f"OPRF public key: {exc}") from None
    outputs: list[bytes] = []
    for start in range(0, len(items), BATCH):
        blindings = [voprf.blind(item) for item in items[start:start + BATCH]]
        row = await _ask(client, peer, BlindEvaluateQuestion(
            epoch, tuple(b.blinded_element for b in blindings)))
        evaluation = row.answer
        assert isinstance(evaluation, BlindEvaluation)
        if evaluation.epoch != epoch:
            raise _RowFailure(BAD_ANSWER, "evaluation of another epoch than asked")
        try:
            outputs += voprf.finalize(blindings, Evaluation(evaluation.evaluated,
                                                            evaluation.proof))
        except OprfError as exc:
            raise _RowFailure(BAD_ANSWER, f"blind evaluation refused: {exc}") from None
    return outputs
