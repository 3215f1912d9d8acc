"""Offline enrichment: RIR countries, ip2asn, PTR with an injected resolver (no network)."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import pytest

from node.profile.enrichment.asn import AsnInfo, load_ip2asn_file, parse_ip2asn_lines
from node.profile.enrichment.ptr import (
    ERROR,
    NO_NAME,
    OK,
    SKIPPED,
    TIMEOUT,
    PtrLookup,
    PtrResult,
    should_look_up,
)
from node.profile.enrichment.rir import load_rir_files, parse_rir_lines

RIR = """\
2|ripencc|20260301|4|19830705|20260228|+0100
ripencc|*|ipv4|*|3|summary
ripencc|*|asn|*|1|summary
ripencc|DE|asn|3320|1|19930901|allocated
ripencc|DE|ipv4|193.0.0.0|2048|19930901|allocated
ripencc|NL|ipv4|193.0.8.0|256|19930901|assigned
ripencc||ipv4|193.0.9.0|256||available
ripencc|FR|ipv6|2001:660::|32|19990601|allocated
ripencc|XX|ipv4|not-an-ip|256|19930901|allocated
ripencc|XX|ipv4|193.1.0.0|zero|19930901|allocated
"""

IP2ASN = (
    "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n"
    "1.0.1.0\t1.0.3.255\t0\tNone\tNot routed\n"
    "8.8.8.0\t8.8.8.255\t15169\tUS\tGOOGLE\n"
    "2001:4860::\t2001:4860:ffff:ffff:ffff:ffff:ffff:ffff\t15169\tUS\tGOOGLE\n"
    "garbage line\n"
    "9.9.9.0\t9.9.9.x\t19281\tUS\tQUAD9\n"
)


def test_rir_countries() -> None:
    index = parse_rir_lines(RIR.splitlines())
    assert index.country("193.0.0.0") == "DE"
    assert index.country("193.0.7.255") == "DE"
    assert index.country("193.0.8.1") == "NL"
    assert index.country("193.0.9.1") is None  # available, no country
    assert index.country("2001:660:1::1") == "FR"
    assert index.country("192.0.2.1") is None
    assert index.country("not an ip") is None
    assert index.bad_rows == 2


def test_rir_files_merge_and_missing_files_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "delegated-ripencc"
    path.write_text(RIR, encoding="utf-8")
    index = load_rir_files([path, tmp_path / "missing"])
    assert index.country("193.0.8.1") == "NL"


def test_ip2asn_lookup() -> None:
    index = parse_ip2asn_lines(IP2ASN.splitlines())
    assert index.lookup("1.0.0.7") == AsnInfo(13335, "CLOUDFLARENET", "US", "1.0.0.0/24")
    assert index.lookup("1.0.2.1") is None  # ASN 0: unannounced
    assert index.lookup("8.8.8.8") == AsnInfo(15169, "GOOGLE", "US", "8.8.8.0/24")
    assert index.lookup("2001:4860::8888") == AsnInfo(15169, "GOOGLE", "US", "2001:4860::/32")
    assert index.lookup("7.7.7.7") is None
    assert index.lookup("") is None
    assert index.bad_rows == 2


def test_ip2asn_non_cidr_ranges_are_shown_as_ranges() -> None:
    index = parse_ip2asn_lines(["10.0.0.1\t10.0.0.5\t64500\tZZ\tODD\n"])
    info = index.lookup("10.0.0.3")
    assert info is not None
    assert info.prefix == "10.0.0.1-10.0.0.5"


def test_ip2asn_gzip_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "ip2asn-combined.tsv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as stream:
        stream.write(IP2ASN)
    assert load_ip2asn_file(path).lookup("8.8.8.8") is not None
    assert load_ip2asn_file(tmp_path / "missing.tsv").lookup("8.8.8.8") is None


@pytest.mark.parametrize(("ip", "expected"), [
    ("8.8.8.8", True), ("2606:4700::1111", True),
    ("10.0.0.1", False), ("192.168.1.1", False), ("127.0.0.1", False), ("::1", False),
    ("169.254.1.1", False), ("fe80::1", False), ("224.0.0.1", False), ("ff02::1", False),
    ("240.0.0.1", False), ("0.0.0.0", False), ("192.0.2.1", False),  # noqa: S104
    ("not an ip", False),
])
def test_which_addresses_get_a_ptr_lookup(ip: str, expected: bool) -> None:
    assert should_look_up(ip) is expected


class FakeResolver:
    """Answers from a table; records every address it was asked about."""

    def __init__(self, names: dict[str, str | None], hang: frozenset[str] = frozenset()) -> None:
        self.names = names
        self.hang = hang
        self.asked: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def __call__(self, ip: str) -> str | None:
        self.asked.append(ip)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if ip in self.hang:
                await asyncio.Event().wait()
            await asyncio.sleep(0)
            if ip == "9.9.9.9":
                raise OSError("resolver exploded")
            return self.names.get(ip)
        finally:
            self.in_flight -= 1


async def test_ptr_results_and_statuses() -> None:
    resolver = FakeResolver({"8.8.8.8": "dns.google.", "1.1.1.1": None})
    lookup = PtrLookup(resolver, timeout_s=0.05, concurrency=4)
    assert await lookup.resolve("8.8.8.8") == PtrResult("dns.google", OK)
    assert await lookup.resolve("1.1.1.1") == PtrResult(None, NO_NAME)
    assert await lookup.resolve("9.9.9.9") == PtrResult(None, ERROR)
    assert await lookup.resolve("10.0.0.1") == PtrResult(None, SKIPPED)
    assert "10.0.0.1" not in resolver.asked


async def test_ptr_times_out() -> None:
    resolver = FakeResolver({}, hang=frozenset({"8.8.4.4"}))
    lookup = PtrLookup(resolver, timeout_s=0.01, concurrency=1)
    assert await lookup.resolve("8.8.4.4") == PtrResult(None, TIMEOUT)


async def test_ptr_is_asked_once_per_ip_with_bounded_concurrency() -> None:
    resolver = FakeResolver({f"8.8.8.{i}": f"h{i}.example.net" for i in range(20)})
    lookup = PtrLookup(resolver, timeout_s=1.0, concurrency=3)
    ips = [f"8.8.8.{i}" for i in range(20)] * 3
    results = await lookup.resolve_many(ips)
    again = await lookup.resolve("8.8.8.1")
    assert len(results) == 20
    assert again == PtrResult("h1.example.net", OK)
    assert sorted(resolver.asked) == sorted(set(ips))
    assert resolver.max_in_flight <= 3
