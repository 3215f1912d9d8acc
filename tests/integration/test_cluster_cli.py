"""The clustering commands through the real console script, on a simulated slow rotator."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_cli_errors import one_line_error
from tests.support import REPO, CliRunner, json_out


def test_an_operator_sees_who_is_behind_the_addresses_and_why(cli: CliRunner,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "sim"
    cli("simulate", str(REPO / "scenarios" / "slow_rotator.yaml"), "--seed", "3", "-o",
        str(out), check=True)
    cli("init", check=True)
    cli("ingest", str(out / "sensors.log"), check=True)  # clusters at its end
    assert json_out(cli("cluster", "--json", check=True))["up_to_date"] is True

    listed = json_out(cli("identities", "--json", check=True))
    rotator = listed[0]
    assert rotator["observations"] == 8 and all(row["observations"] == 1 for row in listed[1:])

    detail = json_out(cli("identity", str(rotator["id"]), "--json", check=True))
    assert detail["merged"] is False and len(detail["members"]) == 8
    signals = {s["signal"] for link in detail["links"] for s in link["signals"]}
    assert {"ja3", "hassh", "payload"} <= signals  # why: the tools and the dropper
    assert all(s["seen_by"] == 8 for link in detail["links"] for s in link["signals"]
               if s["signal"] in ("ja3", "hassh"))  # every address: nobody else's

    joined = next(m["observation_id"] for m in detail["members"]
                  if m["observation_id"] != rotator["id"])
    via_loser = json_out(cli("identity", str(joined), "--json", check=True))
    assert via_loser["merged"] is True and via_loser["id"] == rotator["id"]

    rows = json_out(cli("observations", "--json", check=True))
    members = {m["ip"] for m in detail["members"]}
    assert {r["identity_id"] for r in rows if r["ip"] in members} == {rotator["id"]}
    campaign = json_out(cli("campaign", str(detail["campaign_id"]), "--json", check=True))
    assert [len(i["members"]) for i in campaign["identities"]] == [8]

    scores = json_out(cli("score", str(out / "truth.json"), "--json", check=True))
    assert scores["identity"] == scores["campaign"] == {
        "adjusted_rand_index": 1.0, "homogeneity": 1.0, "completeness": 1.0,
        "singleton_recall": 1.0}
    human = cli("identity", str(rotator["id"]), check=True).stdout
    assert "why they are linked" in human and "ja3" in human


def test_unknown_ids_and_bad_truth_files_are_one_line(cli: CliRunner, tmp_path: Path) -> None:
    cli("init", check=True)
    one_line_error(cli("identity", "999999"), "no identity 999999")
    one_line_error(cli("campaign", "999999"), "no campaign 999999")
    bad = tmp_path / "truth.json"
    bad.write_text('{"schema_version": 1, "observations": {"198.18.0.1": "x"}}')
    one_line_error(cli("score", str(bad)), "needs string")
    bad.write_text("not json")
    one_line_error(cli("score", str(bad)), "not JSON")
    one_line_error(cli("score", str(tmp_path / "missing.json")), "cannot read")


def test_hostile_ids_and_truth_files_are_refused_in_one_line(cli: CliRunner,
                                                             tmp_path: Path) -> None:
    cli("init", check=True)
    for bad in ("18446744073709551616", "-3", "0", "x"):
        proc = cli("identity", bad)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    one_line_error(cli("score", str(deep)), "not JSON")
