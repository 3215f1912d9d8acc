"""docs/configuration.md is the settings' own documentation, complete and current."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from federation.config_reference import SECTIONS, render_reference
from node.config import NODE_SECTIONS, SHARED_SECTIONS, field_docs

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_committed_reference_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render_reference(), (
        "regenerate: python -m federation.config_reference > docs/configuration.md")


def test_every_section_a_config_file_may_hold_is_documented() -> None:
    assert set(SECTIONS) == set(NODE_SECTIONS) | SHARED_SECTIONS


def test_every_setting_says_what_it_does() -> None:
    for section, (_, settings) in SECTIONS.items():
        docs = field_docs(type(settings))
        undocumented = [f.name for f in dataclasses.fields(settings) if not docs.get(f.name)]
        assert undocumented == [], f"[{section}] settings without a #: comment"
