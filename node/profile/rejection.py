"""Per-field rejections: a malformed value is dropped with a reason, the event is kept."""

from __future__ import annotations

from typing import NamedTuple


class Rejected(NamedTuple):
    """Why a field value was not stored; ``reason`` is a short stable code."""

    reason: str


#: A normaliser's result: the canonical value, or why there is none.
Normalised = str | Rejected
