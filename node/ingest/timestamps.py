"""Timestamp parsing: RFC 3339 (syslog, Cowrie) and the collector's zoneless form."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from node.event import LineRejected

# RFC 3339 date-time (RFC 5424 §6.2.3 restricts it to ≤ 6 fraction digits; we
# accept up to 9 and keep microseconds). The zone is optional only in the
# pattern: callers decide whether a missing zone means UTC or is an error.
# RFC 3339 §5.6 allows lower-case ``t``/``z``; offsets are at most 23:59.
_RFC3339 = re.compile(
    r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d{1,9})?(Z|z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


def parse_time_us(text: str, *, zone_required: bool) -> int:
    """Parse an RFC 3339 timestamp into UTC microseconds since the epoch.

    With ``zone_required=False`` a timestamp without offset is taken as UTC
    (the DECNET collector writes UTC without a zone).
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise LineRejected("bad_timestamp", text[:64])
    if match.group(1) is None and zone_required:
        raise LineRejected("bad_timestamp", f"no UTC offset: {text[:64]}")
    try:
        moment = datetime.fromisoformat(text.upper())  # fromisoformat wants upper-case T/Z
    except ValueError:
        raise LineRejected("bad_timestamp", text[:64]) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _ONE_US


def format_time_us(time_us: int) -> str:
    """ISO 8601 UTC text (``2026-03-02T08:14:05.120334Z``) of epoch microseconds."""
    moment = _EPOCH + timedelta(microseconds=time_us)
    return moment.isoformat().replace("+00:00", "Z")
