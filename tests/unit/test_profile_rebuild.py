"""Rebuilding profiles from stored events gives what incremental profiling gave."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from node.ingest.detect import parse_line
from node.profile.commands import PhaseRule, PhaseRules
from node.profile.profiler import Profiler
from node.profile.rebuild import DERIVED_TABLES, rebuild_profiles
from node.profile.stages import PROFILE_STAGES
from node.store import Store
from tests.integration.test_profile_durability import write_corpus


async def state(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    result = {}
    for table in DERIVED_TABLES:
        rows = await store.fetch(f"SELECT * FROM {table}")  # noqa: S608
        if table == "profile_rotations":
            rows = [row[1:] for row in rows]  # ids differ
        result[table] = sorted(rows, key=repr)
    return result


async def test_rebuild_equals_incremental_profiling(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.log"
    write_corpus(corpus, 6000)
    events = [parse_line(line) for line in corpus.read_bytes().splitlines()]
    store = await Store.open(tmp_path / "node.db", profilers=[Profiler()], stages=PROFILE_STAGES)
    try:
        for i in range(0, len(events), 700):
            await store.write_batch(events[i:i + 700])
        await store.catch_up()
        before = await state(store)
        assert await rebuild_profiles(store, Profiler(), batch_size=1000) == len(events)
        assert await state(store) == before
    finally:
        await store.close()


async def test_rebuild_applies_new_phase_rules(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "node.db", profilers=[Profiler()], stages=PROFILE_STAGES)
    try:
        await store.write_batch([parse_line(
            b"<14>1 2026-03-02T09:10:00.1+00:00 web-02 bash - - -  CMD uid=0 src=192.0.2.44"
            b" cmd=./staging.sh")])
        rules = PhaseRules((PhaseRule("resource_development", re.compile("staging")),))
        await rebuild_profiles(store, Profiler(rules))
        assert await store.fetch("SELECT phases FROM profile_commands") == \
            [("resource_development",)]
        assert await store.fetch("SELECT phase FROM profile_phases") == \
            [("resource_development",)]
    finally:
        await store.close()
