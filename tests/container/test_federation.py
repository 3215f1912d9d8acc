"""compose.yaml's three-node federation: keys on first start, the bootstrap, a federated query."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from functools import partial

import pytest

from tests.container.podman import (
    REPO,
    RUNTIME_ARGS,
    TMPFS,
    compose_services,
    healthy,
    podman,
    remove,
    run_args,
    wait_for,
)
from tests.federation_helpers import mail_line

pytestmark = pytest.mark.container


def test_every_compose_service_is_locked_down() -> None:
    services = compose_services()
    assert set(services) == {"north", "east", "south"}
    for name, service in services.items():
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert service["security_opt"] == ["no-new-privileges:true"], name
        assert any(mount.split(":")[0] == TMPFS for mount in service["tmpfs"]), name
        assert [v.split(":")[1] for v in service["volumes"]] == ["/var/lib/decnet-fed"], name
        assert service["container_name"] == f"${{DECNET_FED_PREFIX:-decnet-fed-}}{name}"
        assert service["environment"]["DECNET_FED_NODE_NAME"] == name
        assert int(service["stop_grace_period"].rstrip("s")) > 10  # serve's own grace


def _mail(domain: str, first_octet: int) -> str:
    return "\n".join(mail_line(f"203.0.113.{first_octet + i}", f"user{i}", domain)
                     for i in range(3)) + "\n"


def _bootstrap(env: dict[str, str], names: list[str]) -> subprocess.CompletedProcess[str]:
    """docker/bootstrap.sh, as an operator runs it after `compose up`."""
    return subprocess.run([str(REPO / "docker/bootstrap.sh"), *names], env=env, text=True,
                          capture_output=True, timeout=180, check=False)


def _up_with_podman_compose(project: str, env: dict[str, str]) -> None:
    """`podman-compose up -d` on compose.yaml itself, with this machine's runtime flags."""
    up = subprocess.run(["podman-compose", "-f", str(REPO / "compose.yaml"), "-p", project,
                         f"--podman-run-args={' '.join(RUNTIME_ARGS)}", "up", "-d"],
                        env=env, text=True, capture_output=True, timeout=180, check=False)
    assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]


def _up_with_podman_run(project: str, prefix: str, image: str) -> None:
    """The same containers as compose.yaml, through `run_args`, where podman-compose is not."""
    for name, service in compose_services().items():
        podman("run", "--detach",
               *run_args(service, name=prefix + name, volume=f"{project}_{name}-home",
                         network=f"{project}_federation", alias=name), image)


@pytest.mark.timeout(600)
def test_the_compose_federation_bootstrapped_answers_a_query_smtp(image: str) -> None:
    project = f"decnet-fed-test-{uuid.uuid4().hex[:8]}"
    prefix = f"{project}-"
    names = list(compose_services())
    containers = [prefix + name for name in names]
    volumes = [f"{project}_{name}-home" for name in names]
    env = {**os.environ, "ENGINE": "podman", "DECNET_FED_PREFIX": prefix,
           "DECNET_FED_IMAGE": image, "BOOTSTRAP_TIMEOUT_S": "90"}
    try:
        # Two operators' sensor logs with mail to corp1.com, ingested into the
        # volumes compose will use before the nodes start (a one-shot container
        # each; its entry point runs init, which makes the node's key).
        for name, octet in (("east", 10), ("south", 20)):
            podman("run", "--rm", "--interactive", *RUNTIME_ARGS, "--read-only",
                   "--tmpfs", TMPFS, "--volume", f"{project}_{name}-home:/var/lib/decnet-fed",
                   "--env", f"DECNET_FED_NODE_NAME={name}", image, "ingest", "-",
                   stdin=_mail("corp1.com", octet))
        if shutil.which("podman-compose"):
            _up_with_podman_compose(project, env)
        else:
            podman("network", "create", f"{project}_federation")
            _up_with_podman_run(project, prefix, image)
        for container in containers:
            wait_for(partial(healthy, container), f"{container} healthy", deadline_s=90)

        bootstrap = _bootstrap(env, names)
        assert bootstrap.returncode == 0, bootstrap.stdout + bootstrap.stderr

        report = json.loads(podman("exec", prefix + "north", "decnet-fed", "query", "smtp",
                                   "corp1.com", "--json").stdout)
        rows = {row["peer"]: row for row in report["answers"]}
        assert set(rows) == {"east", "south"}
        assert all(row["status"] == "ok" and row["seen"] is True for row in rows.values())
        assert report["summary"]["peers_seen"] == 2
        assert report["summary"]["total_count"] == 6
        # And the other way round: east asks, south saw it, north did not.
        report = json.loads(podman("exec", prefix + "east", "decnet-fed", "query", "smtp",
                                   "corp1.com", "--json").stdout)
        seen = {row["peer"]: row["seen"] for row in report["answers"]}
        assert seen == {"north": False, "south": True}
    finally:
        remove("container", containers)
        remove("volume", volumes)
        remove("network", [f"{project}_federation"])
