"""Timestamp parsing: RFC 3339 with offsets to UTC microseconds, the collector's zoneless UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from node.event import LineRejected
from node.ingest.timestamps import format_time_us, parse_time_us

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-03-02T08:14:05.120334+00:00", datetime(2026, 3, 2, 8, 14, 5, 120334, UTC)),
    ("2026-03-02T08:14:05+00:00", datetime(2026, 3, 2, 8, 14, 5, tzinfo=UTC)),
    ("2026-03-02T08:14:05Z", datetime(2026, 3, 2, 8, 14, 5, tzinfo=UTC)),
    ("2026-03-02T08:14:05.5Z", datetime(2026, 3, 2, 8, 14, 5, 500000, UTC)),
    ("2026-03-02T08:14:05.19+00:00", datetime(2026, 3, 2, 8, 14, 5, 190000, UTC)),
    ("2026-03-02T08:14:05.000001Z", datetime(2026, 3, 2, 8, 14, 5, 1, UTC)),
    ("2026-03-02T08:14:05.1234+00:00", datetime(2026, 3, 2, 8, 14, 5, 123400, UTC)),
    # more than 6 fraction digits: truncated to microseconds, not rounded
    ("2026-03-02T08:14:05.1234567Z", datetime(2026, 3, 2, 8, 14, 5, 123456, UTC)),
    ("2026-03-02T08:14:05.999999999Z", datetime(2026, 3, 2, 8, 14, 5, 999999, UTC)),
    # offsets are converted to UTC, across day boundaries too
    ("2026-03-02T10:14:05+02:00", datetime(2026, 3, 2, 8, 14, 5, tzinfo=UTC)),
    ("2026-03-02T13:44:05.25+05:30", datetime(2026, 3, 2, 8, 14, 5, 250000, UTC)),
    ("2026-03-01T22:00:00-10:00", datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)),
    ("2026-03-02T00:30:00+01:00", datetime(2026, 3, 1, 23, 30, 0, tzinfo=UTC)),
    ("2024-02-29T23:59:59.999999-00:00", datetime(2024, 2, 29, 23, 59, 59, 999999, UTC)),
    # RFC 3339 §5.6: T and Z may be lower case
    ("2026-03-02T08:14:05z", datetime(2026, 3, 2, 8, 14, 5, tzinfo=UTC)),
    ("2026-03-02t08:14:05.5z", datetime(2026, 3, 2, 8, 14, 5, 500000, UTC)),
    # before the epoch
    ("1969-12-31T23:59:59.5Z", datetime(1969, 12, 31, 23, 59, 59, 500000, UTC)),
])
def test_rfc3339_timestamps_become_utc_microseconds(text: str, expected: datetime) -> None:
    assert parse_time_us(text, zone_required=True) == _us(expected)
    assert parse_time_us(text, zone_required=False) == _us(expected)


def test_collector_zoneless_timestamp_is_utc() -> None:
    expected = _us(datetime(2026, 3, 2, 8, 14, 5, tzinfo=UTC))
    assert parse_time_us("2026-03-02 08:14:05", zone_required=False) == expected
    assert parse_time_us("2026-03-02T08:14:05", zone_required=False) == expected
    assert parse_time_us("2026-03-02 08:14:05.25", zone_required=False) == expected + 250000


@pytest.mark.parametrize("text", [
    "2026-03-02 08:14:05", "2026-03-02T08:14:05", "2026-03-02T08:14:05.120334",
])
def test_timestamp_without_offset_is_rejected_where_a_zone_is_required(text: str) -> None:
    with pytest.raises(LineRejected) as info:
        parse_time_us(text, zone_required=True)
    assert info.value.reason == "bad_timestamp"
    assert "offset" in info.value.detail


def test_extreme_years_with_offsets_do_not_overflow() -> None:
    low = parse_time_us("0001-01-01T00:00:00+01:00", zone_required=True)
    high = parse_time_us("9999-12-31T23:59:59-01:00", zone_required=True)
    assert low == _us(datetime(1, 1, 1, tzinfo=UTC)) - 3600 * 10**6
    assert high == _us(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)) + 3600 * 10**6


@pytest.mark.parametrize("text", [
    "", "-", "now", "1772439245", "2026-03-02", "08:14:05Z", "2026-03-02T08:14Z",
    "2026-03-02T08:14:05.Z", "2026-03-02T08:14:05.1234567890Z", "2026-03-02T08:14:05+00",
    "2026-03-02T08:14:05+0000", "2026-03-02T08:14:05 +00:00", " 2026-03-02T08:14:05Z",
    "2026-03-02T08:14:05Z ", "2026-03-02T08:14:05ZZ", "2026-03-02T08:14:05UTC",
    "2026-13-02T08:14:05Z", "2026-00-02T08:14:05Z", "2026-02-29T08:14:05Z",
    "2026-03-32T08:14:05Z", "2026-03-02T24:00:00Z", "2026-03-02T08:60:05Z",
    "2026-03-02T23:59:60Z", "2026-03-02T08:14:05+24:00", "2026-03-02T08:14:05+12:60",
    "2026/03/02T08:14:05Z", "26-03-02T08:14:05Z", "+2026-03-02T08:14:05Z",
    "2026-03-02_08:14:05Z", "２０２６-03-02T08:14:05Z", "٢٠٢٦-03-02T08:14:05Z",
    "Mon, 02 Mar 2026 08:14:05 +0000",
])
def test_unparseable_timestamps_are_rejected(text: str) -> None:
    for zone_required in (True, False):
        with pytest.raises(LineRejected) as info:
            parse_time_us(text, zone_required=zone_required)
        assert info.value.reason == "bad_timestamp"


@pytest.mark.parametrize("moment", [
    datetime(2026, 3, 2, 8, 14, 5, 120334, UTC),
    datetime(2026, 3, 2, 8, 14, 5, tzinfo=UTC),
    datetime(1969, 7, 20, 20, 17, 40, 1, UTC),
    datetime(2026, 3, 2, 10, 14, 5, 5, timezone(timedelta(hours=2))),
])
def test_formatted_time_is_utc_with_z_and_parses_back(moment: datetime) -> None:
    text = format_time_us(_us(moment))
    assert text.endswith("Z")
    assert parse_time_us(text, zone_required=True) == _us(moment)
    assert datetime.fromisoformat(text) == moment


def test_formatted_time_example() -> None:
    time_us = _us(datetime(2026, 3, 2, 8, 14, 5, 120334, UTC))
    assert format_time_us(time_us) == "2026-03-02T08:14:05.120334Z"
