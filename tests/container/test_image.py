"""The image: runs as a numeric non-root user on a read-only root to a healthy HEALTHCHECK."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.container.podman import RUNTIME_ARGS, TMPFS, healthy, podman, remove, wait_for

pytestmark = [pytest.mark.container, pytest.mark.timeout(600)]


def test_a_read_only_non_root_container_becomes_healthy_and_stops_on_sigterm(
        image: str) -> None:
    name = f"decnet-fed-test-{uuid.uuid4().hex[:8]}"
    try:
        podman("run", "--detach", "--name", name, *RUNTIME_ARGS, "--read-only",
               "--tmpfs", TMPFS, "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
               "--volume", f"{name}:/var/lib/decnet-fed", "--env", "DECNET_FED_NODE_NAME=solo",
               image)
        wait_for(lambda: healthy(name), "the HEALTHCHECK passing", deadline_s=90)

        state = json.loads(podman("inspect", name).stdout)[0]
        assert state["State"]["Health"]["Status"] == "healthy"
        assert state["Config"]["User"] == "10001:10001"
        assert str(state["Config"]["StopSignal"]) in {"SIGTERM", "15"}
        assert podman("exec", name, "id", "-u").stdout.strip() == "10001"
        whoami = json.loads(podman("exec", name, "decnet-fed", "whoami", "--json").stdout)
        assert set(whoami) == {"public_key", "key_id"}  # init made the key on first start
        assert podman("exec", name, "touch", "/opt/decnet-fed/x", check=False).returncode != 0

        podman("stop", "--time", "30", name)
        assert podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip() == "0"
    finally:
        remove("container", [name])
        remove("volume", [name])


def test_a_mounted_toml_file_configures_the_node_and_its_healthcheck(
        image: str, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[node]\nname = "from-file"\n\n'
                      '[federation]\nhealth_listen = "127.0.0.1:50560"\n', encoding="utf-8")
    config.chmod(0o644)
    name = f"decnet-fed-test-{uuid.uuid4().hex[:8]}"
    try:
        podman("run", "--detach", "--name", name, *RUNTIME_ARGS, "--read-only",
               "--tmpfs", TMPFS, "--volume", f"{name}:/var/lib/decnet-fed",
               "--volume", f"{config}:/etc/decnet-fed/config.toml:ro", image)
        wait_for(lambda: healthy(name), "the HEALTHCHECK passing", deadline_s=90)

        logs = podman("logs", name).stdout
        assert "'from-file'" in logs and "127.0.0.1:50560" in logs
        assert "from-file" in podman("exec", name, "decnet-fed", "whoami").stdout
    finally:
        remove("container", [name])
        remove("volume", [name])
