"""--log-format json: one JSON object per log line, exceptions included."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from node.cli.logs import configure_logging


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_time_level_logger_message_and_exception(
        restore_root: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(1, "json")
    log = logging.getLogger("federation.service")
    log.info("answered %s from %s", "SmtpTargetSeen", "bravo")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["message"] == "answered SmtpTargetSeen from bravo"
    assert lines[0]["level"] == "info" and lines[0]["logger"] == "federation.service"
    assert lines[0]["time"].endswith("Z")
    assert "ValueError: boom" in lines[1]["exception"]


def test_text_is_the_default_and_warning_the_default_level(
        restore_root: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(0, "text")
    logging.getLogger("x").info("hidden")
    logging.getLogger("x").warning("shown")
    err = capsys.readouterr().err
    assert "hidden" not in err and "WARNING x: shown" in err
