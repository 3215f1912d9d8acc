"""Transcript shard lines become events; damaged ones are rejected with a reason."""

from __future__ import annotations

import pytest

from node.event import LineRejected
from node.ingest.detect import parse_line
from node.ingest.transcript import FORMAT_TRANSCRIPT, KIND_CHUNK, KIND_HEADER, KIND_TRUNCATED


def test_chunk_lines() -> None:
    event = parse_line(b'{"sid": "5f0c", "t": 1.204113, "ch": "i", "d": "w"}')
    assert (event.kind, event.src_ip, event.source_format) == (KIND_CHUNK, None, FORMAT_TRANSCRIPT)
    assert event.fields == {"sid": "5f0c", "t": "1.204113", "ch": "i", "d": "w"}


def test_header_lines_carry_the_start_time() -> None:
    event = parse_line(b'{"sid": "5f0c", "hdr": {"version": 2, "width": 120, "height": 40,'
                       b' "timestamp": 1772442600, "env": {"SHELL": "/bin/bash"}}}')
    assert event.kind == KIND_HEADER
    assert event.time_us == 1772442600_000000
    assert event.fields["width"] == "120"
    assert event.fields["env"] == '{"SHELL":"/bin/bash"}'


def test_truncation_sentinel() -> None:
    assert parse_line(b'{"sid": "5f0c", "trunc": true}').kind == KIND_TRUNCATED


def test_invalid_utf8_is_replaced_not_rejected() -> None:
    event = parse_line(b'{"sid": "5f0c", "t": 2.5, "ch": "o", "d": "\xff\xfeok"}')
    assert event.fields["d"] == "\ufffd\ufffdok"


def test_the_same_line_is_the_same_event() -> None:
    line = b'{"sid": "5f0c", "t": 1.5, "ch": "i", "d": "x"}'
    assert parse_line(line).key == parse_line(line).key
    assert parse_line(line).key != parse_line(line.replace(b"1.5", b"1.6")).key


@pytest.mark.parametrize("line", [
    b'{"sid": "", "t": 1, "ch": "i", "d": "x"}',
    b'{"sid": 5, "t": 1, "ch": "i", "d": "x"}',
    b'{"sid": "a", "t": -1, "ch": "i", "d": "x"}',
    b'{"sid": "a", "t": "1", "ch": "i", "d": "x"}',
    b'{"sid": "a", "t": true, "ch": "i", "d": "x"}',
    b'{"sid": "a", "t": 1, "ch": "x", "d": "x"}',
    b'{"sid": "a", "t": 1, "ch": "i", "d": 5}',
    b'{"sid": "a", "hdr": "v2"}',
    b'{"sid": "a", "trunc": false}',
    b'{"sid": "' + b"a" * 200 + b'", "trunc": true}',
])
def test_damaged_lines_are_rejected_as_bad_transcript(line: bytes) -> None:
    with pytest.raises(LineRejected) as caught:
        parse_line(line)
    assert caught.value.reason == "bad_transcript"


def test_truncated_json_with_bad_bytes_is_bad_json() -> None:
    with pytest.raises(LineRejected) as caught:
        parse_line(b'{"sid": "a", "t": 1, "ch": "i", "d": "\xff')
    assert caught.value.reason == "bad_json"
