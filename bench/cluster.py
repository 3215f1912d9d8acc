"""How long does a clustering pass take, and what does it hold, as the population grows?

Builds synthetic populations of observations deterministically from ``--seed``
(numpy's PCG64), with the overlap of signals a real node sees:

- scanners (~97% of observations here, besides the noise below): 45% carry
  no client fingerprint, the rest one or two of 5 stock HASSH and 5 stock
  JA3 values (shares 40/25/15/12/8%, so each is held by thousands at 1M);
  12% fetch kits from one of 5 popular hosts (github.com,
  raw.githubusercontent.com ...), 8% probe one of 5 big websites through
  direct-tcpip (www.google.com ...);
- interactive actors (`ACTOR_SHARE`, 3% of observations): 1-30 rotating
  addresses each (skewed small, mean ~10), every address with the actor's
  own HASSH, 60% of actors also their own JA3 (every actor over
  `rarity.RARE` addresses has both: one value seen by more than RARE links
  nobody on its own, by design); 20% of actors leak an EUI-64 interface id
  on half their addresses; 30% type, 70% of their addresses with 1-3
  sessions whose keystroke SimHash is the actor's base with 1-2 bits
  flipped; 20% of addresses also fetch from a popular host. 40% of actors
  work in planted campaigns of 2-4 actors, tied by a payload hash (40%) or
  a C2 host (40%) that 1-3 addresses of each actor hold, or only by phase
  hand-offs (20%: one actor's persistence, the next one's discovery 10 min
  to 12 h later, on one of 64 honeypots, another for each step); only these
  hand-offs carry phases, and two campaigns' hand-offs on one honeypot
  within a day link them (the rule has no rarity for hand-offs);
- mid-frequency noise: `NOISE_SHARE` (0.10) holdings per observation of
  payload hashes (common droppers) and C2 hosts (shared hosting) each held
  by 20-200 observations drawn at random from the whole population.

Members share one frozenset object per distinct set and one tuple per
distinct value, as `features.Features` builds them for run_pass.

Each size runs in a fresh subprocess (so ``ru_maxrss`` is that size's peak)
and prints: the population, the baseline (building the inverted index alone,
value → holders, as `graph.shared_values` does first, and the candidate
pairs the index yields), seconds in the identity layer
(`cluster_identities`), in the campaign layer (Crews of the identities that
can link there, picked and pooled as run_pass does, then `cluster_campaigns`;
both layers with the garbage collector paused, as in run_pass), the total and
total/baseline, peak RSS (and the population's alone), identities and
campaigns, and a truth check: planted actors recovered exactly (all their
addresses in one identity holding nothing else), split or merged, and
likewise planted campaigns. For the largest size it then adds 1% new
observations (new scanners, new addresses of existing actors, new actors)
and times both layers again over the grown population: a FULL pass, in
memory, for comparison. Then the targets (1M in <= 60 s, t(1M)/t(100k) <= 12,
peak RSS <= 2 GB, incremental at 1M <= 5 s), met or MISSED.

Last, `node.cluster.stage.run_pass` on a real SQLite store of
``--store-size`` observations (the same population as that size above), in
a fresh process too: the tables `run_pass` reads (observations, profile
tables, session links and keystroke SimHashes) and one `events` row per
observation (the change feed: event id = observation id), filled with
executemany in transactions of `FILL_CHUNK` observations through
`Store.write_job`. Then:

1. a full pass (``run_pass(conn)``, writes every identity and campaign row);
2. 1% new observations, as the in-memory growth above (new scanners, new
   addresses of existing actors sharing their rare values, new actors), with
   their events above the previous top id, then the incremental pass
   ``run_pass(conn, Span(old_top, new_top, new_top))`` with the default
   ``full_pass_share`` (the issue's "incremental pass after adding 1% new
   observations", target <= 5 s at 1M), with how many observations changed
   and how large the region it re-partitioned was;
3. the check: identities' and campaigns' (id, merged_into) rows copied, a
   full pass, and whether anything differs (it must not; confidences are
   compared too).

Each pass is timed inside its transaction and with the commit. Peak RSS is
the process's whole (building the population included) and, where Linux lets
the peak be reset (``/proc/self/clear_refs``), each pass's own (from what the
process held before it, memory the previous one freed included).

Asserts nothing.

    .venv/bin/python bench/cluster.py [--sizes 10000,100000,1000000] [--seed 11]
                                      [--store-size 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from node.cluster import rarity  # noqa: E402
from node.cluster import stage as cluster_stage  # noqa: E402
from node.cluster.campaigns import (  # noqa: E402
    Crew,
    PhaseSpan,
    cluster_campaigns,
    infrastructure_links,
)
from node.cluster.graph import Partition  # noqa: E402
from node.cluster.identities import Member, cluster_identities  # noqa: E402
from node.cluster.stage import FULL_PASS_SHARE, paused_gc, run_pass  # noqa: E402
from node.profile.stages import keystroke_changes  # noqa: E402
from node.store import Store  # noqa: E402
from node.store.derive import Span  # noqa: E402
from node.store.observations import changed_observations  # noqa: E402

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
DEFAULT_SEED = 11
DEFAULT_STORE_SIZE = 100_000
#: New observations, as a share of the largest size, before the "incremental" pass.
GROWTH = 0.01

TARGET_1M_S = 60.0
TARGET_GROWTH = 12.0
TARGET_RSS_MB = 2_000
TARGET_INCREMENTAL_S = 5.0
_MB = 1_000_000

# ---- the population ----

#: Share of observations that are interactive actors' addresses.
ACTOR_SHARE = 0.03
ACTOR_MAX_ADDRESSES = 30
ACTOR_JA3 = 0.6
ACTOR_EUI64 = 0.2
EUI64_PER_ADDRESS = 0.5
ACTOR_TYPES = 0.3
TYPED_PER_ADDRESS = 0.7
ACTOR_FETCHES_KIT = 0.2
#: Actors working alone; the others form campaigns of 2-4.
SOLO = 0.6
CAMPAIGN_TIES = ("payload", "c2", "handoff")
CAMPAIGN_TIE_SHARES = (0.4, 0.4, 0.2)
HONEYPOTS = 64
#: Scanner tool fingerprints: none, HASSH only, JA3 only, both.
SCANNER_TOOLS = (0.45, 0.25, 0.15, 0.15)
STOCK_SHARES = (0.40, 0.25, 0.15, 0.12, 0.08)
KIT_SHARE = 0.12
KIT_HOSTS = ("github.com", "raw.githubusercontent.com", "pastebin.com", "transfer.sh",
             "bitbucket.org")
PROBE_SHARE = 0.08
PROBE_HOSTS = ("www.google.com", "www.youtube.com", "www.facebook.com", "api.ipify.org",
               "www.cloudflare.com")
#: Mid-frequency values held per observation, each by 20-200 observations.
NOISE_SHARE = 0.10
NOISE_DF = (20, 200)

_T0_US = 1_772_000_000_000_000
_MINUTE_US = 60_000_000
_HOUR_US = 60 * _MINUTE_US
_DAY_US = 24 * _HOUR_US
_SPREAD_US = 90 * _DAY_US  # the population's first sightings spread over 90 days


@dataclass(slots=True)
class Actor:
    """One planted identity: its own tools and traces, its campaign, its addresses."""

    campaign: int
    size: int
    hassh: tuple[str, str]
    ja3: tuple[str, str] | None
    eui64: tuple[str, str] | None
    keystroke_base: int | None
    start_us: int
    span_us: int
    positions: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Population:
    """Members as the identity layer sees them, plus what the campaign layer and the truth need."""

    members: list[Member] = field(default_factory=list)
    first_us: list[int] = field(default_factory=list)
    last_us: list[int] = field(default_factory=list)
    actor_of: list[int] = field(default_factory=list)  # -1: not a planted actor
    actors: list[Actor] = field(default_factory=list)
    campaigns: int = 0
    #: observation → (honeypot, phase, first_us, last_us)
    phases: dict[int, list[tuple[str, str, int, int]]] = field(default_factory=dict)
    noise: list[tuple[str, str]] = field(default_factory=list)


class PopulationBuilder:
    """Builds a population of ``size`` observations, then can grow it by new ones."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.pop = Population()
        self._ip_offset = int(self.rng.integers(1 << 24, 1 << 32))
        self._stock = {kind: [(kind, self._hex(16)) for _ in STOCK_SHARES]
                       for kind in ("hassh", "ja3")}
        self._kits = [("c2", host) for host in KIT_HOSTS]
        self._probes = [("c2", host) for host in PROBE_HOSTS]
        self._sets: dict[frozenset[tuple[str, str]], frozenset[tuple[str, str]]] = {}

    # -- values --

    def _hex(self, nbytes: int) -> str:
        return self.rng.bytes(nbytes).hex()

    def _ip(self, position: int) -> str:
        """A distinct IPv4 address per position (an odd multiplier is a bijection mod 2**32)."""
        x = (position * 2_654_435_761 + self._ip_offset) % (1 << 32)
        return f"{x >> 24}.{(x >> 16) & 255}.{(x >> 8) & 255}.{x & 255}"

    def _shared(self, values: frozenset[tuple[str, str]]) -> frozenset[tuple[str, str]]:
        return self._sets.setdefault(values, values)

    def _eui64(self) -> tuple[str, str]:
        mac = self.rng.bytes(6)
        return ("eui64", bytes([mac[0] ^ 2, mac[1], mac[2], 0xFF, 0xFE, *mac[3:]]).hex())

    def _flipped(self, base: int) -> int:
        bits = self.rng.choice(64, int(self.rng.integers(1, 3)), replace=False)
        for bit in bits.tolist():
            base ^= 1 << bit
        return base

    # -- actors --

    def _new_actor(self, campaign: int, size: int) -> Actor:
        rng = self.rng
        has_ja3 = size > rarity.RARE or rng.random() < ACTOR_JA3
        start = _T0_US + int(rng.integers(0, _SPREAD_US))
        return Actor(campaign, size, ("hassh", self._hex(16)),
                     ("ja3", self._hex(16)) if has_ja3 else None,
                     self._eui64() if rng.random() < ACTOR_EUI64 else None,
                     int.from_bytes(rng.bytes(8), "big") | 1 if rng.random() < ACTOR_TYPES
                     else None,
                     start, int(rng.integers(_HOUR_US, 30 * _DAY_US)))

    def _actor_size(self) -> int:
        return 1 + int((ACTOR_MAX_ADDRESSES - 1) * self.rng.random() ** 2)

    def _plan_campaigns(self, addresses: int) -> list[list[int]]:
        """New actors until they hold ``addresses``; returns the campaigns' actor ids."""
        planned: list[list[int]] = []
        held = 0
        while held < addresses:
            count = 1 if self.rng.random() < SOLO else int(self.rng.integers(2, 5))
            campaign, ids = self.pop.campaigns, []
            self.pop.campaigns += 1
            for _ in range(count):
                actor = self._new_actor(campaign, self._actor_size())
                ids.append(len(self.pop.actors))
                self.pop.actors.append(actor)
                held += actor.size
            planned.append(ids)
        return planned

    # -- building --

    def build(self, size: int) -> Population:
        """The base population: scanners, actors in campaigns, mid-frequency noise."""
        campaigns = self._plan_campaigns(round(size * ACTOR_SHARE))
        slots = [a for ids in campaigns for a in ids for _ in range(self.pop.actors[a].size)]
        slots = slots[:size] + [-1] * max(0, size - len(slots))
        order = self.rng.permutation(size)
        shuffled = [slots[i] for i in order.tolist()]
        extra: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for _ in range(max(1, round(size * NOISE_SHARE / (sum(NOISE_DF) / 2)))):
            item = (("payload", self._hex(32)) if self.rng.random() < 0.5
                    else ("c2", f"h{self._hex(3)}.shared-hosting-{self._hex(2)}.net"))
            self.pop.noise.append(item)
            df = min(size, int(self.rng.integers(NOISE_DF[0], NOISE_DF[1] + 1)))
            for holder in self.rng.choice(size, df, replace=False).tolist():
                extra[holder].append(item)
        self._add(shuffled, extra, campaigns)
        return self.pop

    def grow(self, count: int) -> Population:
        """``count`` new observations: scanners, new addresses of actors, new lone actors."""
        rng = self.rng
        actor_addresses = round(count * ACTOR_SHARE)
        eligible = [a for a, actor in enumerate(self.pop.actors)
                    if actor.size < ACTOR_MAX_ADDRESSES
                    and (actor.ja3 is not None or actor.size < rarity.RARE)]
        slots: list[int] = []
        for _ in range(actor_addresses // 2):
            a = eligible[int(rng.integers(len(eligible)))]
            self.pop.actors[a].size += 1
            slots.append(a)
        first_new = len(self.pop.actors)
        held = 0
        while held < actor_addresses - len(slots):
            actor = self._new_actor(self.pop.campaigns, self._actor_size())
            self.pop.campaigns += 1
            self.pop.actors.append(actor)
            held += actor.size
        slots += [a for a in range(first_new, len(self.pop.actors))
                  for _ in range(self.pop.actors[a].size)]
        slots += [-1] * max(0, count - len(slots))
        slots = [slots[i] for i in rng.permutation(len(slots)).tolist()]
        base = len(self.pop.members)
        extra: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for offset in np.flatnonzero(rng.random(len(slots)) < NOISE_SHARE).tolist():
            extra[base + offset].append(self.pop.noise[int(rng.integers(len(self.pop.noise)))])
        self._add(slots, extra, [[a] for a in range(first_new, len(self.pop.actors))])
        return self.pop

    def _add(self, slots: Sequence[int], extra: dict[int, list[tuple[str, str]]],
             campaigns: Sequence[Sequence[int]]) -> None:
        """Append one observation per slot (actor id or -1), then tie the new campaigns."""
        rng, pop = self.rng, self.pop
        base, count = len(pop.members), len(slots)
        scanner_tools = rng.choice(4, count, p=SCANNER_TOOLS).tolist()
        stock_hassh = rng.choice(len(STOCK_SHARES), count, p=STOCK_SHARES).tolist()
        stock_ja3 = rng.choice(len(STOCK_SHARES), count, p=STOCK_SHARES).tolist()
        kit = np.where(rng.random(count) < KIT_SHARE,
                       rng.choice(len(KIT_HOSTS), count, p=STOCK_SHARES), -1).tolist()
        probe = np.where(rng.random(count) < PROBE_SHARE,
                         rng.choice(len(PROBE_HOSTS), count, p=STOCK_SHARES), -1).tolist()
        actor_kit = (rng.random(count) < ACTOR_FETCHES_KIT).tolist()
        first = (_T0_US + rng.integers(0, _SPREAD_US, count)).tolist()
        length = rng.integers(0, 2 * _DAY_US, count).tolist()
        offsets = rng.random(count).tolist()
        for i, a in enumerate(slots):
            position = base + i
            if a >= 0:
                actor = pop.actors[a]
                actor.positions.append(position)
                first[i] = actor.start_us + int(offsets[i] * actor.span_us)
                length[i] = int(offsets[i] * 6 * _HOUR_US)
            pop.first_us.append(first[i])
            pop.last_us.append(first[i] + length[i])
            pop.actor_of.append(a)
        for ids in campaigns:
            self._tie(ids, extra)
        for i, a in enumerate(slots):
            position = base + i
            infrastructure = extra.get(position, [])
            keystrokes: tuple[int, ...] = ()
            traces: frozenset[tuple[str, str]] = frozenset()
            if a < 0:
                mode = scanner_tools[i]
                tools = frozenset(
                    ([self._stock["hassh"][stock_hassh[i]]] if mode in (1, 3) else [])
                    + ([self._stock["ja3"][stock_ja3[i]]] if mode in (2, 3) else []))
                if kit[i] >= 0:
                    infrastructure = [*infrastructure, self._kits[kit[i]]]
                if probe[i] >= 0:
                    infrastructure = [*infrastructure, self._probes[probe[i]]]
            else:
                actor = pop.actors[a]
                tools = frozenset([actor.hassh] + ([actor.ja3] if actor.ja3 else []))
                if actor.eui64 is not None and rng.random() < EUI64_PER_ADDRESS:
                    traces = frozenset([actor.eui64])
                if actor.keystroke_base is not None and rng.random() < TYPED_PER_ADDRESS:
                    keystrokes = tuple(sorted(self._flipped(actor.keystroke_base)
                                              for _ in range(int(rng.integers(1, 4)))))
                if actor_kit[i]:
                    infrastructure = [*infrastructure, self._kits[kit[i] if kit[i] >= 0 else 0]]
            pop.members.append(Member(self._ip(position), self._shared(tools),
                                      self._shared(traces),
                                      self._shared(frozenset(infrastructure)), keystrokes))

    def _tie(self, ids: Sequence[int], extra: dict[int, list[tuple[str, str]]]) -> None:
        """Give a campaign of several actors its shared payload, C2 host or hand-offs."""
        if len(ids) < 2:
            return
        rng, pop = self.rng, self.pop
        tie = CAMPAIGN_TIES[int(rng.choice(len(CAMPAIGN_TIES), p=CAMPAIGN_TIE_SHARES))]
        if tie == "handoff":
            # A honeypot per hand-off: an actor both taking over and handing over on
            # the same one would have persistence or discovery first, depending on times.
            honeypots = rng.choice(HONEYPOTS, len(ids) - 1, replace=False).tolist()
            for giver, taker, number in zip(ids, ids[1:], honeypots, strict=False):
                honeypot = f"decky-{number:02d}"
                gives = pop.actors[giver].positions
                takes = pop.actors[taker].positions
                if not gives or not takes:  # a tiny population cut the actor off
                    continue
                g = gives[int(rng.integers(len(gives)))]
                t = takes[int(rng.integers(len(takes)))]
                given = pop.last_us[g]
                taken = given + int(rng.integers(10 * _MINUTE_US, 12 * _HOUR_US))
                pop.phases.setdefault(g, []).append((honeypot, "persistence", given, given))
                pop.phases.setdefault(t, []).append((honeypot, "discovery", taken, taken))
                pop.first_us[t] = min(pop.first_us[t], taken)
                pop.last_us[t] = max(pop.last_us[t], taken)
            return
        item = (("payload", self._hex(32)) if tie == "payload"
                else ("c2", f"cdn-{self._hex(4)}.top"))
        for a in ids:
            positions = pop.actors[a].positions
            holders = min(len(positions), int(rng.integers(1, 4)))
            for p in rng.choice(positions, holders, replace=False).tolist():
                extra[p].append(item)


# ---- the measured steps ----


def inverted_index(members: Sequence[Member]) -> dict[tuple[str, str], list[int]]:
    """The baseline: every exact value → its holders, as `graph.shared_values` builds first."""
    holders: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, member in enumerate(members):
        for item in (*member.tools, *member.traces, *member.infrastructure):
            holders[item].append(index)
    return holders


def build_crews(pop: Population, identities: Partition
                ) -> tuple[list[int], list[Crew], dict[tuple[str, str], int]]:
    """The identities that can link at the campaign layer, as `stage._Pass._campaigns`
    picks them (phases, keystrokes, or infrastructure that can weigh a link), and each
    one as a Crew; the others are campaigns of their own. Returns (roots, crews), with
    the value counts over all identities for `cluster_campaigns`."""
    group = identities.group
    infrastructure: dict[int, set[tuple[str, str]]] = defaultdict(set)
    keystrokes: dict[int, list[int]] = defaultdict(list)
    for index, member in enumerate(pop.members):
        if member.infrastructure:
            infrastructure[group[index]].update(member.infrastructure)
        if member.keystrokes:
            keystrokes[group[index]].extend(member.keystrokes)
    count: dict[tuple[str, str], int] = defaultdict(int)
    for values in infrastructure.values():
        for item in values:
            count[item] += 1
    phased = {group[index] for index in pop.phases}
    roots = sorted(phased | keystrokes.keys()
                   | {root for root, values in infrastructure.items()
                      if infrastructure_links(values, count.__getitem__)})
    slot = {root: s for s, root in enumerate(roots)}
    window = [(2**63, -(2**63)) for _ in roots]
    keys = [""] * len(roots)
    for index, root in enumerate(group):
        s = slot.get(root)
        if s is None:
            continue
        window[s] = (min(window[s][0], pop.first_us[index]),
                     max(window[s][1], pop.last_us[index]))
        key = pop.members[index].key
        keys[s] = min(keys[s], key) if keys[s] else key
    first_phase: list[dict[str, PhaseSpan]] = [{} for _ in roots]
    last_phase: list[dict[str, PhaseSpan]] = [{} for _ in roots]
    for index, rows in pop.phases.items():
        s = slot[group[index]]
        for honeypot, phase, first_us, last_us in rows:
            known = first_phase[s].get(honeypot)
            if known is None or (first_us, phase) < (known.time_us, known.phase):
                first_phase[s][honeypot] = PhaseSpan(phase, first_us)
            known = last_phase[s].get(honeypot)
            if known is None or (last_us, phase) > (known.time_us, known.phase):
                last_phase[s][honeypot] = PhaseSpan(phase, last_us)
    crews = [Crew(keys[s], frozenset(infrastructure.get(root, ())), first_phase[s],
                  last_phase[s], tuple(sorted(keystrokes.get(root, ()))), window[s])
             for s, root in enumerate(roots)]
    return roots, crews, count


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / _MB


def _truth(pop: Population, identities: Partition, crews: Sequence[int],
           campaigns: Partition) -> dict[str, int]:
    """Planted actors and campaigns recovered exactly, split, or merged with others.

    ``crews`` are the identity roots the campaign layer clustered (``campaigns``
    is over them); every other identity is a campaign of its own.
    """
    group = np.fromiter(identities.group, dtype=np.int64, count=len(identities.group))
    clustered = np.array(crews, dtype=np.int64)
    campaign_of_root = np.arange(len(group), dtype=np.int64)
    campaign_of_root[clustered] = clustered[np.fromiter(campaigns.group, dtype=np.int64,
                                                        count=len(campaigns.group))]
    campaign = campaign_of_root[group]
    identity_size = np.bincount(group, minlength=len(group))
    campaign_size = np.bincount(campaign, minlength=len(group))
    found = {"actors": len(pop.actors), "actors_exact": 0, "actors_split": 0,
             "actors_merged": 0, "campaigns": 0, "campaigns_exact": 0}
    by_campaign: dict[int, list[int]] = defaultdict(list)
    for actor in pop.actors:
        if not actor.positions:  # a tiny population cut the actor off
            found["actors"] -= 1
            continue
        positions = np.array(actor.positions, dtype=np.int64)
        by_campaign[actor.campaign].extend(actor.positions)
        held = np.unique(group[positions])
        if len(held) > 1:
            found["actors_split"] += 1
        elif identity_size[held[0]] != len(positions):
            found["actors_merged"] += 1
        else:
            found["actors_exact"] += 1
    for planted in by_campaign.values():
        if len({pop.actor_of[p] for p in planted}) < 2:
            continue
        found["campaigns"] += 1
        held = np.unique(campaign[np.array(planted, dtype=np.int64)])
        if len(held) == 1 and campaign_size[held[0]] == len(planted):
            found["campaigns_exact"] += 1
    return found


def _groups(partition: Partition) -> tuple[int, int]:
    """(groups, groups of two or more members)."""
    sizes = np.bincount(np.fromiter(partition.group, dtype=np.int64, count=len(partition.group)))
    return int(np.count_nonzero(sizes)), int(np.count_nonzero(sizes >= 2))


def full_pass(pop: Population) -> dict[str, Any]:
    """Both layers over ``pop``, timed, with the partitions' counts and the truth check."""
    with paused_gc():  # as run_pass runs them
        started = time.perf_counter()
        identities = cluster_identities(pop.members)
        identity_s = time.perf_counter() - started
        started = time.perf_counter()
        roots, crews, count = build_crews(pop, identities)
        crews_s = time.perf_counter() - started
        started = time.perf_counter()
        campaigns = cluster_campaigns(crews, count.__getitem__)
        campaign_s = time.perf_counter() - started
    identity_count, identity_multi = _groups(identities)
    clustered, campaign_multi = _groups(campaigns)
    campaign_count = identity_count - len(crews) + clustered  # the rest: alone
    return {"identity_s": identity_s, "crews_s": crews_s, "campaigns_s": campaign_s,
            "total_s": identity_s + crews_s + campaign_s, "identities": identity_count,
            "identities_multi": identity_multi, "campaigns": campaign_count,
            "campaigns_multi": campaign_multi, "identity_links": len(identities.links),
            "crews": len(crews), "truth": _truth(pop, identities, roots, campaigns)}


def measure_size(size: int, seed: int, incremental: bool) -> dict[str, Any]:
    """One size, in this (fresh) process: build, baseline, both layers; then grow and redo."""
    started = time.perf_counter()
    builder = PopulationBuilder(seed)
    pop = builder.build(size)
    generated_s = time.perf_counter() - started
    population_rss = _peak_rss_mb()
    started = time.perf_counter()
    holders = inverted_index(pop.members)
    baseline_s = time.perf_counter() - started
    values = len(holders)
    pairs = sum(len(h) * (len(h) - 1) // 2 for h in holders.values()
                if rarity.weight(len(h)) > 0)
    del holders
    result: dict[str, Any] = {
        "size": size, "generated_s": generated_s, "population_rss_mb": population_rss,
        "scanners": sum(1 for a in pop.actor_of if a < 0), "actors": len(pop.actors),
        "noise_values": len(pop.noise), "values": values, "candidate_pairs": pairs,
        "baseline_s": baseline_s, **full_pass(pop)}
    result["peak_rss_mb"] = _peak_rss_mb()
    if incremental:
        added = round(size * GROWTH)
        pop = builder.grow(added)
        result["incremental"] = {"added": added, "observations": len(pop.members),
                                 **full_pass(pop)}
        result["incremental"]["peak_rss_mb"] = _peak_rss_mb()
    return result


# ---- the SQLite store ----

#: Observations per fill transaction (bounds the row lists held at once, and the WAL).
FILL_CHUNK = 50_000
_INSERTS = {
    "observations": "INSERT INTO observations (id, ip, first_seen_us, last_seen_us, event_count)"
                    " VALUES (?, ?, ?, ?, ?)",
    "events": "INSERT INTO events (id, key, time_us, src_ip, sensor, service, kind,"
              " source_format, fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "fingerprints": "INSERT INTO profile_fingerprints (ip, kind, value, version, count,"
                    " first_seen_us, last_seen_us) VALUES (?, ?, ?, ?, ?, ?, ?)",
    "leaks": "INSERT INTO profile_ipv6_leaks (ip, address, kind, oui, iid, count, first_seen_us,"
             " last_seen_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "payloads": "INSERT INTO profile_payloads (ip, sha256, source, count, first_seen_us,"
                " last_seen_us) VALUES (?, ?, ?, ?, ?, ?)",
    "c2": "INSERT INTO profile_c2 (ip, host, url, via, count, first_seen_us, last_seen_us)"
          " VALUES (?, ?, ?, ?, ?, ?, ?)",
    "links": "INSERT INTO session_links (sid, ip, honeypot, service, time_us, duration_s)"
             " VALUES (?, ?, ?, ?, ?, ?)",
    "simhashes": "INSERT INTO keystroke_simhashes (sid, simhash, digraphs, samples, changed)"
                 " VALUES (?, ?, ?, ?, ?)",
    "phases": "INSERT INTO profile_phases (ip, honeypot, phase, count, first_seen_us,"
              " last_seen_us) VALUES (?, ?, ?, ?, ?, ?)",
}
_Rows = dict[str, list[tuple[Any, ...]]]
_TOP = "SELECT coalesce(max(id), 0) FROM events"


def store_rows(pop: Population, start: int, stop: int, changed: int) -> _Rows:
    """The rows of observations ``start`` .. ``stop - 1`` in the tables `run_pass` reads.

    Observation ``i`` has id ``i + 1`` and one event of that id (the change
    feed); its sessions' keystroke SimHashes were ``changed`` at that event id.
    """
    rows: _Rows = {name: [] for name in _INSERTS}
    for index in range(start, stop):
        member = pop.members[index]
        ip, first, last = member.key, pop.first_us[index], pop.last_us[index]
        rows["observations"].append((index + 1, ip, first, last, 1))
        rows["events"].append((index + 1, (index + 1).to_bytes(16, "big"), first, ip,
                               "decky-00", "ssh", "connect", "bench", "{}"))
        rows["fingerprints"] += [(ip, kind, value, 1, 1, first, last)
                                 for kind, value in member.tools]
        for _, iid in member.traces:
            address = "fe80::" + ":".join(iid[i:i + 4] for i in range(0, 16, 4))
            rows["leaks"].append((ip, address, "eui64", iid[:6], iid, 1, first, last))
        for kind, value in member.infrastructure:
            if kind == "payload":
                rows["payloads"].append((ip, value, "download", 1, first, last))
            elif value in PROBE_HOSTS:
                rows["c2"].append((ip, value, f"tcp://{value}:443", "direct-tcpip", 1, first,
                                   last))
            else:
                rows["c2"].append((ip, value, f"http://{value}/bins.sh", "wget", 1, first, last))
        for n, simhash in enumerate(member.keystrokes):
            sid = f"s{index}-{n}"
            rows["links"].append((sid, ip, "decky-00", "ssh", first, 30.0))
            rows["simhashes"].append((sid, f"{simhash:016x}", 60, 80, changed))
        rows["phases"] += [(ip, honeypot, phase, 1, first_us, last_us)
                           for honeypot, phase, first_us, last_us in pop.phases.get(index, ())]
    return rows


def insert_rows(conn: sqlite3.Connection, rows: _Rows) -> int:
    """Insert ``rows`` (from `store_rows`); returns how many."""
    for name, table_rows in rows.items():
        conn.executemany(_INSERTS[name], table_rows)
    return sum(len(table_rows) for table_rows in rows.values())


def fill_chunk(conn: sqlite3.Connection, pop: Population, start: int, stop: int) -> int:
    return insert_rows(conn, store_rows(pop, start, stop, 0))


def _timed(job: Callable[[sqlite3.Connection], Any]) -> Callable[[sqlite3.Connection], float]:
    def timed(conn: sqlite3.Connection) -> float:
        started = time.perf_counter()
        job(conn)
        return time.perf_counter() - started
    return timed


class _RegionSize:
    """Records the size of the region an incremental pass re-partitions (bench only).

    Wraps `stage._Pass._region` while in use; reports None if it is gone.
    """

    def __init__(self) -> None:
        self.size: int | None = None
        self._original = getattr(cluster_stage._Pass, "_region", None)  # noqa: SLF001

    def __enter__(self) -> _RegionSize:
        original = self._original
        if original is not None:
            def region(pass_: Any, changed: Sequence[str]) -> set[str]:
                found: set[str] = original(pass_, changed)
                self.size = len(found)
                return found
            cluster_stage._Pass._region = region  # type: ignore[method-assign, assignment]  # noqa: SLF001
        return self

    def __exit__(self, *_: object) -> None:
        if self._original is not None:
            cluster_stage._Pass._region = self._original  # type: ignore[method-assign]  # noqa: SLF001


def _current_rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / _MB
    return float("nan")


def _reset_peak_rss() -> bool:
    """Restart ``ru_maxrss`` from the current RSS (Linux: clear_refs 5); False if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


async def _groups_rows(store: Store) -> dict[str, dict[int, tuple[int | None, float]]]:
    """identities' and campaigns' rows: id → (merged_into, confidence)."""
    return {table: {int(r[0]): (r[1], float(r[2])) for r in await store.fetch(
        f"SELECT id, merged_into, confidence FROM {table}")}  # noqa: S608
        for table in ("identities", "campaigns")}


def _differences(before: dict[int, tuple[int | None, float]],
                 after: dict[int, tuple[int | None, float]]) -> tuple[int, int]:
    """(rows whose merged_into differs or that only one side has, rows whose confidence differs)."""
    pointers = sum(1 for oid in before.keys() | after.keys()
                   if oid not in before or oid not in after or before[oid][0] != after[oid][0])
    confidences = sum(1 for oid in before.keys() & after.keys()
                      if before[oid][1] != after[oid][1])
    return pointers, confidences


async def _store_pass(size: int, seed: int) -> dict[str, Any]:
    """Fill a store of ``size``, full pass, add 1% and time the incremental pass, check it."""
    child_started = time.perf_counter()
    started = time.perf_counter()
    builder = PopulationBuilder(seed)
    pop = builder.build(size)
    added = round(size * GROWTH)
    pop = builder.grow(added)  # generated now, written after the full pass
    generated_s = time.perf_counter() - started
    result: dict[str, Any] = {"size": size, "added": added, "generated_s": generated_s}
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        store = await Store.open(Path(tmp) / "node.db")
        try:
            started = time.perf_counter()
            rows = 0
            for start in range(0, size, FILL_CHUNK):
                rows += await store.write_job(partial(fill_chunk, pop=pop, start=start,
                                                      stop=min(size, start + FILL_CHUNK)))
            result["fill_s"] = time.perf_counter() - started
            result["rows"] = rows
            old_top = int((await store.fetch(_TOP))[0][0])
            growth = store_rows(pop, size, size + added, old_top + added)
            del pop, builder
            gc.collect()
            result["build_peak_rss_mb"] = _peak_rss_mb()
            result["rss_before_mb"] = _current_rss_mb()
            result["peak_reset"] = _reset_peak_rss()

            started = time.perf_counter()
            result["full_s"] = await store.write_job(_timed(run_pass))
            result["full_wall_s"] = time.perf_counter() - started
            pass_peaks = [_peak_rss_mb()]
            _reset_peak_rss()

            started = time.perf_counter()
            result["growth_rows"] = await store.write_job(partial(insert_rows, rows=growth))
            result["growth_s"] = time.perf_counter() - started
            del growth
            new_top = int((await store.fetch(_TOP))[0][0])
            span = Span(old_top, new_top, new_top)
            result["span"] = [old_top, new_top]
            changed = await store.write_job(lambda conn: len(
                {*changed_observations(conn, span), *keystroke_changes(conn, span)}))
            result["changed"] = changed
            result["observations"] = int(
                (await store.fetch("SELECT count(*) FROM observations"))[0][0])
            result["full_pass_share"] = FULL_PASS_SHARE
            with _RegionSize() as region:
                started = time.perf_counter()
                result["incremental_s"] = await store.write_job(
                    _timed(partial(run_pass, span=span)))
                result["incremental_wall_s"] = time.perf_counter() - started
            result["region"] = region.size
            pass_peaks.append(_peak_rss_mb())
            _reset_peak_rss()

            incremental = await _groups_rows(store)
            started = time.perf_counter()
            result["check_s"] = await store.write_job(_timed(run_pass))
            result["check_wall_s"] = time.perf_counter() - started
            pass_peaks.append(_peak_rss_mb())
            full = await _groups_rows(store)
            result["differences"] = {table: _differences(incremental[table], full[table])
                                     for table in full}
            for table in ("identities", "campaigns"):
                found = await store.fetch(
                    f"SELECT count(*) FROM {table} WHERE merged_into IS NULL")  # noqa: S608
                result[table] = int(found[0][0])
            result["link_rows"] = int(
                (await store.fetch("SELECT count(*) FROM cluster_links"))[0][0])
        finally:
            await store.close()
    #: with the peak reset before each pass, each one's (else all the process's so far)
    result["pass_peaks_rss_mb"] = pass_peaks
    result["peak_rss_mb"] = max(result["build_peak_rss_mb"], *pass_peaks, _peak_rss_mb())
    result["child_s"] = time.perf_counter() - child_started
    return result


# ---- the parent: one child per size, then the figures ----


def _child(argv: list[str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True,
                          check=False)
    if done.returncode:
        sys.exit(f"bench child {argv} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _check(value: float, target: float) -> str:
    return "met" if value <= target else "MISSED"


def _print_size(r: dict[str, Any]) -> None:
    truth = r["truth"]
    actor_addresses = r["size"] - r["scanners"]
    print(f"\n{r['size']:,} observations: {r['scanners']:,} scanners, {actor_addresses:,}"
          f" addresses of {r['actors']:,} planted actors ({truth['campaigns']:,} planted"
          f" campaigns of 2-4), {r['noise_values']:,} mid-frequency values;"
          f" generated in {r['generated_s']:.1f} s")
    print(f"  baseline: inverted index alone   {r['baseline_s']:8.2f} s   ({r['values']:,}"
          f" distinct values, {r['candidate_pairs']:,} candidate pairs from values held by"
          f" 2..{rarity.COMMON - 1})")
    _print_pass(r, "  ")
    print(f"  total/baseline                   {r['total_s'] / r['baseline_s']:8.1f} x")
    print(f"  peak RSS                         {r['peak_rss_mb']:8,.0f} MB"
          f"  (population alone {r['population_rss_mb']:,.0f} MB)")


def _print_pass(r: dict[str, Any], indent: str) -> None:
    truth = r["truth"]
    print(f"{indent}identity layer                   {r['identity_s']:8.2f} s"
          f"   ({r['identity_links']:,} links used)")
    print(f"{indent}campaign layer                   {r['crews_s'] + r['campaigns_s']:8.2f} s"
          f"   (crews {r['crews_s']:.2f} s + cluster_campaigns {r['campaigns_s']:.2f} s;"
          f" {r['crews']:,} identities can link there)")
    print(f"{indent}total                            {r['total_s']:8.2f} s")
    print(f"{indent}identities {r['identities']:,} ({r['identities_multi']:,} of 2+"
          f" observations); campaigns {r['campaigns']:,} ({r['campaigns_multi']:,} of 2+"
          f" identities)")
    print(f"{indent}planted actors recovered exactly {truth['actors_exact']:,} /"
          f" {truth['actors']:,} (split {truth['actors_split']:,}, merged with others"
          f" {truth['actors_merged']:,}); planted campaigns exactly"
          f" {truth['campaigns_exact']:,} / {truth['campaigns']:,}")


def _print_store(s: dict[str, Any], in_memory: dict[str, Any] | None) -> None:
    print(f"\nrun_pass on a SQLite store of {s['size']:,} observations ({s['rows']:,} rows,"
          f" an event per observation, filled in {s['fill_s']:.1f} s; population generated"
          f" in {s['generated_s']:.1f} s):")
    print(f"  full pass (writes every row)     {s['full_s']:8.2f} s   (with commit"
          f" {s['full_wall_s']:.2f} s)")
    if in_memory is not None:
        rest = s["full_s"] - in_memory["total_s"]
        print(f"  in-memory layers at this size    {in_memory['total_s']:8.2f} s   so SQL"
              f" reads, Members and writes ~{rest:.2f} s of the full pass")
    start, end = s["span"]
    region = "?" if s["region"] is None else f"{s['region']:,}"
    print(f"  added {s['added']:,} observations (1%: scanners, new addresses of actors, new"
          f" actors; {s['growth_rows']:,} rows in {s['growth_s']:.1f} s), events {start:,} <"
          f" id <= {end:,}")
    print(f"  incremental pass over that span  {s['incremental_s']:8.2f} s   (with commit"
          f" {s['incremental_wall_s']:.2f} s; {s['changed']:,} changed of"
          f" {s['observations']:,} observations, full past {s['full_pass_share']:.0%};"
          f" region re-partitioned {region})")
    print(f"  check: full pass after it        {s['check_s']:8.2f} s   (with commit"
          f" {s['check_wall_s']:.2f} s)")
    same = all(pointers == 0 for pointers, _ in s["differences"].values())
    detail = ", ".join(f"{table} {pointers:,} merged_into and {confidences:,} confidence"
                       f" differences" for table, (pointers, confidences)
                       in s["differences"].items())
    print(f"  incremental == full: {'yes' if same else 'NO'} ({detail})")
    grown = None if in_memory is None else in_memory.get("incremental")
    compare = "" if grown is None else (f" (in memory after adding 1%:"
                                        f" {grown['identities']:,} and {grown['campaigns']:,})")
    print(f"  store after: {s['identities']:,} identities, {s['campaigns']:,} campaigns"
          f"{compare}, {s['link_rows']:,} cluster_links rows")
    full_mb, incremental_mb, check_mb = s["pass_peaks_rss_mb"]
    passes = (f"during the full pass {full_mb:,.0f} MB, the incremental {incremental_mb:,.0f} MB,"
              f" the check {check_mb:,.0f} MB" if s["peak_reset"]
              else "the passes' own peaks not separable here")
    print(f"  peak RSS {s['peak_rss_mb']:,.0f} MB (population and fill"
          f" {s['build_peak_rss_mb']:,.0f} MB; filled, before the passes"
          f" {s['rss_before_mb']:,.0f} MB; {passes}); store part {s['child_s']:.0f} s in all")


def _print_targets(results: dict[int, dict[str, Any]], store: dict[str, Any] | None) -> None:
    print("\ntargets:")
    million, hundred_k = results.get(1_000_000), results.get(100_000)
    rows: list[tuple[str, str, str]] = []
    if store is not None and store["size"] == 1_000_000:
        rows.append(("incremental pass at 1M", f"{store['incremental_s']:.2f} s",
                     f"target <= {TARGET_INCREMENTAL_S:g} s"
                     f"  {_check(store['incremental_s'], TARGET_INCREMENTAL_S)}"
                     "  (SQLite store, 1% added, run_pass over the span)"))
        rows.append(("full pass at 1M (store)", f"{store['full_s']:.2f} s",
                     f"target <= {TARGET_1M_S:g} s  {_check(store['full_s'], TARGET_1M_S)}"))
        first = (f"; the first full pass's own {store['pass_peaks_rss_mb'][0]:,.0f} MB"
                 if store["peak_reset"] else "")
        rows.append(("peak RSS store at 1M", f"{store['peak_rss_mb']:,.0f} MB",
                     f"target <= {TARGET_RSS_MB:,} MB"
                     f"  {_check(store['peak_rss_mb'], TARGET_RSS_MB)}"
                     f"  (the process: fill and 3 passes{first})"))
    elif store is not None:
        rows.append((f"incremental at {store['size']:,}", f"{store['incremental_s']:.2f} s",
                     "(store; target is at 1M)"))
    if million is not None:
        rows.append(("total at 1,000,000", f"{million['total_s']:.2f} s",
                     f"target <= {TARGET_1M_S:g} s  {_check(million['total_s'], TARGET_1M_S)}"))
    if million is not None and hundred_k is not None:
        growth = million["total_s"] / hundred_k["total_s"]
        rows.append(("growth t(1M)/t(100k)", f"{growth:.2f}",
                     f"target <= {TARGET_GROWTH:g}  {_check(growth, TARGET_GROWTH)}"))
    for size, r in sorted(results.items()):
        rows.append((f"peak RSS at {size:,}", f"{r['peak_rss_mb']:,.0f} MB",
                     f"target <= {TARGET_RSS_MB:,} MB"
                     f"  {_check(r['peak_rss_mb'], TARGET_RSS_MB)}"))
    largest = results[max(results)] if results else {}
    inc = largest.get("incremental")
    if inc is not None:
        rows.append((f"+1% full, memory {largest['size']:,}", f"{inc['total_s']:.2f} s",
                     "(in-memory layers after adding 1%, for comparison; the incremental"
                     " pass is the store's)"))
    if largest:
        rows.append((f"total/baseline at {largest['size']:,}",
                     f"{largest['total_s'] / largest['baseline_s']:.1f} x", ""))
    if million is None:
        rows.append(("(1M in-memory targets)", "not measured", "1000000 not in --sizes"))
    for label, value, target in rows:
        print(f"  {label:<26}{value:>12}   {target}".rstrip())


def run_benchmark(sizes: Sequence[int], seed: int, store_size: int) -> None:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"bench/cluster.py: {os.cpu_count()} CPUs, load avg {load} (before), Python"
          f" {platform.python_version()}, SQLite {sqlite3.sqlite_version}; seed {seed};"
          f" each size in a fresh process", flush=True)
    results: dict[int, dict[str, Any]] = {}
    for size in sorted(sizes):
        argv = ["--child", str(size), "--seed", str(seed)]
        if size == max(sizes):
            argv.append("--incremental")
        results[size] = _child(argv)
        _print_size(results[size])
        inc = results[size].get("incremental")
        if inc is not None:
            print(f"  after adding {inc['added']:,} new observations (1%): a FULL pass over"
                  f" {inc['observations']:,} (in memory; the incremental pass is measured on"
                  f" the store)")
            _print_pass(inc, "    ")
            print(f"    peak RSS so far                {inc['peak_rss_mb']:8,.0f} MB")
        sys.stdout.flush()
    store = None
    if store_size > 0:
        store = _child(["--store-child", str(store_size), "--seed", str(seed)])
        _print_store(store, results.get(store_size))
    _print_targets(results, store)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        help="comma-separated population sizes")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--store-size", type=int, default=DEFAULT_STORE_SIZE,
                        help="observations in the SQLite run_pass measurement (0: skip)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--incremental", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--store-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(measure_size(args.child, args.seed, args.incremental)))
        return
    if args.store_child is not None:
        print(json.dumps(asyncio.run(_store_pass(args.store_child, args.seed))))
        return
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    run_benchmark(sizes, args.seed, args.store_size)


if __name__ == "__main__":
    main()
