"""Helpers for the federation suites: fake node queries, signed requests, a fake clock."""

from __future__ import annotations

from dataclasses import dataclass, field

from federation.audit import AuditLog
from federation.config import ServerLimits
from federation.envelope import REQUEST_METADATA, Envelope, encode_envelope, sign_request
from federation.keys import NodeKey
from federation.privacy import PrivacyPolicy
from federation.service import FederationService
from federation.trust import TrustStore
from federation.wire import Question, encode_question, method_of
from node.query import MalformedQuery, NearAggregate, SeenAggregate

T0 = 1_772_442_600.0  # 2026-03-02T09:10:00Z
SEEN = SeenAggregate(True, 7, 3, int(T0 * 1e6) - 5_000_000_000, int(T0 * 1e6))


@dataclass
class FakeClock:
    """Seconds since the epoch, moved only by the test."""

    now: float = T0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeQuery:
    """A `NodeQuery` answering fixed aggregates and recording what it was asked."""

    seen: SeenAggregate = SEEN
    near: NearAggregate = field(default_factory=lambda: NearAggregate(True, 2, 4))
    fail_with: Exception | None = None
    asked: list[tuple[str, ...]] = field(default_factory=list)

    async def smtp_target(self, domain: str) -> SeenAggregate:
        self.asked.append(("smtp", domain))
        if self.fail_with is not None:
            raise self.fail_with
        return self.seen

    async def fingerprint(self, kind: str, value: str) -> SeenAggregate:
        self.asked.append(("fingerprint", kind, value))
        if kind == "bogus":
            raise MalformedQuery("unknown fingerprint kind 'bogus'")
        return self.seen

    async def simhash_near(self, kind: str, simhash: int, max_distance: int) -> NearAggregate:
        self.asked.append(("simhash", kind))
        return self.near


@dataclass
class Node:
    """One answering node's parts, for servicer and server tests."""

    key: NodeKey
    service: FederationService
    query: FakeQuery
    clock: FakeClock


def make_node(trusted: list[NodeKey], *, policy: PrivacyPolicy | None = None,
              limits: ServerLimits | None = None, query: FakeQuery | None = None,
              name: str = "alpha", audit: AuditLog | None = None) -> Node:
    key = NodeKey.generate()
    trust = TrustStore()
    for i, peer in enumerate(trusted):
        trust.add(f"peer{i}", f"127.0.0.1:{1000 + i}", peer.public.text)
    clock = FakeClock()
    query = query or FakeQuery()
    service = FederationService(key=key, name=name, trust=trust, query=query,
                                limits=limits or ServerLimits(),
                                policy=policy or PrivacyPolicy.local(),
                                audit=audit or AuditLog(None), clock=clock)
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
