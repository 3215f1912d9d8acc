"""Podman for the container suite: is it usable here, the image, and compose.yaml as `podman run`.

podman-compose is not assumed: `run_args` turns a compose.yaml service into
the equivalent `podman run` arguments (read-only root, tmpfs, dropped
capabilities, no-new-privileges, ulimits, env, volumes, stop timeout), so the
federation test runs exactly what compose.yaml says.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from tests import support

REPO = Path(__file__).resolve().parents[2]
BASE_IMAGE = os.environ.get("DECNET_FED_BASE_IMAGE", "localhost/decnet-fed-base:bookworm")
IMAGE = os.environ.get("DECNET_FED_TEST_IMAGE", "localhost/decnet-fed:test")
#: What containers need on these machines (the issue): runc, lowered ulimits.
RUNTIME_ARGS = ("--runtime", "runc", "--ulimit", "nofile=1024:1024",
                "--ulimit", "nproc=1024:1024")
#: The container's /tmp (a tmpfs over the read-only root), not a host path.
TMPFS = "/tmp"  # noqa: S108


def podman(*args: str, check: bool = True, timeout_s: float = 120,
           stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``podman ARGS``; a failure with ``check`` raises with its stderr in the message."""
    proc = subprocess.run(["podman", *args], capture_output=True, text=True, input=stdin,
                          timeout=timeout_s, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {proc.returncode}:"
                             f" {proc.stderr.strip()[-2000:]}")
    return proc


def unusable_reason() -> str | None:
    """Why podman cannot run containers here, or None when it can."""
    if shutil.which("podman") is None:
        return "podman is not installed (.ci/run installs it as root with apt-get)"
    try:
        info = podman("info", check=False, timeout_s=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`podman info` failed: {exc}"
    if info.returncode != 0:
        return f"`podman info` failed: {info.stderr.strip()[-300:]}"
    has_base = podman("image", "exists", BASE_IMAGE, check=False).returncode == 0
    if not has_base and (shutil.which("mmdebstrap") is None or os.geteuid() != 0):
        return (f"no base image {BASE_IMAGE} and mmdebstrap cannot make one here"
                " (needs root and mmdebstrap: docker/base-image.sh)")
    return None


def build_image() -> str:
    """The base image (cached in podman and ~/.cache), then the image, tagged IMAGE.

    Returns why a trivial container could not run, or "" when it ran.
    """
    base = subprocess.run([str(REPO / "docker/base-image.sh"), BASE_IMAGE], text=True,
                          capture_output=True, timeout=300, check=False)
    if base.returncode != 0:
        raise AssertionError(f"docker/base-image.sh failed: {base.stderr[-3000:]}")
    trivial = podman("run", "--rm", *RUNTIME_ARGS, BASE_IMAGE, "true", check=False)
    if trivial.returncode != 0:
        return f"a trivial `podman run --runtime runc` fails: {trivial.stderr.strip()[-300:]}"
    env = {**os.environ, "PYTHON": sys.executable, "BASE_IMAGE": BASE_IMAGE}
    build = subprocess.run([str(REPO / "docker/build-image.sh"), IMAGE], env=env, text=True,
                           capture_output=True, timeout=600, check=False)
    if build.returncode != 0:
        raise AssertionError(f"image build failed: {build.stderr[-3000:]}")
    return ""


def compose_services() -> dict[str, dict[str, Any]]:
    """compose.yaml's services, with the ``<<: *node`` merge resolved by the YAML loader."""
    document = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    services: dict[str, dict[str, Any]] = document["services"]
    return services


def run_args(service: dict[str, Any], *, name: str, volume: str, network: str,
             alias: str) -> list[str]:
    """``podman run`` arguments equivalent to one compose.yaml service.

    ``name``, ``volume`` and ``network`` replace the compose names so that test
    runs never touch a real deployment's containers or volumes.
    """
    args = ["--name", name, "--hostname", service["hostname"], "--network", network,
            "--network-alias", alias, *RUNTIME_ARGS]
    if service.get("read_only"):
        args.append("--read-only")
    for cap in service.get("cap_drop", []):
        args += ["--cap-drop", cap]
    for option in service.get("security_opt", []):
        args += ["--security-opt", option]
    for mount in service.get("tmpfs", []):
        args += ["--tmpfs", mount]
    for key, value in service.get("environment", {}).items():
        args += ["--env", f"{key}={value}"]
    for mount in service.get("volumes", []):
        target = mount.split(":", 1)[1]
        args += ["--volume", f"{volume}:{target}"]
    args += ["--stop-signal", service["stop_signal"],
             "--stop-timeout", str(int(service["stop_grace_period"].rstrip("s")))]
    return args


def wait_for(predicate: Callable[[], bool], what: str, deadline_s: float) -> None:
    """`tests.support.wait_for`, polling every half second: each poll runs podman."""
    support.wait_for(predicate, what, deadline_s=deadline_s, poll_s=0.5)


def healthy(container: str) -> bool:
    """Run the image's HEALTHCHECK once (no systemd timer here); True when it passes."""
    return podman("healthcheck", "run", container, check=False).returncode == 0


def remove(kind: str, names: Sequence[str]) -> None:
    """Best-effort removal of test containers, volumes or networks."""
    if names:
        command = {"container": ("rm", "--force", "--time", "5"),
                   "volume": ("volume", "rm", "--force"),
                   "network": ("network", "rm", "--force")}[kind]
        podman(*command, *names, check=False)
