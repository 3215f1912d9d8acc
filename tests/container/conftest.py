"""The container suite: skipped, with the reason, wherever podman cannot run containers."""

from __future__ import annotations

import pytest

from tests.container.podman import IMAGE, build_image, unusable_reason


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "container: builds and runs the image with podman")


@pytest.fixture(scope="session")
def image() -> str:
    """The decnet-fed image, built once per session (the base image is cached)."""
    reason = unusable_reason()
    if reason is None:
        reason = build_image() or None
    if reason is not None:
        pytest.skip(f"container tests need a working podman: {reason}")
    return IMAGE
