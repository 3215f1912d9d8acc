"""SMTP target rules: domain after the last @, local part dropped, IDNA, reserved TLDs."""

from __future__ import annotations

import pytest

from node.profile.rejection import Rejected
from node.profile.smtp import (
    normalise_domain,
    recipient_domain,
    recipients,
    split_recipients,
)


@pytest.mark.parametrize(("address", "domain"), [
    ("<jane@victim-co.com>", "victim-co.com"),
    ("RCPT TO:<ops@Victim-Co.com>", "victim-co.com"),
    ("rcpt to: <ops@VICTIM-CO.COM>", "victim-co.com"),
    ("jane@victim-co.com", "victim-co.com"),
    ("<hr@Bücher.de>", "xn--bcher-kva.de"),
    ("<a@b@c.example.org>", "c.example.org"),
    ('"x@y"@one.org', "one.org"),
    ("<jane@.victim-co.com.>", "victim-co.com"),
    ("<x@xn--bcher-kva.de>", "xn--bcher-kva.de"),
    ("<x@例え.jp>", "xn--r8jz45g.jp"),
])
def test_recipient_domain_is_normalised(address: str, domain: str) -> None:
    assert recipient_domain(address) == domain


@pytest.mark.parametrize(("address", "reason"), [
    ("<jane@victim.test>", "reserved_tld"),
    ("<jane@host.invalid>", "reserved_tld"),
    ("<jane@localhost>", "single_label_domain"),
    ("<jane@printer.local>", "reserved_tld"),
    ("<jane@mail.example>", "reserved_tld"),
    ("<jane@my.localhost>", "reserved_tld"),
    ("<@victim-co.com>", "bad_address"),
    ("jane", "bad_address"),
    ("<jane@>", "empty_domain"),
    ("<jane@[192.0.2.1]>", "address_literal"),
    ("<jane@a..b.com>", "empty_label"),
    ("<jane@-bad.com>", "bad_label"),
    ("<jane@bad_label.com>", "bad_label"),
    ("<jane@1.2.3.4>", "not_a_host_name"),
    ("<jane@xn--zz.com>", "bad_a_label"),
    ("<jane@раураl.com>", "mixed_script"),  # Cyrillic р/а/у + Latin l
    ("<jane@" + "a" * 64 + ".com>", "label_too_long"),
    ("<jane@" + "a." * 130 + "com>", "domain_too_long"),
    ("x" * 5000, "address_too_long"),
    ("<jane@victim-co.com", "bad_address"),
])
def test_bad_addresses_are_rejected_with_a_reason(address: str, reason: str) -> None:
    assert recipient_domain(address) == Rejected(reason)


def test_normalising_a_normalised_domain_changes_nothing() -> None:
    for domain in ("xn--bcher-kva.de", "victim-co.com", "xn--r8jz45g.jp"):
        assert normalise_domain(domain) == domain


def test_whole_script_unicode_labels_are_allowed() -> None:
    assert normalise_domain("пример.рф") == "xn--e1afmkfd.xn--p1ai"


def test_message_accepted_names_each_recipient() -> None:
    fields = {"rcpt_to": "<x@one.org>,<y@two.org>"}
    assert recipients("message_accepted", "smtp_relay", fields) == ["<x@one.org>", "<y@two.org>"]


def test_rcpt_events_use_the_value_field_and_only_mail_services() -> None:
    assert recipients("rcpt_to", "smtp", {"value": "<a@b.com>"}) == ["<a@b.com>"]
    assert recipients("rcpt_denied", "smtp", {"value": "RCPT TO:<a@b.com>"}) == \
        ["RCPT TO:<a@b.com>"]
    assert recipients("rcpt_to", "http", {"value": "<a@b.com>"}) == []
    assert recipients("auth_attempt", "smtp", {"value": "<a@b.com>"}) == []


def test_split_keeps_commas_inside_quotes_and_brackets() -> None:
    assert split_recipients('<x@one.org>, "a,b"@c.org,<"q,r"@d.org>') == \
        ["<x@one.org>", '"a,b"@c.org', '<"q,r"@d.org>']


def test_split_keeps_source_routes_whole() -> None:
    assert split_recipients("<@relay.one,@relay.two:u@d.com>, <v@e.com>") == \
        ["<@relay.one,@relay.two:u@d.com>", "<v@e.com>"]
    assert [recipient_domain(a) for a in split_recipients("<@r.one,@r.two:u@d.com>,x@e.org")] \
        == ["d.com", "e.org"]
