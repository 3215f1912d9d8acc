"""Human output for the CLI: aligned tables and a few formatters.

Every cell goes through `printable`: tables show peer- and attacker-supplied
strings (a peer's node name, a refusal's text, a logged banner), and a
control character in one must never reach the terminal as a control
character (ESC sequences retitle or clear it, BEL rings). JSON output is
escaped by the encoder.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import orjson

#: C0 and C1 controls, DEL, and the bidirectional overrides and isolates
#: (they reorder what is shown around them).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every control character escaped as ``\\xNN`` or ``\\uNNNN``."""
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def print_json(value: Any, out: TextIO | None = None) -> None:
    """Pretty JSON on stdout, keys in the order given."""
    (out or sys.stdout).write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
                out: TextIO | None = None) -> None:
    """Left-aligned columns, numbers right-aligned, two spaces apart."""
    stream = out or sys.stdout
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, text in enumerate(row):
            widths[i] = max(widths[i], len(text))
    numeric = [all(isinstance(row[i], int | float) for row in rows) and bool(rows)
               for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric,
                                                                         strict=True)]
        return "  ".join(parts).rstrip()

    stream.write(line(headers) + "\n")
    for row in cells:
        stream.write(line(row) + "\n")


def print_pairs(pairs: Sequence[tuple[str, Any]], out: TextIO | None = None) -> None:
    """``label  value`` lines with the labels padded to one width."""
    stream = out or sys.stdout
    width = max((len(label) for label, _ in pairs), default=0)
    for label, value in pairs:
        stream.write(f"{label.ljust(width)}  {_cell(value)}\n")


def table_time(iso: object) -> str:
    """A time in a table: UTC to the second, ``2026-03-02T08:14:05`` (JSON keeps the full
    RFC 3339 form with its ``Z``); ``-`` for none."""
    return str(iso)[:19] if iso else "-"


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """``1 peer``, ``2 peers``, with thousands separators."""
    return f"{count:,} {noun if count == 1 else plural_form or noun + 's'}"


def format_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _cell(value: Any) -> str:
    if isinstance(value, list | tuple):
        return printable(",".join(str(v) for v in value))
    return "" if value is None else printable(str(value))
