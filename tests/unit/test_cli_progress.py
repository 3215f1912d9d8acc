"""The ingest progress bar: drawn from the live report on a terminal, absent otherwise."""

from __future__ import annotations

import asyncio

import pytest

from node.cli.node_commands import progress_of
from node.ingest.pipeline import IngestReport


def test_the_bar_follows_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    async def ingest() -> None:
        report = IngestReport()
        async with progress_of(report, show=True):
            report.lines_read += 3000
            report.events_stored += 2700

    asyncio.run(ingest())
    err = capsys.readouterr().err
    assert "lines" in err and "2,700 events stored" in err


def test_no_bar_when_not_shown(capsys: pytest.CaptureFixture[str]) -> None:
    async def ingest() -> None:
        report = IngestReport()
        async with progress_of(report, show=False):  # a shown bar draws at its end anyway
            report.lines_read += 3000

    asyncio.run(ingest())
    assert capsys.readouterr().err == ""
