"""Fingerprint rotation: per (observation, port, probe type) the last hash, and its changes.

The active prober re-probes attackers; a hash that differs from the last one
seen for the same (ip, port, probe) is a rotation. First sightings and
unchanged hashes are not. This module plans, for one time-ordered batch, what
is a rotation inside the batch and which first sighting per triple must still
be compared with the stored last hash; the comparison itself is the profiler's
SQL. A sighting older than the stored last one (a late file) never rotates and
never replaces the current hash: rotation is judged in time order only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

#: Prober event kind → (probe type, fingerprint type of its hash).
PROBES: Mapping[str, tuple[str, str]] = {
    "jarm_fingerprint": ("jarm", "jarm"),
    "hassh_fingerprint": ("hassh", "hassh_server"),
    "tcpfp_fingerprint": ("tcpfp", "tcpfp"),
}


class Sighting(NamedTuple):
    """One validated probe hash for (ip, port, probe) at a time."""

    ip: str
    port: int
    probe: str
    value: str
    time_us: int


class Rotation(NamedTuple):
    """A hash change on one (ip, port, probe)."""

    ip: str
    port: int
    probe: str
    time_us: int
    old: str
    new: str


@dataclass(slots=True)
class RotationPlan:
    """What one batch means for rotation state.

    - ``first``: the earliest sighting per triple, to compare with the store.
    - ``rotations``: changes between consecutive sightings inside the batch.
    - ``last``: the latest sighting per triple with the batch's first time,
      to become the stored current hash.
    """

    first: list[Sighting] = field(default_factory=list)
    rotations: list[Rotation] = field(default_factory=list)
    last: list[tuple[Sighting, int]] = field(default_factory=list)


def plan_rotations(sightings: Iterable[Sighting]) -> RotationPlan:
    """Split a batch of sightings into first sightings, in-batch rotations and last hashes."""
    ordered = sorted(sightings, key=lambda s: s.time_us)
    firsts: dict[tuple[str, int, str], Sighting] = {}
    lasts: dict[tuple[str, int, str], Sighting] = {}
    plan = RotationPlan()
    for sighting in ordered:
        triple = (sighting.ip, sighting.port, sighting.probe)
        previous = lasts.get(triple)
        if previous is None:
            firsts[triple] = sighting
        elif previous.value != sighting.value:
            plan.rotations.append(Rotation(sighting.ip, sighting.port, sighting.probe,
                                           sighting.time_us, previous.value, sighting.value))
        lasts[triple] = sighting
    plan.first = list(firsts.values())
    plan.last = [(last, firsts[triple].time_us) for triple, last in lasts.items()]
    return plan


def parse_port(text: str | None) -> int | None:
    """A probe's target port: 0 when absent (``-``), None when malformed."""
    if text is None or text.strip() in ("", "-"):
        return 0
    value = text.strip()
    if not value.isdigit() or len(value) > 5 or int(value) > 65535:
        return None
    return int(value)
