"""Sessions → the log lines real sensors write (FORMATS.md), in time order.

Each session is an SSH session on a Cowrie honeypot (connect, client
version and kex, logins, commands, downloads, direct-tcpip, closed). Around
it, DECNET's RFC 5424 sensors add what they see: the sniffer's
``tls_client_hello`` (JA3/JA4) when the actor has a TLS stack, the prober's
``ipv6_link_local_leak``, and for recorded sessions the recorder's
transcript shard lines and its ``session_recorded`` event. Every line is
parsed by `node.ingest` and lands in a profile table (docs/simulate.md).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson

from node.simulate.generate import Simulation
from node.simulate.session import Session
from node.simulate.signals import hassh_of, ja3_hash, ja4_of_ja3, ssh_banner_of

#: PRI of DECNET's lines: facility local0, severity info.
_PRI_INFO: Final = "<134>"
_SD_ID: Final = "relay@55555"
_PROBER_HOST: Final = "decnet-prober"
_TLS_PORT: Final = 443
_SSH_PORT: Final = 22
_TLS_VERSIONS: Final = {"10": "TLS 1.0", "11": "TLS 1.1", "12": "TLS 1.2", "13": "TLS 1.3"}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_US: Final = 1_000_000


def render_lines(simulation: Simulation) -> list[str]:
    """Every line of every session, ordered by event time (ties: session, then emission)."""
    timed: list[tuple[int, str, int, str]] = []
    for session in simulation.sessions:
        timed.extend((time_us, session.session_id, order, line)
                     for order, (time_us, line) in enumerate(render_session(session)))
    timed.sort()
    return [line for _, _, _, line in timed]


def render_session(session: Session) -> list[tuple[int, str]]:
    """``(time_us, line)`` for one session, in emission order."""
    s = session
    at = _Clock(s.start_us)
    out: list[tuple[int, str]] = []
    if s.ja3 is not None:
        out.append(at.line(0.0, _tls_client_hello(s, at.stamp(0.0))))
    cowrie = _Cowrie(s, at)
    out.append(cowrie.event(0.0, "cowrie.session.connect", src_port=s.src_port,
                            dst_ip=s.honeypot_ip, dst_port=_SSH_PORT, protocol="ssh",
                            message=f"New connection: {s.ip}:{s.src_port}"
                                    f" ({s.honeypot_ip}:{_SSH_PORT}) [session: {s.session_id}]"))
    if s.hassh is not None:
        version = ssh_banner_of(s.hassh)
        out.append(cowrie.event(min(s.duration_s * 0.02, 0.1), "cowrie.client.version",
                                version=version, message=f"Remote SSH version: {version}"))
        out.append(cowrie.event(min(s.duration_s * 0.04, 0.2), "cowrie.client.kex",
                                hassh=hassh_of(s.hassh), message="SSH client hassh fingerprint"))
    for login in s.logins:
        kind, outcome = ("success", "succeeded") if login.success else ("failed", "failed")
        out.append(cowrie.event(login.offset_s, f"cowrie.login.{kind}",
                                username=login.username, password=login.password,
                                message=f"login attempt [{login.username}/{login.password}]"
                                        f" {outcome}"))
    for command in s.commands:
        out.append(cowrie.event(command.offset_s, "cowrie.command.input", input=command.text,
                                message=f"CMD: {command.text}"))
    for download in s.downloads:
        out.append(cowrie.event(download.offset_s, "cowrie.session.file_download",
                                url=download.url, shasum=download.sha256,
                                outfile=f"var/lib/cowrie/downloads/{download.sha256}",
                                destfile=download.destfile,
                                message=f"Downloaded URL ({download.url}) with SHA-256"
                                        f" {download.sha256} to var/lib/cowrie/downloads/"
                                        f"{download.sha256}"))
    if s.proxy is not None:
        out.append(cowrie.event(s.proxy.offset_s, "cowrie.direct-tcpip.request",
                                dst_ip=s.proxy.host, dst_port=s.proxy.port,
                                src_port=s.src_port + 1,
                                message=f"direct-tcp connection request to {s.proxy.host}:"
                                        f"{s.proxy.port} from localhost:{s.src_port + 1}"))
    if s.ipv6_leak is not None:
        out.append(at.line(s.duration_s * 0.5, _ipv6_leak(s, at.stamp(s.duration_s * 0.5))))
    if s.recording is not None:
        out.extend(_recording(s, at))
    out.append(cowrie.event(s.duration_s, "cowrie.session.closed",
                            duration=round(s.duration_s, 3),
                            message=f"Connection lost after {s.duration_s:.1f} seconds"))
    return out


class _Clock:
    """Offsets from a session's start → epoch microseconds and timestamp text."""

    def __init__(self, start_us: int) -> None:
        self.start_us = start_us

    def us(self, offset_s: float) -> int:
        return self.start_us + int(offset_s * _US)

    def stamp(self, offset_s: float, *, zulu: bool = False) -> str:
        moment = _EPOCH + timedelta(microseconds=self.us(offset_s))
        text = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")
        return text + ("Z" if zulu else "+00:00")

    def line(self, offset_s: float, text: str) -> tuple[int, str]:
        return self.us(offset_s), text


class _Cowrie:
    """Cowrie JSON events of one session: the fields every event carries, then its own."""

    def __init__(self, session: Session, clock: _Clock) -> None:
        self._session = session
        self._clock = clock

    def event(self, offset_s: float, eventid: str, **fields: Any) -> tuple[int, str]:
        s = self._session
        record = {"eventid": eventid, **fields, "session": s.session_id, "src_ip": s.ip,
                  "sensor": s.honeypot, "timestamp": self._clock.stamp(offset_s, zulu=True)}
        return self._clock.us(offset_s), orjson.dumps(record).decode()


def _tls_client_hello(s: Session, stamp: str) -> str:
    assert s.ja3 is not None
    ja4 = ja4_of_ja3(s.ja3)
    return _syslog(stamp, s.honeypot, "sniffer", "tls_client_hello", {
        "src_ip": s.ip, "src_port": str(s.src_port - 1), "dst_ip": s.honeypot_ip,
        "dst_port": str(_TLS_PORT), "ja3": ja3_hash(s.ja3), "ja4": ja4,
        "tls_version": _TLS_VERSIONS.get(ja4[1:3], "unknown"),
    })


def _ipv6_leak(s: Session, stamp: str) -> str:
    assert s.ipv6_leak is not None
    return _syslog(stamp, _PROBER_HOST, "prober", "ipv6_link_local_leak", {
        "target_ip": s.ip, "target_port": "-", "ipv6_addr": s.ipv6_leak, "iid_kind": "eui64",
        "mac_oui": _oui_of(s.ipv6_leak), "on_iface": "eth1", "vector": "active_echo",
    })


def _recording(s: Session, at: _Clock) -> Iterable[tuple[int, str]]:
    """The recorder's shard lines (header, chunks) and its closing ``session_recorded``."""
    rec = s.recording
    assert rec is not None
    yield at.line(0.0, _json({"sid": rec.sid, "hdr": {
        "version": 2, "width": rec.width, "height": rec.height,
        "timestamp": s.start_us // _US, "env": {"SHELL": "/bin/bash", "TERM": "xterm"}}}))
    for chunk in rec.chunks:
        yield at.line(chunk.t, _json({"sid": rec.sid, "t": chunk.t, "ch": chunk.channel,
                                      "d": chunk.data}))
    yield at.line(s.duration_s, _syslog(at.stamp(s.duration_s), s.honeypot, "sessrec",
                                        "session_recorded", {
        "sid": rec.sid, "service": "ssh", "src_ip": s.ip,
        "duration_s": f"{s.duration_s:.3f}"}))


def _oui_of(link_local: str) -> str:
    """The MAC OUI inside an EUI-64 address (the universal/local bit flipped back)."""
    iid = ipaddress.IPv6Address(link_local).packed[8:]
    return f"{iid[0] ^ 0x02:02x}:{iid[1]:02x}:{iid[2]:02x}"


def _syslog(stamp: str, host: str, app: str, msgid: str, params: dict[str, str]) -> str:
    sd = " ".join(f'{name}="{_sd_escape(value)}"' for name, value in params.items())
    return f"{_PRI_INFO}1 {stamp} {host} {app} - {msgid} [{_SD_ID} {sd}]"


def _sd_escape(value: str) -> str:
    """RFC 5424 §6.3.3: backslash, double quote and closing bracket are escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _json(value: object) -> str:
    return orjson.dumps(value).decode()
