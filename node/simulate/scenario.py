"""The scenario language (docs/simulate.md): YAML in, frozen dataclasses out, every field checked.

A scenario file is input like any other: it may be wrong in any way. Every
key is known or an error, every value is type- and range-checked, and each
error is one `ScenarioError` line naming the dotted path of the field
(``corpus.campaigns[1].campaign.actors[0].rotation_count: must be >= 1``),
never a traceback. Limits keep a hostile file from asking for a run that
never ends (10,000 sessions per phase, 100,000 scanners, a year of days).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from node.errors import ScenarioError
from node.simulate import fields
from node.simulate.fields import fail
from node.simulate.phases import FOOTHOLD_PHASES, PHASES

MAX_SCENARIO_BYTES: Final = 1 << 20
MAX_SESSIONS_PER_PHASE: Final = 10_000
MAX_ROTATION: Final = 4_096
MAX_SCANNERS: Final = 100_000
MAX_DAYS: Final = 366
MAX_DWELL_S: Final = 86_400.0
MAX_JITTER_S: Final = 3_600.0
MAX_ITEMS: Final = 1_000
MAX_TEXT: Final = 4_096
MAX_ID: Final = 128
MAX_ASN: Final = 2**32 - 1

STICKY: Final = "sticky"
ROTATING: Final = "rotating"
PREVIOUS_SUCCESS: Final = "previous_success"
#: Sessions are rendered as SSH (Cowrie); ``service`` may only say so.
SERVICES: Final = ("any", "ssh")
ALL_HOURS: Final = tuple(range(24))

_JA3 = re.compile(r"\d{1,5}(?:,(?:\d{1,5}(?:-\d{1,5})*)?){4}")
_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?")
# Characters a rendered ``wget URL`` keeps as one shell word (no quoting, no separators).
_URL_CHARS = re.compile(r"[A-Za-z0-9._~:/?=%@+\[\]-]+")


@dataclass(frozen=True, slots=True)
class Actor:
    """One pair of hands: its own truth identity, its source addresses and its tools."""

    id: str
    asn: int = 0
    ip_pool: str = STICKY
    rotation_count: int = 1
    #: ASN of rotated address k is ``rotation_asns[k % len]``; empty = the primary ``asn``.
    rotation_asns: tuple[int, ...] = ()
    ja3: str | None = None
    hassh: str | None = None
    hours_active_utc: tuple[int, ...] = ALL_HOURS
    jitter_seconds: float = 60.0
    #: Days this actor may act on; None = every day of the campaign that is not paused.
    active_days: tuple[int, ...] | None = None
    #: Extension: the first day this actor may act on.
    start_day: int = 0
    #: Extension: seed of this actor's typing rhythm; None = no transcripts recorded.
    keystroke_profile: str | None = None

    def asn_of(self, slot: int) -> int:
        """The ASN of the actor's ``slot``-th source address."""
        asns = self.rotation_asns or (self.asn,)
        return asns[slot % len(asns)]


@dataclass(frozen=True, slots=True)
class ToolSignature:
    """What a phase's tool does in each session."""

    #: None = the phase's default commands (`node.simulate.phases`).
    commands: tuple[str, ...] | None = None
    credentials: tuple[tuple[str, str], ...] = ()
    c2_callback: str | None = None
    payload_hash: str | None = None


@dataclass(frozen=True, slots=True)
class TargetSelector:
    """How many sessions a phase emits and on which honeypot."""

    count: int = 1
    decky: str | None = None
    service: str = "any"

    @property
    def previous_success(self) -> bool:
        return self.decky == PREVIOUS_SUCCESS


@dataclass(frozen=True, slots=True)
class Phase:
    """One kill-chain step of one actor; phases run in declaration order."""

    name: str
    actor: str
    tool_signature: ToolSignature = ToolSignature()
    target_selector: TargetSelector = TargetSelector()
    dwell_seconds: float = 5.0
    #: Extension: a MAC whose EUI-64 link-local address the prober sees leak.
    ipv6_leak_mac: str | None = None
    #: Extension: ``(host, port)`` the actor opens through the SSH proxy.
    direct_tcpip: tuple[str, int] | None = None
    #: Extension: a URL the actor fetches with wget in each session.
    download_url: str | None = None

    @property
    def leaves_foothold(self) -> bool:
        return self.name in FOOTHOLD_PHASES


@dataclass(frozen=True, slots=True)
class Campaign:
    """One operation: its truth id, actors and phases, days and pauses."""

    id: str
    actors: tuple[Actor, ...]
    phases: tuple[Phase, ...]
    duration_days: int = 1
    #: Inclusive ``(start_day, end_day)`` ranges with no activity at all.
    pause_windows: tuple[tuple[int, int], ...] = ()
    #: Where the campaign sits in its file, for errors found while generating.
    path: str = field(default="campaign", compare=False)

    def actor(self, actor_id: str) -> Actor:
        return next(a for a in self.actors if a.id == actor_id)

    def days_of(self, actor: Actor) -> tuple[int, ...]:
        """The days ``actor`` may act on: not paused, active, not before its start day."""
        paused = {d for start, end in self.pause_windows for d in range(start, end + 1)}
        allowed = set(actor.active_days) if actor.active_days is not None else None
        return tuple(d for d in range(actor.start_day, self.duration_days)
                     if d not in paused and (allowed is None or d in allowed))


@dataclass(frozen=True, slots=True)
class Noise:
    """Background scanners: each its own identity and campaign, one delivery session."""

    scanner_count: int = 0


@dataclass(frozen=True, slots=True)
class Scenario:
    """A parsed scenario: its name (the file's stem), campaigns and noise."""

    name: str
    campaigns: tuple[Campaign, ...]
    noise: Noise = Noise()


def load_scenario(path: Path) -> Scenario:
    """Read and parse a scenario file; every failure is a `ScenarioError` naming the file."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_SCENARIO_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_SCENARIO_BYTES:
        raise ScenarioError(f"{path}: larger than {MAX_SCENARIO_BYTES // 1024} KiB")
    stem = path.name.removesuffix(".yaml").removesuffix(".yml") or "scenario"
    try:
        return parse_scenario(data, stem)
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc}") from None



def parse_scenario(document: str | bytes, name: str) -> Scenario:
    """Parse a scenario document; raises `ScenarioError` naming the bad field's path."""
    if isinstance(document, bytes):
        try:
            document = document.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ScenarioError(f"(top level): not UTF-8 (byte {exc.start})") from None
    top = fields.mapping(fields.load_yaml(document), "", ("campaign", "corpus"))
    if ("campaign" in top) == ("corpus" in top):
        fail("", "needs exactly one of 'campaign' (one campaign) or 'corpus'")
    if "campaign" in top:
        campaigns: tuple[Campaign, ...] = (_campaign(top["campaign"], "campaign"),)
        noise = Noise()
    else:
        campaigns, noise = _corpus(top["corpus"], "corpus")
    fields.unique((c.id for c in campaigns), (f"{c.path}.id" for c in campaigns), "campaign id")
    actors = [(a.id, f"{c.path}.actors[{i}].id") for c in campaigns
              for i, a in enumerate(c.actors)]
    fields.unique((a for a, _ in actors), (p for _, p in actors), "actor id")
    return Scenario(name, campaigns, noise)


# -- the document's parts --

def _corpus(value: object, path: str) -> tuple[tuple[Campaign, ...], Noise]:
    corpus = fields.mapping(value, path, ("campaigns", "noise"), required=("campaigns",))
    campaigns = []
    for i, item in enumerate(fields.items(corpus["campaigns"], f"{path}.campaigns",
                                          1, MAX_ITEMS)):
        where = f"{path}.campaigns[{i}]"
        wrapper = fields.mapping(item, where, ("campaign",), required=("campaign",))
        campaigns.append(_campaign(wrapper["campaign"], f"{where}.campaign"))
    noise = Noise()
    if "noise" in corpus:
        raw = fields.mapping(corpus["noise"], f"{path}.noise", ("scanner_count",))
        if "scanner_count" in raw:
            noise = Noise(fields.integer(raw["scanner_count"], f"{path}.noise.scanner_count",
                                         0, MAX_SCANNERS))
    return tuple(campaigns), noise


_CAMPAIGN_KEYS = ("id", "actors", "phases", "duration_days", "pause_windows")
_A_DAY = "a day of the campaign"


def _campaign(value: object, path: str) -> Campaign:
    raw = fields.mapping(value, path, _CAMPAIGN_KEYS, required=("id", "actors", "phases"))
    campaign_id = fields.text(raw["id"], f"{path}.id", MAX_ID)
    duration = fields.integer(raw.get("duration_days", 1), f"{path}.duration_days", 1, MAX_DAYS)
    pauses = _pause_windows(raw.get("pause_windows", []), f"{path}.pause_windows", duration)
    actors = tuple(_actor(item, f"{path}.actors[{i}]", duration)
                   for i, item in enumerate(fields.items(raw["actors"], f"{path}.actors",
                                                         1, MAX_ITEMS)))
    fields.unique((a.id for a in actors), (f"{path}.actors[{i}].id" for i in range(len(actors))),
                  "actor id")
    phases = tuple(_phase(item, f"{path}.phases[{i}]", actors)
                   for i, item in enumerate(fields.items(raw["phases"], f"{path}.phases",
                                                         1, MAX_ITEMS)))
    campaign = Campaign(campaign_id, actors, phases, duration, pauses, path)
    for i, actor in enumerate(actors):
        where = f"{path}.actors[{i}]"
        if not any(p.actor == actor.id for p in phases):
            fail(where, f"actor {actor.id!r} has no phase (give a phase 'actor: {actor.id}')")
        if not campaign.days_of(actor):
            fail(where, "has no day to act on: every day is paused, not in active_days"
                        " or before start_day")
    return campaign


def _pause_windows(value: object, path: str, duration: int) -> tuple[tuple[int, int], ...]:
    windows = []
    for i, item in enumerate(fields.items(value, path, 0, MAX_ITEMS)):
        where = f"{path}[{i}]"
        pair = fields.items(item, where, 2, 2, what="a [start_day, end_day] pair")
        start = fields.integer(pair[0], f"{where}[0]", 0, duration - 1, what=_A_DAY)
        end = fields.integer(pair[1], f"{where}[1]", 0, duration - 1, what=_A_DAY)
        if end < start:
            fail(where, f"end_day {end} is before start_day {start}")
        windows.append((start, end))
    return tuple(windows)


_ACTOR_KEYS = ("id", "asn", "ip_pool", "rotation_count", "rotation_asns", "ja3", "hassh",
               "hours_active_utc", "jitter_seconds", "active_days", "start_day",
               "keystroke_profile")


def _actor(value: object, path: str, duration: int) -> Actor:
    raw = fields.mapping(value, path, _ACTOR_KEYS, required=("id",))
    actor_id = fields.text(raw["id"], f"{path}.id", MAX_ID)
    asn = fields.integer(raw.get("asn", 0), f"{path}.asn", 0, MAX_ASN)
    pool = fields.choice(raw.get("ip_pool", STICKY), f"{path}.ip_pool", (STICKY, ROTATING))
    rotating = pool == ROTATING
    rotation_count = 1
    if "rotation_count" in raw:
        rotation_count = fields.integer(raw["rotation_count"], f"{path}.rotation_count",
                                        1, MAX_ROTATION)
        if not rotating and rotation_count != 1:
            fail(f"{path}.rotation_count", "only with ip_pool: rotating")
    elif rotating:
        fail(f"{path}.rotation_count", "required with ip_pool: rotating")
    rotation_asns: tuple[int, ...] = ()
    if "rotation_asns" in raw:
        if not rotating:
            fail(f"{path}.rotation_asns", "only with ip_pool: rotating")
        rotation_asns = _integers(raw["rotation_asns"], f"{path}.rotation_asns",
                                  MAX_ROTATION, 0, MAX_ASN)
    hours = ALL_HOURS
    if "hours_active_utc" in raw:
        hours = _integers(raw["hours_active_utc"], f"{path}.hours_active_utc", 24 * 4, 0, 23)
    active_days = None
    if "active_days" in raw:
        active_days = _integers(raw["active_days"], f"{path}.active_days", MAX_DAYS,
                                0, duration - 1, what=_A_DAY)
    return Actor(
        id=actor_id,
        asn=asn,
        ip_pool=pool,
        rotation_count=rotation_count,
        rotation_asns=rotation_asns,
        ja3=fields.optional(raw, "ja3", path, _ja3),
        hassh=fields.optional(raw, "hassh", path, _label),
        hours_active_utc=hours,
        jitter_seconds=fields.number(raw.get("jitter_seconds", 60), f"{path}.jitter_seconds",
                                     0.0, MAX_JITTER_S),
        active_days=active_days,
        start_day=fields.integer(raw.get("start_day", 0), f"{path}.start_day", 0, duration - 1,
                                 what=_A_DAY),
        keystroke_profile=fields.optional(raw, "keystroke_profile", path, _seed),
    )


_PHASE_KEYS = ("name", "actor", "tool_signature", "target_selector", "dwell_seconds",
               "ipv6_leak_mac", "direct_tcpip", "download_url")
_TOOL_KEYS = ("commands", "credentials", "c2_callback", "payload_hash")
_TARGET_KEYS = ("count", "decky", "service")


def _phase(value: object, path: str, actors: tuple[Actor, ...]) -> Phase:
    raw = fields.mapping(value, path, _PHASE_KEYS, required=("name",))
    name = fields.choice(raw["name"], f"{path}.name", PHASES)
    actor = actors[0].id
    if "actor" in raw:
        actor = fields.text(raw["actor"], f"{path}.actor", MAX_ID)
        if actor not in {a.id for a in actors}:
            fail(f"{path}.actor", f"no actor {actor!r} in this campaign")
    return Phase(
        name=name,
        actor=actor,
        tool_signature=_tool_signature(raw.get("tool_signature", {}), f"{path}.tool_signature"),
        target_selector=_target_selector(raw.get("target_selector", {}),
                                         f"{path}.target_selector"),
        dwell_seconds=fields.number(raw.get("dwell_seconds", 5), f"{path}.dwell_seconds",
                                    0.0, MAX_DWELL_S, exclusive_minimum=True),
        ipv6_leak_mac=fields.optional(raw, "ipv6_leak_mac", path, _mac),
        direct_tcpip=fields.optional(raw, "direct_tcpip", path, _host_port),
        download_url=fields.optional(raw, "download_url", path, _url),
    )


def _tool_signature(value: object, path: str) -> ToolSignature:
    raw = fields.mapping(value, path, _TOOL_KEYS)
    commands = None
    if "commands" in raw:
        commands = tuple(fields.text(v, f"{path}.commands[{i}]", MAX_TEXT) for i, v in
                         enumerate(fields.items(raw["commands"], f"{path}.commands",
                                                0, MAX_ITEMS)))
    credentials = []
    for i, item in enumerate(fields.items(raw.get("credentials", []), f"{path}.credentials",
                                          0, MAX_ITEMS)):
        where = f"{path}.credentials[{i}]"
        pair = fields.items(item, where, 2, 2, what="a [user, password] pair")
        credentials.append((_secret(pair[0], f"{where}[0]"), _secret(pair[1], f"{where}[1]")))
    return ToolSignature(
        commands=commands,
        credentials=tuple(credentials),
        c2_callback=fields.optional(raw, "c2_callback", path, _host),
        payload_hash=fields.optional(raw, "payload_hash", path, _label),
    )


def _target_selector(value: object, path: str) -> TargetSelector:
    raw = fields.mapping(value, path, _TARGET_KEYS)
    decky = None
    if "decky" in raw:
        decky = fields.choice(raw["decky"], f"{path}.decky", (PREVIOUS_SUCCESS,))
    return TargetSelector(
        count=fields.integer(raw.get("count", 1), f"{path}.count", 1, MAX_SESSIONS_PER_PHASE),
        decky=decky,
        service=fields.choice(raw.get("service", "any"), f"{path}.service", SERVICES),
    )


# -- values of the language --

def _integers(value: object, path: str, most: int, minimum: int, maximum: int, *,
              what: str = "an integer") -> tuple[int, ...]:
    return tuple(fields.integer(v, f"{path}[{i}]", minimum, maximum, what=what)
                 for i, v in enumerate(fields.items(value, path, 1, most)))


def _label(value: object, path: str) -> str:
    return fields.text(value, path, MAX_TEXT)


def _seed(value: object, path: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(fields.integer(value, path, 0, 2**63))
    return fields.text(value, path, MAX_ID, what="an integer or a string")


def _ja3(value: object, path: str) -> str:
    ja3 = fields.text(value, path, MAX_TEXT)
    if not _JA3.fullmatch(ja3):
        fail(path, "must be a JA3 string: five comma-separated fields (version, ciphers,"
                   " extensions, curves, point formats), lists joined by '-'")
    return ja3


def _mac(value: object, path: str) -> str:
    mac = fields.text(value, path, 17).lower()
    if not _MAC.fullmatch(mac):
        fail(path, "must be a MAC address like 00:11:22:33:44:55")
    return mac


def _host(value: object, path: str) -> str:
    host = fields.text(value, path, 253)
    if not _is_host(host):
        fail(path, "must be a host name or an IP address")
    return host


def _host_port(value: object, path: str) -> tuple[str, int]:
    endpoint = fields.text(value, path, 300)
    host, sep, port = endpoint.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    if bracketed:
        host = host[1:-1]
    if not sep or not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535:
        fail(path, "must be HOST:PORT with a port 1..65535 ([v6]:PORT for IPv6)")
    if not _is_host(host) or (":" in host) != bracketed:
        fail(path, "must be HOST:PORT with a host name or IP address ([v6]:PORT for IPv6)")
    return host, int(port)


def _url(value: object, path: str) -> str:
    url = fields.text(value, path, 2048)
    if not _URL_CHARS.fullmatch(url):
        fail(path, "may hold only letters, digits and . _ ~ : / ? = % @ + - [ ]"
                   " (it is typed as one shell word)")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        _ = parts.port  # raises ValueError for a port out of range
    except ValueError:
        fail(path, "must be a URL like http://host/path")
    if parts.scheme.lower() not in ("http", "https", "ftp", "tftp") or not hostname \
            or not _is_host(hostname):
        fail(path, "must be an http, https, ftp or tftp URL with a host name or IP address")
    return url


def _is_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return bool(_HOSTNAME.fullmatch(host.lower()))
    return True


def _secret(value: object, path: str) -> str:
    if not isinstance(value, str):
        fail(path, 'must be a string (quote numbers: "123456")')
    return fields.text(value, path, 256, allow_empty=True)
