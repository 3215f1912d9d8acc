"""The normalised event every sensor line is turned into."""

from __future__ import annotations

import hashlib
from typing import NamedTuple

#: Names of the source formats, stored with each event.
FORMAT_RFC5424 = "rfc5424"
FORMAT_COLLECTOR = "collector"
FORMAT_COWRIE = "cowrie"


class Event(NamedTuple):
    """One sensor event, normalised.

    A NamedTuple rather than a dataclass: ingest builds a million of these a
    minute and tuple construction is several times cheaper.

    - ``key``: 16-byte stable identity (see `event_key`); re-ingesting the same
      line yields the same key, which is what makes ingest idempotent.
    - ``time_us``: UTC microseconds since the Unix epoch.
    - ``sensor``: honeypot ("decky") name, ``""`` when the line names none.
    - ``service``: the sensor service (``smtp``, ``ssh``, ``bash`` …).
    - ``kind``: event type (DECNET MSGID / ``event_type``, or the Cowrie
      eventid mapped to a DECNET-style name, e.g. ``login_failed``).
    - ``src_ip``: the attacker address in canonical text form, or ``None``.
    - ``fields``: typed fields as strings, exactly as the sensor wrote them
      except for renames documented in docs/events.md.
    - ``source_format``: one of the ``FORMAT_*`` names.
    """

    key: bytes
    time_us: int
    sensor: str
    service: str
    kind: str
    src_ip: str | None
    fields: dict[str, str]
    source_format: str


class LineRejected(ValueError):
    """A line that cannot become an event; ``reason`` is a short stable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def event_key(canonical_line: bytes, time_us: int) -> bytes:
    """Stable 16-byte key of an event: its time, then a hash of the line that carried it.

    The canonical line is the sensor's original record with trailing line
    breaks removed (for collector JSON: its embedded ``raw_line`` when present,
    so the same event seen through syslog and through the collector is one
    event). Byte-identical records are the same event.

    The big-endian time prefix is what keeps ingest fast on a large store:
    logs arrive roughly in time order, so new keys land at the right edge of
    the unique index instead of dirtying pages all over it on every commit.
    """
    digest = _KEY_HASH.copy()  # copying the keyed state is twice as fast as a new hasher
    digest.update(canonical_line)
    return (time_us + _TIME_BIAS).to_bytes(8, "big") + digest.digest()


_TIME_BIAS = 1 << 63  # maps signed microseconds onto unsigned, order-preserving
_KEY_HASH = hashlib.blake2b(digest_size=8, person=b"decnet-fed-ev1")
