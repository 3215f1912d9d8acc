"""Federation settings load from the node's config file and env, and the seam shows in imports."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
from pathlib import Path

import pytest

from federation.config import FederationSettings, ServerLimits, load_federation_config
from federation.gossip.config import GossipConfig, load_discovery_config, load_gossip_config
from federation.gossip.discovery import DiscoveryConfig
from federation.privacy import PrivacyPolicy
from node.config import (
    NODE_SECTIONS,
    SHARED_SECTIONS,
    field_docs,
    load_config,
    render_config,
)
from node.errors import ConfigError
from tests.support import REPO


def test_defaults_without_sections(tmp_path: Path) -> None:
    node = load_config(tmp_path, env={})
    fed = load_federation_config(node)
    assert (fed.settings, fed.limits, fed.privacy) == (
        FederationSettings(), ServerLimits(), PrivacyPolicy())
    assert load_gossip_config(node, env={}) == GossipConfig()
    assert load_discovery_config(node, env={}) == DiscoveryConfig()
    assert fed.key_path == tmp_path / "node.key"
    assert fed.limits.clock_window_s == 120 and fed.privacy.time_granularity_s == 86400


def test_toml_sections_and_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.toml").write_text(
        '[privacy]\nmin_count = 3\n[limits]\nclock_window_s = 30\n'
        '[federation]\nplaintext = true\n', encoding="utf-8")
    monkeypatch.setenv("DECNET_FED_PRIVACY_RATE_PER_S", "7.5")
    fed = load_federation_config(load_config(tmp_path, env={}))
    assert fed.privacy.min_count == 3 and fed.privacy.rate_per_s == 7.5
    assert fed.limits.clock_window_ms == 30_000 and fed.settings.plaintext


@pytest.mark.parametrize(("toml", "field"), [
    ("[privacy]\nmin_count = 0\n", "min_count"),
    ("[limits]\nclock_window_s = 'x'\n", "clock_window_s"),
    ("[federation]\nquery_deadline_s = -1\n", "query_deadline_s"),
    ("[privacy]\nbogus = 1\n", "bogus"),
    ("[federation]\nlisten = 'bogus'\n",
     r"federation\.listen: .* \(from .*config\.toml \[federation\] listen\)"),
    ("[limits]\nrequest_timeout_s = inf\n", "request_timeout_s"),
    ("[limits]\nmax_streams_per_peer = 300\n", "max_streams_per_peer"),
])
def test_bad_values_name_their_field(tmp_path: Path, toml: str, field: str) -> None:
    (tmp_path / "config.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=field):
        load_federation_config(load_config(tmp_path, env={}))


def test_the_federation_loads_exactly_the_shared_sections() -> None:
    source = (inspect.getsource(load_federation_config) + inspect.getsource(load_gossip_config)
              + inspect.getsource(load_discovery_config))
    assert set(re.findall(r'load_section\(node, "(\w+)"', source)) == SHARED_SECTIONS


def test_an_unknown_section_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[privcy]\nmin_count = 5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="privcy"):
        load_config(tmp_path, env={})


def test_a_bad_environment_value_names_the_variable(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DECNET_FED_PRIVACY_MIN_COUNT", "-1")
    with pytest.raises(ConfigError, match=r"privacy\.min_count: .*\$DECNET_FED_PRIVACY_MIN_COUNT"):
        load_federation_config(load_config(tmp_path))


def _node_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return {name for name in names if name == "node" or name.startswith("node.")}


#: Modules that put node and federation together for the operator (the CLI, its
#: report tables, the demo that builds whole nodes); they never sit on the path
#: a peer's question takes, which only ever reads `node.query`.
COMPOSITION = {"cli.py", "report.py", "demo.py"}


@pytest.mark.parametrize("path", sorted(p for p in (REPO / "federation").glob("*.py")
                                        if p.name not in COMPOSITION),
                         ids=lambda p: p.name)
def test_federation_reads_the_node_only_through_the_query_seam(path: Path) -> None:
    # node.hamming_index is a data structure over values the seam already
    # returned (it reads nothing of the node), shared with clustering.
    assert _node_imports(path) <= {"node.query", "node.config", "node.hamming_index"}


def test_rendered_block_uncommented_loads_as_the_defaults(tmp_path: Path) -> None:
    from federation.cli import render_federation_config

    setting = re.compile(r"# (\[\w+\]|\w+ = .*)$")  # a section or a setting, not a doc line
    block = "\n".join(match.group(1) for line in render_federation_config().splitlines()
                      if (match := setting.match(line)))
    (tmp_path / "config.toml").write_text(block, encoding="utf-8")
    node = load_config(tmp_path, env={})
    fed = load_federation_config(node)
    assert (fed.settings, fed.limits, fed.privacy) == (
        FederationSettings(), ServerLimits(), PrivacyPolicy())
    assert load_gossip_config(node, env={}) == GossipConfig()
    assert load_discovery_config(node, env={}) == DiscoveryConfig()


def test_every_setting_is_rendered_with_its_documentation() -> None:
    from federation.cli import render_federation_config

    rendered = render_config("n1") + render_federation_config()
    for cls in (FederationSettings, ServerLimits, PrivacyPolicy, *NODE_SECTIONS.values()):
        docs = field_docs(cls)
        for spec in dataclasses.fields(cls):
            assert spec.name in docs, f"{cls.__name__}.{spec.name} has no #: doc"
            assert docs[spec.name][0] in rendered
