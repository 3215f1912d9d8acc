"""Zeroconf discovery: find other nodes on the local network, as candidates only.

A node advertises ``<node name>._decnet-fed._tcp.local.`` with TXT records
``v=1``, ``key_id=<16 hex>``, ``schema=<min>-<max>`` and ``port=<n>``, and
browses the same type, on the interfaces ``[discovery] interfaces`` names and
no others. The default names none: nothing multicasts unless asked.

A discovered node is a *candidate*, never a peer: mDNS is unauthenticated, so
anyone on the link can announce any key id at any address. An operator reads
the candidates (``peers list --discovered``) and adds a key to the trust store
out of band; only then is the node talked to, and mutual TLS pins that key, so
a spoofed announcement can at worst point at an address whose handshake fails.

Everything in an announcement is hostile input. `parse_announcement` (pure:
no I/O, time passed in) turns one resolved announcement into a `Candidate` or
a `Rejection` with a reason from `REJECTIONS`; `CandidateTable` (pure too)
keeps them, bounded, and forgets those not seen for ``candidate_ttl_s``.
`Discovery` is the thin asyncio shell around python-zeroconf (on the running
loop: no thread of its own). Zeroconf sends only on the configured
interfaces, but its listening socket is bound to 0.0.0.0:5353, so on Linux it
also hears the mDNS traffic of interfaces where another program (avahi) joined
the group; what it hears is still only a candidate. A running
``serve`` writes the table to ``discovered.json`` (`Discovery.snapshot_to`)
so that another process can list it (`load_candidates`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import ipaddress
import json
import logging
import os
import re
import socket
import struct
import tempfile
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zeroconf import BadTypeInNameException, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from federation.config import MAX_SCHEMA_VERSION, MIN_SCHEMA_VERSION

logger = logging.getLogger(__name__)

#: The DNS-SD service type every node advertises and browses.
SERVICE_TYPE = "_decnet-fed._tcp.local."
#: Major version of the TXT layout (``v=``); announcements of another are dropped.
TXT_VERSION = "1"
#: File in the node home that a running ``serve`` keeps the candidates in.
CANDIDATES_FILENAME = "discovered.json"
#: Longest instance name kept, in characters (a DNS label is at most 63 octets).
MAX_NAME_CHARS = 63
#: Candidates held at once. A flood of announcements fills the table and later
#: names are dropped (``table_full``) until entries expire: discovery degrades,
#: trusted peers and static seeds do not.
MAX_CANDIDATES = 256
#: Names waiting to be resolved; beyond it announcements are dropped (``busy``).
MAX_PENDING = 256
#: Resolutions in flight at once (each is one mDNS query at most, answered from
#: the cache when its records are still fresh).
RESOLVERS = 4
#: How long one resolution waits for answers, in milliseconds.
RESOLVE_TIMEOUT_MS = 3000
#: Largest candidates file read, in bytes (256 candidates take about 60 KB).
MAX_FILE_BYTES = 1 << 20

#: Why an announcement was dropped; the keys of `Discovery.rejections`.
REJECTIONS = ("bad_name", "bad_version", "bad_key_id", "bad_schema", "bad_port",
              "port_mismatch", "bad_address", "table_full", "busy", "unresolved", "error")

_FILE_FORMAT = "decnet-fed-discovered/1"
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_PORT = re.compile(r"[1-9][0-9]{0,4}")
_SCHEMA = re.compile(r"([1-9][0-9]{0,4})-([1-9][0-9]{0,4})")
_MAX_SCHEMA = 65535
_IFNAME = re.compile(r"[A-Za-z0-9_.:@-]{1,15}")  # Linux IFNAMSIZ is 16 with the NUL
_SIOCGIFADDR = 0x8915
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_MAX_LOGGED = 256


class DiscoveryError(Exception):
    """Discovery cannot start as configured, or its file cannot be written."""


@dataclass(frozen=True, slots=True)
class DiscoveryConfig:
    """Where zeroconf runs and how long a candidate is remembered (``[discovery]``).

    There is no instance-name setting: the advertised name is ``[node] name``
    (`Advertisement`), so the two cannot drift apart.
    """

    #: Interface names (``"eth1"``, ``"lo"``) or IPv4 addresses to advertise and
    #: browse on; a TOML array (comma-separated in the environment). Empty =
    #: discovery off: no socket is opened and nothing multicasts. Names are
    #: resolved to their primary IPv4 address when `serve` starts (IPv4 only).
    interfaces: tuple[str, ...] = ()
    #: Announce this node (name, key id, port, schema range). Off = browse only:
    #: see others without telling the link that a honeypot node is here.
    advertise: bool = True
    #: Forget a candidate not heard from for this many seconds. Longer keeps a
    #: node that went quiet without a goodbye (a crash) listed longer; shorter
    #: drops a live node whose answers were lost more readily.
    candidate_ttl_s: float = 900.0
    #: Seconds between re-resolutions of the known candidates. Each is answered
    #: from zeroconf's cache while its records are fresh (2 minutes), else costs
    #: one query; must be well under ``candidate_ttl_s``.
    refresh_interval_s: float = 60.0

    def __post_init__(self) -> None:
        interfaces: Any = self.interfaces
        if isinstance(interfaces, str):  # the environment's form, like the loader's
            interfaces = interfaces.split(",")
        if not isinstance(interfaces, list | tuple) \
                or not all(isinstance(i, str) for i in interfaces):
            raise ValueError(f"interfaces: expected interface names or IPv4 addresses,"
                             f" got {str(interfaces)[:80]!r}")
        cleaned = tuple(i.strip() for i in interfaces if i.strip())
        for entry in cleaned:
            check_interface(entry)
        if len(set(cleaned)) != len(cleaned):
            raise ValueError(f"interfaces: listed twice in {list(cleaned)!r}")
        object.__setattr__(self, "interfaces", cleaned)
        if not 1.0 <= self.candidate_ttl_s <= 7 * 86_400:
            raise ValueError(f"candidate_ttl_s: must be in [1, 604800], got"
                             f" {self.candidate_ttl_s!r}")
        if not 0.1 <= self.refresh_interval_s <= self.candidate_ttl_s / 2:
            raise ValueError(f"refresh_interval_s: must be in [0.1, candidate_ttl_s / 2]"
                             f" (= {self.candidate_ttl_s / 2:g}), got {self.refresh_interval_s!r}")

    @property
    def enabled(self) -> bool:
        """True when at least one interface is named."""
        return bool(self.interfaces)

    @classmethod
    def local(cls) -> DiscoveryConfig:
        """Loopback only, fast refresh: tests and the demo on one machine."""
        return cls(interfaces=("127.0.0.1",), candidate_ttl_s=30.0, refresh_interval_s=0.5)


def check_interface(entry: str) -> str:
    """``entry`` if it is a usable IPv4 address or looks like an interface name."""
    try:
        address = ipaddress.IPv4Address(entry)
    except ValueError:
        if _IFNAME.fullmatch(entry) and not entry.replace(".", "").isdigit():
            return entry
        raise ValueError(f"interfaces: {entry[:80]!r} is neither an IPv4 address nor an"
                         " interface name") from None
    if address.is_unspecified or address.is_multicast or address == _BROADCAST:
        raise ValueError(f"interfaces: {entry!r} names no single interface")
    return entry


def resolve_interfaces(entries: Sequence[str]) -> tuple[str, ...]:
    """The IPv4 address of each entry (``lo`` → 127.0.0.1), each one checked to be local.

    Linux only for names (``SIOCGIFADDR``: the interface's primary address);
    elsewhere name addresses. Raises `DiscoveryError` naming the entry.
    """
    addresses: list[str] = []
    for entry in entries:
        address = entry if _is_ipv4(entry) else _interface_ipv4(entry)
        if address is None:
            raise DiscoveryError(f"discovery.interfaces: no interface {entry!r} with an"
                                 " IPv4 address")
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.bind((address, 0))
        except OSError as exc:
            raise DiscoveryError(f"discovery.interfaces: {address} is not an address of this"
                                 f" host ({exc.strerror or exc})") from None
        if address not in addresses:
            addresses.append(address)
    return tuple(addresses)


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _interface_ipv4(name: str) -> str | None:
    if not _IFNAME.fullmatch(name):
        return None
    request = struct.pack("256s", name.encode("ascii")[:15])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            answer = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, request)
        except OSError:
            return None
    return socket.inet_ntoa(answer[20:24])


@dataclass(frozen=True, slots=True)
class Advertisement:
    """What this node publishes: its name, key id, federation port and schema range."""

    node_name: str
    key_id: str
    port: int
    min_schema_version: int = MIN_SCHEMA_VERSION
    max_schema_version: int = MAX_SCHEMA_VERSION

    def __post_init__(self) -> None:
        if not _KEY_ID.fullmatch(self.key_id):
            raise ValueError(f"key_id: {self.key_id[:80]!r} is not 16 lowercase hex digits")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port: must be in 1..65535, got {self.port!r}")
        if not 1 <= self.min_schema_version <= self.max_schema_version <= _MAX_SCHEMA:
            raise ValueError("min_schema_version: must be ≥ 1 and ≤ max_schema_version")
        if not sanitise_name(self.node_name):
            raise ValueError(f"node_name: {self.node_name[:80]!r} has nothing printable")

    @property
    def instance_name(self) -> str:
        """The DNS-SD instance label: the node name, cut to one DNS label."""
        return sanitise_name(self.node_name)

    @property
    def service_name(self) -> str:
        return f"{self.instance_name}.{SERVICE_TYPE}"

    @property
    def host_name(self) -> str:
        """The A record's owner: from the key id, so nodes sharing a host never clash
        and the machine's own host name is not announced."""
        return f"decnet-{self.key_id}.local."

    def properties(self) -> dict[str, str]:
        """The TXT records."""
        return {"v": TXT_VERSION, "key_id": self.key_id,
                "schema": f"{self.min_schema_version}-{self.max_schema_version}",
                "port": str(self.port)}


def sanitise_name(text: str) -> str:
    """A peer-supplied name fit to print: non-printable characters (controls, bidi
    overrides, line breaks) become ``?``, at most `MAX_NAME_CHARS`, trimmed; "" when
    nothing printable is left."""
    capped = text[:MAX_NAME_CHARS]
    if not any(c.isprintable() and not c.isspace() for c in capped):
        return ""
    return "".join(c if c.isprintable() else "?" for c in capped).strip()


@dataclass(frozen=True, slots=True)
class Candidate:
    """A node seen on the link: a hint for the operator, never a trusted peer."""

    key_id: str
    #: The advertised instance name, sanitised (`sanitise_name`): display only.
    name: str
    #: ``HOST:PORT`` (an IPv6 host in brackets).
    address: str
    min_schema_version: int
    max_schema_version: int
    first_seen_s: float
    last_seen_s: float

    def __post_init__(self) -> None:
        """The invariants `parse_announcement` establishes, checked again for loaded files."""
        if not isinstance(self.key_id, str) or not _KEY_ID.fullmatch(self.key_id):
            raise ValueError("key_id: not 16 lowercase hex digits")
        if not isinstance(self.name, str) or not self.name or sanitise_name(self.name) != self.name:
            raise ValueError("name: empty, too long or not printable")
        if not isinstance(self.address, str) or _checked_address(self.address) != self.address:
            raise ValueError("address: not HOST:PORT")
        for name in ("min_schema_version", "max_schema_version"):
            value = getattr(self, name)
            if type(value) is not int or not 1 <= value <= _MAX_SCHEMA:
                raise ValueError(f"{name}: not in 1..{_MAX_SCHEMA}")
        if self.min_schema_version > self.max_schema_version:
            raise ValueError("min_schema_version: above max_schema_version")
        for name in ("first_seen_s", "last_seen_s"):
            if type(getattr(self, name)) not in (int, float):
                raise ValueError(f"{name}: not a number")
        if not 0 <= self.first_seen_s <= self.last_seen_s < float("inf"):
            raise ValueError("first_seen_s: must be ≥ 0 and ≤ last_seen_s")


def _checked_address(text: str) -> str | None:
    """``HOST:PORT`` normalised, or None when it is not one."""
    host, sep, port = text.rpartition(":")
    if not sep or not _PORT.fullmatch(port) or int(port) > 65535:
        return None
    bracketed = host.startswith("[") and host.endswith("]")
    try:
        address = ipaddress.ip_address(host[1:-1] if bracketed else host)
    except ValueError:
        return None
    if bracketed != (address.version == 6):
        return None
    return _format_address(address, int(port))


def _format_address(address: _IPAddress, port: int) -> str:
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an announcement was dropped; ``detail`` is capped and safe to log at DEBUG."""

    reason: str
    detail: str


def parse_announcement(service_name: str, addresses: Sequence[str], srv_port: int | None,
                       properties: Mapping[bytes, bytes | None], *,
                       now_s: float) -> Candidate | Rejection:
    """One resolved announcement as a `Candidate`, or the `Rejection` of the first bad part.

    Unknown TXT keys are ignored (a later minor version may add some); keys
    compare case-insensitively and the first of duplicates wins (RFC 6763 §6.4).
    The SRV port, when given, must equal the TXT ``port``.
    """
    suffix = "." + SERVICE_TYPE
    instance = service_name[:-len(suffix)] if service_name.endswith(suffix) else ""
    name = sanitise_name(instance)
    if not name:
        return Rejection("bad_name", _capped(service_name))
    txt: dict[str, bytes | None] = {}
    for key, value in properties.items():
        if isinstance(key, bytes) and len(key) <= 16:
            txt.setdefault(key.decode("ascii", "replace").lower(), value)
    version = _ascii(txt.get("v"), 8)
    if version != TXT_VERSION:
        return Rejection("bad_version", _capped(version))
    key_id = _ascii(txt.get("key_id"), 16)
    if key_id is None or not _KEY_ID.fullmatch(key_id):
        return Rejection("bad_key_id", _capped(txt.get("key_id")))
    schema = _SCHEMA.fullmatch(_ascii(txt.get("schema"), 11) or "")
    if schema is None or not int(schema[1]) <= int(schema[2]) <= _MAX_SCHEMA:
        return Rejection("bad_schema", _capped(txt.get("schema")))
    port_text = _ascii(txt.get("port"), 5) or ""
    if not _PORT.fullmatch(port_text) or int(port_text) > 65535:
        return Rejection("bad_port", _capped(txt.get("port")))
    port = int(port_text)
    if srv_port is not None and srv_port != port:
        return Rejection("port_mismatch", f"srv {srv_port} txt {port}")
    host = _usable_address(addresses)
    if host is None:
        return Rejection("bad_address", _capped(list(addresses)[:4]))
    return Candidate(key_id=key_id, name=name, address=_format_address(host, port),
                     min_schema_version=int(schema[1]), max_schema_version=int(schema[2]),
                     first_seen_s=now_s, last_seen_s=now_s)


def _ascii(value: bytes | None, limit: int) -> str | None:
    """A TXT value as text, or None if missing, longer than ``limit`` or not ASCII."""
    if value is None or len(value) > limit:
        return None
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        return None


def _usable_address(addresses: Sequence[str]) -> _IPAddress | None:
    """The first address a node could listen on (not unspecified, multicast or reserved)."""
    for text in list(addresses)[:16]:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        if not (address.is_unspecified or address.is_multicast or address.is_reserved
                or address.is_link_local):  # link-local would need a scope id
            return address
    return None


def _capped(value: object, limit: int = 80) -> str:
    return repr(value)[:limit]


@dataclass(slots=True)
class CandidateTable:
    """Candidates by service name, bounded, expired by last sighting. No I/O, no clock."""

    own_key_id: str
    ttl_s: float
    capacity: int = MAX_CANDIDATES
    _by_name: dict[str, Candidate] = field(default_factory=dict)

    def observe(self, service_name: str, candidate: Candidate) -> bool:
        """Record a sighting (keeping the first one's time); False when the table is full.

        This node's own key id is accepted and never listed, so it does not
        count as a rejection.
        """
        if candidate.key_id == self.own_key_id:
            return True
        known = self._by_name.get(service_name)
        if known is None and len(self._by_name) >= self.capacity:
            return False
        first_s = candidate.first_seen_s if known is None else min(known.first_seen_s,
                                                                  candidate.first_seen_s)
        self._by_name[service_name] = Candidate(
            candidate.key_id, candidate.name, candidate.address, candidate.min_schema_version,
            candidate.max_schema_version, first_s, max(candidate.last_seen_s, first_s))
        return True

    def forget(self, service_name: str) -> bool:
        """Drop a candidate (its goodbye was heard); True if it was known."""
        return self._by_name.pop(service_name, None) is not None

    def expire(self, now_s: float) -> list[Candidate]:
        """Drop and return the candidates not seen for ``ttl_s``."""
        stale = [n for n, c in self._by_name.items() if now_s - c.last_seen_s > self.ttl_s]
        return [self._by_name.pop(n) for n in stale]

    def names(self) -> list[str]:
        return list(self._by_name)

    def knows(self, service_name: str) -> bool:
        return service_name in self._by_name

    def candidates(self, now_s: float) -> list[Candidate]:
        """Live candidates, ordered by key id then address."""
        live = [c for c in self._by_name.values() if now_s - c.last_seen_s <= self.ttl_s]
        return sorted(live, key=lambda c: (c.key_id, c.address, c.name))


class _LogOnce:
    """Log a line keyed by peer data once, remembering at most `_MAX_LOGGED` keys."""

    def __init__(self) -> None:
        self._seen: OrderedDict[tuple[str, ...], None] = OrderedDict()

    def __call__(self, level: int, key: tuple[str, ...], message: str, *args: object) -> None:
        if key in self._seen:
            self._seen.move_to_end(key)
            return
        self._seen[key] = None
        if len(self._seen) > _MAX_LOGGED:
            self._seen.popitem(last=False)
        logger.log(level, message, *args)


class Discovery:
    """Advertise this node and browse for others with python-zeroconf, on the loop.

    ``start`` is a no-op when no interface is configured: no socket is opened.
    Browser callbacks only queue names; resolvers parse what they get through
    `parse_announcement`; nothing peer-controlled can raise out of them.
    """

    def __init__(self, config: DiscoveryConfig, advertisement: Advertisement, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.advertisement = advertisement
        self._clock = clock
        self._table = CandidateTable(advertisement.key_id, config.candidate_ttl_s)
        #: Announcements dropped, by reason (a key of `REJECTIONS`).
        self.rejections: Counter[str] = Counter()
        self._log_once = _LogOnce()
        self._aiozc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._present: set[str] = set()  # names the browser says are announced
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def running(self) -> bool:
        return self._aiozc is not None

    def candidates(self) -> list[Candidate]:
        """Nodes seen recently, this node's own key id excluded."""
        return self._table.candidates(self._clock())

    async def start(self) -> None:
        """Open the sockets on the configured interfaces, advertise, browse.

        Raises `DiscoveryError` when an interface has no usable IPv4 address or
        the sockets cannot be opened; nothing stays open then.
        """
        if not self.config.enabled or self.running:
            return
        addresses = resolve_interfaces(self.config.interfaces)
        try:
            self._aiozc = AsyncZeroconf(interfaces=list(addresses), ip_version=IPVersion.V4Only)
        except OSError as exc:
            raise DiscoveryError(f"discovery: cannot open mDNS sockets on {list(addresses)}:"
                                 f" {exc.strerror or exc}") from None
        try:
            if self.config.advertise:
                ad = self.advertisement
                info = AsyncServiceInfo(SERVICE_TYPE, ad.service_name, port=ad.port,
                                        properties=ad.properties(), server=ad.host_name,
                                        parsed_addresses=list(addresses))
                announced = await self._aiozc.async_register_service(info, allow_name_change=True)
                await announced
            self._tasks = [asyncio.create_task(self._resolve_forever(), name=f"mdns-resolve-{i}")
                           for i in range(RESOLVERS)]
            self._tasks.append(asyncio.create_task(self._refresh_forever(), name="mdns-refresh"))
            self._browser = AsyncServiceBrowser(self._aiozc.zeroconf, SERVICE_TYPE,
                                                handlers=[self._on_change])
        except BaseException:
            await self.stop()
            raise
        logger.info("discovery on %s (%s)", ", ".join(addresses),
                    "advertising" if self.config.advertise else "browse only")

    async def stop(self) -> None:
        """Say goodbye (if advertising), close every socket and task. Idempotent.

        The candidates stay (aging out by ``candidate_ttl_s``), so a restart
        keeps their first sightings.
        """
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._browser is not None:
            await self._browser.async_cancel()
            self._browser = None
        if self._aiozc is not None:
            aiozc, self._aiozc = self._aiozc, None
            await aiozc.async_close()  # unregisters, which sends the goodbye packets
        self._queued.clear()
        self._present.clear()
        while not self._queue.empty():
            self._queue.get_nowait()

    async def snapshot_to(self, path: Path) -> None:
        """Write the current candidates to ``path`` (atomically, off the loop)."""
        now_s = self._clock()
        self._table.expire(now_s)
        await asyncio.to_thread(save_candidates, path, self._table.candidates(now_s), now_s=now_s)

    def _on_change(self, zeroconf: Zeroconf, service_type: str, name: str,
                   state_change: ServiceStateChange) -> None:
        """Browser callback: queue the name for resolution, or forget it on goodbye."""
        try:
            if state_change is ServiceStateChange.Removed:
                self._present.discard(name)
                if self._table.forget(name):
                    self._log_once(logging.DEBUG, ("gone", name[:MAX_NAME_CHARS]),
                                   "discovery: %r said goodbye", name[:MAX_NAME_CHARS])
                return
            if name not in self._present and len(self._present) >= MAX_PENDING + MAX_CANDIDATES:
                self.rejections["busy"] += 1
                return
            self._present.add(name)
            self._enqueue(name)
        except Exception:  # a callback must never break zeroconf's dispatch
            self.rejections["error"] += 1
            logger.debug("discovery: browse callback failed", exc_info=True)

    def _enqueue(self, name: str) -> None:
        if name in self._queued:
            return
        if len(self._queued) >= MAX_PENDING:
            self.rejections["busy"] += 1
            return
        self._queued.add(name)
        self._queue.put_nowait(name)

    async def _resolve_forever(self) -> None:
        while True:
            name = await self._queue.get()
            self._queued.discard(name)
            try:
                await self._resolve(name)
            except asyncio.CancelledError:
                raise
            except Exception:  # hostile records must not stop a resolver
                self.rejections["error"] += 1
                if not self._table.knows(name):
                    self._present.discard(name)
                logger.debug("discovery: resolving %r failed", name[:MAX_NAME_CHARS],
                             exc_info=True)

    async def _resolve(self, name: str) -> None:
        """Resolve one announced name: keep it as a candidate, or count why not.

        A name that is neither resolvable nor a candidate leaves ``_present``,
        which therefore stays bounded by the table plus the queue; the browser
        queues it again if its records change.
        """
        assert self._aiozc is not None
        try:
            info: AsyncServiceInfo | None = AsyncServiceInfo(SERVICE_TYPE, name)
        except BadTypeInNameException:  # e.g. control characters, which zeroconf refuses
            info = None
        if info is not None and not await info.async_request(self._aiozc.zeroconf,
                                                             RESOLVE_TIMEOUT_MS):
            self.rejections["unresolved"] += 1  # a known candidate stays until its ttl
            if not self._table.knows(name):
                self._present.discard(name)
            return
        if name not in self._present:  # a goodbye arrived while it resolved
            return
        outcome = Rejection("bad_name", _capped(name)) if info is None else parse_announcement(
            name, info.parsed_addresses(IPVersion.V4Only), info.port, info.properties,
            now_s=self._clock())
        if isinstance(outcome, Rejection):
            self.rejections[outcome.reason] += 1
            self._present.discard(name)
            self._table.forget(name)  # what it announces now is malformed
            self._log_once(logging.DEBUG, (outcome.reason, name[:MAX_NAME_CHARS]),
                           "discovery: dropped %r: %s %s", name[:MAX_NAME_CHARS],
                           outcome.reason, outcome.detail)
            return
        if not self._table.observe(name, outcome):
            self.rejections["table_full"] += 1
        if not self._table.knows(name):  # the table is full, or it is this node's key id
            self._present.discard(name)
        else:  # peer data: DEBUG only
            self._log_once(logging.DEBUG, ("seen", outcome.key_id, outcome.address),
                           "discovery: candidate %s at %s (%r)", outcome.key_id,
                           outcome.address, outcome.name)

    async def _refresh_forever(self) -> None:
        """Re-resolve known candidates (cache first), then forget the stale ones."""
        while True:
            await asyncio.sleep(self.config.refresh_interval_s)
            for name in self._table.names():
                self._enqueue(name)
            for gone in self._table.expire(self._clock()):
                self._log_once(logging.DEBUG, ("expired", gone.key_id, gone.address),
                               "discovery: forgot %s at %s (not seen for %g s)", gone.key_id,
                               gone.address, self.config.candidate_ttl_s)


@dataclass(frozen=True, slots=True)
class LoadedCandidates:
    """What a candidates file held; ``problem`` says why some or all could not be used."""

    candidates: tuple[Candidate, ...] = ()
    #: When the file was written (None: no file, or unreadable).
    saved_at_s: float | None = None
    problem: str | None = None


def save_candidates(path: Path, candidates: Sequence[Candidate], *,
                    now_s: float | None = None) -> None:
    """Atomically replace ``path`` (mode 0600) with the candidates; `DiscoveryError` if not.

    ``now_s`` (default: the wall clock) is recorded as ``saved_at_s`` so a
    reader can tell a stale file (``serve`` stopped) from a fresh one.
    """
    saved_at_s = time.time() if now_s is None else now_s
    body = json.dumps({"format": _FILE_FORMAT, "saved_at_s": saved_at_s,
                       "candidates": [asdict(c) for c in candidates]}, indent=1) + "\n"
    try:
        fd, name = tempfile.mkstemp(prefix=".discovered-", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise DiscoveryError(f"cannot save {path}: {exc.strerror or exc}") from None
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:  # mkstemp makes it 0600
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DiscoveryError(f"cannot save {path}: {exc.strerror or exc}") from None


def load_candidates(path: Path) -> LoadedCandidates:
    """The candidates in ``path``; a missing file is none, a bad one none with a problem.

    Never raises: the file is rewritten by ``serve`` and read by the CLI, which
    must print one line, not a traceback, when it is damaged.
    """
    try:
        with path.open("rb") as source:
            raw = source.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return LoadedCandidates()
    except OSError as exc:
        return LoadedCandidates(problem=f"cannot read {path}: {exc.strerror or exc}")
    if len(raw) > MAX_FILE_BYTES:
        return LoadedCandidates(problem=f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return LoadedCandidates(problem=f"{path}: not JSON")
    if not isinstance(document, dict) or document.get("format") != _FILE_FORMAT \
            or not isinstance(document.get("candidates"), list):
        return LoadedCandidates(problem=f"{path}: not a {_FILE_FORMAT} file")
    saved_at = document.get("saved_at_s")
    saved_at_s = float(saved_at) if isinstance(saved_at, int | float) else None
    loaded: list[Candidate] = []
    for entry in document["candidates"]:
        try:
            loaded.append(Candidate(**entry))
        except (TypeError, ValueError):
            continue
    skipped = len(document["candidates"]) - len(loaded)
    problem = f"{path}: {skipped} malformed entries skipped" if skipped else None
    return LoadedCandidates(tuple(loaded), saved_at_s, problem)
