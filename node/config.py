"""Node configuration: frozen dataclasses per concern, loaded from TOML plus env overrides.

The TOML file lives in the node home (``config.toml``). Any field can be
overridden by an environment variable ``DECNET_FED_<SECTION>_<FIELD>``, e.g.
``DECNET_FED_STORE_BATCH_SIZE=2000``. A bad value is an error naming its field.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from node.errors import ConfigError

ENV_PREFIX = "DECNET_FED_"
CONFIG_FILENAME = "config.toml"
_T = TypeVar("_T")


def at_least(settings: object, **minimums: float) -> None:
    """``ValueError("field: …")`` for the first field below its minimum (or not a number)."""
    for name, lowest in minimums.items():
        value = getattr(settings, name)
        if not value >= lowest:  # also refuses NaN
            raise ValueError(f"{name}: must be ≥ {lowest}, got {value!r}")


_NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_node_name(name: str) -> str:
    """``name`` if it is 1-64 of letters, digits, '.', '_', '-' (starting alphanumeric)."""
    if not _NODE_NAME.fullmatch(name):
        raise ValueError(f"name: {name[:80]!r} must be 1-64 of letters, digits, '.', '_', '-'")
    return name


@dataclass(frozen=True, slots=True)
class NodeSettings:
    """Who this node is."""

    #: Human name shown to peers and in `status`; defaults to the host name at init.
    #: 1-64 of letters, digits, '.', '_', '-' (it is printed by peers' CLIs).
    name: str = "decnet-node"

    def __post_init__(self) -> None:
        check_node_name(self.name)


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """The local SQLite store."""

    #: Database file, relative to the node home unless absolute.
    path: str = "node.db"
    #: Events per write transaction. Larger batches amortise the commit
    #: (fsync-free in WAL + synchronous=NORMAL) but hold more in memory and lose
    #: more re-reading work after a crash (never data: ingest is idempotent).
    batch_size: int = 10000
    #: SQLite page cache per connection, in MiB.
    cache_mib: int = 64
    #: Largest the store may grow, in MiB (0 = until the disk is full). A write
    #: that would pass it fails like a full disk (nothing committed is lost),
    #: so the node cannot fill the disk it shares with its honeypots.
    max_size_mib: int = 0
    #: How often `serve` brings derived data (profile tables, keystroke
    #: SimHashes …) up to the events another process stored, in seconds. An
    #: ingest derives as it goes and catches up when it ends; this bounds the
    #: lag of what `serve` answers when a writer left some behind.
    catch_up_interval_s: float = 10.0

    def __post_init__(self) -> None:
        at_least(self, batch_size=1, cache_mib=1, max_size_mib=0, catch_up_interval_s=0.1)


@dataclass(frozen=True, slots=True)
class IngestSettings:
    """Reading sensor logs."""

    #: Longest accepted line in bytes, without its line break. Longer lines are
    #: rejected (``line_too_long``) without being read into memory whole.
    max_line_bytes: int = 65536
    #: How often `ingest --follow` looks for new data once caught up, in seconds.
    follow_poll_interval_s: float = 0.5

    def __post_init__(self) -> None:
        at_least(self, max_line_bytes=256, follow_poll_interval_s=0.01)


@dataclass(frozen=True, slots=True)
class ProfileSettings:
    """Local profiling rules (docs/profiling.md)."""

    #: Profile events as `ingest` stores them. Off makes a bulk load of history
    #: faster (profiling costs about a quarter of ingest throughput); run
    #: `decnet-fed reprofile` afterwards, since profiles only cover what was
    #: profiled.
    enabled: bool = True
    #: TOML file of extra kill-chain phase rules (``[[rule]] phase, pattern, note``),
    #: tried before the built-in table; relative to the node home; empty = none.
    phase_rules_path: str = ""
    #: Host names and CIDR networks of the honeypot fleet itself (a TOML array,
    #: e.g. ``["10.1.0.0/16", "intranet"]``; comma-separated in the environment):
    #: never recorded as C2 endpoints. Non-public addresses are always excluded.
    internal_hosts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EnrichmentSettings:
    """Offline enrichment of attacker addresses; all of it is optional."""

    #: RIR delegated-stats files (country per address), a TOML array of paths
    #: relative to the node home (comma-separated in the environment); empty = no country.
    rir_paths: tuple[str, ...] = ()
    #: ip2asn TSV file (``.gz`` too) for ASN, AS name and prefix; empty = no ASN.
    ip2asn_path: str = ""
    #: Look up PTR names (once per address, cached in the store). Turn off for
    #: fully offline nodes or when the resolver must not see attacker addresses.
    ptr_enabled: bool = True
    #: Give up on one PTR lookup after this many seconds (recorded as ``timeout``).
    ptr_timeout_s: float = 2.0
    #: PTR lookups in flight at once: higher finishes a big view sooner but
    #: bursts the resolver.
    ptr_concurrency: int = 16

    def __post_init__(self) -> None:
        at_least(self, ptr_timeout_s=0.01, ptr_concurrency=1)


@dataclass(frozen=True, slots=True)
class Config:
    """Everything a node reads at start-up."""

    home: Path
    node: NodeSettings = NodeSettings()
    store: StoreSettings = StoreSettings()
    ingest: IngestSettings = IngestSettings()
    profile: ProfileSettings = ProfileSettings()
    enrichment: EnrichmentSettings = EnrichmentSettings()

    @property
    def store_path(self) -> Path:
        path = Path(self.store.path).expanduser()
        return path if path.is_absolute() else self.home / path

    @property
    def config_path(self) -> Path:
        return self.home / CONFIG_FILENAME

    def home_file(self, text: str) -> Path:
        """A configured file path: relative to the node home unless absolute."""
        path = Path(text.strip()).expanduser()
        return path if path.is_absolute() else self.home / path


NODE_SECTIONS: dict[str, type[Any]] = {
    "node": NodeSettings,
    "store": StoreSettings,
    "ingest": IngestSettings,
    "profile": ProfileSettings,
    "enrichment": EnrichmentSettings,
}

#: Sections other packages load from the same file with `load_section` (the
#: federation's: a test keeps this in step). Any other section is an error,
#: like an unknown setting: a misspelt ``[privacy]`` must not silently be ignored.
SHARED_SECTIONS = frozenset({"federation", "limits", "privacy", "gossip", "discovery"})

#: String settings where empty means "not configured".
_MAY_BE_EMPTY = frozenset({
    ("profile", "phase_rules_path"),
    ("enrichment", "ip2asn_path"),
    ("federation", "metrics_listen"),
})


def resolve_home(explicit: str | None, env: Mapping[str, str] = os.environ) -> Path:
    """The node home: ``--home``, else ``$DECNET_FED_HOME``, else ``~/.decnet-fed``."""
    if explicit:
        return Path(explicit).expanduser()
    if env.get(ENV_PREFIX + "HOME"):
        return Path(env[ENV_PREFIX + "HOME"]).expanduser()
    return Path.home() / ".decnet-fed"


def load_config(home: Path, env: Mapping[str, str] = os.environ) -> Config:
    """Read ``home/config.toml`` (missing file = defaults) and apply env overrides."""
    path = home / CONFIG_FILENAME
    raw = _read_toml(path)
    unknown = set(raw) - set(NODE_SECTIONS) - SHARED_SECTIONS
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {sorted(unknown)}; known:"
                          f" {sorted({*NODE_SECTIONS, *SHARED_SECTIONS})}")
    sections = {section: _load_section(raw, path, section, cls, env)
                for section, cls in NODE_SECTIONS.items()}
    return Config(home=home, **sections)


def load_section(config: Config, section: str, cls: type[_T],
                 env: Mapping[str, str] = os.environ) -> _T:
    """Load ``[section]`` of the config file into ``cls``, a frozen dataclass of another package.

    Lets a package that `node` may not import (the federation) keep its settings
    with its mechanism while sharing the file, the env overrides and the
    error messages. A ``ValueError`` from ``cls`` (its own range checks) becomes
    a `ConfigError` naming the section.
    """
    raw = _read_toml(config.config_path)
    loaded: _T = _load_section(raw, config.config_path, section, cls, env)
    return loaded


def _read_toml(path: Path) -> dict[str, Any]:
    """The config file as a table; a missing file is an empty one."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def _load_section(raw: dict[str, Any], path: Path, section: str, cls: type[Any],
                  env: Mapping[str, str]) -> Any:
    table = raw.get(section, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [{section}] must be a table")
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for spec in dataclasses.fields(cls):
        origin = f"{path} [{section}] {spec.name}" if spec.name in table else "the default"
        value: Any = table.get(spec.name, spec.default)
        env_name = f"{ENV_PREFIX}{section}_{spec.name}".upper()
        if env_name in env:
            value, origin = env[env_name], f"${env_name}"
        origins[spec.name] = origin
        values[spec.name] = _convert(section, spec.name, spec.type, value, origin)
    unknown = set(table) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) in [{section}]: {sorted(unknown)}")
    try:
        return cls(**values)
    except ValueError as exc:  # the dataclass's own checks say "field: why"
        field_name = str(exc).split(":", 1)[0]
        where = f" (from {origins[field_name]})" if field_name in origins else ""
        raise ConfigError(f"{section}.{exc}{where}") from None


def _convert(section: str, name: str, type_name: Any, value: Any, origin: str) -> Any:
    label = f"{section}.{name}"
    if str(type_name) == "tuple[str, ...]":
        return _string_list(label, value, origin)
    kind = {"int": int, "float": float, "str": str, "bool": bool}[str(type_name)]
    try:
        if kind is bool:
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                    raise ValueError(value)
                value = lowered in {"1", "true", "yes", "on"}
            elif not isinstance(value, bool):
                raise ValueError(value)
        elif kind is int:
            if isinstance(value, bool) or isinstance(value, float):
                raise ValueError(value)
            value = int(value)
        elif kind is float:
            if isinstance(value, bool):
                raise ValueError(value)
            value = float(value)
        elif not isinstance(value, str):
            raise ValueError(value)
    except ValueError:
        raise ConfigError(
            f"{label}: expected {kind.__name__}, got {value!r} (from {origin})"
        ) from None
    if kind is str and not value.strip() and (section, name) not in _MAY_BE_EMPTY:
        raise ConfigError(f"{label}: must not be empty (from {origin})")
    return value


def _string_list(label: str, value: Any, origin: str) -> tuple[str, ...]:
    """A TOML array of strings; a comma-separated string (the environment's form) too."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{label}: expected an array of strings, got {value!r} (from {origin})")
    return tuple(item.strip() for item in value if item.strip())


def field_docs(cls: type[Any]) -> dict[str, list[str]]:
    """The ``#:`` comment lines written above each field of a settings dataclass."""
    docs: dict[str, list[str]] = {}
    pending: list[str] = []
    for line in inspect.getsource(cls).splitlines():
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped[2:].strip())
            continue
        name = stripped.split(":", 1)[0]
        if pending and name.isidentifier():
            docs[name] = pending
        pending = []
    return docs


def _toml_value(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def render_section(section: str, settings: Any, *, commented: bool = False) -> str:
    """``[section]`` with every field's doc comment and value, from the dataclass itself.

    ``commented`` renders the settings commented out (defaults shown, uncomment
    to change), for sections a node rarely needs to touch.
    """
    mark = "# " if commented else ""
    docs = field_docs(type(settings))
    lines = [f"{mark}[{section}]"]
    for spec in dataclasses.fields(settings):
        lines += [f"# {text}" if text else "#" for text in docs.get(spec.name, [])]
        lines.append(f"{mark}{spec.name} = {_toml_value(getattr(settings, spec.name))}")
    return "\n".join(lines) + "\n"


def render_config(node_name: str) -> str:
    """The config file `init` writes: every node section with its documented defaults."""
    header = ("# decnet-fed node configuration. Every setting can be overridden by an\n"
              "# environment variable DECNET_FED_<SECTION>_<SETTING>, e.g."
              " DECNET_FED_STORE_BATCH_SIZE.\n")
    sections = [render_section(name, NodeSettings(name=node_name) if name == "node" else cls())
                for name, cls in NODE_SECTIONS.items()]
    return header + "\n" + "\n".join(sections)
