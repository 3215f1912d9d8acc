"""Per-line format detection."""

from __future__ import annotations

import pytest

from node.event import event_key
from node.ingest import LineRejected, parse_line

SYSLOG = b'<134>1 2026-03-02T08:14:05+00:00 mail-01 smtp - rcpt_to [relay@55555 src="192.0.2.7"]'
COWRIE = (b'{"eventid": "cowrie.login.failed", "src_ip": "192.0.2.8", '
          b'"timestamp": "2026-03-02T10:00:01Z", "username": "root", "password": "x"}')


@pytest.mark.parametrize("lead", [b"\xef\xbb\xbf", b" ", b"\t  ", b"\xef\xbb\xbf "])
def test_a_bom_or_indentation_before_a_record_is_ignored(lead: bytes) -> None:
    for record in (SYSLOG, COWRIE):
        assert parse_line(lead + record) == parse_line(record)


@pytest.mark.parametrize("line", [b"[1, 2]", b'"just a string"', b"[]"])
def test_json_that_is_not_an_object_is_a_shape_error(line: bytes) -> None:
    with pytest.raises(LineRejected) as caught:
        parse_line(line)
    assert caught.value.reason == "bad_json_shape"


@pytest.mark.parametrize("line", [b"hello world", b"   ", b"\xef\xbb\xbfplain text", b"42"])
def test_text_in_no_known_format_is_rejected_as_unknown(line: bytes) -> None:
    with pytest.raises(LineRejected) as caught:
        parse_line(line)
    assert caught.value.reason == "unknown_format"


def test_an_unknown_line_is_shown_as_text_never_as_a_bytes_literal() -> None:
    with pytest.raises(LineRejected) as caught:
        parse_line(b"garbage \xff\xfe line")
    assert caught.value.detail == "garbage \\xff\\xfe line"
    assert not caught.value.detail.startswith(("b'", 'b"'))


def test_event_keys_are_stable_across_versions() -> None:
    # Known vectors: a store written by any version must keep deduplicating.
    line = b"<134>1 2026-03-02T08:14:05+00:00 mail-01 smtp - rcpt_to - hi"
    assert event_key(line, 1772439245000000).hex() == "80064c062b958d40731eda21d99e37ba"
    assert event_key(b"", -1).hex() == "7fffffffffffffffaf130e6b8c02453f"
