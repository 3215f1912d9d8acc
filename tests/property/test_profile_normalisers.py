"""Normalisers never crash on arbitrary text, and normalising twice changes nothing."""

from __future__ import annotations

import ipaddress
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from node.profile.commands import PhaseRules
from node.profile.fingerprints import TYPES, validate_fingerprint
from node.profile.infrastructure import C2Endpoint, command_endpoints, normalise_host, normalise_url
from node.profile.ipv6 import EUI64, classify_ipv6
from node.profile.rejection import Rejected
from node.profile.smtp import normalise_domain, recipient_domain

_LDH = set(string.ascii_lowercase + string.digits + "-.")
_domainish = st.text(alphabet=st.sampled_from(list("abcXYZ-.éüßсаρ例0١ \u3002@<>")), max_size=40)
_labels = st.lists(st.text(alphabet=st.characters(categories=("Ll", "Lu", "Lo", "Nd")),
                           min_size=1, max_size=12), min_size=2, max_size=4)


@settings(deadline=None)
@given(st.one_of(st.text(), _domainish, _labels.map(".".join)))
def test_domains_normalise_to_ascii_host_names_idempotently(text: str) -> None:
    result = normalise_domain(text)
    if isinstance(result, Rejected):
        return
    assert set(result) <= _LDH
    assert len(result) <= 253
    assert normalise_domain(result) == result


@settings(deadline=None)
@given(st.text(), st.one_of(st.text(), _domainish))
def test_recipient_domain_never_crashes_and_drops_the_local_part(local: str, domain: str) -> None:
    result = recipient_domain(f"<{local}@{domain}>")
    plain = not any(c in domain for c in "<>@") and domain == domain.strip()
    if plain and local and ">" not in local and not isinstance(result, Rejected):
        assert result == normalise_domain(domain)
    recipient_domain(local)


@settings(deadline=None)
@given(st.sampled_from(sorted(TYPES)), st.text())
def test_fingerprint_validation_never_crashes_and_is_idempotent(kind: str, raw: str) -> None:
    result = validate_fingerprint(kind, raw)
    if isinstance(result, str):
        assert validate_fingerprint(kind, result) == result


@settings(deadline=None)
@given(st.binary(min_size=16, max_size=16))
def test_eui64_rule_holds_for_every_address(packed: bytes) -> None:
    leak = classify_ipv6(str(ipaddress.IPv6Address(packed)))
    iid = packed[8:]
    if iid[3:5] == b"\xff\xfe":
        assert leak.kind == EUI64
        assert leak.oui == ":".join(f"{b:02x}" for b in (iid[0] ^ 2, iid[1], iid[2]))
    else:
        assert leak.kind != EUI64


@settings(deadline=None)
@given(st.text())
def test_ipv6_classification_never_crashes(text: str) -> None:
    classify_ipv6(text)


_RULES = PhaseRules()
_shellish = st.text(alphabet=st.sampled_from(list("abcwgetnurl/:.;|&'\" -19\\>$()")), max_size=80)


@settings(deadline=None)
@given(st.one_of(st.text(), _shellish))
def test_command_rules_and_endpoint_extraction_never_crash(command: str) -> None:
    assert _RULES.classify(command)
    for endpoint in command_endpoints(command):
        if isinstance(endpoint, C2Endpoint):
            assert normalise_host(endpoint.host) == endpoint.host


@settings(deadline=None)
@given(st.text())
def test_urls_normalise_idempotently(text: str) -> None:
    first = normalise_url(text)
    if isinstance(first, C2Endpoint):
        assert normalise_url(first.url) == first


_shard_values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(),
                          st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))


@settings(deadline=None)
@given(st.dictionaries(st.sampled_from(["sid", "t", "ch", "d", "hdr", "trunc"]), _shard_values),
       st.binary(max_size=8))
def test_shard_lines_parse_or_are_rejected_never_crash(obj: dict[str, object],
                                                       junk: bytes) -> None:
    import orjson

    from node.event import LineRejected
    from node.ingest.detect import parse_line

    try:
        raw = orjson.dumps({"sid": "s", **obj})
    except TypeError:
        return
    for line in (raw, raw[:-1] + junk + b"}"):
        try:
            parse_line(line)
        except LineRejected:
            pass
