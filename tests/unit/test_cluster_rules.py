"""The linking rules of both clustering layers, one rule per test, on hand-built members."""

from __future__ import annotations

from node.cluster import rarity
from node.cluster.campaigns import HANDOFF_S, Crew, PhaseSpan, cluster_campaigns
from node.cluster.graph import Partition
from node.cluster.identities import Member, cluster_identities

_HOUR_US = 3600 * 1_000_000


def groups(partition: Partition, keys: list[str]) -> set[frozenset[str]]:
    found: dict[int, set[str]] = {}
    for index, group in enumerate(partition.group):
        found.setdefault(group, set()).add(keys[index])
    return {frozenset(g) for g in found.values()}


def tool(kind: str, value: str) -> frozenset[tuple[str, str]]:
    return frozenset({(kind, value)})


def test_rarity_weights_fall_from_one_to_zero() -> None:
    assert rarity.weight(2) == rarity.weight(rarity.RARE) == 1.0
    assert 0.0 < rarity.weight(rarity.RARE + 1) < 1.0
    assert rarity.weight(32) == 0.5
    assert rarity.weight(rarity.COMMON) == rarity.weight(10**6) == 0.0


def test_a_rotating_actor_with_its_own_fingerprints_is_one_identity() -> None:
    keys = [f"198.18.0.{i}" for i in range(5)]
    members = [Member(k, tools=frozenset({("ja3", "a" * 32), ("hassh", "b" * 32)}))
               for k in keys]
    assert groups(cluster_identities(members), keys) == {frozenset(keys)}


def test_scanners_sharing_a_stock_fingerprint_stay_apart() -> None:
    keys = [f"198.18.1.{i}" for i in range(40)]  # 40 holders: weight 0.34 alone
    members = [Member(k, tools=tool("hassh", "c" * 32)) for k in keys]
    assert groups(cluster_identities(members), keys) == {frozenset({k}) for k in keys}


def test_two_mid_frequency_values_together_link_where_one_does_not() -> None:
    rotator = [Member(f"198.18.2.{i}", tools=frozenset({("ja3", "d" * 32), ("hassh", "e" * 32)}))
               for i in range(24)]  # 24 holders: 0.71 each, 1.42 together
    keys = [m.key for m in rotator]
    assert groups(cluster_identities(rotator), keys) == {frozenset(keys)}


def test_popular_infrastructure_links_nobody() -> None:
    keys = [f"198.18.3.{i}" for i in range(300)]
    members = [Member(k, infrastructure=frozenset({("c2", "github.com")})) for k in keys]
    assert len(groups(cluster_identities(members), keys)) == 300


def test_bots_sharing_several_popular_hosts_stay_apart() -> None:
    keys = [f"198.18.3.{i}" for i in range(24)]  # each host alone weighs 0.71
    habit = frozenset({("c2", "github.com"), ("c2", "www.google.com:443")})
    members = [Member(k, infrastructure=habit) for k in keys]
    assert len(groups(cluster_identities(members), keys)) == 24


def test_ja3_and_ja4_of_one_client_hello_count_once() -> None:
    keys = [f"198.18.3.{i}" for i in range(24)]
    stack = frozenset({("ja3", "a" * 32), ("ja4", "t13d1516h2_8daaf6152771_02713d6af862")})
    assert len(groups(cluster_identities([Member(k, tools=stack) for k in keys]), keys)) == 24


def test_shared_infrastructure_does_not_link_different_tools() -> None:
    a = Member("198.18.4.1", tools=tool("ja3", "1" * 32),
               infrastructure=frozenset({("c2", "c2.rare.net"), ("payload", "f" * 64)}))
    b = Member("198.18.4.2", tools=tool("ja3", "2" * 32),
               infrastructure=frozenset({("c2", "c2.rare.net"), ("payload", "f" * 64)}))
    assert len(groups(cluster_identities([a, b]), [a.key, b.key])) == 2


def test_a_member_without_fingerprints_cannot_bridge_a_veto() -> None:
    shared = frozenset({("payload", "f" * 64)})
    a = Member("198.18.5.1", tools=tool("hassh", "1" * 32), infrastructure=shared)
    bridge = Member("198.18.5.2", infrastructure=shared)
    b = Member("198.18.5.3", tools=tool("hassh", "2" * 32), infrastructure=shared)
    found = groups(cluster_identities([a, bridge, b]), [a.key, bridge.key, b.key])
    assert frozenset({a.key, b.key}) not in found and len(found) == 2


def test_infrastructure_links_where_tools_are_not_comparable() -> None:
    a = Member("198.18.6.1", tools=tool("ja3", "1" * 32),
               infrastructure=frozenset({("payload", "f" * 64)}))
    b = Member("198.18.6.2", tools=tool("hassh", "2" * 32),
               infrastructure=frozenset({("payload", "f" * 64)}))
    assert groups(cluster_identities([a, b]), [a.key, b.key]) == {frozenset({a.key, b.key})}


def test_an_eui64_interface_id_links_rotated_addresses() -> None:
    keys = ["198.18.7.1", "198.18.7.2", "198.18.7.3"]
    members = [Member(k, traces=frozenset({("eui64", "0211:22ff:fe33:4455")})) for k in keys]
    members.append(Member("198.18.7.4"))
    assert groups(cluster_identities(members), [*keys, "198.18.7.4"]) == \
        {frozenset(keys), frozenset({"198.18.7.4"})}


def test_near_keystroke_simhashes_link_and_far_ones_do_not() -> None:
    base = 0x0F0F_F0F0_1234_ABCD
    a = Member("198.18.8.1", keystrokes=(base,))
    b = Member("198.18.8.2", keystrokes=(base ^ 0b1011,))  # 3 bits apart
    c = Member("198.18.8.3", keystrokes=(base ^ 0xFFFF_FFFF,))  # 32 bits apart
    found = groups(cluster_identities([a, b, c]), [a.key, b.key, c.key])
    assert found == {frozenset({a.key, b.key}), frozenset({c.key})}


def test_weak_signals_are_not_inputs() -> None:
    # credentials, ASN, hours and honeypots have no field on a Member: nothing to link on
    assert set(Member.__slots__) == {"key", "tools", "traces", "infrastructure", "keystrokes"}


def test_a_link_explains_itself_and_confidence_reflects_its_strength() -> None:
    a = Member("198.18.9.1", tools=frozenset({("ja3", "a" * 32), ("hassh", "b" * 32)}))
    b = Member("198.18.9.2", tools=frozenset({("ja3", "a" * 32), ("hassh", "b" * 32)}))
    partition = cluster_identities([a, b])
    (link,) = partition.links
    assert {(e.signal, e.value, e.df) for e in link.evidence} == \
        {("ja3", "a" * 32, 2), ("hassh", "b" * 32, 2)}
    assert partition.confidence[partition.group[0]] == rarity.confidence(2.0)


def test_campaigns_link_on_rare_shared_infrastructure_across_tools() -> None:
    shared = frozenset({("c2", "c2.shared-op.net")})
    crews = [Crew("198.18.10.1", shared), Crew("198.18.10.2", shared), Crew("198.18.10.3")]
    assert groups(cluster_campaigns(crews), [c.key for c in crews]) == \
        {frozenset({"198.18.10.1", "198.18.10.2"}), frozenset({"198.18.10.3"})}


def test_phase_handoffs_within_a_day_link_campaigns_and_later_ones_do_not() -> None:
    t = 1_000 * _HOUR_US

    def crews(gap_us: int, honeypots: tuple[str, ...] = ("web-02", "db-01")) -> list[Crew]:
        giver = Crew("198.18.11.1", last_phase={h: PhaseSpan("persistence", t) for h in honeypots},
                     first_phase={h: PhaseSpan("exploitation", t - _HOUR_US) for h in honeypots})
        taker = Crew("198.18.11.2",
                     first_phase={h: PhaseSpan("discovery", t + gap_us) for h in honeypots},
                     last_phase={h: PhaseSpan("collection", t + gap_us + _HOUR_US)
                                 for h in honeypots})
        return [giver, taker]

    assert len(set(cluster_campaigns(crews(3 * _HOUR_US)).group)) == 1  # on two honeypots
    assert len(set(cluster_campaigns(crews(3 * _HOUR_US, ("web-02",))).group)) == 1  # or one
    assert len(set(cluster_campaigns(crews(HANDOFF_S * 1_000_000 + 1)).group)) == 2
    assert len(set(cluster_campaigns(crews(-_HOUR_US)).group)) == 2  # before the hand-over


def test_an_ambiguous_handoff_and_a_moderately_rare_shared_host_link_together() -> None:
    t = 1_000 * _HOUR_US
    host = frozenset({("c2", "cdn.crew.net")})
    giver = Crew("198.18.14.1", host, last_phase={"web-02": PhaseSpan("persistence", t)})
    taker = Crew("198.18.14.2", host, first_phase={"web-02": PhaseSpan("discovery", t + 5)})
    rival = Crew("198.18.14.3", first_phase={"web-02": PhaseSpan("discovery", t + 9)})
    others = [Crew(f"198.18.14.{i}", host) for i in range(4, 22)]  # the host: 20 holders, 0.84
    partition = cluster_campaigns([giver, taker, rival, *others])
    assert partition.group[0] == partition.group[1]  # 0.5 (one rival) + 0.84
    assert partition.group[2] != partition.group[0]  # the rival has only its 0.5
    assert len(set(partition.group)) == 20


def test_a_handoff_with_rivals_on_a_busy_honeypot_does_not_link_alone() -> None:
    t = 1_000 * _HOUR_US
    giver = Crew("198.18.13.1", last_phase={"web-02": PhaseSpan("persistence", t)})
    takers = [Crew(f"198.18.13.{i}", first_phase={"web-02": PhaseSpan("discovery", t + i)})
              for i in range(2, 5)]
    partition = cluster_campaigns([giver, *takers])
    assert len(set(partition.group)) == 4  # three could have taken over: 1/3 each


def test_keystrokes_link_campaigns_only_with_overlapping_activity() -> None:
    value = 0x1234_5678_9ABC_DEF0

    def pair(second_start: int) -> list[Crew]:
        return [Crew("198.18.12.1", keystrokes=(value,), window_us=(0, 10)),
                Crew("198.18.12.2", keystrokes=(value ^ 1,),
                     window_us=(second_start, second_start + 10))]

    assert len(set(cluster_campaigns(pair(5)).group)) == 1
    assert len(set(cluster_campaigns(pair(50)).group)) == 2


def test_thousands_of_bots_handing_over_on_one_honeypot_link_nobody() -> None:
    minute = 60 * 1_000_000
    bots = [Crew(f"198.19.{i // 250}.{i % 250}",
                 first_phase={"web-01": PhaseSpan("discovery", i * minute)},
                 last_phase={"web-01": PhaseSpan("command_and_control", i * minute + 1)})
            for i in range(3000)]  # each one's wget, then the next one's uname, all day
    assert len(set(cluster_campaigns(bots).group)) == 3000
