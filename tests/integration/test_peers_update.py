"""`peers add` refuses the node's own key; `peers update` changes an address or a key."""

from __future__ import annotations

from pathlib import Path

from tests.support import json_out, run_cli


def test_own_key_refused_and_a_peer_updated_in_place(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for home in (a, b, c):
        run_cli(home, "init", "--name", home.name)
    key = {h.name: json_out(run_cli(h, "whoami", "--json"))["public_key"] for h in (a, b, c)}
    pem = {}
    for home in (b, c):
        pem[home.name] = tmp_path / f"{home.name}.pem"
        pem[home.name].write_text(run_cli(home, "whoami", "--certificate").stdout)

    own = run_cli(a, "peers", "add", "me", "127.0.0.1:9", "--key", key["a"], check=False)
    assert own.returncode == 1 and "own key" in own.stderr and "Traceback" not in own.stderr

    run_cli(a, "peers", "add", "bee", "127.0.0.1:9", "--key", key["b"],
            "--certificate", str(pem["b"]))
    run_cli(a, "peers", "update", "bee", "--address", "127.0.0.1:19",
            "--certificate", str(pem["b"]))
    run_cli(a, "peers", "update", "bee", "--key", key["c"], "--certificate", str(pem["c"]))
    peers = json_out(run_cli(a, "peers", "list", "--json"))
    assert [(p["name"], p["address"], p["public_key"]) for p in peers] == [
        ("bee", "127.0.0.1:19", key["c"])]
    missing = run_cli(a, "peers", "update", "nobody", "--address", "127.0.0.1:1", check=False)
    assert missing.returncode == 1 and "no peer named" in missing.stderr
