"""`Store.catch_up` with the clustering pass reporting its steps (for a progress bar).

A store runs the stages it was opened with (`node.home.open_store`), whose
clustering pass reports to no one. This runs the same stages, the node's
(`node_stages`) after the store's own sets, with ``on_progress`` given to the
pass; then `Store.catch_up` for anything still behind, so a store with other
stages ends where `Store.catch_up` alone would leave it. A store without
clustering (profiling off) is caught up as it is, without progress.
"""

from __future__ import annotations

from node.cluster.stage import PassProgress, node_stages
from node.store import Store
from node.store.derive import Deriver
from node.store.observations import ObservationSets


async def catch_up_reporting(store: Store, on_progress: PassProgress) -> None:
    """Bring every derived stage of ``store`` up to date, telling ``on_progress`` each step
    of the clustering pass (on the store's writer thread)."""
    stages = node_stages(on_progress=on_progress)
    lags = await store.lags()  # one per stage of the store
    if any(lags.values()) and all(stage.name in lags for stage in stages):
        deriver = Deriver([ObservationSets(), *stages])
        while await store.write_job(lambda conn: deriver.run(conn, due_only=False)):
            pass
    await store.catch_up()  # what is left (nothing, when the store's stages are the node's)
