"""The interpreter tuning an ingest runs under is scoped to it and undone afterwards."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest

from node.ingest.pipeline import COLLECT_EVERY_BATCHES, ingest_sources, ingest_tuning
from node.store import Store


def test_tuning_turns_automatic_collection_off_and_restores_everything() -> None:
    interval = sys.getswitchinterval()
    assert gc.isenabled()
    with ingest_tuning():
        assert not gc.isenabled()
        assert gc.get_freeze_count() > 0  # what existed before is skipped by collections
        assert sys.getswitchinterval() < interval
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    assert sys.getswitchinterval() == interval


def test_nested_tuning_leaves_the_outer_one_in_force() -> None:
    with ingest_tuning():
        frozen = gc.get_freeze_count()
        with ingest_tuning():
            pass
        assert not gc.isenabled()
        assert gc.get_freeze_count() == frozen
    assert gc.isenabled()


def test_tuning_is_undone_when_the_ingest_fails() -> None:
    try:
        with ingest_tuning():
            raise RuntimeError("ingest failed")
    except RuntimeError:
        pass
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


async def test_a_long_ingest_still_collects_garbage_now_and_then(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "mail.log"
    batches = 3 * COLLECT_EVERY_BATCHES
    log.write_text("".join(
        f'<134>1 2026-03-02T08:{n // 60 % 60:02d}:{n % 60:02d}+00:00 mail-01 smtp - rcpt_to'
        f' [relay@55555 src="192.0.2.{n % 200 + 1}" value="<a@corp{n}.com>"]\n'
        for n in range(batches * 2)))
    collections: list[bool] = []  # whether automatic collection was on at each call
    real_collect = gc.collect

    def counting_collect(*args: int) -> int:
        collections.append(gc.isenabled())
        return real_collect(*args)

    monkeypatch.setattr(gc, "collect", counting_collect)
    store = await Store.open(tmp_path / "node.db")
    try:
        report = await ingest_sources(store, [str(log)], batch_size=2, max_line_bytes=4096)
    finally:
        await store.close()
    assert report.events_stored == batches * 2
    assert len(collections) >= 3 and not any(collections)  # explicit, while automatic was off
