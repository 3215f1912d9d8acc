"""Identities and campaigns read back for people: lists, one group in full, and why.

Plain JSON-ready dicts (``--json`` prints them as they are). Local only:
members are attacker addresses. A read: it shows the groups as of the last
clustering pass (`Store.lags` says how far behind that is). An id that
joined another group is shown as the group it joined, with ``merged`` saying so.
"""

from __future__ import annotations

from typing import Any

from node.ingest.timestamps import format_time_us
from node.store import Store

_IDENTITY_LIST = """
SELECT coalesce(i.merged_into, i.id) AS identity, count(*), min(o.first_seen_us),
       max(o.last_seen_us), sum(o.event_count), max(i.confidence),
       (SELECT coalesce(c.merged_into, c.id) FROM campaigns c
        WHERE c.id = coalesce(i.merged_into, i.id))
FROM identities i JOIN observations o ON o.id = i.id
GROUP BY identity ORDER BY count(*) DESC, identity LIMIT ?
"""
_CAMPAIGN_LIST = """
SELECT coalesce(c.merged_into, c.id) AS campaign,
       count(DISTINCT coalesce(i.merged_into, i.id)), count(*), min(o.first_seen_us),
       max(o.last_seen_us), max(c.confidence)
FROM campaigns c JOIN identities i ON i.id = c.id JOIN observations o ON o.id = c.id
GROUP BY campaign ORDER BY count(*) DESC, campaign LIMIT ?
"""
_MEMBERS = """
SELECT o.id, o.ip, o.first_seen_us, o.last_seen_us, o.event_count
FROM identities i JOIN observations o ON o.id = i.id
WHERE i.id = ?1 OR i.merged_into = ?1 ORDER BY o.first_seen_us, o.id
"""
_FINGERPRINTS = """
SELECT p.kind, p.value, count(DISTINCT p.ip), sum(p.count)
FROM identities i JOIN observations o ON o.id = i.id JOIN profile_fingerprints p ON p.ip = o.ip
WHERE i.id = ?1 OR i.merged_into = ?1 GROUP BY p.kind, p.value ORDER BY p.kind, p.value
"""
_LINKS = """
SELECT a, b, score, signal, value, df, weight FROM cluster_links
WHERE layer = ? AND root = ? ORDER BY a, b, signal, value
"""


def _t(time_us: int | None) -> str | None:
    return None if time_us is None else format_time_us(time_us)


async def identity_list(store: Store, limit: int) -> list[dict[str, Any]]:
    """Current identities, largest first."""
    return [{"id": ident, "observations": n, "first_seen": _t(first), "last_seen": _t(last),
             "events": events, "confidence": confidence, "campaign_id": campaign}
            for ident, n, first, last, events, confidence, campaign
            in await store.fetch(_IDENTITY_LIST, (limit,))]


async def campaign_list(store: Store, limit: int) -> list[dict[str, Any]]:
    """Current campaigns, largest first."""
    return [{"id": camp, "identities": identities, "observations": n, "first_seen": _t(first),
             "last_seen": _t(last), "confidence": confidence}
            for camp, identities, n, first, last, confidence
            in await store.fetch(_CAMPAIGN_LIST, (limit,))]


async def identity_detail(store: Store, asked: int) -> dict[str, Any] | None:
    """One identity: members, fingerprints, campaign and the links that formed it."""
    current = await _resolve(store, "identities", asked)
    if current is None:
        return None
    ident, confidence, version = current
    members = await store.fetch(_MEMBERS, (ident,))
    address = {oid: ip for oid, ip, *_ in members}
    campaign = await _resolve(store, "campaigns", ident)
    return {
        "id": ident,
        "merged": asked != ident,
        "asked": asked,
        "confidence": confidence,
        "schema_version": version,
        "campaign_id": campaign[0] if campaign else None,
        "members": [{"observation_id": oid, "ip": ip, "first_seen": _t(first),
                     "last_seen": _t(last), "events": events}
                    for oid, ip, first, last, events in members],
        "fingerprints": [{"kind": kind, "value": value, "observations": n, "count": count}
                         for kind, value, n, count in await store.fetch(_FINGERPRINTS, (ident,))],
        "links": await _links(store, "identity", ident, address),
    }


async def campaign_detail(store: Store, asked: int) -> dict[str, Any] | None:
    """One campaign: its identities with their members, and the links between identities."""
    current = await _resolve(store, "campaigns", asked)
    if current is None:
        return None
    camp, confidence, version = current
    rows = await store.fetch(
        "SELECT coalesce(i.merged_into, i.id), o.ip FROM campaigns c"
        " JOIN identities i ON i.id = c.id JOIN observations o ON o.id = c.id"
        " WHERE c.id = ?1 OR c.merged_into = ?1 ORDER BY 1, o.ip", (camp,))
    identities: dict[int, list[str]] = {}
    for ident, ip in rows:
        identities.setdefault(ident, []).append(ip)
    names = {ident: f"identity {ident}" for ident in identities}
    return {
        "id": camp,
        "merged": asked != camp,
        "asked": asked,
        "confidence": confidence,
        "schema_version": version,
        "identities": [{"id": ident, "members": ips} for ident, ips in identities.items()],
        "links": await _links(store, "campaign", camp, names),
    }


async def _resolve(store: Store, table: str, asked: int) -> tuple[int, float, int] | None:
    """The current group an id names (itself, or the group it joined), if it exists."""
    rows = await store.fetch(f"SELECT coalesce(merged_into, id) FROM {table}"  # noqa: S608
                             " WHERE id = ?", (asked,))
    if not rows:
        return None
    current = int(rows[0][0])
    found = await store.fetch(f"SELECT confidence, schema_version FROM {table}"  # noqa: S608
                              " WHERE id = ?", (current,))
    return current, float(found[0][0]), int(found[0][1])


async def _links(store: Store, layer: str, root: int,
                 names: dict[int, Any]) -> list[dict[str, Any]]:
    """The links that formed a group, one row per pair with every signal behind it."""
    links: dict[tuple[int, int], dict[str, Any]] = {}
    for a, b, score, signal, value, df, weight in await store.fetch(_LINKS, (layer, root)):
        link = links.setdefault((a, b), {"a": names.get(a, a), "b": names.get(b, b),
                                         "score": round(score, 3), "signals": []})
        link["signals"].append({"signal": signal, "value": value, "seen_by": df,
                                "weight": round(weight, 3)})
    return list(links.values())
