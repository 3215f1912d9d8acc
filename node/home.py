"""The node home directory: config, database, and (later) keys, created by `init`."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from node.config import CONFIG_FILENAME, Config, ConfigError, load_config, render_config
from node.store import Store


class HomeNotInitialised(ConfigError):
    """A command needs a node home that `decnet-fed init` has not created yet."""


@dataclass(frozen=True, slots=True)
class InitResult:
    """What `init` did: ``created`` is False when the home already existed."""

    config: Config
    created: bool


async def init_home(home: Path, name: str | None = None) -> InitResult:
    """Create the node home if needed; never overwrite an existing config or store."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    config_path = home / CONFIG_FILENAME
    created = not config_path.exists()
    if created:
        node_name = name or socket.gethostname() or "decnet-node"
        tmp = config_path.with_suffix(".toml.tmp")
        tmp.write_text(render_config(node_name), encoding="utf-8")
        tmp.replace(config_path)
    config = load_config(home)
    store = await Store.open(config.store_path, cache_mib=config.store.cache_mib)
    await store.close()
    return InitResult(config, created)


def require_home(home: Path) -> Config:
    """Load the config of an initialised home, or explain how to create one."""
    if not (home / CONFIG_FILENAME).exists():
        raise HomeNotInitialised(
            f"{home} is not a decnet-fed home: run `decnet-fed --home {home} init` first"
        )
    return load_config(home)
