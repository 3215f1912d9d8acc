"""The ingest foundation through the real `decnet-fed` console script."""

from __future__ import annotations

import gzip
import random
import sqlite3
from pathlib import Path

from tests.support import SAMPLES, CliRunner, json_out

SYSLOG_LINE = (
    '<134>1 2026-03-02T08:14:05.{us:06d}+00:00 mail-01 smtp - rcpt_to '
    '[relay@55555 src="198.51.100.{host}" value="<jane@victim-co.com>"]'
)
COWRIE_LINE = (
    '{{"eventid": "cowrie.login.failed", "username": "root", "password": "{pw}", '
    '"session": "s{host}", "src_ip": "192.0.2.{host}", "sensor": "hp-east", '
    '"timestamp": "2026-03-02T10:00:01.{us:06d}Z"}}'
)


def _event_rows(home: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(home / "node.db") as db:
        return db.execute(
            "SELECT key, time_us, src_ip, sensor, service, kind, source_format, fields"
            " FROM events ORDER BY key"
        ).fetchall()


def test_init_creates_config_and_store_and_is_safe_to_rerun(cli: CliRunner, home: Path) -> None:
    first = json_out(cli("init", "--name", "sensor-east", "--json", check=True))
    assert first["created"] is True and first["name"] == "sensor-east"
    assert (home / "config.toml").exists() and (home / "node.db").exists()
    cli("ingest", str(SAMPLES / "cowrie.json"), check=True)
    config_before = (home / "config.toml").read_text()

    again = json_out(cli("init", "--name", "other-name", "--json", check=True))

    assert again["created"] is False and again["name"] == "sensor-east"
    assert (home / "config.toml").read_text() == config_before
    assert json_out(cli("status", "--json"))["events"] == 10


def test_commands_on_an_uninitialised_home_explain_how_to_init(cli: CliRunner) -> None:
    proc = cli("observations")
    assert proc.returncode == 1
    assert "init" in proc.stderr


def test_ingest_reports_rejections_with_file_line_and_reason(cli: CliRunner) -> None:
    cli("init", check=True)
    report = json_out(cli("ingest", *sorted(map(str, SAMPLES.iterdir())), "--json", check=True))

    rejected = {(Path(r["source"]).name, r["line"], r["reason"]) for r in report["rejections"]}
    assert rejected == {
        ("cowrie.json", 11, "bad_json"),
        ("decnet-collector.jsonl", 5, "bad_json_shape"),
        ("decnet-syslog.log", 17, "invalid_ip"),
        ("decnet-syslog.log", 18, "bad_timestamp"),
    }
    assert report["rejected_by_reason"] == {
        "bad_json": 1, "bad_json_shape": 1, "bad_timestamp": 1, "invalid_ip": 1,
    }
    # the collector repeats one syslog event through raw_line: stored once
    assert report["duplicates"] == 1
    assert report["events_stored"] == report["lines_read"] - 4 - 1


def test_reingesting_the_same_files_adds_nothing(cli: CliRunner, home: Path) -> None:
    cli("init", check=True)
    paths = sorted(map(str, SAMPLES.iterdir()))
    cli("ingest", *paths, check=True)
    before_rows = _event_rows(home)
    before_obs = json_out(cli("observations", "--json"))

    again = json_out(cli("ingest", *paths, "--json", check=True))

    assert again["events_stored"] == 0
    assert again["duplicates"] == again["events_parsed"] > 0
    assert _event_rows(home) == before_rows
    assert json_out(cli("observations", "--json")) == before_obs


def test_gzip_and_stdin_sources_ingest_like_the_plain_file(cli: CliRunner, home: Path,
                                                          tmp_path: Path) -> None:
    plain = SAMPLES / "cowrie.json"
    packed = tmp_path / "cowrie.json.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    cli("init", check=True)

    from_gz = json_out(cli("ingest", str(packed), "--json", check=True))
    from_stdin = json_out(cli("ingest", "-", "--json", input=plain.read_bytes(), check=True))

    assert from_gz["events_stored"] == 10
    assert from_stdin["events_parsed"] == 10 and from_stdin["events_stored"] == 0


def test_missing_file_is_an_error_and_ingests_nothing(cli: CliRunner) -> None:
    cli("init", check=True)
    proc = cli("ingest", str(SAMPLES / "cowrie.json"), "/nonexistent/sensor.log")
    assert proc.returncode != 0
    assert "/nonexistent/sensor.log: no such file" in proc.stderr
    assert json_out(cli("status", "--json"))["events"] == 0


def test_corrupt_gzip_is_reported_and_other_sources_still_ingest(cli: CliRunner,
                                                                  tmp_path: Path) -> None:
    broken = tmp_path / "broken.log.gz"
    payload = gzip.compress(random.Random(7).randbytes(50_000))
    broken.write_bytes(payload[: len(payload) // 2])
    cli("init", check=True)
    proc = cli("ingest", str(broken), str(SAMPLES / "cowrie.json"), "--json")
    assert proc.returncode == 1
    report = json_out(proc)
    assert report["source_errors"] and "broken.log.gz" in report["source_errors"][0]
    assert report["events_stored"] == 10


def test_bad_lines_never_drop_their_good_neighbours(cli: CliRunner, tmp_path: Path) -> None:
    good = [SYSLOG_LINE.format(us=i, host=i % 200) for i in range(30)]
    bad = [b"\x00\x01garbage", b"{\"eventid\": 3}", b"<134>1 x", "\u00ff".encode("latin-1"),
           b'<134>1 2026-03-02T08:14:05+00:00 h smtp - x [relay@55555 src="1.2.3.4\\"]',
           b"A" * 300_000]
    mixed = tmp_path / "mixed.log"
    with mixed.open("wb") as out:
        for i, line in enumerate(good):
            out.write(line.encode() + b"\n")
            if i < len(bad):
                out.write(bad[i] + b"\n")
    cli("init", check=True)
    report = json_out(cli("ingest", str(mixed), "--json", check=True))
    assert report["events_stored"] == len(good)
    assert report["rejected"] == len(bad)
    assert "line_too_long" in report["rejected_by_reason"]
    assert sorted(r["line"] for r in report["rejections"]) == [2, 4, 6, 8, 10, 12]


def test_observations_json_lists_every_attacker_ip(cli: CliRunner) -> None:
    cli("init", check=True)
    cli("ingest", *map(str, SAMPLES.iterdir()), check=True)
    rows = {row["ip"]: row for row in json_out(cli("observations", "--json"))}
    assert set(rows) == {"198.51.100.23", "192.0.2.44", "192.0.2.80", "203.0.113.61",
                         "2001:db8::9"}
    assert sorted(row["id"] for row in rows.values()) == [1, 2, 3, 4, 5]  # stable integer ids
    smtp = rows["198.51.100.23"]
    assert smtp == {
        "id": smtp["id"],
        "ip": "198.51.100.23",
        "first_seen": "2026-03-02T08:14:05.120334Z",
        "last_seen": "2026-03-02T08:14:10.100000Z",
        "event_count": 4,
        "services": ["smtp", "smtp_relay"],
        "honeypots": ["mail-01", "mail-02"],
        "identity_id": smtp["id"],  # clustered at the end of the ingest: alone
        "campaign_id": smtp["id"],
    }
    # the active prober's events count, but the prober is not a honeypot the attacker touched
    assert "decnet-prober" not in rows["192.0.2.44"]["honeypots"]


def test_a_bad_environment_override_names_its_setting(cli: CliRunner) -> None:
    cli("init", check=True)
    proc = cli("status", env_extra={"DECNET_FED_STORE_BATCH_SIZE": "lots"})
    assert proc.returncode == 1
    assert "store.batch_size" in proc.stderr and "DECNET_FED_STORE_BATCH_SIZE" in proc.stderr


def test_status_reports_home_store_and_counts(cli: CliRunner, home: Path) -> None:
    cli("init", "--name", "n1", check=True)
    cli("ingest", str(SAMPLES / "cowrie.json"), check=True)
    status = json_out(cli("status", "--json", check=True))
    assert status["name"] == "n1"
    assert status["home"] == str(home)
    assert status["events"] == 10 and status["observations"] == 1
    assert status["store_bytes"] > 0 and status["schema_version"] >= 1
