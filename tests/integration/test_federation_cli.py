"""The federation through the real `decnet-fed` console script: keys, peers, serve, query."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from federation.keys import NodeKey
from tests.support import SAMPLES, console_script, json_out

OFFLINE = {"DECNET_FED_ENRICHMENT_PTR_ENABLED": "0"}


def fed(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECNET_FED_")}
    proc = subprocess.run([console_script(), "--home", str(home), *args], capture_output=True,
                          text=True, timeout=120, check=False, env={**env, **OFFLINE})
    if check and proc.returncode != 0:
        pytest.fail(f"decnet-fed {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def whoami(home: Path) -> dict[str, Any]:
    result: dict[str, Any] = json_out(fed(home, "whoami", "--json"))
    return result


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str], int]]:
    """Node alpha (samples ingested) serving over TLS on a free port."""
    home = tmp_path / "alpha"
    fed(home, "init", "--name", "alpha")
    fed(home, "ingest", *map(str, sorted(SAMPLES.iterdir())), check=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECNET_FED_")}
    proc = subprocess.Popen([console_script(), "--home", str(home), "serve", "--listen",
                             "127.0.0.1:0", "--health-listen", "127.0.0.1:0",
                             "--metrics-listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**env, **OFFLINE})
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"127\.0\.0\.1:(\d+) \(mutual TLS", line)
    if match is None:
        proc.kill()
        pytest.fail(f"serve did not start: {line!r} {proc.communicate()[1]}")
    try:
        yield home, proc, int(match.group(1))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()  # also closes the pipes


def test_init_creates_a_private_key_once_and_whoami_prints_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    created = json_out(fed(home, "init", "--json"))
    key_file = home / "node.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    me = whoami(home)
    assert set(me) == {"public_key", "key_id"}
    assert (created["key_id"], created["public_key"]) == (me["key_id"], me["public_key"])
    json_out(fed(home, "init", "--json"))
    assert whoami(home) == me
    assert me["key_id"] in fed(home, "whoami").stdout


def test_whoami_writes_the_tls_key_that_matches_its_certificate(tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    home = tmp_path / "home"
    fed(home, "init")
    key_path = tmp_path / "me.key"
    fed(home, "whoami", "--tls-key", str(key_path))
    assert key_path.stat().st_mode & 0o777 == 0o600
    tls_key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate(fed(home, "whoami", "--certificate").stdout.encode())
    assert cert.public_key() == tls_key.public_key()
    again = fed(home, "whoami", "--tls-key", str(key_path), check=False)
    assert again.returncode != 0 and "already exists" in again.stderr
    assert "Traceback" not in again.stderr


def test_a_port_in_use_is_one_line_naming_it(tmp_path: Path) -> None:
    import socket

    home = tmp_path / "home"
    fed(home, "init")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        done = fed(home, "serve", "--listen", address, "--health-listen", "",
                   "--metrics-listen", "", check=False)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr  # no gRPC log lines around it
    assert f"cannot listen on {address}" in done.stderr
    assert "Address already in use" in done.stderr and "--listen" in done.stderr


def test_a_group_or_world_readable_key_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    fed(home, "init")
    (home / "node.key").chmod(0o644)
    for args in (("whoami",), ("serve", "--listen", "127.0.0.1:0")):
        proc = fed(home, *args, check=False)
        assert proc.returncode == 1 and "chmod 600" in proc.stderr


def test_peers_add_list_remove(tmp_path: Path) -> None:
    home, other = tmp_path / "home", tmp_path / "other"
    fed(home, "init")
    fed(other, "init")
    key = whoami(other)["public_key"]
    fed(home, "peers", "add", "bravo", "127.0.0.1:50551", "--key", key)
    listed = json_out(fed(home, "peers", "list", "--json"))
    assert listed == [{"name": "bravo", "address": "127.0.0.1:50551", "public_key": key,
                       "key_id": whoami(other)["key_id"], "certificate": False}]
    assert "bravo" in fed(home, "peers", "list").stdout
    duplicate = fed(home, "peers", "add", "bravo", "h:1", "--key", key, check=False)
    assert duplicate.returncode == 1 and "already" in duplicate.stderr
    bad = fed(home, "peers", "add", "charlie", "h:1", "--key", "not-a-key", check=False)
    assert bad.returncode == 1 and "key" in bad.stderr
    fed(home, "peers", "remove", "bravo")
    assert json_out(fed(home, "peers", "list", "--json")) == []


def test_query_without_peers_says_how_to_add_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    fed(home, "init")
    proc = fed(home, "query", "smtp", "corp1.com", check=False)
    assert proc.returncode == 1 and "peers add" in proc.stderr


def test_serve_and_query_over_tls_end_to_end(
        tmp_path: Path, serving: tuple[Path, subprocess.Popen[str], int]) -> None:
    alpha, proc, port = serving
    bravo = tmp_path / "bravo"
    fed(bravo, "init", "--name", "bravo")
    certificate = tmp_path / "bravo.pem"  # bravo does not serve: alpha cannot fetch it
    certificate.write_text(fed(bravo, "whoami", "--certificate").stdout)
    fed(alpha, "peers", "add", "bravo", "127.0.0.1:1", "--key", whoami(bravo)["public_key"],
        "--certificate", str(certificate))
    proc.send_signal(signal.SIGHUP)  # serve reloads the trust store
    fed(bravo, "peers", "add", "alpha", f"127.0.0.1:{port}", "--key",
        whoami(alpha)["public_key"])
    fed(bravo, "peers", "add", "ghost", "127.0.0.1:9", "--key", NodeKey.generate().public.text)
    deadline = time.monotonic() + 60  # the SIGHUP is asynchronous: wait until it took
    while fed(bravo, "peers", "check", "--peer", "alpha", check=False).returncode != 0:
        assert time.monotonic() < deadline, "serve never reloaded its trust store"

    report = json_out(fed(bravo, "query", "smtp", "Victim-Co.com", "--json"))

    assert set(report) == {"question", "answers", "summary"}
    rows = {row["peer"]: row for row in report["answers"]}
    assert rows["alpha"]["status"] == "ok" and rows["alpha"]["seen"] is True
    assert rows["alpha"]["mode"] == "blind"  # domains are asked blind by default
    assert rows["alpha"]["count"] >= 2 and rows["alpha"]["first_seen"] == "2026-03-02T00:00:00Z"
    assert rows["ghost"]["status"] == "unreachable" and "error" in rows["ghost"]
    assert report["summary"] == {
        "peers_asked": 2, "peers_answered": 1, "peers_seen": 1,
        "total_count": rows["alpha"]["count"], "earliest": "2026-03-02T00:00:00Z",
        "latest": "2026-03-02T00:00:00Z"}

    opened = json_out(fed(bravo, "query", "smtp", "victim-co.com", "--open", "--peer", "alpha",
                          "--json"))["answers"][0]
    assert opened["mode"] == "open"
    assert {k: opened[k] for k in ("seen", "count", "first_seen", "last_seen")} \
        == {k: rows["alpha"][k] for k in ("seen", "count", "first_seen", "last_seen")}
    table = fed(bravo, "query", "smtp", "victim-co.com", "--peer", "alpha").stdout
    assert table.splitlines()[0].split() == ["PEER", "MODE", "STATUS", "SEEN", "COUNT", "FIRST",
                                             "SEEN", "LAST", "SEEN", "LATENCY", "NOTE"]
    assert "seen by 1 of 1 peer (1 answered)" in table
    fingerprint = json_out(fed(bravo, "query", "fingerprint", "ja3",
                               "e7d705a3286e19ea42f587b344ee6865", "--peer", "alpha", "--json"))
    assert fingerprint["answers"][0]["seen"] is True
    simhash = json_out(fed(bravo, "query", "simhash", "mail_body", "9f3c2a1b0e4d5c6e",
                           "--within", "2", "--peer", "alpha", "--json"))
    assert simhash["answers"][0]["match"] is True and simhash["summary"]["min_distance"] == 1
    checked = json_out(fed(bravo, "peers", "check", "--peer", "alpha", "--json"))
    assert checked[0]["status"] == "ok" and checked[0]["name"] == "alpha"
    assert checked[0]["key_id"] == whoami(alpha)["key_id"]
    assert checked[0]["schema_versions"] == "1..1"
    check_all = fed(bravo, "peers", "check", check=False)
    assert check_all.returncode == 1 and "unreachable" in check_all.stdout
    local = json_out(fed(alpha, "query", "smtp", "victim-co.com", "--local", "--json"))
    assert local["seen"] is True

    audit = (alpha / "audit.log").read_text(encoding="utf-8").splitlines()
    questions = [line for line in audit if "GetNodeInfo" not in line]
    assert all('"peer":"bravo"' in line for line in audit)
    # the one --open question names the domain; the blind ones are counts without content
    opened = [line for line in questions if '"kind":"smtp"' in line]
    assert len(opened) == 1 and "victim-co.com" in opened[0]
    blind = [line for line in questions if '"kind":"blind evaluation"' in line]
    assert len(blind) == 3 and all('"evaluations":1' in line for line in blind)
    assert not any("victim-co" in line.lower() for line in audit if line not in opened)
    assert sum('"kind":"simhash"' in line for line in questions) == 1
    assert sum('GetNodeInfo' in line for line in audit) >= 3  # peers check, audited too

    (alpha / "audit.log").rename(alpha / "audit.log.1")  # logrotate moves it, then signals
    proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 60
    reopened = alpha / "audit.log"
    while not (reopened.exists() and '"peer":"bravo"' in reopened.read_text()):
        assert time.monotonic() < deadline, "the audit log was never reopened"
        fed(bravo, "query", "smtp", "victim-co.com", "--peer", "alpha")
    assert len((alpha / "audit.log.1").read_text().splitlines()) >= len(audit)  # nothing lost
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0


def test_unknown_peer_name_is_an_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    fed(home, "init")
    proc = fed(home, "query", "smtp", "corp1.com", "--peer", "nobody", check=False)
    assert proc.returncode == 1 and "nobody" in proc.stderr


def test_query_with_every_peer_down_reports_each_row_and_exits_1(tmp_path: Path) -> None:
    home, other = tmp_path / "home", tmp_path / "other"
    fed(home, "init")
    fed(other, "init")
    fed(home, "peers", "add", "ghost", "127.0.0.1:9", "--key", whoami(other)["public_key"])
    proc = fed(home, "query", "fingerprint", "ja3", "e7d705a3286e19ea42f587b344ee6865",
               check=False)
    assert proc.returncode == 1
    assert "ghost" in proc.stdout and "unreachable" in proc.stdout
    assert "seen by 0 of 1 peer (0 answered)" in proc.stdout


def test_a_second_node_on_the_same_home_is_refused_in_one_line(
        serving: tuple[Path, subprocess.Popen[str], int]) -> None:
    home, proc, _ = serving
    second = fed(home, "serve", "--listen", "127.0.0.1:0", "--health-listen", "", check=False)
    assert second.returncode == 1 and "already running on this home" in second.stderr
    assert "Traceback" not in second.stderr
    assert proc.poll() is None  # the first one is undisturbed
