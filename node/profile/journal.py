"""Folding the profile journals into the indexed profile tables.

Batches append profile rows to journals (schema v3) in the batch transaction;
the profiler folds each one at `FOLD_JOURNAL_ROWS` rows, and anything that reads
profile tables calls `fold_journals` first (`node.profile.refresh`), so reads always see every
stored event. A fold is one transaction: the tables plus the (now empty)
journals equal what they were before, so a crash anywhere loses nothing.
"""

from __future__ import annotations

from node.profile import sql
from node.profile.profiler import fold_statements
from node.store import Store
from node.store.writer import run_statements

_ANY_PENDING = "SELECT " + " OR ".join(  # noqa: S608 - constant table names
    f"EXISTS (SELECT 1 FROM {journal.journal})" for journal in sql.JOURNALS)  # noqa: S608


async def fold_journals(store: Store) -> bool:
    """Merge pending journal rows into the profile tables; False when none were pending.

    Checks first without the write lock, so readers of a quiet node never write.
    """
    if not (await store.fetch(_ANY_PENDING))[0][0]:
        return False
    statements = fold_statements()
    await store.write_job(lambda conn: run_statements(conn, statements))
    return True
