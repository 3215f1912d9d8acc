"""Identities and campaigns as STIX 2.1 bundles and MISP events, for an operator's own stack.

Built with the projects' own libraries (`stix2`, `pymisp`), never as hand-made
JSON. This is the operator exporting its *own* findings to its own tools, so
addresses are included (nothing here crosses the federation).

STIX: an identity is a ``threat-actor`` (its fingerprints in the custom
property ``x_decnet_fingerprints``, its confidence 0-100), each of its
addresses an ``ipv4-addr``/``ipv6-addr`` with an ``indicator`` that
``indicates`` the actor; a campaign of several identities is a ``campaign``
``attributed-to`` each of them. MISP: one event per identity, addresses as
``ip-src``, fingerprints as their MISP types (``ja3-fingerprint-md5``,
``hassh-md5``, ``jarm-fingerprint``, ``x509-fingerprint-sha256``; others as
``text`` with the kind in the comment).
"""

from __future__ import annotations

import ipaddress
import json
from datetime import datetime
from typing import Any

import stix2
from pymisp import MISPEvent

from node.cluster.views import identity_detail, identity_list
from node.store import Store

FORMATS = ("stix", "misp")
_MISP_TYPES = {"ja3": "ja3-fingerprint-md5", "hassh": "hassh-md5", "jarm": "jarm-fingerprint",
               "tls_cert": "x509-fingerprint-sha256"}


async def exported_identities(store: Store, only: int | None, limit: int) -> list[dict[str, Any]]:
    """The identities to export: ``only`` (resolved through merges), else the ``limit``
    largest with two or more observations."""
    if only is not None:
        found = await identity_detail(store, only)
        return [found] if found is not None else []
    listed = [row for row in await identity_list(store, limit) if row["observations"] >= 2]
    details = [await identity_detail(store, row["id"]) for row in listed]
    return [d for d in details if d is not None]


def stix_bundle(identities: list[dict[str, Any]]) -> str:
    """A STIX 2.1 bundle of the identities and the campaigns joining several of them."""
    objects: list[Any] = []
    actor_of: dict[int, Any] = {}
    for found in identities:
        times = _times(found)
        actor = stix2.ThreatActor(
            name=f"decnet-fed identity {found['id']}",
            description=f"{len(found['members'])} source addresses linked by shared"
                        " fingerprints, infrastructure or typing (decnet-fed clustering)",
            threat_actor_types=["unknown"], first_seen=times[0], last_seen=times[1],
            confidence=round(100 * float(found["confidence"])),
            x_decnet_fingerprints=[{"kind": f["kind"], "value": f["value"]}
                                   for f in found["fingerprints"]],
            allow_custom=True)
        actor_of[found["id"]] = actor
        objects.append(actor)
        for member in found["members"]:
            kind = "ipv4-addr" if ipaddress.ip_address(member["ip"]).version == 4 \
                else "ipv6-addr"
            address = (stix2.IPv4Address if kind == "ipv4-addr" else stix2.IPv6Address)(
                value=member["ip"])
            indicator = stix2.Indicator(
                name=f"address of decnet-fed identity {found['id']}",
                pattern=f"[{kind}:value = '{member['ip']}']", pattern_type="stix",
                valid_from=_time(member["first_seen"]), indicator_types=["malicious-activity"])
            objects += [address, indicator,
                        stix2.Relationship(indicator, "indicates", actor),
                        stix2.Relationship(indicator, "based-on", address)]
    by_campaign: dict[int, list[dict[str, Any]]] = {}
    for found in identities:
        if found["campaign_id"] is not None:
            by_campaign.setdefault(found["campaign_id"], []).append(found)
    for campaign_id, members in by_campaign.items():
        if len(members) < 2:
            continue
        campaign = stix2.Campaign(name=f"decnet-fed campaign {campaign_id}")
        objects.append(campaign)
        objects += [stix2.Relationship(campaign, "attributed-to", actor_of[m["id"]])
                    for m in members]
    return str(stix2.Bundle(objects=objects, allow_custom=True).serialize(pretty=True))


def misp_events(identities: list[dict[str, Any]]) -> str:
    """One MISP event per identity, as the JSON list MISP imports."""
    events = []
    for found in identities:
        event = MISPEvent()
        event.info = f"decnet-fed identity {found['id']}"
        event.add_tag("decnet-fed:identity")
        for member in found["members"]:
            event.add_attribute("ip-src", member["ip"], comment="honeypot attacker",
                                first_seen=_time(member["first_seen"]),
                                last_seen=_time(member["last_seen"]))
        for fingerprint in found["fingerprints"]:
            kind = fingerprint["kind"]
            event.add_attribute(_MISP_TYPES.get(kind, "text"), fingerprint["value"],
                                comment=f"{kind} fingerprint", to_ids=False)
        events.append({"Event": json.loads(event.to_json())})
    return json.dumps(events, indent=2)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _times(found: dict[str, Any]) -> tuple[datetime, datetime]:
    firsts = [_time(m["first_seen"]) for m in found["members"]]
    lasts = [_time(m["last_seen"]) for m in found["members"]]
    return min(firsts), max(lasts)
