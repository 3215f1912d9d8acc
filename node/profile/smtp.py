"""SMTP targets: victim domains from mail honeypot events, local part dropped at once.

Normalisation of a domain (the same for stored targets and for questions):
strip blanks and dots at either end, lowercase, convert every label to its IDNA
A-label (IDNA 2003 nameprep + punycode, from the standard library, so all
nodes agree without a third-party table), then check the result is an LDH host
name of at most 253 octets with labels of 1-63 octets. Reserved TLDs
(`RESERVED_TLDS`) are dropped. A Unicode label that mixes Latin, Cyrillic or
Greek letters is a homograph trick and is rejected rather than converted.
"""

from __future__ import annotations

import encodings.idna
import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache

from node.profile.rejection import Normalised, Rejected

#: TLDs reserved by RFC 2606 / RFC 6761 / RFC 6762: never a real victim.
RESERVED_TLDS = frozenset({"invalid", "test", "localhost", "local", "example"})

#: Mail services and, per event kind, the field holding recipient address(es).
SMTP_SERVICES = frozenset({"smtp", "smtp_relay"})
RECIPIENT_FIELDS: Mapping[str, str] = {
    "rcpt_to": "value",
    "rcpt_denied": "value",
    "message_accepted": "rcpt_to",
}

#: Longest input looked at; anything longer is junk, not a domain.
_MAX_INPUT = 1024
_MAX_DOMAIN = 253
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_PREFIXES = ("rcpt to:", "mail from:")
_CONFUSABLE_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "GREEK"})


@lru_cache(maxsize=65536)
def normalise_domain(text: str) -> Normalised:
    """The canonical A-label form of a domain, or why it is not a target domain."""
    if len(text) > _MAX_INPUT:
        return Rejected("domain_too_long")
    domain = text.strip().translate(_DOTS).strip(".").lower()
    if not domain:
        return Rejected("empty_domain")
    if domain.startswith("["):
        return Rejected("address_literal")
    labels: list[str] = []
    for label in domain.split("."):
        converted = _a_label(label)
        if isinstance(converted, Rejected):
            return converted
        labels.append(converted)
    if len(labels) < 2:
        return Rejected("single_label_domain")
    tld = labels[-1]
    if tld.isdigit():
        return Rejected("not_a_host_name")
    if tld in RESERVED_TLDS:
        return Rejected("reserved_tld")
    result = ".".join(labels)
    if len(result) > _MAX_DOMAIN:
        return Rejected("domain_too_long")
    return result


@lru_cache(maxsize=65536)
def recipient_domain(address: str) -> Normalised:
    """Domain of one recipient address (``<a@b>``, ``RCPT TO:<a@b>``, ``a@b``)."""
    text = address.strip()
    if len(text) > _MAX_INPUT:
        return Rejected("address_too_long")
    lowered = text[:12].lower()
    for prefix in _PREFIXES:
        if lowered.startswith(prefix):
            text = text[len(prefix):].strip()
            break
    if text.startswith("<"):
        end = text.find(">")
        if end < 0:
            return Rejected("bad_address")
        text = text[1:end]
    else:
        text = text.split(None, 1)[0] if text else ""
    local, at, domain = text.rpartition("@")
    if not at or not local:
        return Rejected("bad_address")
    return normalise_domain(domain)


def split_recipients(value: str) -> list[str]:
    """Split a comma-joined recipient list, keeping commas inside ``<>`` or quotes."""
    if '"' not in value and "<@" not in value:  # no quoted local part, no source route
        return [p for p in (part.strip() for part in value.split(",")) if p]
    parts: list[str] = []
    depth, quoted, start = 0, False, 0
    for i, ch in enumerate(value):
        if ch == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            parts.append(value[start:i])
            start = i + 1
    parts.append(value[start:])
    return [p.strip() for p in parts if p.strip()]


def recipients(kind: str, service: str, fields: Mapping[str, str]) -> list[str]:
    """Raw recipient addresses an SMTP event names; empty for any other event."""
    name = RECIPIENT_FIELDS.get(kind)
    if name is None or service not in SMTP_SERVICES:
        return []
    value = fields.get(name)
    if not value:
        return []
    return split_recipients(value) if kind == "message_accepted" else [value]


def _a_label(label: str) -> Normalised:
    if not label:
        return Rejected("empty_label")
    if len(label) > 63:
        return Rejected("label_too_long")
    if label.isascii():
        if not _LDH_LABEL.fullmatch(label):
            return Rejected("bad_label")
        if label.startswith("xn--"):
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError:
                return Rejected("bad_a_label")
        return label
    if _mixes_confusable_scripts(label):
        return Rejected("mixed_script")
    try:
        ascii_label = encodings.idna.ToASCII(label).decode("ascii").lower()
    except (UnicodeError, ValueError):
        return Rejected("bad_idna")
    if len(ascii_label) > 63:
        return Rejected("label_too_long")
    if not _LDH_LABEL.fullmatch(ascii_label):
        return Rejected("bad_label")
    return ascii_label


def _mixes_confusable_scripts(label: str) -> bool:
    scripts: set[str] = set()
    for ch in label:
        if ch.isascii():
            if ch.isalpha():
                scripts.add("LATIN")
        elif ch.isalpha():
            scripts.add(unicodedata.name(ch, "UNKNOWN").split(" ", 1)[0])
    return len(scripts & _CONFUSABLE_SCRIPTS) > 1
