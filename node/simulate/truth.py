"""Ground truth of a simulation: who each source address really was, and who announces it.

``truth.json`` maps every address that appears in the rendered lines to its
identity (actor or scanner id) and campaign; the clusterer is scored
against it (`node.cluster.score`). ``ip2asn.tsv`` maps each address to its
ASN in the format `node.profile.enrichment.asn` reads, so ASN enrichment,
and baselines that group by ASN, see the scenario's ASNs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from node.simulate.generate import Simulation

TRUTH_SCHEMA_VERSION: Final = 1
#: What ip2asn files write for a range with no registry country.
_NO_COUNTRY: Final = "ZZ"

Level = Literal["identity", "campaign"]


@dataclass(frozen=True, slots=True)
class Truth:
    """The true identity and campaign of one observation (source address)."""

    identity: str
    campaign: str
    asn: int


def observations(simulation: Simulation) -> dict[str, Truth]:
    """Address → its truth, in address order."""
    found: dict[str, Truth] = {}
    for session in simulation.sessions:
        found.setdefault(session.ip, Truth(session.identity, session.campaign, session.asn))
    return {ip: found[ip] for ip in sorted(found, key=_address_order)}


def truth_document(simulation: Simulation) -> dict[str, Any]:
    """The ``truth.json`` object."""
    return {
        "schema_version": TRUTH_SCHEMA_VERSION,
        "scenario": simulation.scenario,
        "seed": simulation.seed,
        "observations": {ip: {"identity": t.identity, "campaign": t.campaign}
                         for ip, t in observations(simulation).items()},
    }


def _address_order(ip: str) -> tuple[int, int]:
    address = ipaddress.ip_address(ip)
    return address.version, int(address)


def partition(truth: Mapping[str, Truth], level: Level) -> dict[str, str]:
    """Observation → its true label at ``level``, the shape `node.cluster.score` takes."""
    return {ip: t.identity if level == "identity" else t.campaign for ip, t in truth.items()}


def ip2asn_lines(simulation: Simulation) -> list[str]:
    """One single-address ip2asn row per observation (ASN 0 rows mean "not announced")."""
    return [f"{ip}\t{ip}\t{t.asn}\t{_NO_COUNTRY}\tSIMULATED-AS{t.asn}"
            for ip, t in observations(simulation).items()]
