"""One call that brings every derived table up to date with the stored events."""

from __future__ import annotations

from node.profile.keystrokes import refresh_keystroke_simhashes
from node.store import Store


async def refresh_profiles(store: Store) -> None:
    """Fold the journals, recompute dirty keystroke SimHashes, catch up observation sets."""
    await refresh_keystroke_simhashes(store)  # folds the journals first
    await store.catch_up_observations()
