"""The node's local store, a package: `schema` (tables, migrations, settings),
`writer` (batches on one writer thread), `database` (the async `Store` handle).

The store never imports `node.ingest`: events arrive as `node.event.Event`s
through `Store.write_batch`, which is the sink ingest writes to.
"""

from node.errors import StoreError
from node.store.database import (
    OBSERVATION_SORTS,
    ObservationFilter,
    ObservationRow,
    Store,
    StoreCounts,
)
from node.store.schema import SCHEMA_VERSION
from node.store.writer import BatchProfiler, ChainBroken, PreparedBatch, ReadOffset, WriteChain

__all__ = [
    "OBSERVATION_SORTS",
    "SCHEMA_VERSION",
    "BatchProfiler",
    "ChainBroken",
    "ObservationFilter",
    "ObservationRow",
    "PreparedBatch",
    "ReadOffset",
    "Store",
    "StoreCounts",
    "StoreError",
    "WriteChain",
]
