"""What goes wrong as a new user or an attacker would meet it: one line, an exit code, no traceback.

Every case goes through the real console script against real files. Cases
that need a small file system (a full disk) or another user mount a tmpfs or
drop privileges themselves, and skip with the reason where this machine
cannot.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from federation.keys import NodeKey
from tests.integration.test_cli_durability import _write_corpus
from tests.support import SAMPLES, CliRunner, console_script, json_out


def one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Exit 1, one line on stderr naming the problem, never a traceback."""
    lines = [line for line in proc.stderr.splitlines() if line.startswith("decnet-fed:")]
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("DECNET_FED_")}


def test_a_closed_pipe_ends_the_listing_quietly(cli: CliRunner, home: Path,
                                                tmp_path: Path) -> None:
    log = tmp_path / "many.log"
    _write_corpus(log, 6000)  # thousands of observations: more than a pipe holds
    cli("init", check=True)
    cli("ingest", str(log), check=True)
    proc = subprocess.run(
        ["bash", "-c", '"$0" --home "$1" observations | head -3; exit "${PIPESTATUS[0]}"',
         console_script(), str(home)], capture_output=True, text=True, env=_env(),
        timeout=120, check=False)
    assert len(proc.stdout.splitlines()) == 3
    assert proc.stderr == "" and proc.returncode in (0, 141)


def test_a_home_that_is_a_file_is_named_as_such(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "passwd"
    not_a_dir.write_text("root:x:0:0::/root:/bin/sh\n")
    for command in (("init",), ("status",), ("ingest", str(SAMPLES / "cowrie.json"))):
        proc = subprocess.run([console_script(), "--home", str(not_a_dir), *command],
                              capture_output=True, text=True, env=_env(), check=False)
        one_line_error(proc, "not a directory")
        assert "run `decnet-fed" not in proc.stderr  # never suggests the same failing init


def test_a_home_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    proc = subprocess.run([console_script(), "--home", "/proc/decnet-nope/home", "init"],
                          capture_output=True, text=True, env=_env(), check=False)
    one_line_error(proc, "cannot create the node home")


def test_a_home_of_another_user_is_one_line(cli: CliRunner, home: Path) -> None:
    if os.getuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the CLI as another user")
    cli("init", check=True)
    home.chmod(0o700)  # root's
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           console_script(), "--home", str(home), "status"],
                          capture_output=True, text=True, env=_env(), check=False)
    if "Permission denied" in proc.stderr and "decnet-fed:" not in proc.stderr:
        pytest.skip("the console script itself is not readable by another user here")
    one_line_error(proc, str(home))


def test_a_full_store_stops_the_ingest_in_one_line_and_a_rerun_finishes_it(
        cli: CliRunner, home: Path, tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    _write_corpus(log, 40_000)
    cli("init", check=True)
    proc = cli("ingest", str(log), env_extra={"DECNET_FED_STORE_MAX_SIZE_MIB": "2",
                                              "DECNET_FED_STORE_BATCH_SIZE": "1000"})
    one_line_error(proc, "is full")
    assert "cannot rollback" not in proc.stderr
    partial = json_out(cli("status", "--json", "--check"))["events"]
    assert 0 < partial < 40_000 and json_out(cli("status", "--json", "--check"))
    cli("ingest", str(log), check=True)
    assert json_out(cli("status", "--json"))["events"] == 40_000


@contextlib.contextmanager
def tiny_filesystem(path: Path) -> Iterator[Path]:
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(path)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (not root, or no mount permission)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_peers_add_on_a_full_disk_changes_nothing_and_leaves_no_temp_file(
        cli: CliRunner, tmp_path: Path) -> None:
    cli("init", check=True)
    other = tmp_path / "other"
    subprocess.run([console_script(), "--home", str(other), "init"], env=_env(), check=True,
                   capture_output=True)
    key = json_out(subprocess.run([console_script(), "--home", str(other), "whoami", "--json"],
                                  env=_env(), capture_output=True, text=True, check=True))
    with tiny_filesystem(tmp_path / "tiny") as tiny:
        peers = tiny / "peers.json"
        env = {"DECNET_FED_FEDERATION_PEERS_PATH": str(peers),
               "DECNET_FED_FEDERATION_PLAINTEXT": "true"}
        cli("peers", "add", "first", "127.0.0.1:1", "--key", key["public_key"],
            env_extra=env, check=True)
        before = peers.read_bytes()
        with contextlib.suppress(OSError):
            (tiny / "filler").write_bytes(b"x" * 128 * 1024)  # fills it up
        proc = cli("peers", "add", "second", "127.0.0.1:2", "--key",
                   NodeKey.generate().public.text, env_extra=env)
        one_line_error(proc, "cannot save", "nothing was changed")
        assert peers.read_bytes() == before
        assert sorted(p.name for p in tiny.iterdir()) == ["filler", "peers.json"]


def test_a_damaged_store_is_detected_by_status_check_and_by_serve(
        cli: CliRunner, home: Path) -> None:
    cli("init", check=True)
    cli("ingest", *map(str, sorted(SAMPLES.iterdir())))
    with sqlite3.connect(home / "node.db") as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = db.execute("PRAGMA page_count").fetchone()[0]
    assert pages > 8
    with (home / "node.db").open("r+b") as store:  # garbage over pages mid-file
        store.seek(8192 * (pages // 2))
        store.write(os.urandom(8192 * 3))
    one_line_error(cli("status", "--check"), "damaged")
    one_line_error(cli("serve", "--listen", "127.0.0.1:0", "--health-listen", ""), "damaged")


@pytest.mark.parametrize("damage", ["deleted", "emptied"])
def test_a_lost_store_is_said_not_silently_recreated(cli: CliRunner, home: Path,
                                                     damage: str) -> None:
    cli("init", check=True)
    store = home / "node.db"
    if damage == "deleted":
        store.unlink()
    else:
        store.write_bytes(b"")
    word = "missing" if damage == "deleted" else "empty"
    for command in (("status",), ("observations",), ("init",)):
        one_line_error(cli(*command), word)
    assert not store.exists() or store.stat().st_size == 0  # nothing was recreated


def test_a_key_that_is_a_directory_is_named_as_such(cli: CliRunner, home: Path) -> None:
    cli("init", check=True)
    (home / "node.key").unlink()
    (home / "node.key").mkdir()
    one_line_error(cli("whoami"), "not a regular file")


def test_the_home_and_the_store_are_private(cli: CliRunner, home: Path) -> None:
    cli("init", check=True)
    cli("ingest", *map(str, sorted(SAMPLES.iterdir())))
    assert home.stat().st_mode & 0o777 == 0o700
    for name in ("node.db", "node.db-wal", "node.db-shm", "config.toml", "node.key"):
        if (home / name).exists():
            assert (home / name).stat().st_mode & 0o077 == 0, name


def test_a_store_left_readable_by_others_is_made_private(cli: CliRunner, home: Path) -> None:
    cli("init", check=True)
    (home / "node.db").chmod(0o644)
    home.chmod(0o755)
    cli("status", check=True)
    assert (home / "node.db").stat().st_mode & 0o777 == 0o600


@contextlib.contextmanager
def read_only_view(source: Path, view: Path) -> Iterator[Path]:
    """``source`` mounted again, read-only, at ``view`` (a read-only file system for root too)."""
    view.mkdir()
    bound = subprocess.run(["mount", "--bind", str(source), str(view)], capture_output=True,
                           check=False)
    if bound.returncode != 0:
        pytest.skip("cannot bind-mount here (not root, or no mount permission)")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], check=True,
                       capture_output=True)
        yield view
    finally:
        subprocess.run(["umount", "-l", str(view)], check=False)


def test_a_read_only_store_is_still_readable(cli: CliRunner, home: Path,
                                             tmp_path: Path) -> None:
    cli("init", check=True)
    cli("ingest", *map(str, sorted(SAMPLES.iterdir())), check=True)
    expected = json_out(cli("observations", "--json", check=True))
    status = json_out(cli("status", "--json", check=True))
    with read_only_view(home, tmp_path / "ro") as view:
        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([console_script(), "--home", str(view), *args],
                                  capture_output=True, text=True, env=_env(), check=False)

        assert json_out(run("observations", "--json")) == expected
        seen = json_out(run("status", "--json"))
        assert (seen["events"], seen["observations"]) == (status["events"],
                                                          status["observations"])
        assert set(seen["derived_lag_events"].values()) == {0}
        assert json_out(run("observation", "198.51.100.23", "--json"))["smtp_targets"]
        assert json_out(run("query", "smtp", "victim-co.com", "--local", "--json"))["seen"]
        one_line_error(run("ingest", str(SAMPLES / "cowrie.json")), "read-only")


def test_init_never_replaces_a_lost_identity_silently(cli: CliRunner, home: Path) -> None:
    first = json_out(cli("init", "--json", check=True))["key_id"]
    (home / "node.key").unlink()
    one_line_error(cli("init"), "node.key is missing", "--new-identity")
    assert not (home / "node.key").exists()
    second = json_out(cli("init", "--new-identity", "--json", check=True))["key_id"]
    assert second != first


@pytest.mark.parametrize("name", ["evil\nname", "a" * 65, "-dash", "tab\tname"])
def test_a_node_name_is_validated_like_a_peer_name(cli: CliRunner, home: Path,
                                                   name: str) -> None:
    one_line_error(cli("init", f"--name={name}"), "name")
    assert not (home / "config.toml").exists()


def test_a_trust_store_others_may_write_is_refused(cli: CliRunner, home: Path) -> None:
    cli("init", check=True)
    (home / "peers.json").write_text('{"peers": []}')
    (home / "peers.json").chmod(0o666)
    one_line_error(cli("peers", "list"), "writable by group or others", "chmod 600")


def test_init_refuses_a_shared_directory_instead_of_locking_others_out(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    (shared / "someone-elses-file").write_text("x")
    proc = subprocess.run([console_script(), "--home", str(shared), "init"],
                          capture_output=True, text=True, env=_env(), check=False)
    one_line_error(proc, "shared directory")
    assert shared.stat().st_mode & 0o7777 == 0o1777
    assert sorted(p.name for p in shared.iterdir()) == ["someone-elses-file"]


def test_an_unreadable_config_is_one_line(cli: CliRunner, home: Path) -> None:
    cli("init", check=True)
    (home / "config.toml").unlink()
    (home / "config.toml").mkdir()
    one_line_error(cli("status"), "config.toml")


def test_serve_says_when_it_cannot_lock_its_home(cli: CliRunner, home: Path) -> None:
    cli("init", check=True)
    (home / "serve.lock").mkdir()
    proc = cli("serve", "--listen", "127.0.0.1:0", "--health-listen", "")
    one_line_error(proc, "cannot lock the home")
    assert "port" not in proc.stderr
