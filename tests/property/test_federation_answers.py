"""Property: no answer's bytes carry an observation IP, mail local-part or honeypot name."""

from __future__ import annotations

import asyncio
import ipaddress
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from federation.audit import AuditLog
from federation.config import ServerLimits
from federation.keys import NodeKey
from federation.ledger import Ledger
from federation.privacy import PrivacyPolicy
from federation.service import FederationService
from federation.trust import TrustStore
from federation.wire import (
    SMTP_TARGET_SEEN,
    FingerprintQuestion,
    NodeInfoQuestion,
    Question,
    SeenAnswer,
    SimhashQuestion,
    SmtpQuestion,
    decode_answer,
)
from node.query import StoreQuery
from tests.federation_helpers import T0, FakeClock, mail_line, signed_request, tls_line
from tests.integration.federation_nodes import ingest

ASKER = NodeKey.generate()
DOMAINS = ("corp1.com", "victim-co.com", "example.org", "mail.bank.co.uk")
JA3S = ("e7d705a3286e19ea42f587b344ee6865", "92674389fa1e47a27ddd8d9b63ecd42b")

sightings = st.lists(st.tuples(
    st.integers(0x01000000, 0xDFFFFFFF).map(lambda n: str(ipaddress.IPv4Address(n))),
    st.from_regex(r"[a-z][a-z0-9.]{5,14}", fullmatch=True),
    st.sampled_from(DOMAINS),
    st.from_regex(r"hp-[a-z]{6,10}", fullmatch=True),
    st.sampled_from(JA3S),
), min_size=1, max_size=8)


async def _answers(records: list[tuple[str, str, str, str, str]], home: Path) -> list[bytes]:
    log = home / "sensor.log"
    home.mkdir()
    log.write_text("".join(
        mail_line(ip, local, domain, honeypot) + "\n" + tls_line(ip, ja3, honeypot) + "\n"
        for ip, local, domain, honeypot, ja3 in records), encoding="utf-8")
    store = await ingest(home / "node", [log])
    try:
        trust = TrustStore()
        trust.add("asker", "127.0.0.1:1", ASKER.public.text)
        service = FederationService(key=NodeKey.generate(), name="alpha", trust=trust,
                                    query=StoreQuery(store), limits=ServerLimits(),
                                    policy=PrivacyPolicy.local(), audit=AuditLog(None),
                                    ledger=Ledger(None), clock=FakeClock())
        await service.refresh()
        questions: list[Question] = [NodeInfoQuestion(), *map(SmtpQuestion, DOMAINS),
                                     *(FingerprintQuestion("ja3", v) for v in JA3S),
                                     SimhashQuestion("mail_body", 0x9F3C2A1B0E4D5C6F, 16),
                                     SimhashQuestion("keystroke", 0x9F3C2A1B0E4D5C6F, 16)]
        out = []
        for question in questions:
            request = signed_request(ASKER, question, now_s=T0)
            reply = await service.handle(request.method, request.body, request.metadata)
            out += [reply.body, reply.envelope]
        return out
    finally:
        await store.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=sightings)
def test_no_answer_contains_an_observation_ip_local_part_or_honeypot(
        records: list[tuple[str, str, str, str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        answers = asyncio.run(_answers(records, Path(tmp) / "home"))
    seen_domains = {domain for _, _, domain, _, _ in records}
    assert len(answers) == 2 * (1 + len(DOMAINS) + len(JA3S) + 2)
    for ip, local, _, honeypot, _ in records:
        packed = ipaddress.IPv4Address(ip).packed
        for blob in answers:
            assert ip.encode() not in blob
            assert local.encode() not in blob
            assert honeypot.encode() not in blob
        for body in answers[0::2]:
            assert packed not in body
    for index, domain in enumerate(DOMAINS, start=1):  # the answers do say what was seen
        _, answer = decode_answer(SMTP_TARGET_SEEN, answers[2 * index])
        assert isinstance(answer, SeenAnswer) and answer.seen.seen == (domain in seen_domains)
