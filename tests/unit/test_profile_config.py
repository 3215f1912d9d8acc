"""Profile and enrichment settings load from TOML and env like every other section."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.config import load_config, render_config
from node.errors import ConfigError
from node.profile.profiler import profiler_from_config


def test_defaults_are_offline_safe(tmp_path: Path) -> None:
    config = load_config(tmp_path, {})
    assert config.enrichment.rir_paths == ()
    assert config.enrichment.ptr_enabled is True
    assert config.enrichment.ptr_timeout_s == 2.0
    assert config.profile.phase_rules_path == ""


def test_env_overrides(tmp_path: Path) -> None:
    config = load_config(tmp_path, {"DECNET_FED_ENRICHMENT_PTR_ENABLED": "off",
                                    "DECNET_FED_ENRICHMENT_PTR_CONCURRENCY": "4",
                                    "DECNET_FED_PROFILE_INTERNAL_HOSTS": "10.1.0.0/16"})
    assert config.enrichment.ptr_enabled is False
    assert config.enrichment.ptr_concurrency == 4
    assert config.profile.internal_hosts == ("10.1.0.0/16",)


def test_bad_values_name_their_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="enrichment.ptr_concurrency"):
        load_config(tmp_path, {"DECNET_FED_ENRICHMENT_PTR_CONCURRENCY": "0"})
    with pytest.raises(ConfigError, match="enrichment.ptr_enabled"):
        load_config(tmp_path, {"DECNET_FED_ENRICHMENT_PTR_ENABLED": "maybe"})


def test_lists_are_toml_arrays_and_comma_separated_in_the_environment(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[profile]\ninternal_hosts = ["10.1.0.0/16", "intranet"]\n', encoding="utf-8")
    assert load_config(tmp_path, {}).profile.internal_hosts == ("10.1.0.0/16", "intranet")
    env = {"DECNET_FED_ENRICHMENT_RIR_PATHS": "a.txt, b.txt,"}
    assert load_config(tmp_path, env).enrichment.rir_paths == ("a.txt", "b.txt")
    (tmp_path / "config.toml").write_text("[profile]\ninternal_hosts = [1]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="profile.internal_hosts: expected an array"):
        load_config(tmp_path, {})


def test_rendered_config_loads_with_the_new_sections(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(render_config("n1"), encoding="utf-8")
    config = load_config(tmp_path, {})
    assert config.enrichment.ptr_enabled is True
    assert config.profile.internal_hosts == ()


def test_operator_phase_rules_are_relative_to_home(tmp_path: Path) -> None:
    (tmp_path / "phases.toml").write_text('[[rule]]\nphase = "impact"\npattern = "^boom"\n',
                                          encoding="utf-8")
    config = load_config(tmp_path, {"DECNET_FED_PROFILE_PHASE_RULES_PATH": "phases.toml"})
    assert profiler_from_config(config).rules.classify("boom now") == ("impact",)


def test_unusable_phase_rules_are_a_config_error(tmp_path: Path) -> None:
    config = load_config(tmp_path, {"DECNET_FED_PROFILE_PHASE_RULES_PATH": "missing.toml"})
    with pytest.raises(ConfigError, match="profile.phase_rules_path"):
        profiler_from_config(config)
