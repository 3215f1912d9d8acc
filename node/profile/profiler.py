"""The profiler: new events in, profile-table statements out, inside the batch transaction.

`Profiler` implements `node.store.BatchProfiler`. It does no I/O: each batch
of newly stored events (time-ordered) is dispatched on ``event.kind`` through
a dict, aggregated in memory per (observation, key), and returned as a few
JSON-array statements (see `node.profile.sql`) that append to the profile
journals (folded by a derived stage, `node.profile.stages.JournalFold`).
Events of other kinds cost one dict lookup. A malformed field value is counted under a reason
(``profile_rejections``, shown by ``decnet-fed status``) and skipped; the
event itself is stored regardless.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from node.config import Config
from node.errors import ConfigError
from node.event import Event
from node.ingest.transcript import FORMAT_TRANSCRIPT, KIND_CHUNK, KIND_HEADER, KIND_TRUNCATED
from node.profile import sql
from node.profile.commands import PhaseRules, PhaseRulesError, rules_with_operator_file
from node.profile.fingerprints import EVENT_FINGERPRINTS, TYPES, validate_fingerprint
from node.profile.infrastructure import (
    C2Endpoint,
    InternalHosts,
    attachment_hashes,
    command_endpoints,
    mail_urls,
    normalise_url,
    tcp_endpoint,
    validate_sha256,
)
from node.profile.ipv6 import classify_ipv6
from node.profile.rejection import Rejected
from node.profile.rotation import PROBES, Sighting, parse_port, plan_rotations
from node.profile.simhash import format_simhash, parse_simhash
from node.profile.smtp import recipient_domain, recipients

#: Longest command text stored; longer commands are cut (and still classified).
MAX_COMMAND_CHARS = 4096
_MAX_CREDENTIAL = 256
_MAX_SID = 128
#: Event kinds that carry a Cowrie-style ``session`` worth a session row.
_SESSION_KINDS = frozenset({
    "session_connect", "session_closed", "client_version", "client_kex", "login_failed",
    "login_success", "command", "command_failed", "file_download", "file_upload",
    "direct_tcpip",
})
_PAYLOAD_SOURCES = {"file_download": "download", "file_upload": "upload",
                    "file_captured": "file_captured"}

Key = tuple[Any, ...]
_VERSIONS = {name: spec.version for name, spec in TYPES.items()}


class _Counted:
    """Sightings ``(*key, time_us)`` for one counted journal, appended by handlers.

    Not aggregated here: the fold's GROUP BY sums them anyway, and a plain
    append is the cheapest thing a handler can do per event.
    """

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []

    def as_rows(self) -> list[tuple[Any, ...]]:
        return self.rows


class _Batch:
    """Everything one batch contributes, before it becomes statements."""

    def __init__(self) -> None:
        self.smtp = _Counted()
        self.fingerprints = _Counted()
        self.ipv6 = _Counted()
        self.credentials = _Counted()
        self.sessions = _Counted()
        self.phases = _Counted()
        self.payloads = _Counted()
        self.c2 = _Counted()
        self.mail_simhashes = _Counted()
        self.commands: list[list[Any]] = []
        self.sightings: list[Sighting] = []
        self.transcript_input: list[list[Any]] = []
        self.transcript_sessions: dict[str, list[Any]] = {}
        self.session_links: list[list[Any]] = []
        self.rejections: Counter[str] = Counter()

    def transcript_session(self, sid: str) -> list[Any]:
        row = self.transcript_sessions.get(sid)
        if row is None:
            row = self.transcript_sessions[sid] = [sid, None, None, None, 0, 0]
        return row


Handler = Callable[[Event, _Batch], None]


@dataclass(frozen=True, slots=True)
class PreparedProfile:
    """One batch's profile statements, not yet counted against the profiler's state."""

    statements: list[tuple[str, Sequence[Any]]]
    rejections: Counter[str]


class Profiler:
    """Turns newly stored events into profile rows (a `node.store.BatchProfiler`).

    ``rejections`` accumulates this process's per-field rejection counts (the
    persistent totals are in the store's ``profile_rejections`` table).
    """

    def __init__(self, rules: PhaseRules | None = None,
                 internal: InternalHosts | None = None) -> None:
        self.rules = rules or PhaseRules()
        self.internal = internal or InternalHosts()
        self.rejections: Counter[str] = Counter()
        handlers: dict[str, list[Handler]] = {}

        def on(kinds: Iterable[str], handler: Handler) -> None:
            for kind in kinds:
                handlers.setdefault(kind, []).append(handler)

        on(("rcpt_to", "rcpt_denied", "message_accepted"), self._smtp)
        on(EVENT_FINGERPRINTS, self._fingerprints)
        on(("ipv6_link_local_leak",), self._ipv6)
        on(("auth_attempt", "login_failed", "login_success"), self._credentials)
        on(_SESSION_KINDS, self._session)
        on(("command", "command_failed"), self._command)
        on(("file_download", "file_upload", "file_captured"), self._payload)
        on(("file_download",), self._download_url)
        on(("direct_tcpip",), self._direct_tcpip)
        on(("message_stored",), self._message_stored)
        on(("session_recorded",), self._session_recorded)
        on((KIND_CHUNK,), self._transcript_chunk)
        on((KIND_HEADER,), self._transcript_header)
        on((KIND_TRUNCATED,), self._transcript_truncated)
        self._handlers = {kind: hs[0] if len(hs) == 1 else _chain(tuple(hs))
                          for kind, hs in handlers.items()}

    def statements(self, events: Sequence[Event]) -> list[tuple[str, Sequence[Any]]]:
        """Profile statements for a batch of new events (time-ordered by the store)."""
        return self.accept(self.prepare(events))

    def prepare(self, events: Sequence[Event]) -> PreparedProfile:
        """The batch's profile rows, computed without touching this profiler's state.

        The store prepares a batch before it knows which events are new (so the
        work overlaps the previous batch's write) and discards the result when
        some turn out to be stored already.
        """
        batch = _Batch()
        handlers = self._handlers
        for event in events:
            handler = handlers.get(event.kind)
            if handler is not None:
                handler(event, batch)
        return PreparedProfile(_statements(batch), batch.rejections)

    def accept(self, prepared: PreparedProfile) -> list[tuple[str, Sequence[Any]]]:
        """Count a prepared batch as written; its statements."""
        self.rejections.update(prepared.rejections)
        return prepared.statements

    # -- handlers: each reads one event, adds rows or rejections to the batch --

    def _smtp(self, e: Event, b: _Batch) -> None:
        if e.src_ip is None:
            return
        for address in recipients(e.kind, e.service, e.fields):
            domain = recipient_domain(address)
            if isinstance(domain, Rejected):
                b.rejections[f"smtp:{domain.reason}"] += 1
            else:
                b.smtp.rows.append((e.src_ip, domain, e.time_us))

    def _fingerprints(self, e: Event, b: _Batch) -> None:
        if e.src_ip is None:
            return
        probe = PROBES.get(e.kind)
        for field, kind in EVENT_FINGERPRINTS[e.kind]:
            raw = e.fields.get(field)
            if raw is None:
                continue
            value = validate_fingerprint(kind, raw)
            if value is None:
                continue
            if isinstance(value, Rejected):
                b.rejections[f"fingerprint:{value.reason}"] += 1
                continue
            b.fingerprints.rows.append((e.src_ip, kind, value, _VERSIONS[kind], e.time_us))
            if probe is not None and kind == probe[1]:
                port = parse_port(e.fields.get("target_port"))
                if port is None:
                    b.rejections["rotation:bad_port"] += 1
                else:
                    b.sightings.append(Sighting(e.src_ip, port, probe[0], value, e.time_us))

    def _ipv6(self, e: Event, b: _Batch) -> None:
        raw = e.fields.get("ipv6_addr")
        if e.src_ip is None or raw is None:
            return
        leak = classify_ipv6(raw)
        if leak.kind == "unknown":
            b.rejections["ipv6:unparseable"] += 1
        b.ipv6.rows.append((e.src_ip, leak.address, leak.kind, leak.oui, leak.iid, e.time_us))

    def _credentials(self, e: Event, b: _Batch) -> None:
        if e.src_ip is None:
            return
        f = e.fields
        username = f.get("username", f.get("principal", ""))
        secret = f.get("password")
        if secret is None:
            secret = f.get("secret_printable")
        if secret is None and f.get("secret_b64"):
            secret = "base64:" + f["secret_b64"]
        outcome = {"login_success": "success", "login_failed": "failed"}.get(e.kind, "attempt")
        b.credentials.rows.append((e.src_ip, username[:_MAX_CREDENTIAL],
                                   (secret or "")[:_MAX_CREDENTIAL], outcome, e.time_us))

    def _session(self, e: Event, b: _Batch) -> None:
        session = e.fields.get("session")
        if e.src_ip is not None and session:
            b.sessions.rows.append((e.src_ip, session[:_MAX_SID], e.sensor, e.service, e.time_us))

    def _command(self, e: Event, b: _Batch) -> None:
        command = e.fields.get("cmd")
        if e.src_ip is None or command is None or not command.strip():
            return
        phases = self.rules.classify(command)
        b.commands.append([e.src_ip, e.time_us, e.sensor, e.fields.get("session", ""),
                           command[:MAX_COMMAND_CHARS], ",".join(phases)])
        for phase in phases:
            b.phases.rows.append((e.src_ip, e.sensor, phase, e.time_us))
        self._endpoints(e, b, command_endpoints(command), "command")

    def _payload(self, e: Event, b: _Batch) -> None:
        raw = e.fields.get("shasum", e.fields.get("sha256"))
        if e.src_ip is None or raw is None:
            return
        self._hash(e, b, validate_sha256(raw), _PAYLOAD_SOURCES[e.kind])

    def _download_url(self, e: Event, b: _Batch) -> None:
        url = e.fields.get("url")
        if e.src_ip is not None and url:
            self._endpoints(e, b, [normalise_url(url)], "download")

    def _direct_tcpip(self, e: Event, b: _Batch) -> None:
        host, port = e.fields.get("dst_ip"), e.fields.get("dst_port")
        if e.src_ip is not None and host and port:
            self._endpoints(e, b, [tcp_endpoint(host, port)], "tcpip")

    def _message_stored(self, e: Event, b: _Batch) -> None:
        if e.src_ip is None:
            return
        f = e.fields
        if "sha256" in f:
            self._hash(e, b, validate_sha256(f["sha256"]), "mail_message")
        if f.get("attachments_json"):
            for value in attachment_hashes(f["attachments_json"]):
                self._hash(e, b, value, "mail_attachment")
        if f.get("urls_json"):
            urls = mail_urls(f["urls_json"])
            if isinstance(urls, Rejected):
                b.rejections[f"c2:{urls.reason}"] += 1
            else:
                self._endpoints(e, b, [normalise_url(u) for u in urls], "mail")
        if "body_simhash" in f:
            simhash = parse_simhash(f["body_simhash"])
            if isinstance(simhash, Rejected):
                b.rejections[f"mail:{simhash.reason}"] += 1
            elif simhash is not None:
                b.mail_simhashes.rows.append((e.src_ip, format_simhash(simhash), e.time_us))

    def _session_recorded(self, e: Event, b: _Batch) -> None:
        sid = e.fields.get("sid")
        if e.src_ip is None or not sid:
            return
        duration: float | None
        try:
            duration = float(e.fields.get("duration_s", ""))
        except ValueError:
            duration = None
        service = e.fields.get("service", e.service)
        sid = sid[:_MAX_SID]
        b.session_links.append([sid, e.src_ip, e.sensor, service, e.time_us, duration])
        b.sessions.rows.append((e.src_ip, sid, e.sensor, service, e.time_us))

    # Transcript kinds are trusted only from the shard parser, which guarantees
    # their fields; a syslog line naming itself "transcript_chunk" is ignored.

    def _transcript_chunk(self, e: Event, b: _Batch) -> None:
        f = e.fields
        if e.source_format != FORMAT_TRANSCRIPT or f.get("ch") != "i":
            return
        sid = f["sid"]
        b.transcript_input.append([sid, float(f["t"]), f["d"]])
        b.transcript_session(sid)[5] += 1

    def _transcript_header(self, e: Event, b: _Batch) -> None:
        if e.source_format != FORMAT_TRANSCRIPT:
            return
        row = b.transcript_session(e.fields["sid"])
        row[1] = e.time_us if "timestamp" in e.fields else None
        row[2] = _int_or_none(e.fields.get("width"))
        row[3] = _int_or_none(e.fields.get("height"))

    def _transcript_truncated(self, e: Event, b: _Batch) -> None:
        if e.source_format == FORMAT_TRANSCRIPT:
            b.transcript_session(e.fields["sid"])[4] = 1

    # -- shared steps --

    def _hash(self, e: Event, b: _Batch, value: str | Rejected | None, source: str) -> None:
        if isinstance(value, Rejected):
            b.rejections[f"payload:{value.reason}"] += 1
        elif value is not None and e.src_ip is not None:
            b.payloads.rows.append((e.src_ip, value, source, e.time_us))

    def _endpoints(self, e: Event, b: _Batch, found: Iterable[C2Endpoint | Rejected],
                   via: str) -> None:
        assert e.src_ip is not None
        sensor = e.sensor.lower()
        for endpoint in found:
            if isinstance(endpoint, Rejected):
                b.rejections[f"c2:{endpoint.reason}"] += 1
            elif endpoint.host == sensor or self.internal.contains(endpoint.host):
                b.rejections["c2:host:internal"] += 1
            else:
                b.c2.rows.append((e.src_ip, endpoint.host, endpoint.url, via, e.time_us))


def _statements(b: _Batch) -> list[tuple[str, Sequence[Any]]]:
    out: list[tuple[str, Sequence[Any]]] = [
        (sql.SMTP_TARGETS.append, b.smtp.as_rows()),
        (sql.FINGERPRINTS.append, b.fingerprints.as_rows()),
        (sql.IPV6_LEAKS.append, b.ipv6.as_rows()),
        (sql.CREDENTIALS.append, b.credentials.as_rows()),
        (sql.SESSIONS.append, b.sessions.as_rows()),
        (sql.COMMANDS.append, b.commands),
        (sql.PHASES.append, b.phases.as_rows()),
        (sql.PAYLOADS.append, b.payloads.as_rows()),
        (sql.C2.append, b.c2.as_rows()),
        (sql.MAIL_SIMHASHES.append, b.mail_simhashes.as_rows()),
        (sql.TRANSCRIPT_INPUT.append, b.transcript_input),
        (sql.SESSION_LINKS, b.session_links),
        (sql.TRANSCRIPT_SESSIONS, list(b.transcript_sessions.values())),
    ]
    if b.sightings:
        plan = plan_rotations(b.sightings)
        out += [
            (sql.ROTATIONS_FROM_STORED, [list(s) for s in plan.first]),
            (sql.ROTATIONS, [list(r) for r in plan.rotations]),
            (sql.PROBE_STATE, [[s.ip, s.port, s.probe, s.value, first_us, s.time_us]
                               for s, first_us in plan.last]),
        ]
    if b.rejections:
        out.append((sql.REJECTIONS, sorted(b.rejections.items())))
    return [(statement, rows) for statement, rows in out if rows]


def _chain(handlers: tuple[Handler, ...]) -> Handler:
    """One handler running several, so dispatch is one dict lookup and one call."""
    def run(event: Event, batch: _Batch) -> None:
        for handler in handlers:
            handler(event, batch)
    return run


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def profiler_from_config(config: Config) -> Profiler:
    """The profiler an ingest uses: operator phase rules and internal hosts from config.

    Raises `ConfigError` naming the file when the operator's rule file is unusable.
    """
    settings = config.profile
    path = config.home_file(settings.phase_rules_path) if settings.phase_rules_path.strip() \
        else None
    try:
        rules = rules_with_operator_file(path)
    except PhaseRulesError as exc:
        raise ConfigError(f"profile.phase_rules_path: {exc}") from None
    return Profiler(rules, InternalHosts.parse(settings.internal_hosts))
