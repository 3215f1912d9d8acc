"""Rendering: every line is one the ingest parsers accept, time-ordered, with the right hashes."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.ingest.detect import parse_line
from node.profile.enrichment.asn import parse_ip2asn_lines
from node.profile.fingerprints import validate_fingerprint
from node.profile.ipv6 import classify_ipv6
from node.simulate.generate import generate
from node.simulate.render import render_lines
from node.simulate.scenario import load_scenario, parse_scenario
from node.simulate.signals import eui64_link_local, hassh_of, ja3_hash, ja4_of_ja3
from node.simulate.truth import ip2asn_lines, observations, partition, truth_document
from tests.scenarios import SCENARIO_NAMES, shared_scenario

EVERYTHING = """
campaign:
  id: all
  actors:
    - {id: a, ja3: "771,2570-4865-4866,0-16-43-2570,29,0", hassh: tool, keystroke_profile: 3,
       ip_pool: rotating, rotation_count: 2}
  phases:
    - name: exploitation
      tool_signature:
        {payload_hash: p, c2_callback: "2001:db8::80", credentials: [[a, b], [root, x]]}
      ipv6_leak_mac: "02:00:5e:10:00:01"
      direct_tcpip: "[2001:db8::9]:25"
      download_url: http://198.51.100.7/x
      target_selector: {count: 3}
    - {name: discovery, dwell_seconds: 2}
"""

#: Event kinds a simulation renders, as the ingest names them.
KINDS = {"session_connect", "client_version", "client_kex", "login_failed", "login_success",
         "command", "file_download", "direct_tcpip", "session_closed", "tls_client_hello",
         "ipv6_link_local_leak", "session_recorded", "transcript_header", "transcript_chunk"}


def kinds_of(lines: list[str]) -> Counter[str]:
    return Counter(parse_line(line.encode()).kind for line in lines)


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_every_line_of_a_shared_scenario_parses(name: str) -> None:
    lines = render_lines(generate(load_scenario(shared_scenario(name)), 1))

    assert set(kinds_of(lines)) <= KINDS


@given(st.integers(0, 2**40))
def test_every_kind_renders_and_parses_for_any_seed(seed: int) -> None:
    simulation = generate(parse_scenario(EVERYTHING, "all"), seed)
    lines = render_lines(simulation)

    assert set(kinds_of(lines)) == KINDS
    events = [parse_line(line.encode()) for line in lines]
    assert len({e.key for e in events}) == len(events)  # no line is another's duplicate
    timed = [e.time_us for e in events if e.source_format != "transcript"]
    assert timed == sorted(timed)
    assert {e.src_ip for e in events if e.src_ip} == set(observations(simulation))


def test_fingerprints_are_the_hashes_of_the_labels() -> None:
    lines = render_lines(generate(parse_scenario(EVERYTHING, "all"), 4))
    events = [parse_line(line.encode()) for line in lines]

    hello = next(e for e in events if e.kind == "tls_client_hello")
    kex = next(e for e in events if e.kind == "client_kex")
    assert hello.fields["ja3"] == hashlib.md5(b"771,2570-4865-4866,0-16-43-2570,29,0",
                                              usedforsecurity=False).hexdigest()
    assert validate_fingerprint("ja4", hello.fields["ja4"]) == hello.fields["ja4"]
    assert kex.fields["hassh"] == hassh_of("tool") == hashlib.md5(
        b"tool", usedforsecurity=False).hexdigest()
    leak = next(e for e in events if e.kind == "ipv6_link_local_leak")
    assert leak.sensor == "decnet-prober"
    assert classify_ipv6(leak.fields["ipv6_addr"]).oui == "02:00:5e"


def test_ja4_follows_the_recipe_where_ja3_has_the_inputs() -> None:
    # GREASE (2570 = 0x0a0a) is left out; 43 (supported_versions) means TLS 1.3;
    # SNI (0) → "d"; ALPN (16) offered → "h2"; SNI and ALPN are not hashed.
    ja4 = ja4_of_ja3("771,2570-4865-4866,0-16-43-2570,29,0")

    ciphers = hashlib.sha256(b"1301,1302").hexdigest()[:12]
    extensions = hashlib.sha256(b"002b").hexdigest()[:12]
    assert ja4 == f"t13d0203h2_{ciphers}_{extensions}"
    assert ja4_of_ja3("769,47,,,").startswith("t10i0100")  # no SNI, no ALPN
    assert ja4_of_ja3("771,,,,").endswith("_000000000000_000000000000")
    assert ja3_hash("771,,,,") == hashlib.md5(b"771,,,,", usedforsecurity=False).hexdigest()


@given(st.binary(min_size=6, max_size=6))
def test_eui64_keeps_the_mac_oui(mac_bytes: bytes) -> None:
    mac = ":".join(f"{b:02x}" for b in mac_bytes)

    leak = classify_ipv6(eui64_link_local(mac))

    assert leak.kind == "eui64"
    assert leak.oui == mac[:8]
    assert leak.address.startswith("fe80::")


def test_truth_and_asn_table_cover_every_observation() -> None:
    simulation = generate(load_scenario(shared_scenario("vpn_hopping")), 1)

    truth = observations(simulation)
    document = truth_document(simulation)
    index = parse_ip2asn_lines(ip2asn_lines(simulation))

    assert document["schema_version"] == 1
    assert (document["scenario"], document["seed"]) == ("vpn_hopping", 1)
    assert document["observations"] == {ip: {"identity": "hopper-a",
                                             "campaign": "vpn-hopping-001"} for ip in truth}
    assert index.bad_rows == 0
    found = [index.lookup(ip) for ip in truth]
    assert sorted(info.asn for info in found if info is not None) == \
        [64512, 64513, 64514, 64515, 64516]
    assert set(partition(truth, "identity").values()) == {"hopper-a"}
    assert set(partition(truth, "campaign").values()) == {"vpn-hopping-001"}
