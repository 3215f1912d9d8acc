"""`decnet-fed demo`: the README's first command runs a real three-node federation."""

from __future__ import annotations

import json
import re
from pathlib import Path

from federation.demo import SHARED_HASSH, SHARED_JA3, TARGET_DOMAIN, demo_logs
from tests.support import CliRunner, json_out

IP = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")


def _answers(result: dict[str, object], kind: str, value: str) -> dict[str, dict[str, object]]:
    for report in result["questions"]:  # type: ignore[attr-defined]
        question = report["question"]
        if question["kind"] == kind and value in question.values():
            return {a["peer"]: a for a in report["answers"]}
    raise AssertionError(f"no {kind} question about {value}")


def test_demo_federation_answers_from_each_nodes_own_logs(cli: CliRunner) -> None:
    result = json_out(cli("demo", "--json", check=True))

    assert [n["name"] for n in result["nodes"]] == ["north", "east", "south"]
    assert all(n["events_stored"] > 0 for n in result["nodes"])
    smtp = _answers(result, "smtp", TARGET_DOMAIN)
    assert (smtp["east"]["seen"], smtp["east"]["count"]) == (True, 1)
    assert smtp["south"]["seen"] is False
    hassh = _answers(result, "fingerprint", SHARED_HASSH)
    assert hassh["east"]["seen"] and hassh["south"]["seen"]
    ja3 = _answers(result, "fingerprint", SHARED_JA3)
    assert (ja3["east"]["seen"], ja3["south"]["seen"]) == (False, True)
    assert all(a["status"] == "ok" for r in result["questions"] for a in r["answers"])
    # asked blind, each peer's OPRF key checked against the one it gossiped
    assert all(a["mode"] == "blind" for r in result["questions"] for a in r["answers"])
    assert result["gossip"]["oprf_keys_from"] == ["east", "north", "south"]
    gossip = result["gossip"]  # what north knows without asking anyone
    assert set(gossip["records_held"]) == {"north", "east", "south"}
    assert {f["kind"]: f["operators"] for f in gossip["fingerprints"]} == {"hassh": 2, "ja3": 1}
    also_seen = {s["operators"]: s["signals"] for s in gossip["identities_also_seen"]}
    assert set(also_seen) == {1, 2}
    assert f"ja3 {SHARED_JA3}" in also_seen[1]  # the web client north and south saw
    # the simulated rotating actor, on honeypots of all three: its SSH client and
    # its typing rhythm, never an address
    assert f"hassh {SHARED_HASSH}" in also_seen[2]
    assert any(signal.startswith("keystroke SimHash") for signal in also_seen[2])


def test_demo_answers_carry_no_attacker_address_or_honeypot(cli: CliRunner) -> None:
    result = json_out(cli("demo", "--json", check=True))
    answers = json.dumps([[r["answers"] for r in result["questions"]], result["gossip"]])
    logs = demo_logs()
    addresses = {ip for lines in logs.values() for line in lines for ip in IP.findall(line)}
    assert addresses and not any(ip in answers for ip in addresses)
    for honeypot in ("mail-01", "mx-east", "web-south", "decky-"):
        assert honeypot not in answers


def test_demo_keeps_its_homes_in_a_chosen_directory_and_refuses_a_used_one(
        cli: CliRunner, tmp_path: Path) -> None:
    chosen = tmp_path / "demo"
    cli("demo", "--dir", str(chosen), "--json", check=True)
    assert {p.name for p in chosen.iterdir()} == {"north", "east", "south"}
    assert json_out(cli("--home", str(chosen / "east"), "status", "--json"))["events"] > 0

    again = cli("demo", "--dir", str(chosen))
    assert again.returncode == 1 and "not empty" in again.stderr
