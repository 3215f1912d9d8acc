"""One call that brings every derived profile table up to date with the stored events."""

from __future__ import annotations

from node.profile.keystrokes import refresh_keystroke_simhashes
from node.store import Store


async def refresh_profiles(store: Store) -> None:
    """Fold the journals, then recompute dirty keystroke SimHashes (which folds first)."""
    await refresh_keystroke_simhashes(store)
