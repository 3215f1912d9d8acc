"""The node home directory: config, database, and (later) keys, created by `init`."""

from __future__ import annotations

import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.cluster.stage import PassProgress, node_stages
from node.config import CONFIG_FILENAME, Config, check_node_name, load_config, render_config
from node.errors import (
    ConfigError,
    HomeNotInitialised,
    HomeUnusable,
    StoreMissing,
    StoreReadOnly,
    translate_os,
)
from node.store import Store

__all__ = ["HomeNotInitialised", "InitResult", "init_home", "open_store",
           "open_store_for_reading", "require_home"]


@dataclass(frozen=True, slots=True)
class InitResult:
    """What `init` did: ``created`` is False when the home already existed."""

    config: Config
    created: bool


async def init_home(home: Path, name: str | None = None) -> InitResult:
    """Create the node home if needed; never overwrite an existing config or store.

    The home is made 0700 (and tightened to it if it was wider): it holds
    attacker addresses, credentials and the node's private key.
    """
    _check_directory(home)
    node_name = _checked_name(name or _host_name())
    try:
        config_path = home / CONFIG_FILENAME
        if home.is_dir() and not config_path.exists():
            _refuse_shared(home)
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        _tighten(home, 0o700)
        created = not config_path.exists()
        if created:
            tmp = config_path.with_suffix(".toml.tmp")
            tmp.write_text(render_config(node_name), encoding="utf-8")
            tmp.replace(config_path)
    except OSError as exc:
        raise translate_os(exc, home, "create the node home") from None
    config = load_config(home)
    if not created and _store_gone(config.store_path):
        raise StoreMissing(_missing_text(config.store_path) + "; `init` will not hide that"
                           f" by starting an empty one: move {config.home} aside to start over")
    store = await Store.open(config.store_path, cache_mib=config.store.cache_mib)
    await store.close()
    _tighten_store(config.store_path)
    return InitResult(config, created)


def require_home(home: Path) -> Config:
    """Load the config of an initialised home, or explain how to create one."""
    _check_directory(home)
    try:
        initialised = (home / CONFIG_FILENAME).exists()
    except OSError as exc:
        raise translate_os(exc, home, "read the node home") from None
    if not initialised:
        raise HomeNotInitialised(
            f"{home} is not a decnet-fed home: run `decnet-fed --home {home} init` first"
        )
    return load_config(home)


async def open_store(config: Config, *, cluster_progress: PassProgress | None = None,
                     **kwargs: Any) -> Store:
    """The store of an initialised home with the node's derived stages (its clustering
    pass telling ``cluster_progress`` each step, for a progress bar).

    A missing or emptied one is an error, not a new store.
    """
    if _store_gone(config.store_path):
        raise StoreMissing(_missing_text(config.store_path) + ": restore it from a backup, or"
                           " move the home aside and run `init` to start an empty one")
    if not kwargs.get("read_only"):
        _tighten_store(config.store_path)
    stages = node_stages(on_progress=cluster_progress) if config.profile.enabled else ()
    return await Store.open(config.store_path, cache_mib=config.store.cache_mib,
                            max_size_mib=config.store.max_size_mib, stages=stages, **kwargs)


async def open_store_for_reading(config: Config) -> Store:
    """The store for a command that only reads: read-only when it cannot be written.

    Opened writable where it can be, so an upgraded build migrates it and
    lookups (PTR names) are cached; reads never derive data either way.
    """
    try:
        return await open_store(config)
    except StoreReadOnly:
        return await open_store(config, read_only=True)


def _store_gone(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except FileNotFoundError:
        return True
    except OSError as exc:
        raise translate_os(exc, path, "read") from None


def _missing_text(path: Path) -> str:
    what = "is empty (zero bytes)" if path.exists() else "is missing"
    return f"the store {path} of this initialised home {what}"


def _check_directory(home: Path) -> None:
    try:
        if home.exists() and not home.is_dir():
            raise HomeUnusable(f"{home} is a file, not a directory: choose another --home")
    except OSError as exc:
        raise translate_os(exc, home, "read the node home") from None


def _refuse_shared(home: Path) -> None:
    """An existing directory others may write to (``/tmp``, a shared drop) is no home.

    `init` would otherwise make it 0700 under everybody else's files.
    """
    mode = home.stat().st_mode
    if mode & (stat.S_ISVTX | stat.S_IWOTH | stat.S_IWGRP):
        raise HomeUnusable(f"{home} is a shared directory (mode {stat.S_IMODE(mode):04o}):"
                           " give the node a directory of its own, e.g. a new one inside it")


def _checked_name(name: str) -> str:
    try:
        return check_node_name(name)
    except ValueError as exc:
        raise ConfigError(f"--name: {exc}") from None


def _host_name() -> str:
    host = socket.gethostname().split(".")[0]
    try:
        return check_node_name(host)
    except ValueError:
        return "decnet-node"


def _tighten(path: Path, mode: int) -> None:
    """Clear group/other bits of a file or directory this user owns (never widens)."""
    try:
        info = path.stat()
        if info.st_mode & 0o077 and info.st_uid == os.getuid():
            path.chmod(info.st_mode & mode & 0o7777)
    except FileNotFoundError:
        pass


def _tighten_store(store_path: Path) -> None:
    """node.db, -wal and -shm hold attacker data and credentials: 0600."""
    try:
        for suffix in ("", "-wal", "-shm"):
            _tighten(Path(f"{store_path}{suffix}"), 0o600)
    except OSError as exc:
        raise translate_os(exc, store_path, "restrict the mode of") from None
