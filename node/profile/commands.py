"""Kill-chain phases of shell commands: a documented, ordered, operator-extensible rule table.

A command line is split into segments at ``;``, ``&&``, ``||``, ``|``, ``&``
and line breaks (outside quotes). Each segment is normalised (leading
``VAR=value`` assignments, ``busybox``/``nohup``/``exec``/``command`` wrappers
and the directory of the command word removed) and matched against the rules
in order; the first rule whose regular expression is found in the segment
gives that segment's phase. A command's phases are its segments' phases in
order, without repeats; a command no rule matches is ``unclassified``.

Phase names follow the Unified Kill Chain. Operators prepend their own rules
from a TOML file (``[profile] phase_rules_path``)::

    [[rule]]
    phase = "impact"
    pattern = "\\\\bmy-miner\\\\b"
    note = "the miner our fleet keeps seeing"

Operator rules are tried before the built-in ones, so they can also override.
See docs/profiling.md for the table.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

UNCLASSIFIED = "unclassified"

#: Longest command text classified; the rest is ignored (bounded regex work).
MAX_COMMAND_CHARS = 4096
_CACHE_LIMIT = 65536
_PHASE_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


class PhaseRulesError(ValueError):
    """An operator rule file that cannot be used; the message names file and rule."""


@dataclass(frozen=True, slots=True)
class PhaseRule:
    """Segments in which ``pattern`` is found belong to ``phase``; ``note`` says why."""

    phase: str
    pattern: re.Pattern[str]
    note: str = ""


def _rule(phase: str, pattern: str, note: str) -> PhaseRule:
    return PhaseRule(phase, re.compile(pattern), note)


#: The built-in table, most specific first. Each row: phase, regex, why.
BUILTIN_RULES: tuple[PhaseRule, ...] = (
    _rule("defense_evasion",
          r"^(history\s+-c|unset\s+HISTFILE|(export\s+)?HIST(FILE|SIZE|FILESIZE)=)",
          "history wiping"),
    _rule("defense_evasion", r"^(rm|shred)\b.*(\.bash_history|/var/log/|/var/run/utmp|wtmp)",
          "log and history removal"),
    _rule("defense_evasion", r"^(setenforce\s+0|ufw\s+disable|iptables\s+-F|chattr\b"
          r"|systemctl\s+(stop|disable)\s+(firewalld|apparmor|auditd))",
          "disabling protections"),
    _rule("exfiltration", r"^curl\b.*(\s-T\s|--upload-file|\s-F\s|--data-binary\s+@)",
          "uploading files out"),
    _rule("exfiltration", r"^(scp|rsync)\b.*\s/\S*\s+\S+@\S+:",
          "copying local files to a remote host"),
    _rule("persistence", r"(\.ssh/authorized_keys|^crontab(\s+(?!-l\b)|$)|/etc/cron|/etc/rc\.local"
          r"|/etc/init\.d/|^systemctl\s+enable|/etc/systemd/system/|\.bashrc|\.profile\b)",
          "keys, cron, services and shell start-up files"),
    _rule("persistence", r"^(useradd|adduser|usermod|chpasswd|passwd)\b", "account manipulation"),
    _rule("credential_access", r"(/etc/shadow|\.ssh/id_|\.aws/credentials|\.git-credentials"
          r"|\.bash_history|mimipenguin|unshadow|/etc/security/opasswd)",
          "reading secrets"),
    _rule("impact", r"(xmrig|minerd|cpuminer|stratum\+tcp|nicehash|cryptonight|\bt-rex\b)",
          "resource hijacking (miners)"),
    _rule("impact", r"^(rm\s+-rf\s+/\*?(\s|$)|(mkfs\S*|shutdown|reboot|halt|poweroff)(\s|$)"
          r"|dd\s+if=/dev/(zero|urandom)\s+of=/dev/)",
          "destruction and denial"),
    _rule("defense_evasion", r"^(pkill|killall|kill)\b", "killing competitors and monitors"),
    _rule("command_and_control", r"^(wget|curl|tftp|ftpget|fetch|lwp-download)\b",
          "ingress tool transfer"),
    _rule("command_and_control", r"(^(nc|ncat|netcat|socat|telnet)\b|/dev/(tcp|udp)/)",
          "raw connections and reverse shells"),
    _rule("lateral_movement", r"^(ssh|scp|sshpass|rsync)\b", "moving to other hosts"),
    _rule("privilege_escalation",
          r"^(sudo|su|pkexec|doas)\b|chmod\s+([ugoa]*\+s|[0-7]?[4-7][0-7]{3})\b",
          "privilege change, setuid"),
    _rule("execution", r"^(chmod\s+(\+x|[0-7]*[1357][0-7]{0,2}\b)|\.{0,2}/\S|sh|bash|dash|zsh"
          r"|python[0-9.]*|perl|php|ruby|node|source|\.)(\s|$)",
          "running dropped code"),
    _rule("collection", r"^(tar\s+-?\w*c\w*|zip|7z\s+a|mysqldump|pg_dump|sqlite3)\b",
          "packing data"),
    _rule("discovery", r"^(uname|whoami|id|hostname|w|who|last|lastlog|ps|top|netstat|ss"
          r"|ifconfig|ip|arp|route|lscpu|nproc|free|df|uptime|lspci|lsblk|lsusb|dmidecode|env"
          r"|printenv|ls|pwd|find|locate|which|type|groups|getent|crontab\s+-l|nvidia-smi"
          r"|systemctl\s+status|cat\s+/(proc|etc|sys)/)\b",
          "learning the host"),
    _rule("discovery", r"^(echo|printf)\b.*\$(SHELL|PATH|USER|HOME)", "learning the host"),
)

_WRAPPERS = frozenset({"busybox", "nohup", "exec", "command", "builtin", "time"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=\S*\s*")


class PhaseRules:
    """An ordered rule table with a bounded classification cache."""

    def __init__(self, rules: Sequence[PhaseRule] = BUILTIN_RULES) -> None:
        self.rules = tuple(rules)
        self._cache: dict[str, tuple[str, ...]] = {}

    def classify(self, command: str) -> tuple[str, ...]:
        """Phases of a command line in segment order, or ``("unclassified",)``."""
        cached = self._cache.get(command)
        if cached is not None:
            return cached
        phases: list[str] = []
        for segment in split_segments(command[:MAX_COMMAND_CHARS]):
            phase = self.classify_segment(segment)
            if phase is not None and phase not in phases:
                phases.append(phase)
        result = tuple(phases) if phases else (UNCLASSIFIED,)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[command] = result
        return result

    def classify_segment(self, segment: str) -> str | None:
        """Phase of one segment by the first matching rule, None if no rule matches."""
        text = normalise_segment(segment)
        if not text:
            return None
        for rule in self.rules:
            if rule.pattern.search(text):
                return rule.phase
        return None


def split_segments(command: str) -> list[str]:
    """Split at ``; && || | &`` and line breaks outside single or double quotes."""
    segments: list[str] = []
    current: list[str] = []
    quote = ""
    i, n = 0, len(command)
    while i < n:
        ch = command[i]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == "\\" and quote == '"' and i + 1 < n:
                current.append(ch)
                i += 1
                ch = command[i]
            current.append(ch)
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch == "\\" and i + 1 < n:
            current.append(command[i : i + 2])
            i += 1
        elif ch == "&" and _is_redirect(command, i):
            current.append(ch)
        elif ch in ";|&\n\r":
            segments.append("".join(current))
            current = []
            if i + 1 < n and command[i + 1] == ch and ch in "|&":
                i += 1
        else:
            current.append(ch)
        i += 1
    segments.append("".join(current))
    return [s.strip() for s in segments if s.strip()]


def _is_redirect(command: str, i: int) -> bool:
    """``>&``, ``<&``, ``&>``: an ampersand that belongs to a redirection."""
    before = command[i - 1] if i > 0 else ""
    after = command[i + 1] if i + 1 < len(command) else ""
    return before in "<>" and before != "" or after == ">"


def normalise_segment(segment: str) -> str:
    """Drop ``VAR=value`` prefixes, harmless wrappers and the command word's directory."""
    text = " ".join(segment.split())
    while True:
        match = _ASSIGNMENT.match(text)
        if match is None or match.end() >= len(text):  # a bare assignment stays itself
            break
        text = text[match.end():]
    while True:
        word, _, rest = text.partition(" ")
        if "/" in word and "=" not in word and not word.startswith("."):
            base = word.rsplit("/", 1)[1]
            if base:
                word = base
                text = f"{word} {rest}".strip()
        if word in _WRAPPERS and rest:
            text = rest
            continue
        return text


def load_rules(path: Path) -> tuple[PhaseRule, ...]:
    """Operator rules from a TOML file of ``[[rule]]`` tables (phase, pattern, note)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PhaseRulesError(f"{path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PhaseRulesError(f"{path}: {exc}") from None
    entries = data.get("rule", [])
    if not isinstance(entries, list):
        raise PhaseRulesError(f"{path}: 'rule' must be an array of tables ([[rule]])")
    rules: list[PhaseRule] = []
    for number, entry in enumerate(entries, 1):
        where = f"{path}: rule {number}"
        if not isinstance(entry, dict):
            raise PhaseRulesError(f"{where}: not a table")
        phase, pattern, note = entry.get("phase"), entry.get("pattern"), entry.get("note", "")
        if not isinstance(phase, str) or not _PHASE_NAME.fullmatch(phase):
            raise PhaseRulesError(f"{where}: phase must be a lowercase name like 'discovery'")
        if not isinstance(pattern, str) or not pattern:
            raise PhaseRulesError(f"{where}: pattern must be a non-empty regular expression")
        if not isinstance(note, str):
            raise PhaseRulesError(f"{where}: note must be a string")
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise PhaseRulesError(f"{where}: bad pattern: {exc}") from None
        rules.append(PhaseRule(phase, compiled, note))
    return tuple(rules)


def rules_with_operator_file(path: Path | None) -> PhaseRules:
    """The operator's rules (if any) followed by the built-in table."""
    extra = load_rules(path) if path is not None else ()
    return PhaseRules((*extra, *BUILTIN_RULES))
