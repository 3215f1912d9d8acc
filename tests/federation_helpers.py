"""Helpers for the federation suites: fake node data, signed requests, a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from federation.audit import AuditLog
from federation.config import ServerLimits
from federation.envelope import REQUEST_METADATA, Envelope, encode_envelope, sign_request
from federation.keys import NodeKey
from federation.ledger import Ledger
from federation.privacy import PrivacyPolicy
from federation.service import FederationService
from federation.trust import TrustStore
from federation.wire import Question, encode_question, method_of
from node.query import GroupSummary, SimhashSet, Thresholds, ValueAggregate

T0 = 1_772_442_600.0  # 2026-03-02T09:10:00Z
JA3 = "e7d705a3286e19ea42f587b344ee6865"
KEYSTROKE = 0x9F3C2A1B0E4D5C6F


def seen_value(value: str, count: int = 7, distinct: int = 3) -> ValueAggregate:
    """A stored value seen ``count`` times by ``distinct`` attackers, last at T0."""
    return ValueAggregate(value, count, distinct, int(T0 * 1e6) - 5_000_000_000, int(T0 * 1e6))


@dataclass
class FakeClock:
    """Seconds since the epoch, moved only by the test."""

    now: float = T0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeQuery:
    """A `NodeQuery` over fixed values (corp1.com, one JA3, one keystroke SimHash).

    It ignores the thresholds it is given, like a seam that forgot to apply
    them: what leaves the node is then decided by the snapshot alone.
    """

    smtp: list[ValueAggregate] = field(default_factory=lambda: [seen_value("corp1.com")])
    fingerprint_values: dict[str, list[ValueAggregate]] = field(
        default_factory=lambda: {"ja3": [seen_value(JA3)]})
    #: kind → [(simhash, sightings, distinct attackers)]
    simhash_values: dict[str, list[tuple[int, int, int]]] = field(
        default_factory=lambda: {"keystroke": [(KEYSTROKE, 4, 2)]})
    group_summaries: list[GroupSummary] = field(default_factory=list)
    refreshed: int = 0

    async def smtp_targets(self, thresholds: Thresholds) -> list[ValueAggregate]:
        self.refreshed += 1
        return list(self.smtp)

    async def fingerprints(self, thresholds: Thresholds) -> dict[str, list[ValueAggregate]]:
        return {k: list(v) for k, v in self.fingerprint_values.items()}

    async def simhashes(self, kind: str, thresholds: Thresholds) -> SimhashSet:
        stored = self.simhash_values.get(kind, [])
        return SimhashSet(np.array([h for h, _, _ in stored], dtype=np.uint64),
                          np.array([c for _, c, _ in stored], dtype=np.int64),
                          np.array([d for _, _, d in stored], dtype=np.int64))

    async def summaries(self, layer: str, thresholds: Thresholds) -> list[GroupSummary]:
        return [s for s in self.group_summaries if s.layer == layer]


class MemoryAudit(AuditLog):
    """An audit log that keeps its entries in a list (tests read them)."""

    def __init__(self) -> None:
        super().__init__(None)
        self.entries: list[dict[str, Any]] = []

    def record(self, **entry: Any) -> None:
        self.entries.append({"status": "OK", **entry})


@dataclass
class Node:
    """One answering node's parts, for servicer and server tests."""

    key: NodeKey
    service: FederationService
    query: FakeQuery
    clock: FakeClock


def make_node(trusted: list[NodeKey], *, policy: PrivacyPolicy | None = None,
              limits: ServerLimits | None = None, query: FakeQuery | None = None,
              name: str = "alpha", audit: AuditLog | None = None,
              ledger: Ledger | None = None) -> Node:
    """A service over ``query`` with its first snapshot taken (call from sync tests)."""
    key = NodeKey.generate()
    trust = TrustStore()
    for i, peer in enumerate(trusted):
        trust.add(f"peer{i}", f"127.0.0.1:{1000 + i}", peer.public.text)
    clock = FakeClock()
    query = query or FakeQuery()
    service = FederationService(key=key, name=name, trust=trust, query=query,
                                limits=limits or ServerLimits(),
                                policy=policy or PrivacyPolicy.local(),
                                audit=audit or AuditLog(None), ledger=ledger or Ledger(None),
                                clock=clock)
    asyncio.run(service.refresh())
    return Node(key, service, query, clock)


@dataclass(frozen=True)
class Signed:
    """A request as a client would send it."""

    method: str
    body: bytes
    envelope: Envelope
    digest: bytes

    @property
    def metadata(self) -> tuple[tuple[str, bytes], ...]:
        return ((REQUEST_METADATA, encode_envelope(self.envelope)),)


def signed_request(key: NodeKey, question: Question, *, now_s: float = T0,
                   schema_version: int = 1, body_version: int | None = None,
                   nonce: bytes | None = None, method: str | None = None) -> Signed:
    method = method or method_of(question)
    body = encode_question(question, schema_version if body_version is None else body_version)
    envelope, digest = sign_request(key, method, schema_version, body,
                                    now_ms=int(now_s * 1000), nonce=nonce)
    return Signed(method, body, envelope, digest)


def mail_line(ip: str, local_part: str, domain: str, honeypot: str = "mail-01",
              when: str = "2026-03-02T10:07:00+00:00") -> str:
    """An RFC 5424 relay line: ``ip`` sent mail to ``local_part@domain``."""
    return (f'<134>1 {when} {honeypot} smtp - rcpt_to [relay@55555'
            f' src="{ip}" value="<{local_part}@{domain}>"]')


def tls_line(ip: str, ja3: str, honeypot: str = "web-02",
             when: str = "2026-03-02T10:06:00+00:00") -> str:
    """An RFC 5424 relay line: ``ip`` sent a TLS ClientHello with this JA3."""
    return (f'<134>1 {when} {honeypot} sniffer - tls_client_hello [relay@55555'
            f' src_ip="{ip}" ja3="{ja3}"]')


Ask = Callable[[int, int], Awaitable[int]]


async def probe_hidden_value(ask: Ask, common: int, max_radius: int) -> int | None:
    """The review's attack: grow the radius around a common value until the count
    changes, then flip single bits to learn each bit of the value that made it change."""
    base = await ask(common, 0)
    for radius in range(1, max_radius + 1):
        if await ask(common, radius) > base:
            break
    else:
        return None
    at_radius = await ask(common, radius)
    differs = 0
    for bit in range(64):
        if await ask(common ^ (1 << bit), radius - 1) >= at_radius:
            differs |= 1 << bit
    return common ^ differs
