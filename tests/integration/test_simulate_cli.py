"""`decnet-fed simulate` through the real console script, then init, ingest and read back."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.support import CliRunner, console_script, json_out

OFFLINE = {"DECNET_FED_ENRICHMENT_PTR_ENABLED": "0"}
SCENARIO = """
corpus:
  campaigns:
    - campaign:
        id: hopping
        duration_days: 2
        actors:
          - id: hopper
            asn: 64512
            ip_pool: rotating
            rotation_count: 3
            rotation_asns: [64512, 64513, 64514]
            hassh: hopper-tool
        phases:
          - name: delivery
            target_selector: {count: 3}
          - name: discovery
            target_selector: {count: 3}
    - campaign:
        id: loner
        actors: [{id: wolf, asn: 14061, hours_active_utc: [3, 4]}]
        phases: [{name: delivery}]
  noise: {scanner_count: 4}
"""


def scenario_file(tmp_path: Path, text: str = SCENARIO, name: str = "hops.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_simulated_logs_ingest_into_exactly_the_truths_observations(
        cli: CliRunner, home: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"

    summary = json_out(cli("simulate", str(scenario_file(tmp_path)), "--seed", "3", "-o",
                           str(out), "--json", check=True))

    assert not home.exists()  # simulate needs no node home and makes none
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    assert (truth["schema_version"], truth["scenario"], truth["seed"]) == (1, "hops", 3)
    assert summary["observations"] == len(truth["observations"]) == 3 + 1 + 4
    assert (summary["identities"], summary["campaigns"]) == (2 + 4, 2 + 4)
    log_lines = (out / "sensors.log").read_text(encoding="utf-8").splitlines()
    assert summary["lines"] == len(log_lines)

    cli("init", check=True)
    ingest = json_out(cli("ingest", str(out / "sensors.log"), "--json", check=True,
                          env_extra=OFFLINE))
    observed = json_out(cli("observations", "--json", check=True))

    assert ingest["rejected"] == 0
    assert ingest["events_stored"] == len(log_lines)
    assert sorted(o["ip"] for o in observed) == sorted(truth["observations"])


def test_the_asn_table_enriches_each_observation(cli: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cli("simulate", str(scenario_file(tmp_path)), "-o", str(out), check=True)
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))["observations"]
    cli("init", check=True)
    cli("ingest", str(out / "sensors.log"), check=True, env_extra=OFFLINE)
    env = {**OFFLINE, "DECNET_FED_ENRICHMENT_IP2ASN_PATH": str(out / "ip2asn.tsv")}

    def asn_of(ip: str) -> object:
        profile = json_out(cli("observation", ip, "--json", check=True, env_extra=env))
        return profile["enrichment"]["asn"]

    hoppers = [ip for ip, labels in truth.items() if labels["identity"] == "hopper"]
    (wolf,) = [ip for ip, labels in truth.items() if labels["identity"] == "wolf"]
    scanner = next(ip for ip, labels in truth.items()
                   if labels["identity"].startswith("scanner-"))
    assert {asn_of(ip) for ip in hoppers} == {64512, 64513, 64514}
    assert asn_of(wolf) == 14061
    asn = asn_of(scanner)
    assert isinstance(asn, int) and 1 <= asn <= 64495


def test_same_seed_same_files_and_existing_files_are_kept(cli: CliRunner,
                                                          tmp_path: Path) -> None:
    scenario = scenario_file(tmp_path)
    first, second = tmp_path / "first", tmp_path / "second"
    cli("simulate", str(scenario), "--seed", "9", "-o", str(first), check=True)
    cli("simulate", str(scenario), "--seed", "9", "-o", str(second), check=True)
    for name in ("sensors.log", "truth.json", "ip2asn.tsv"):
        assert (first / name).read_bytes() == (second / name).read_bytes()

    again = cli("simulate", str(scenario), "--seed", "10", "-o", str(first))
    assert again.returncode == 1
    assert again.stderr.strip().count("\n") == 0
    assert "exists: pass --force" in again.stderr
    assert (first / "truth.json").read_bytes() == (second / "truth.json").read_bytes()

    forced = cli("simulate", str(scenario), "--seed", "10", "-o", str(first), "--force")
    assert forced.returncode == 0, forced.stderr
    assert json.loads((first / "truth.json").read_text(encoding="utf-8"))["seed"] == 10


def test_the_default_directory_is_named_after_the_scenario(tmp_path: Path) -> None:
    scenario = scenario_file(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECNET_FED_")}

    proc = subprocess.run([console_script(), "simulate", str(scenario)], cwd=work, env=env,
                          capture_output=True, text=True, timeout=120, check=False)

    assert proc.returncode == 0, proc.stderr
    assert "simulated 'hops'" in proc.stdout
    assert sorted(p.name for p in (work / "simulated-hops").iterdir()) == \
        ["ip2asn.tsv", "sensors.log", "truth.json"]


def test_a_bad_scenario_is_one_line_naming_file_and_field(cli: CliRunner,
                                                          tmp_path: Path) -> None:
    bad = scenario_file(tmp_path, SCENARIO.replace("rotation_count: 3", "rotation_count: 0"),
                        "bad.yaml")

    proc = cli("simulate", str(bad), "-o", str(tmp_path / "never"))

    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("decnet-fed: error: ")
    assert f"{bad}: corpus.campaigns[0].campaign.actors[0].rotation_count: must be >= 1" \
        in proc.stderr
    assert not (tmp_path / "never").exists()
    missing = cli("simulate", str(tmp_path / "missing.yaml"))
    assert missing.returncode == 1
    assert "cannot read scenario" in missing.stderr and "Traceback" not in missing.stderr
