"""A simulated session: everything `render` needs to write its log lines, already decided.

Generation makes every choice (times, addresses, honeypots, outcomes);
rendering only formats. Offsets are seconds from the session's start.
"""

from __future__ import annotations

from dataclasses import dataclass

from node.simulate.keystrokes import Chunk


@dataclass(frozen=True, slots=True)
class Login:
    username: str
    password: str
    success: bool
    offset_s: float


@dataclass(frozen=True, slots=True)
class Command:
    text: str
    offset_s: float


@dataclass(frozen=True, slots=True)
class Download:
    """A file the honeypot fetched for the attacker (Cowrie ``file_download``)."""

    url: str
    sha256: str
    destfile: str
    offset_s: float


@dataclass(frozen=True, slots=True)
class TcpProxy:
    """A direct-tcpip request: the attacker using the SSH server as a proxy."""

    host: str
    port: int
    offset_s: float


@dataclass(frozen=True, slots=True)
class Recording:
    """The transcript of an interactive session (DECNET session recorder)."""

    sid: str
    width: int
    height: int
    chunks: tuple[Chunk, ...]


@dataclass(frozen=True, slots=True)
class Session:
    """One SSH session of one source address against one honeypot."""

    identity: str
    campaign: str
    phase: str
    ip: str
    asn: int
    src_port: int
    honeypot: str
    honeypot_ip: str
    session_id: str
    start_us: int
    duration_s: float
    #: The raw JA3 string of the actor's TLS stack (None: no TLS fingerprint).
    ja3: str | None = None
    #: The actor's SSH tool label (None: no SSH client fingerprint).
    hassh: str | None = None
    logins: tuple[Login, ...] = ()
    commands: tuple[Command, ...] = ()
    downloads: tuple[Download, ...] = ()
    proxy: TcpProxy | None = None
    #: The IPv6 link-local address the prober sees leak from ``ip`` (EUI-64 of a MAC).
    ipv6_leak: str | None = None
    recording: Recording | None = None
