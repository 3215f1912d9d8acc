"""Discovery without the network: hostile announcements, config, the candidate table, the file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from federation.gossip import discovery as discovery_module
from federation.gossip.discovery import (
    CANDIDATES_FILENAME,
    MAX_NAME_CHARS,
    REJECTIONS,
    SERVICE_TYPE,
    Advertisement,
    Candidate,
    CandidateTable,
    Discovery,
    DiscoveryConfig,
    DiscoveryError,
    Rejection,
    load_candidates,
    parse_announcement,
    resolve_interfaces,
    save_candidates,
)
from node.config import Config, load_section
from node.errors import ConfigError

UNSPECIFIED = "0.0.0.0"  # noqa: S104 - an address to refuse, never bound
KEY = "0123456789abcdef"
OWN = "fedcba9876543210"
NAME = f"node-a.{SERVICE_TYPE}"
GOOD_TXT: dict[bytes, bytes | None] = {b"v": b"1", b"key_id": KEY.encode(), b"schema": b"1-2",
                                      b"port": b"50551"}


def _parse(name: str = NAME, addresses: tuple[str, ...] = ("192.0.2.7",),
           srv_port: int | None = 50551, now_s: float = 100.0,
           txt: dict[str, bytes | None] | None = None) -> Candidate | Rejection:
    """`GOOD_TXT` with ``txt`` replacing some values."""
    properties = {**GOOD_TXT, **{k.encode(): v for k, v in (txt or {}).items()}}
    return parse_announcement(name, addresses, srv_port, properties, now_s=now_s)


def _candidate(key_id: str = KEY, address: str = "192.0.2.7:50551", seen_s: float = 100.0,
               name: str = "node-a") -> Candidate:
    return Candidate(key_id, name, address, 1, 1, seen_s, seen_s)


# --- the pure core: one resolved announcement -----------------------------------------------


def test_a_well_formed_announcement_is_a_candidate_with_its_sighting_time() -> None:
    assert _parse() == Candidate(key_id=KEY, name="node-a", address="192.0.2.7:50551",
                                 min_schema_version=1, max_schema_version=2,
                                 first_seen_s=100.0, last_seen_s=100.0)


@pytest.mark.parametrize(("txt", "reason"), [
    ({"key_id": None}, "bad_key_id"),                          # key present without a value
    ({"key_id": b""}, "bad_key_id"),
    ({"key_id": KEY.upper().encode()}, "bad_key_id"),          # key ids are lowercase
    ({"key_id": KEY[:15].encode()}, "bad_key_id"),
    ({"key_id": (KEY + "0").encode()}, "bad_key_id"),
    ({"key_id": b"0123456789abcdeg"}, "bad_key_id"),
    ({"key_id": b"\xff" * 16}, "bad_key_id"),                  # not UTF-8 at all
    ({"key_id": b"0123456789abcde\xc3\xa9"[:16]}, "bad_key_id"),
    ({"key_id": b"a" * 255}, "bad_key_id"),                    # the largest TXT string
    ({"v": b"2"}, "bad_version"),
    ({"v": None}, "bad_version"),
    ({"v": b"\x00"}, "bad_version"),
    ({"schema": b"9-1"}, "bad_schema"),                        # min above max
    ({"schema": b"0-1"}, "bad_schema"),
    ({"schema": b"1-99999"}, "bad_schema"),
    ({"schema": b"1"}, "bad_schema"),
    ({"schema": b"a-b"}, "bad_schema"),
    ({"schema": b"-1-1"}, "bad_schema"),
    ({"schema": b"1-1" + b" " * 200}, "bad_schema"),
    ({"schema": "١-١".encode()}, "bad_schema"),                # Arabic-Indic digits
    ({"port": b"0"}, "bad_port"),
    ({"port": b"70000"}, "bad_port"),
    ({"port": b"65536"}, "bad_port"),
    ({"port": b"+80"}, "bad_port"),
    ({"port": b"080"}, "bad_port"),
    ({"port": b"9" * 200}, "bad_port"),
    ({"port": None}, "bad_port"),
    ({"port": b"\xff\xfe"}, "bad_port"),
])
def test_a_malformed_txt_record_is_rejected_with_its_reason(txt: dict[str, bytes | None],
                                                            reason: str) -> None:
    outcome = _parse(txt=txt)
    assert isinstance(outcome, Rejection) and outcome.reason == reason
    assert outcome.reason in REJECTIONS and len(outcome.detail) <= 80


def test_a_missing_key_id_is_rejected() -> None:
    properties = {k: v for k, v in GOOD_TXT.items() if k != b"key_id"}
    outcome = parse_announcement(NAME, ["192.0.2.7"], 50551, properties, now_s=0.0)
    assert outcome == Rejection("bad_key_id", "None")


@pytest.mark.parametrize(("addresses", "srv_port", "reason"), [
    ((), 50551, "bad_address"),
    ((UNSPECIFIED,), 50551, "bad_address"),
    (("224.0.0.251",), 50551, "bad_address"),
    (("255.255.255.255",), 50551, "bad_address"),
    (("fe80::1",), 50551, "bad_address"),                      # needs a scope id
    (("not an address", "x" * 10_000), 50551, "bad_address"),
    (("192.0.2.7",), 50552, "port_mismatch"),                  # SRV and TXT disagree
])
def test_an_unusable_address_or_port_is_rejected(addresses: tuple[str, ...],
                                                 srv_port: int, reason: str) -> None:
    outcome = _parse(addresses=addresses, srv_port=srv_port)
    assert isinstance(outcome, Rejection) and outcome.reason == reason


def test_the_first_usable_address_is_kept_and_ipv6_is_bracketed() -> None:
    first = _parse(addresses=(UNSPECIFIED, "bogus", "192.0.2.9", "192.0.2.7"))
    assert isinstance(first, Candidate) and first.address == "192.0.2.9:50551"
    v6 = _parse(addresses=("2001:db8::7",))
    assert isinstance(v6, Candidate) and v6.address == "[2001:db8::7]:50551"


def test_without_an_srv_port_the_txt_port_is_used() -> None:
    outcome = _parse(srv_port=None, txt={"port": b"4242"})
    assert isinstance(outcome, Candidate) and outcome.address.endswith(":4242")


@pytest.mark.parametrize(("instance", "shown"), [
    ("evil\x1b[31mred\x07", "evil?[31mred?"),                  # terminal escapes
    ("line\nbreak\r", "line?break?"),
    ("bidi\u202egnp.exe", "bidi?gnp.exe"),                     # right-to-left override
    ("  padded  ", "padded"),
    ("é" * 500, "é" * MAX_NAME_CHARS),
])
def test_a_hostile_instance_name_is_sanitised_and_capped(instance: str, shown: str) -> None:
    outcome = _parse(name=f"{instance}.{SERVICE_TYPE}")
    assert isinstance(outcome, Candidate) and outcome.name == shown


@pytest.mark.parametrize("name", [
    f".{SERVICE_TYPE}", f"\x00\x01.{SERVICE_TYPE}", "node-a._other._tcp.local.", "", SERVICE_TYPE,
])
def test_a_name_of_another_type_or_with_nothing_printable_is_rejected(name: str) -> None:
    outcome = _parse(name=name)
    assert isinstance(outcome, Rejection) and outcome.reason == "bad_name"


def test_unknown_txt_keys_are_ignored_and_keys_compare_case_insensitively() -> None:
    properties: dict[bytes, bytes | None] = {
        b"V": b"1", b"Key_ID": KEY.encode(), b"key_id": b"first one wins", b"SCHEMA": b"1-1",
        b"Port": b"1", b"future": b"\xff" * 255, b"k" * 200: b"ignored",
    }
    outcome = parse_announcement(NAME, ["192.0.2.7"], None, properties, now_s=0.0)
    assert isinstance(outcome, Candidate) and outcome.key_id == KEY


# --- what this node publishes -------------------------------------------------------------


def test_an_advertisement_publishes_key_id_schema_range_port_and_version() -> None:
    ad = Advertisement("node-a", KEY, 50551, 1, 3)
    assert ad.properties() == {"v": "1", "key_id": KEY, "schema": "1-3", "port": "50551"}
    assert ad.service_name == NAME and ad.host_name == f"decnet-{KEY}.local."
    txt = {k.encode(): v.encode() for k, v in ad.properties().items()}
    assert isinstance(parse_announcement(ad.service_name, ["192.0.2.7"], ad.port, txt,
                                         now_s=0.0), Candidate)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"key_id": "ABC"}, "key_id"),
    ({"port": 0}, "port"),
    ({"port": 65536}, "port"),
    ({"min_schema_version": 2, "max_schema_version": 1}, "min_schema_version"),
    ({"node_name": "\x00"}, "node_name"),
])
def test_a_bad_advertisement_names_its_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        Advertisement(**{"node_name": "node-a", "key_id": KEY, "port": 1, **kwargs})


# --- configuration --------------------------------------------------------------------------


def test_by_default_discovery_is_off() -> None:
    config = DiscoveryConfig()
    assert config.interfaces == () and not config.enabled and config.advertise


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"interfaces": (UNSPECIFIED,)}, "interfaces"),
    ({"interfaces": ("224.0.0.251",)}, "interfaces"),
    ({"interfaces": ("255.255.255.255",)}, "interfaces"),
    ({"interfaces": ("1.2.3",)}, "interfaces"),
    ({"interfaces": ("eth0 eth1",)}, "interfaces"),
    ({"interfaces": ("a" * 16,)}, "interfaces"),
    ({"interfaces": ("lo", "lo")}, "interfaces"),
    ({"interfaces": (1,)}, "interfaces"),
    ({"candidate_ttl_s": 0.0}, "candidate_ttl_s"),
    ({"candidate_ttl_s": float("nan")}, "candidate_ttl_s"),
    ({"refresh_interval_s": 600.0}, "refresh_interval_s"),     # > candidate_ttl_s / 2
    ({"refresh_interval_s": 0.0}, "refresh_interval_s"),
])
def test_a_bad_setting_names_its_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        DiscoveryConfig(**kwargs)


def test_interfaces_accept_a_list_or_a_comma_separated_string_and_become_a_tuple() -> None:
    listed: Any = ["lo", " 192.0.2.2 "]
    assert DiscoveryConfig(interfaces=listed).interfaces == ("lo", "192.0.2.2")
    text: Any = "eth1, lo,"
    assert DiscoveryConfig(interfaces=text).interfaces == ("eth1", "lo")


def test_the_toml_section_loads_an_array_of_interfaces(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[discovery]\ninterfaces = ["lo", "127.0.0.1"]\ncandidate_ttl_s = 120\n', encoding="utf-8")
    config = load_section(Config(home=tmp_path), "discovery", DiscoveryConfig, env={})
    assert config == DiscoveryConfig(interfaces=("lo", "127.0.0.1"), candidate_ttl_s=120.0)


def test_the_environment_sets_interfaces_comma_separated(tmp_path: Path) -> None:
    env = {"DECNET_FED_DISCOVERY_INTERFACES": "lo, eth1",
           "DECNET_FED_DISCOVERY_ADVERTISE": "no"}
    config = load_section(Config(home=tmp_path), "discovery", DiscoveryConfig, env=env)
    assert config.interfaces == ("lo", "eth1") and not config.advertise


@pytest.mark.parametrize(("toml", "env", "message"), [
    ('[discovery]\ninterfaces = ["0.0.0.0"]\n', {},
     r"discovery\.interfaces: .*\(from .*config\.toml \[discovery\] interfaces\)"),
    ("[discovery]\ninterfaces = 3\n", {}, r"discovery\.interfaces: expected an array"),
    ("", {"DECNET_FED_DISCOVERY_CANDIDATE_TTL_S": "-1"},
     r"discovery\.candidate_ttl_s: .*\$DECNET_FED_DISCOVERY_CANDIDATE_TTL_S"),
    ("[discovery]\ninterface = []\n", {}, r"unknown setting.*interface"),
])
def test_a_bad_config_value_is_an_error_naming_field_and_origin(
        tmp_path: Path, toml: str, env: dict[str, str], message: str) -> None:
    (tmp_path / "config.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_section(Config(home=tmp_path), "discovery", DiscoveryConfig, env=env)


def test_interface_names_resolve_to_local_ipv4_addresses() -> None:
    assert resolve_interfaces(["lo", "127.0.0.1"]) == ("127.0.0.1",)
    with pytest.raises(DiscoveryError, match=r"discovery\.interfaces: no interface 'nosuch0'"):
        resolve_interfaces(["nosuch0"])
    with pytest.raises(DiscoveryError, match=r"198\.51\.100\.254 is not an address of this host"):
        resolve_interfaces(["198.51.100.254"])


# --- the candidate table (no I/O, injected time) ------------------------------------------


def test_the_table_never_lists_this_nodes_own_key() -> None:
    table = CandidateTable(OWN, ttl_s=60.0)
    assert table.observe("me", _candidate(OWN))
    assert table.observe("a", _candidate(KEY))
    assert [c.key_id for c in table.candidates(100.0)] == [KEY]


def test_a_new_sighting_keeps_the_first_time_and_moves_the_last() -> None:
    table = CandidateTable(OWN, ttl_s=60.0)
    table.observe("a", _candidate(seen_s=100.0))
    table.observe("a", _candidate(address="192.0.2.8:1", seen_s=150.0))
    [seen] = table.candidates(150.0)
    assert (seen.first_seen_s, seen.last_seen_s, seen.address) == (100.0, 150.0, "192.0.2.8:1")


def test_candidates_not_seen_for_the_ttl_are_forgotten() -> None:
    table = CandidateTable(OWN, ttl_s=60.0)
    table.observe("a", _candidate(seen_s=100.0))
    table.observe("b", _candidate("1111111111111111", seen_s=130.0))
    assert len(table.candidates(160.0)) == 2                   # exactly the ttl: still live
    assert [c.key_id for c in table.candidates(160.5)] == ["1111111111111111"]
    assert [c.key_id for c in table.expire(160.5)] == [KEY]
    assert table.names() == ["b"] and table.expire(160.5) == []


def test_a_goodbye_forgets_at_once() -> None:
    table = CandidateTable(OWN, ttl_s=60.0)
    table.observe("a", _candidate())
    assert table.forget("a") and not table.forget("a") and table.candidates(100.0) == []


def test_a_full_table_drops_new_names_but_still_refreshes_known_ones() -> None:
    table = CandidateTable(OWN, ttl_s=60.0, capacity=2)
    assert table.observe("a", _candidate("a" * 16)) and table.observe("b", _candidate("b" * 16))
    assert not table.observe("c", _candidate("c" * 16))
    assert table.observe("a", _candidate("a" * 16, seen_s=120.0))
    assert [c.key_id[0] for c in table.candidates(120.0)] == ["a", "b"]


# --- the file a separate CLI process reads --------------------------------------------------


def test_candidates_round_trip_through_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / CANDIDATES_FILENAME
    saved = [_candidate(), _candidate("1111111111111111", "[2001:db8::1]:7", name="b?c")]
    save_candidates(path, saved, now_s=123.5)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_candidates(path)
    assert loaded.candidates == tuple(saved) and loaded.saved_at_s == 123.5
    assert loaded.problem is None
    assert [p.name for p in tmp_path.iterdir()] == [CANDIDATES_FILENAME]  # no temp file left


def test_a_missing_file_is_no_candidates_and_no_problem(tmp_path: Path) -> None:
    loaded = load_candidates(tmp_path / CANDIDATES_FILENAME)
    assert loaded.candidates == () and loaded.saved_at_s is None and loaded.problem is None


@pytest.mark.parametrize(("content", "problem"), [
    (b"", "not JSON"),
    (b"{\"format\": ", "not JSON"),
    (b"\xff\xfe\x00garbage", "not JSON"),
    (b"[" * 100_000, "not JSON"),                              # nesting past the recursion limit
    (b"[]", "not a decnet-fed-discovered/1 file"),
    (b'{"format": "other", "candidates": []}', "not a decnet-fed-discovered/1 file"),
    (b'{"format": "decnet-fed-discovered/1", "candidates": {}}', "not a decnet-fed"),
    (b" " * (2 << 20), "larger than"),
])
def test_a_corrupt_file_loads_as_empty_with_a_reason(tmp_path: Path, content: bytes,
                                                      problem: str) -> None:
    path = tmp_path / CANDIDATES_FILENAME
    path.write_bytes(content)
    loaded = load_candidates(path)
    assert loaded.candidates == () and loaded.problem is not None and problem in loaded.problem


def test_malformed_entries_are_skipped_and_counted(tmp_path: Path) -> None:
    good = {"key_id": KEY, "name": "a", "address": "192.0.2.7:1", "min_schema_version": 1,
            "max_schema_version": 1, "first_seen_s": 1.0, "last_seen_s": 2.0}
    bad = [
        "not a mapping", {**good, "extra": 1}, {**good, "key_id": "X" * 16},
        {**good, "name": "a\nb"}, {**good, "name": "x" * 64}, {**good, "address": "host:1"},
        {**good, "address": "192.0.2.7:0"}, {**good, "min_schema_version": True},
        {**good, "min_schema_version": 2}, {**good, "last_seen_s": 0.5},
        {**good, "last_seen_s": "2"}, {k: v for k, v in good.items() if k != "name"},
    ]
    path = tmp_path / CANDIDATES_FILENAME
    path.write_text(json.dumps({"format": "decnet-fed-discovered/1", "saved_at_s": "yesterday",
                                "candidates": [good, *bad]}), encoding="utf-8")
    loaded = load_candidates(path)
    assert [c.key_id for c in loaded.candidates] == [KEY] and loaded.saved_at_s is None
    assert loaded.problem is not None and f"{len(bad)} malformed entries" in loaded.problem


def test_an_unwritable_place_is_a_discovery_error(tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError, match="cannot save"):
        save_candidates(tmp_path / "missing" / CANDIDATES_FILENAME, [])


# --- off by default: nothing opened -----------------------------------------------------------


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


async def test_with_the_default_config_start_opens_nothing(monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("zeroconf must not be created when no interface is configured")

    monkeypatch.setattr(discovery_module, "AsyncZeroconf", refuse)
    monkeypatch.setattr(discovery_module, "resolve_interfaces", refuse)
    discovery = Discovery(DiscoveryConfig(), Advertisement("node-a", KEY, 50551))
    before = _open_fds()
    await discovery.start()
    assert not discovery.running and discovery.candidates() == []
    assert _open_fds() == before
    await discovery.stop()
    await discovery.snapshot_to(tmp_path / CANDIDATES_FILENAME)  # an empty list, still a file
    assert load_candidates(tmp_path / CANDIDATES_FILENAME).candidates == ()


async def test_an_interface_that_is_not_there_fails_start_and_leaves_nothing_open() -> None:
    discovery = Discovery(DiscoveryConfig(interfaces=("nosuch0",)),
                          Advertisement("node-a", KEY, 50551))
    before = _open_fds()
    with pytest.raises(DiscoveryError, match="nosuch0"):
        await discovery.start()
    assert not discovery.running and _open_fds() == before
