"""Client and server fingerprints, validated strictly per type (FORMATS.md shapes).

A value is lowercased and must then match its type's shape exactly; anything
else is rejected with a reason and not stored. Absent values (empty, ``-``)
and the all-zero JARM (the port spoke no TLS) are no signal: ignored, not
rejected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from node.profile.rejection import Rejected

CLIENT: Final = "client"
SERVER: Final = "server"


@dataclass(frozen=True, slots=True)
class FingerprintType:
    """One fingerprint algorithm: its shape, which side it describes, its version.

    ``version`` names the algorithm definition the stored value follows; it is
    bumped when the definition changes (e.g. a JA4 revision) so old and new
    values are never compared as equal.
    """

    name: str
    side: str
    version: int
    shape: re.Pattern[str]
    lowercase: bool = True


_HEX32 = re.compile(r"[0-9a-f]{32}")
_JA4_VERSIONS = "13|12|11|10|s3|s2|d1|d2|d3|00"
_JA4 = re.compile(
    rf"[tqd](?:{_JA4_VERSIONS})[di]\d\d\d\d[0-9a-z]{{2}}_[0-9a-f]{{12}}_[0-9a-f]{{12}}"
)
_JA4H = re.compile(r"[0-9a-z]{12}(?:_[0-9a-f]{12}){1,3}")
# RFC 4253 §4.2: "SSH-protoversion-softwareversion SP comments", printable US-ASCII, ≤ 255.
_SSH_BANNER = re.compile(r"SSH-[!-~]+(?: [ -~]*)?")

TYPES: Mapping[str, FingerprintType] = {
    t.name: t
    for t in (
        FingerprintType("ja3", CLIENT, 1, _HEX32),
        FingerprintType("ja4", CLIENT, 1, _JA4),
        FingerprintType("ja4h", CLIENT, 1, _JA4H),
        FingerprintType("hassh", CLIENT, 1, _HEX32),
        FingerprintType("ssh_banner", CLIENT, 1, _SSH_BANNER, lowercase=False),
        FingerprintType("jarm", SERVER, 1, re.compile(r"[0-9a-f]{62}")),
        FingerprintType("hassh_server", SERVER, 1, _HEX32),
        FingerprintType("tcpfp", SERVER, 1, _HEX32),
        FingerprintType("tls_cert", SERVER, 1, re.compile(r"[0-9a-f]{64}")),
        FingerprintType("ssh_server_banner", SERVER, 1, _SSH_BANNER, lowercase=False),
    )
}

#: Event kind → ((event field, fingerprint type), ...). Kinds not listed carry none.
EVENT_FINGERPRINTS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "tls_client_hello": (("ja3", "ja3"), ("ja4", "ja4")),
    "tls_session": (("ja3", "ja3"), ("ja4", "ja4")),
    "quic_client_hello": (("ja4_quic", "ja4"), ("ja4", "ja4")),
    "http_request_fingerprint": (("ja4h", "ja4h"),),
    "ssh_client_banner": (("ssh_version", "ssh_banner"), ("hassh", "hassh")),
    "ssh_client_kex": (("hassh", "hassh"),),
    "client_version": (("ssh_version", "ssh_banner"),),  # Cowrie
    "client_kex": (("hassh", "hassh"),),  # Cowrie
    "jarm_fingerprint": (("jarm_hash", "jarm"),),
    "hassh_fingerprint": (
        ("hassh_server_hash", "hassh_server"), ("ssh_banner", "ssh_server_banner"),
    ),
    "tcpfp_fingerprint": (("tcpfp_hash", "tcpfp"),),
    "tls_certificate": (("cert_sha256", "tls_cert"),),
}

_ABSENT = frozenset({"", "-"})
_NO_TLS_JARM = "0" * 62
_MAX_BANNER = 255


@lru_cache(maxsize=65536)
def validate_fingerprint(kind: str, raw: str) -> str | Rejected | None:
    """Canonical value of a fingerprint, a `Rejected` reason, or None for no signal."""
    spec = TYPES.get(kind)
    if spec is None:
        return Rejected("unknown_fingerprint_kind")
    value = raw.strip()
    if value in _ABSENT:
        return None
    if spec.lowercase:
        value = value.lower()
    elif len(value) > _MAX_BANNER:
        return Rejected(f"{kind}:too_long")
    if not spec.shape.fullmatch(value):
        return Rejected(f"{kind}:bad_format")
    if kind == "jarm" and value == _NO_TLS_JARM:
        return None
    return value
