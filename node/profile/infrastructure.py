"""Attacker infrastructure: payload hashes and C2 endpoints (hosts and URLs).

C2 endpoints are the hosts and URLs an attacker makes the honeypot fetch or
call: download URLs, ``wget``/``curl``/``tftp``/``ftpget``/``nc`` targets and
``/dev/tcp/HOST/PORT`` redirections, the proxy targets of direct-tcpip, and the
URLs in captured mail. Host names are normalised like SMTP domains; private,
loopback, link-local, multicast and reserved addresses, single-label names and
operator-listed internal hosts (the honeypots' own network) are excluded.
URLs lose their user-info (credentials) and fragment. Documentation ranges
(TEST-NET-1/2/3, 2001:db8::/32) count as public: sensor examples and test
corpora use them for attackers and their servers alike.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

import orjson

from node.profile.commands import normalise_segment, split_segments
from node.profile.rejection import Rejected
from node.profile.smtp import normalise_domain

_SHA256 = re.compile(r"[0-9a-f]{64}")
_URL_SCHEMES = frozenset({"http", "https", "ftp", "tftp"})
_MAX_URL = 2048
_DEV_TCP = re.compile(r"/dev/(tcp|udp)/([^/\s'\"]+)/(\d{1,5})")
_MAY_NAME_ENDPOINT = re.compile(r"wget|curl|fetch|lwp-download|tftp|ftpget|nc|netcat|/dev/")
_DOWNLOADERS = frozenset({"wget", "curl", "fetch", "lwp-download"})
_NETCATS = frozenset({"nc", "ncat", "netcat"})
# Options whose next token is a value, not a host (per tool family).
_VALUE_OPTIONS = {
    "downloader": frozenset({"-o", "-O", "-P", "-U", "-H", "-d", "-u", "-A", "-e", "-x", "-T",
                             "-F", "-X", "-b", "-c", "-m", "-w", "-t", "-r", "--output",
                             "--header", "--user-agent", "--data", "--user", "--proxy"}),
    "tftp": frozenset({"-r", "-l", "-b", "-m"}),
    "ftpget": frozenset({"-u", "-p", "-P"}),
    "nc": frozenset({"-e", "-c", "-p", "-s", "-w", "-i", "-x", "-X", "-q", "-I", "-O", "-T"}),
}


_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: Never an attacker's server: private, shared, loopback, link-local, multicast, reserved.
NON_PUBLIC_NETWORKS: tuple[_Network, ...] = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4",
    "240.0.0.0/4", "::/127", "100::/64", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
))


def is_public_address(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address can be an attacker's server (see `NON_PUBLIC_NETWORKS`)."""
    return not any(addr.version == net.version and addr in net for net in NON_PUBLIC_NETWORKS)


class C2Endpoint(NamedTuple):
    """A contacted endpoint: a normalised host and, when known, a URL (``""`` if not)."""

    host: str
    url: str


@dataclass(frozen=True, slots=True)
class InternalHosts:
    """Hosts and networks that belong to the honeypot fleet itself: never C2."""

    names: frozenset[str] = frozenset()
    networks: tuple[_Network, ...] = ()

    @classmethod
    def parse(cls, entries: str | Iterable[str]) -> InternalHosts:
        """Host names and CIDR networks (or one comma-separated string); bad entries ignored."""
        names: set[str] = set()
        networks: list[_Network] = []
        items = entries.split(",") if isinstance(entries, str) else entries
        for item in (part.strip().lower() for part in items):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                names.add(item.strip("."))
        return cls(frozenset(names), tuple(networks))

    def contains(self, host: str) -> bool:
        if host in self.names:
            return True
        if not self.networks or not (host[:1].isdigit() or ":" in host):
            return False
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(addr in network for network in self.networks)


def validate_sha256(raw: str) -> str | Rejected | None:
    """Canonical lowercase SHA-256 hex, a rejection, or None when absent."""
    value = raw.strip().lower()
    if value in ("", "-"):
        return None
    return value if _SHA256.fullmatch(value) else Rejected("sha256:bad_format")


def attachment_hashes(attachments_json: str) -> list[str | Rejected]:
    """SHA-256 of each attachment in a ``message_stored`` ``attachments_json`` list."""
    items = _json_list(attachments_json)
    if items is None:
        return [Rejected("attachments_json:bad_json")]
    result: list[str | Rejected] = []
    for item in items:
        value = item.get("sha256") if isinstance(item, dict) else None
        if not isinstance(value, str):
            result.append(Rejected("attachments_json:no_sha256"))
            continue
        checked = validate_sha256(value)
        if checked is not None:
            result.append(checked)
    return result


def mail_urls(urls_json: str) -> list[str] | Rejected:
    """The URL strings of a ``message_stored`` ``urls_json`` list."""
    items = _json_list(urls_json)
    if items is None:
        return Rejected("urls_json:bad_json")
    return [item for item in items if isinstance(item, str)]


@lru_cache(maxsize=65536)
def normalise_host(text: str) -> str | Rejected:
    """A routable IP literal or a public DNS name, normalised; else the reason it is not."""
    host = text.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        domain = normalise_domain(host)
        if isinstance(domain, Rejected):
            return Rejected(f"host:{domain.reason}")
        return domain
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if not is_public_address(addr):
        return Rejected("host:not_public")
    return str(addr)


@lru_cache(maxsize=65536)
def normalise_url(text: str) -> C2Endpoint | Rejected:
    """A URL without credentials or fragment, with a normalised host."""
    raw = text.strip()
    if len(raw) > _MAX_URL:
        return Rejected("url:too_long")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        return Rejected("url:bad_format")
    scheme = parts.scheme.lower()
    if scheme not in _URL_SCHEMES or not parts.hostname:
        return Rejected("url:bad_format")
    host = normalise_host(parts.hostname)
    if isinstance(host, Rejected):
        return host
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    url = f"{scheme}://{netloc}{parts.path or '/'}"
    if parts.query:
        url += f"?{parts.query}"
    return C2Endpoint(host, url)


@lru_cache(maxsize=65536)
def command_endpoints(command: str) -> tuple[C2Endpoint | Rejected, ...]:
    """Endpoints named by download and connect tools in a shell command line.

    Cached: bots replay the same command lines millions of times.
    """
    if not _MAY_NAME_ENDPOINT.search(command):
        return ()
    found: list[C2Endpoint | Rejected] = []
    for segment in split_segments(command[:8192]):
        for match in _DEV_TCP.finditer(segment):
            found.append(_tcp_endpoint(match.group(2), match.group(3), match.group(1)))
        tokens = _tokens(normalise_segment(segment))
        if not tokens:
            continue
        tool, args = tokens[0], tokens[1:]
        if tool in _DOWNLOADERS:
            found.extend(_download_targets(args))
        elif tool == "tftp":
            found.extend(_tftp_target(args))
        elif tool == "ftpget":
            found.extend(_first_host(args, _VALUE_OPTIONS["ftpget"], "ftp"))
        elif tool in _NETCATS:
            found.extend(_netcat_target(args))
    return tuple(found)


def exclude_internal(endpoints: Iterable[C2Endpoint | Rejected],
                     internal: InternalHosts) -> list[C2Endpoint | Rejected]:
    """Turn endpoints on the fleet's own hosts into ``host:internal`` rejections."""
    return [Rejected("host:internal") if isinstance(e, C2Endpoint) and internal.contains(e.host)
            else e for e in endpoints]


def tcp_endpoint(host: str, port: str) -> C2Endpoint | Rejected:
    """A raw TCP endpoint (direct-tcpip, ``nc``) as ``tcp://host:port``."""
    return _tcp_endpoint(host, port, "tcp")


def _tcp_endpoint(host: str, port: str, proto: str) -> C2Endpoint | Rejected:
    checked = normalise_host(host)
    if isinstance(checked, Rejected):
        return checked
    if not port.isdigit() or int(port) > 65535:
        return Rejected("port:bad_format")
    netloc = f"[{checked}]" if ":" in checked else checked
    return C2Endpoint(checked, f"{proto}://{netloc}:{int(port)}")


def _download_targets(args: list[str]) -> list[C2Endpoint | Rejected]:
    found: list[C2Endpoint | Rejected] = []
    skip = False
    for token in args:
        if skip:
            skip = False
            continue
        if token.startswith("-"):
            skip = token in _VALUE_OPTIONS["downloader"]
            continue
        candidate = token if "://" in token else f"http://{token}"
        endpoint = normalise_url(candidate)
        if isinstance(endpoint, C2Endpoint) or "://" in token:
            found.append(endpoint)
    return found


def _tftp_target(args: list[str]) -> list[C2Endpoint | Rejected]:
    remote = ""
    for flag, value in zip(args, args[1:], strict=False):
        if flag == "-r":
            remote = value
    hosts = _first_host(args, _VALUE_OPTIONS["tftp"] | {"-c"}, "tftp")
    if remote and hosts and isinstance(hosts[0], C2Endpoint):
        host = hosts[0].host
        netloc = f"[{host}]" if ":" in host else host
        return [C2Endpoint(host, f"tftp://{netloc}/{remote.lstrip('/')}")]
    return hosts


def _netcat_target(args: list[str]) -> list[C2Endpoint | Rejected]:
    positional = _positional(args, _VALUE_OPTIONS["nc"])
    if len(positional) >= 2 and positional[1].isdigit():
        return [tcp_endpoint(positional[0], positional[1])]
    return _first_host(args, _VALUE_OPTIONS["nc"], "")


def _first_host(args: list[str], value_options: frozenset[str],
                scheme: str) -> list[C2Endpoint | Rejected]:
    for token in _positional(args, value_options):
        host = normalise_host(token)
        if isinstance(host, Rejected):
            if host.reason == "host:not_public":
                return [host]
            continue
        netloc = f"[{host}]" if ":" in host else host
        return [C2Endpoint(host, f"{scheme}://{netloc}/" if scheme else "")]
    return []


def _positional(args: list[str], value_options: frozenset[str]) -> list[str]:
    result: list[str] = []
    skip = False
    for token in args:
        if skip:
            skip = False
        elif token.startswith("-"):
            skip = token in value_options
        else:
            result.append(token)
    return result


def _tokens(segment: str) -> list[str]:
    try:
        return shlex.split(segment)
    except ValueError:  # unbalanced quotes: fall back to blanks
        return segment.split()


def _json_list(text: str) -> list[object] | None:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, list) else None
