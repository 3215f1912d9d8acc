"""Epoch OPRF keys: one per epoch, kept across a restart, gone after the grace."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from federation.blind.epochs import EpochKeys

DAY = 86_400


def test_a_key_lives_its_epoch_and_grace_then_is_deleted(tmp_path: Path) -> None:
    path = tmp_path / "federation.db"
    keys = EpochKeys(path, epoch_s=DAY, grace_s=600)
    t0 = 20_000 * DAY + 5
    first = keys.key(20_000, t0)
    assert first is not None and keys.key(20_000, t0 + 100) == first
    assert keys.key(20_001, t0) is None  # not yet
    assert keys.key(19_999, t0 + 3600) is None  # never made, past its grace: nothing
    keys.close()

    again = EpochKeys(path, epoch_s=DAY, grace_s=600)  # a restart evaluates with the same key
    assert again.key(20_000, t0 + 50) == first
    boundary = 20_001 * DAY
    assert again.usable(boundary + 599) == [20_001, 20_000]
    assert again.key(20_000, boundary + 599) == first  # in flight across the boundary
    second = again.key(20_001, boundary + 599)
    assert second is not None and second != first
    assert again.usable(boundary + 600) == [20_001]
    assert again.key(20_000, boundary + 600) is None
    assert [e for e, _ in again.public_keys(20_002 * DAY + 1)] == [20_002, 20_001]
    again.close()
    stored = sqlite3.connect(path).execute("SELECT epoch FROM oprf_keys").fetchall()
    assert stored == [(20_001,), (20_002,)]  # 20,000's secret is gone from the file


def test_a_key_is_deleted_as_soon_as_its_grace_is_over_even_when_cached(
        tmp_path: Path) -> None:
    path = tmp_path / "federation.db"
    keys = EpochKeys(path, epoch_s=100, grace_s=10)
    assert keys.key(5, 550) is not None and keys.key(6, 601) is not None
    assert keys.key(5, 605) is not None  # in its grace, from the cache
    assert keys.key(6, 611) is not None  # a cache hit: the first call after the grace
    stored = sqlite3.connect(path).execute("SELECT epoch FROM oprf_keys").fetchall()
    assert stored == [(6,)]
    assert keys.key(5, 611) is None
    keys.close()
