"""The answering side of blind questions: epoch keys, evaluations, and the tables built
from the answer snapshot.

A table is built from the same snapshot the open path answers from (so a blind
and an open question about one item get the same aggregate), once per epoch
and snapshot version, off the event loop; the first is built when the
snapshot is taken, so no asker waits for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from federation.blind.epochs import EpochKeys
from federation.blind.oprf import DeserializeError, Evaluation, KeyPair, VoprfServer
from federation.blind.table import SignedTable, build_table, table_items
from federation.errors import EpochOver, InvalidQuestion
from federation.keys import NodeKey
from federation.snapshot import AnswerSnapshot


def snapshot_version(snapshot: AnswerSnapshot) -> int:
    """A table's version: the snapshot's time in milliseconds (never 0)."""
    return max(1, int(snapshot.taken_s * 1000))


class BlindAnswers:
    """Evaluations and tables of this node, for the BlindEvaluate and BlindTable methods."""

    def __init__(self, node: NodeKey, keys: EpochKeys) -> None:
        self._node = node
        self.keys = keys
        self._tables: dict[int, SignedTable] = {}
        self._building = asyncio.Lock()

    def evaluate(self, epoch: int, blinded: Sequence[bytes], now_s: float) -> Evaluation:
        """The epoch key applied to each element, with one proof; `EpochOver` if that key
        does not evaluate now, `InvalidQuestion` for an element that is not one."""
        pair = self._key(epoch, now_s)
        try:
            return VoprfServer(pair).blind_evaluate(blinded)
        except DeserializeError as exc:
            raise InvalidQuestion(f"blinded element: {exc}") from None

    def table_version(self, epoch: int) -> int:
        """The version of ``epoch``'s table as built so far (0: none yet)."""
        found = self._tables.get(epoch)
        return 0 if found is None else found.header.version

    async def table(self, epoch: int, snapshot: AnswerSnapshot, now_s: float) -> SignedTable:
        """The signed table of ``epoch`` at the snapshot's version (built if needed)."""
        pair = self._key(epoch, now_s)
        version = snapshot_version(snapshot)
        found = self._tables.get(epoch)
        if found is not None and found.header.version == version:
            return found
        async with self._building:
            found = self._tables.get(epoch)
            if found is None or found.header.version != version:
                items = table_items(snapshot.smtp, snapshot.fingerprints)
                found = await asyncio.to_thread(build_table, items, VoprfServer(pair),
                                                self._node, epoch, version)
                self._tables = {e: t for e, t in self._tables.items()
                                if e in self.keys.usable(now_s)}
                self._tables[epoch] = found
        return found

    async def prepare(self, snapshot: AnswerSnapshot, now_s: float) -> None:
        """Build the current epoch's table from a new snapshot before anyone asks."""
        await self.table(self.keys.epoch_at(now_s), snapshot, now_s)

    def _key(self, epoch: int, now_s: float) -> KeyPair:
        pair = self.keys.key(epoch, now_s)
        if pair is None:
            raise EpochOver(f"OPRF epoch {epoch} does not evaluate here now (current:"
                            f" {self.keys.epoch_at(now_s)}); ask GetNodeInfo for the key")
        return pair
