"""Real zeroconf on loopback: three nodes find each other, a hostile announcer is dropped,
a stopped node's goodbye removes it.

Multicast on loopback works on Linux even without the MULTICAST flag on ``lo``
when the sending interface is chosen explicitly (as zeroconf does for a
configured address); the test first checks that with one datagram and skips
with the reason when this host cannot. Key ids and instance names are random
per run, and assertions only look at this run's nodes, so another process
browsing ``_decnet-fed._tcp`` on this host does not disturb it.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from zeroconf import const
from zeroconf._dns import DNSAddress, DNSPointer, DNSService, DNSText  # raw records, by hand
from zeroconf._protocol.outgoing import DNSOutgoing

from federation.gossip.discovery import (
    SERVICE_TYPE,
    Advertisement,
    Discovery,
    DiscoveryConfig,
    load_candidates,
)
from tests.support import async_wait_for

pytestmark = pytest.mark.timeout(60)

LOOPBACK = "127.0.0.1"
DEADLINE_S = 10.0


def _loopback_multicast_problem() -> str | None:
    """None if a multicast datagram sent on loopback comes back; else why not."""
    group = "224.0.0.251"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            rx.bind(("", 0))
            rx.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                          socket.inet_aton(group) + socket.inet_aton(LOOPBACK))
            rx.settimeout(2.0)
            tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(LOOPBACK))
            tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            tx.sendto(b"decnet-fed probe", (group, rx.getsockname()[1]))
            rx.recvfrom(64)
    except OSError as exc:
        return f"multicast on loopback does not work on this host: {exc}"
    return None


@pytest.fixture(scope="module", autouse=True)
def _needs_loopback_multicast() -> None:
    problem = _loopback_multicast_problem()
    if problem:
        pytest.skip(problem)


def _multicast(packets: list[bytes]) -> None:
    """Send mDNS packets to the group on loopback, as a responder on the link would."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(LOOPBACK))
        for packet in packets:
            sender.sendto(packet, ("224.0.0.251", 5353))


async def _until(predicate: Callable[[], bool], what: str) -> None:
    """`tests.support.async_wait_for` within this module's `DEADLINE_S`."""
    await async_wait_for(predicate, what, deadline_s=DEADLINE_S)


def _keys(discovery: Discovery, ours: set[str]) -> set[str]:
    """Key ids ``discovery`` lists, among this run's nodes."""
    return {c.key_id for c in discovery.candidates()} & ours


@pytest.fixture
async def nodes() -> AsyncIterator[list[Discovery]]:
    """Three nodes on loopback (one configured by interface name), each a random key id."""
    run = secrets.token_hex(3)
    interfaces = [("lo",), (LOOPBACK,), (LOOPBACK,)]
    started = [Discovery(DiscoveryConfig(interfaces=iface, candidate_ttl_s=30.0,
                                         refresh_interval_s=0.5),
                         Advertisement(f"it-{run}-{i}", secrets.token_hex(8), 40_000 + i))
               for i, iface in enumerate(interfaces)]
    threads = set(threading.enumerate())
    try:
        await asyncio.gather(*(node.start() for node in started))
        assert set(threading.enumerate()) == threads  # zeroconf runs on this loop
        yield started
    finally:
        await asyncio.gather(*(node.stop() for node in started))
    assert not any(node.running for node in started)


async def test_three_nodes_list_each_other_then_drop_the_one_that_stopped(
        nodes: list[Discovery], tmp_path: Path) -> None:
    ours = {node.advertisement.key_id for node in nodes}
    assert all(node.running for node in nodes)

    await _until(lambda: all(_keys(n, ours) == ours - {n.advertisement.key_id} for n in nodes),
                 "every node to list the other two and not itself")
    for node in nodes:
        for candidate in node.candidates():
            if candidate.key_id in ours:
                port = next(n.advertisement.port for n in nodes
                            if n.advertisement.key_id == candidate.key_id)
                assert candidate.address == f"{LOOPBACK}:{port}"
                assert (candidate.min_schema_version, candidate.max_schema_version) == (1, 1)

    path = tmp_path / "discovered.json"
    await nodes[0].snapshot_to(path)
    assert {c.key_id for c in load_candidates(path).candidates} >= ours - {
        nodes[0].advertisement.key_id}

    gone = nodes[2].advertisement.key_id
    await nodes[2].stop()
    assert not nodes[2].running
    await _until(lambda: all(gone not in _keys(n, ours) for n in nodes[:2]),
                 "the others to drop the stopped node")
    assert all(_keys(n, ours) == ours - {gone, n.advertisement.key_id} for n in nodes[:2])


def _txt(**items: bytes) -> bytes:
    """TXT record data: length-prefixed ``key=value`` strings, any bytes at all."""
    strings = [key.encode() + b"=" + value for key, value in items.items()]
    return b"".join(bytes([len(item)]) + item for item in strings)


def _raw_announcement(instance: str, txt: bytes, port: int, host_ttl_s: int = 120) -> list[bytes]:
    """An unsolicited mDNS answer (PTR, SRV, TXT, A) built by hand, so it can be malformed
    in ways zeroconf's own registration refuses to send. Nothing answers queries for it."""
    name = f"{instance}.{SERVICE_TYPE}"
    host = f"raw-{secrets.token_hex(4)}.local."
    unique = const._CLASS_IN | const._CLASS_UNIQUE
    out = DNSOutgoing(const._FLAGS_QR_RESPONSE | const._FLAGS_AA)
    for record in (
        DNSPointer(SERVICE_TYPE, const._TYPE_PTR, const._CLASS_IN, 4500, name),
        DNSService(name, const._TYPE_SRV, unique, host_ttl_s, 0, 0, port, host),
        DNSText(name, const._TYPE_TXT, unique, host_ttl_s, txt),
        DNSAddress(host, const._TYPE_A, unique, host_ttl_s, socket.inet_aton(LOOPBACK)),
    ):
        out.add_answer_at_time(record, 0)
    return out.packets()


async def test_hostile_announcements_are_counted_not_listed(nodes: list[Discovery]) -> None:
    run = secrets.token_hex(3)
    fine = {"v": b"1", "schema": b"1-1"}
    spoofed_key = secrets.token_hex(8)
    hostile = [
        (f"utf8-{run}", _txt(**fine, key_id=b"\xff" * 16, port=b"40100"), 40_100),
        (f"schema-{run}", _txt(v=b"1", key_id=secrets.token_hex(8).encode(), schema=b"9-1",
                               port=b"40101"), 40_101),
        (f"port-{run}", _txt(**fine, key_id=secrets.token_hex(8).encode(), port=b"70000"), 40_102),
        (f"control-{run}\x1b[2J\x07", _txt(**fine, key_id=secrets.token_hex(8).encode(),
                                           port=b"40103"), 40_103),
        (f"bidi-{run}\u202egnp", _txt(**fine, key_id=spoofed_key.encode(), port=b"40104",
                                      junk=b"\x00" * 250), 40_104),
    ]
    packets = [p for instance, txt, port in hostile for p in _raw_announcement(instance, txt, port)]

    def rejected_and_listed() -> bool:
        return all(n.rejections["bad_key_id"] and n.rejections["bad_schema"]
                   and n.rejections["bad_port"] and n.rejections["bad_name"]
                   and spoofed_key in {c.key_id for c in n.candidates()} for n in nodes)

    deadline = time.monotonic() + DEADLINE_S
    while not rejected_and_listed():  # re-announce as mDNS responders do, until all saw it
        if time.monotonic() > deadline:
            pytest.fail(f"hostile announcements not all handled: "
                        f"{[dict(n.rejections) for n in nodes]}")
        _multicast(packets)
        await asyncio.sleep(0.5)

    for node in nodes:
        assert node.running  # nothing raised out of a callback or a resolver
        names = {c.name for c in node.candidates() if run in c.name}
        assert names == {f"bidi-{run}?gnp"}  # the one well-formed one, its name made printable


async def test_a_node_gone_without_a_goodbye_is_forgotten_after_the_candidate_ttl() -> None:
    """A crash sends no goodbye: once its records expire nobody answers the refresh, and the
    candidate goes when the (injected) clock passes ``candidate_ttl_s`` since it was seen."""
    now_s = [1_000_000.0]
    browser = Discovery(DiscoveryConfig(interfaces=(LOOPBACK,), advertise=False,
                                        candidate_ttl_s=30.0, refresh_interval_s=0.5),
                        Advertisement("browser", secrets.token_hex(8), 1),
                        clock=lambda: now_s[0])
    crashed = secrets.token_hex(8)
    fine = {"v": b"1", "schema": b"1-1", "port": b"40200"}
    announcement = _raw_announcement(f"crashed-{secrets.token_hex(3)}",
                                     _txt(**fine, key_id=crashed.encode()), 40_200, host_ttl_s=1)
    await browser.start()
    try:
        deadline = time.monotonic() + DEADLINE_S
        while crashed not in {c.key_id for c in browser.candidates()}:
            if time.monotonic() > deadline:
                pytest.fail("the announcement was never listed")
            _multicast(announcement)
            await asyncio.sleep(0.25)
        await _until(lambda: browser.rejections["unresolved"] >= 1,
                     "a refresh to find its records expired and unanswered")
        now_s[0] += 29.0
        assert crashed in {c.key_id for c in browser.candidates()}
        now_s[0] += 2.0
        assert crashed not in {c.key_id for c in browser.candidates()}
    finally:
        await browser.stop()
