"""The privacy seam shows in the imports: `node` never reaches for the network layer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import REPO

FORBIDDEN_IN_NODE = ("federation", "grpc", "google.protobuf")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    "path", sorted((REPO / "node").rglob("*.py")), ids=lambda p: str(p.relative_to(REPO))
)
def test_node_module_does_not_import_the_federation_or_grpc(path: Path) -> None:
    bad = sorted(
        name for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN_IN_NODE)
    )
    assert not bad, f"{path.relative_to(REPO)} imports {bad}"


@pytest.mark.parametrize(
    "path", sorted((REPO / "node" / "store").rglob("*.py")) + [REPO / "node" / "event.py"],
    ids=lambda p: str(p.relative_to(REPO)))
def test_the_store_and_the_event_never_import_ingest(path: Path) -> None:
    bad = sorted(name for name in _imports(path)
                 if name == "node.ingest" or name.startswith("node.ingest."))
    assert not bad, f"{path.relative_to(REPO)} imports {bad}"
