"""The scenario language: the shared scenarios parse, defaults hold, every bad field is named."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from node.errors import NodeError, ScenarioError
from node.simulate.scenario import (
    ALL_HOURS,
    MAX_SCENARIO_BYTES,
    Actor,
    Phase,
    TargetSelector,
    ToolSignature,
    load_scenario,
    parse_scenario,
)
from tests.scenarios import SCENARIO_NAMES, shared_scenario


def minimal() -> dict[str, Any]:
    return {"campaign": {"id": "c1", "actors": [{"id": "a1"}], "phases": [{"name": "delivery"}]}}


def corpus() -> dict[str, Any]:
    second = minimal()["campaign"] | {"id": "c2", "actors": [{"id": "a2"}]}
    return {"corpus": {"campaigns": [{"campaign": minimal()["campaign"]}, {"campaign": second}],
                       "noise": {"scanner_count": 2}}}


def parse(document: dict[str, Any]) -> Any:
    return parse_scenario(yaml.safe_dump(document), "test")


def error_of(document: dict[str, Any] | str) -> str:
    text = document if isinstance(document, str) else yaml.safe_dump(document)
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "test")
    return str(caught.value)


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_every_shared_scenario_parses(name: str) -> None:
    scenario = load_scenario(shared_scenario(name))

    assert scenario.name == name
    assert scenario.campaigns
    for campaign in scenario.campaigns:
        assert {p.actor for p in campaign.phases} == {a.id for a in campaign.actors}


def test_vpn_hopping_reads_rotation_and_fingerprints() -> None:
    scenario = load_scenario(shared_scenario("vpn_hopping"))

    (campaign,) = scenario.campaigns
    (actor,) = campaign.actors
    assert (actor.ip_pool, actor.rotation_count) == ("rotating", 5)
    assert actor.rotation_asns == (64512, 64513, 64514, 64515, 64516)
    assert [actor.asn_of(k) for k in range(7)] == [64512, 64513, 64514, 64515, 64516, 64512,
                                                   64513]
    assert actor.ja3 is not None and actor.ja3.startswith("771,")
    assert actor.hassh == "vpn-hopper-cccccccc-cccccccc-cccccccc"
    assert campaign.duration_days == 2
    assert [p.name for p in campaign.phases] == ["delivery", "exploitation", "discovery"]
    assert campaign.phases[1].tool_signature.payload_hash == "vpn-hopper-stage1-payload"
    assert campaign.phases[0].target_selector == TargetSelector(count=5, service="ssh")


def test_lone_wolf_has_noise_and_no_fingerprints() -> None:
    scenario = load_scenario(shared_scenario("lone_wolf"))

    assert scenario.noise.scanner_count == 8
    actor = scenario.campaigns[0].actors[0]
    assert (actor.ja3, actor.hassh, actor.jitter_seconds) == (None, None, 30.0)


def test_multi_operator_previous_success_and_credentials_elsewhere() -> None:
    multi = load_scenario(shared_scenario("multi_operator")).campaigns[0]
    wordlist = load_scenario(shared_scenario("shared_wordlist")).campaigns[0]

    assert multi.phases[2].target_selector.previous_success
    assert multi.phases[4].actor == "ops-postex-day"
    creds = wordlist.phases[1].tool_signature
    assert creds.commands == ()
    assert creds.credentials[2] == ("admin", "12345")


def test_defaults_follow_the_readme() -> None:
    scenario = parse(minimal())

    assert scenario.name == "test"
    assert scenario.noise.scanner_count == 0
    (campaign,) = scenario.campaigns
    assert (campaign.duration_days, campaign.pause_windows) == (1, ())
    assert campaign.actors == (Actor("a1"),)
    actor = campaign.actors[0]
    assert (actor.asn, actor.ip_pool, actor.rotation_count, actor.jitter_seconds) == \
        (0, "sticky", 1, 60.0)
    assert (actor.hours_active_utc, actor.active_days, actor.start_day) == (ALL_HOURS, None, 0)
    assert (actor.ja3, actor.hassh, actor.keystroke_profile) == (None, None, None)
    assert campaign.phases == (Phase("delivery", "a1"),)
    phase = campaign.phases[0]
    assert phase.tool_signature == ToolSignature(commands=None)
    assert phase.target_selector == TargetSelector(count=1, decky=None, service="any")
    assert phase.dwell_seconds == 5.0


def test_a_phase_without_actor_belongs_to_the_first() -> None:
    document = minimal()
    document["campaign"]["actors"].append({"id": "a2"})
    document["campaign"]["phases"].append({"name": "discovery", "actor": "a2"})

    phases = parse(document).campaigns[0].phases

    assert [p.actor for p in phases] == ["a1", "a2"]


def test_extensions_parse() -> None:
    document = minimal()
    document["campaign"]["actors"][0] |= {"start_day": 1, "keystroke_profile": 42}
    document["campaign"]["duration_days"] = 3
    document["campaign"]["phases"][0] |= {
        "ipv6_leak_mac": "00:1A:2B:3C:4D:5E", "direct_tcpip": "[2001:db8::7]:8443",
        "download_url": "http://198.51.100.7/bins/x86"}
    document["campaign"]["pause_windows"] = [[2, 2]]

    campaign = parse(document).campaigns[0]

    actor, phase = campaign.actors[0], campaign.phases[0]
    assert (actor.start_day, actor.keystroke_profile) == (1, "42")
    assert phase.ipv6_leak_mac == "00:1a:2b:3c:4d:5e"
    assert phase.direct_tcpip == ("2001:db8::7", 8443)
    assert phase.download_url == "http://198.51.100.7/bins/x86"
    assert campaign.days_of(actor) == (1,)


def test_null_means_absent_for_fingerprints() -> None:
    document = minimal()
    document["campaign"]["actors"][0] |= {"ja3": None, "hassh": None}

    actor = parse(document).campaigns[0].actors[0]

    assert (actor.ja3, actor.hassh) == (None, None)


def at(document: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A copy of ``document`` with the value at ``a.b[0].c`` replaced (created if missing)."""
    result = copy.deepcopy(document)
    node: Any = result
    parts = dotted.replace("]", "").replace("[", ".").split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return result


C = "campaign"
A0 = f"{C}.actors[0]"
P0 = f"{C}.phases[0]"

#: (dotted path to set, value, expected error text).
BAD_FIELDS: list[tuple[str, Any, str]] = [
    (f"{C}.id", "", f"{C}.id: must not be empty"),
    (f"{C}.id", 7, f"{C}.id: must be a string"),
    (f"{C}.id", "x" * 200, f"{C}.id: must be at most 128 characters"),
    (f"{C}.id", "bad\x1bid", f"{C}.id: must not contain control characters"),
    (f"{C}.actors", [], f"{C}.actors: must have at least 1 item"),
    (f"{C}.actors", {"id": "a"}, f"{C}.actors: must be a list"),
    (f"{C}.phases", [], f"{C}.phases: must have at least 1 item"),
    (f"{C}.duration_days", 0, f"{C}.duration_days: must be >= 1"),
    (f"{C}.duration_days", 400, f"{C}.duration_days: must be <= 366"),
    (f"{C}.duration_days", True, f"{C}.duration_days: must be an integer"),
    (f"{C}.duration_days", 1.5, f"{C}.duration_days: must be an integer"),
    (f"{C}.pause_windows", [[0]], f"{C}.pause_windows[0]: must be a [start_day, end_day] pair"),
    (f"{C}.pause_windows", [[0, 5]], f"{C}.pause_windows[0][1]: must be <= 0"),
    (f"{C}.pause_windows", "0-1", f"{C}.pause_windows: must be a list"),
    (f"{C}.pause_windows", [[0, 0]], f"{A0}: has no day to act on"),
    (f"{C}.surprise", 1, f"{C}.surprise: unknown key (known here: id, actors, phases"),
    (f"{A0}.id", None, f"{A0}.id: must be a string"),
    (f"{A0}.asn", -1, f"{A0}.asn: must be >= 0"),
    (f"{A0}.asn", 2**32, f"{A0}.asn: must be <= 4294967295"),
    (f"{A0}.asn", "AS64512", f"{A0}.asn: must be an integer"),
    (f"{A0}.ip_pool", "sometimes", f"{A0}.ip_pool: must be one of: sticky, rotating"),
    (f"{A0}.rotation_count", 3, f"{A0}.rotation_count: only with ip_pool: rotating"),
    (f"{A0}.ip_pool", "rotating", f"{A0}.rotation_count: required with ip_pool: rotating"),
    (f"{A0}.rotation_asns", [1, 2], f"{A0}.rotation_asns: only with ip_pool: rotating"),
    (f"{A0}.ja3", "not a ja3", f"{A0}.ja3: must be a JA3 string"),
    (f"{A0}.ja3", 771, f"{A0}.ja3: must be a string"),
    (f"{A0}.hassh", "", f"{A0}.hassh: must not be empty"),
    (f"{A0}.hours_active_utc", [24], f"{A0}.hours_active_utc[0]: must be <= 23"),
    (f"{A0}.hours_active_utc", [], f"{A0}.hours_active_utc: must have at least 1 item"),
    (f"{A0}.hours_active_utc", 3, f"{A0}.hours_active_utc: must be a list"),
    (f"{A0}.jitter_seconds", -1, f"{A0}.jitter_seconds: must be >= 0"),
    (f"{A0}.jitter_seconds", float("nan"), f"{A0}.jitter_seconds: must be a finite number"),
    (f"{A0}.jitter_seconds", "60s", f"{A0}.jitter_seconds: must be a number"),
    (f"{A0}.active_days", [1], f"{A0}.active_days[0]: must be <= 0"),
    (f"{A0}.start_day", 1, f"{A0}.start_day: must be <= 0"),
    (f"{A0}.keystroke_profile", [1], f"{A0}.keystroke_profile: must be an integer or a string"),
    (f"{A0}.keystroke_profile", -3, f"{A0}.keystroke_profile: must be >= 0"),
    (f"{A0}.colour", "red", f"{A0}.colour: unknown key"),
    (f"{P0}.name", "hacking", f"{P0}.name: must be one of: delivery, exploitation"),
    (f"{P0}.actor", "nobody", f"{P0}.actor: no actor 'nobody' in this campaign"),
    (f"{P0}.dwell_seconds", 0, f"{P0}.dwell_seconds: must be > 0"),
    (f"{P0}.dwell_seconds", 10**400, f"{P0}.dwell_seconds: must be <= 86400"),
    (f"{P0}.target_selector", {"count": 0}, f"{P0}.target_selector.count: must be >= 1"),
    (f"{P0}.target_selector", {"count": 10**6},
     f"{P0}.target_selector.count: must be <= 10000"),
    (f"{P0}.target_selector", {"decky": "decky-01"},
     f"{P0}.target_selector.decky: must be one of: previous_success"),
    (f"{P0}.target_selector", {"service": "smtp"},
     f"{P0}.target_selector.service: must be one of: any, ssh"),
    (f"{P0}.target_selector", {"weight": 2}, f"{P0}.target_selector.weight: unknown key"),
    (f"{P0}.tool_signature", [], f"{P0}.tool_signature: must be a mapping"),
    (f"{P0}.tool_signature", {"commands": "whoami"},
     f"{P0}.tool_signature.commands: must be a list"),
    (f"{P0}.tool_signature", {"commands": ["ok", 5]},
     f"{P0}.tool_signature.commands[1]: must be a string"),
    (f"{P0}.tool_signature", {"credentials": [["root"]]},
     f"{P0}.tool_signature.credentials[0]: must be a [user, password] pair"),
    (f"{P0}.tool_signature", {"credentials": [["root", 123456]]},
     f"{P0}.tool_signature.credentials[0][1]: must be a string (quote numbers"),
    (f"{P0}.tool_signature", {"c2_callback": "http://c2.example/x"},
     f"{P0}.tool_signature.c2_callback: must be a host name or an IP address"),
    (f"{P0}.tool_signature", {"payload_hash": ""},
     f"{P0}.tool_signature.payload_hash: must not be empty"),
    (f"{P0}.tool_signature", {"jitter": 1}, f"{P0}.tool_signature.jitter: unknown key"),
    (f"{P0}.ipv6_leak_mac", "00:11:22:33:44", f"{P0}.ipv6_leak_mac: must be a MAC address"),
    (f"{P0}.direct_tcpip", "198.51.100.1", f"{P0}.direct_tcpip: must be HOST:PORT"),
    (f"{P0}.direct_tcpip", "198.51.100.1:0", f"{P0}.direct_tcpip: must be HOST:PORT"),
    (f"{P0}.direct_tcpip", "2001:db8::1:443", f"{P0}.direct_tcpip: must be HOST:PORT"),
    (f"{P0}.download_url", "gopher://h/x", f"{P0}.download_url: must be an http, https"),
    (f"{P0}.download_url", "http://h/x;rm -rf /", f"{P0}.download_url: may hold only"),
    (f"{P0}.download_url", "http://h:99999/x", f"{P0}.download_url: must be a URL"),
]


@pytest.mark.parametrize(("dotted", "value", "expected"), BAD_FIELDS,
                         ids=[f"{d}={v!r}"[:60] for d, v, _ in BAD_FIELDS])
def test_a_bad_field_is_named_by_its_dotted_path(dotted: str, value: Any, expected: str) -> None:
    assert error_of(at(minimal(), dotted, value)).startswith(expected)


def test_the_path_goes_through_the_corpus() -> None:
    document = at(corpus(), "corpus.campaigns[1].campaign.actors[0].ip_pool", "rotating")
    document = at(document, "corpus.campaigns[1].campaign.actors[0].rotation_count", 0)

    assert error_of(document) == \
        "corpus.campaigns[1].campaign.actors[0].rotation_count: must be >= 1"


@pytest.mark.parametrize(("document", "expected"), [
    ("", "(top level): must be a mapping"),
    ("- 1\n- 2\n", "(top level): must be a mapping"),
    ("campaign: {id: x\n", "(top level): not valid YAML at line 2"),
    ("foo: 1\n", "foo: unknown key (known here: campaign, corpus)"),
    ("{1: 2}\n", "1: unknown key"),
    ("corpus: {campaigns: []}\n", "corpus.campaigns: must have at least 1 item"),
    ("corpus: {campaigns: [{id: x}]}\n", "corpus.campaigns[0].id: unknown key"),
    ("corpus: {campaigns: [{campaign: {id: c, actors: [{id: a}], phases: [{name: delivery}]}}],"
     " noise: {scanner_count: -1}}\n", "corpus.noise.scanner_count: must be >= 0"),
    ("campaign: {id: c, actors: [{id: a}]}\n", "campaign.phases: required"),
    ("campaign: {id: c, actors: [{id: a}, {id: a}], phases: [{name: delivery}]}\n",
     "campaign.actors[1].id: duplicate actor id 'a'"),
    ("campaign: {id: c, actors: [{id: a}, {id: b}], phases: [{name: delivery}]}\n",
     "campaign.actors[1]: actor 'b' has no phase"),
    ("campaign: {id: c, actors: [{asn: 1}], phases: [{name: delivery}]}\n",
     "campaign.actors[0].id: required"),
    ("campaign: {id: c, actors: [{id: a}], phases: [{name: delivery}]}\ncorpus: {}\n",
     "(top level): needs exactly one of 'campaign' (one campaign) or 'corpus'"),
    ("campaign: {id: c, actors: [{id: a, hours_active_utc: [1e999]}], phases: [{name: x}]}\n",
     "campaign.actors[0].hours_active_utc[0]: must be an integer"),
    ("x: !!python/object:os.system {}\n", "(top level): not valid YAML"),
    ("campaign: {id: " + "9" * 5000 + "}\n", "(top level): unusable YAML value"),
    ("[" * 5000 + "]" * 5000, "(top level)"),
])
def test_a_bad_document_is_one_error(document: str, expected: str) -> None:
    assert error_of(document).startswith(expected)


def test_duplicate_ids_across_campaigns_are_errors() -> None:
    document = at(corpus(), "corpus.campaigns[1].campaign.actors[0].id", "a1")
    assert error_of(document).startswith(
        "corpus.campaigns[1].campaign.actors[0].id: duplicate actor id 'a1'")
    document = at(corpus(), "corpus.campaigns[1].campaign.id", "c1")
    assert error_of(document).startswith(
        "corpus.campaigns[1].campaign.id: duplicate campaign id 'c1'")


def test_load_scenario_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioError, match=r"cannot read scenario .*nope\.yaml"):
        load_scenario(missing)
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_SCENARIO_BYTES + 1))
    with pytest.raises(ScenarioError, match=r"big\.yaml: larger than 1024 KiB"):
        load_scenario(big)
    latin = tmp_path / "latin.yml"
    latin.write_bytes(b"campaign: {id: caf\xe9}\n")
    with pytest.raises(ScenarioError, match=r"latin\.yml: \(top level\): not UTF-8"):
        load_scenario(latin)
    good = tmp_path / "my-scenario.yml"
    good.write_text(yaml.safe_dump(minimal()), encoding="utf-8")
    assert load_scenario(good).name == "my-scenario"


def test_scenario_error_is_a_node_error() -> None:
    assert issubclass(ScenarioError, NodeError)


# -- hostile input: whatever arrives, the only failure is a ScenarioError --

_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                     st.text(max_size=20), st.sampled_from(["previous_success", "rotating",
                                                            "delivery", "sticky", "ssh"]))
_keys = st.one_of(st.sampled_from(["campaign", "corpus", "campaigns", "id", "actors", "phases",
                                   "name", "actor", "ip_pool", "rotation_count", "count",
                                   "tool_signature", "target_selector", "credentials",
                                   "commands", "noise", "scanner_count", "decky", "ja3",
                                   "pause_windows", "hours_active_utc", "direct_tcpip"]),
                  st.text(max_size=8))
_trees = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=5)), max_leaves=30)


def _parses_or_refuses(document: str | bytes) -> None:
    try:
        parse_scenario(document, "fuzz")
    except ScenarioError as exc:
        assert str(exc)
        assert "\n" not in str(exc)


@given(st.text(max_size=300))
def test_junk_text_only_ever_raises_scenario_error(document: str) -> None:
    _parses_or_refuses(document)


@given(st.binary(max_size=200))
def test_junk_bytes_only_ever_raise_scenario_error(document: bytes) -> None:
    _parses_or_refuses(document)


@given(_trees)
def test_junk_structures_only_ever_raise_scenario_error(tree: Any) -> None:
    _parses_or_refuses(yaml.safe_dump(tree))


@given(st.sampled_from([d for d, _, _ in BAD_FIELDS]), _trees)
def test_a_valid_scenario_with_one_field_broken_is_refused_cleanly(dotted: str,
                                                                    junk: Any) -> None:
    _parses_or_refuses(yaml.safe_dump(at(minimal(), dotted, junk)))
