"""The profile of one observation, read back from the profile tables (a read model).

A read: it never derives, so it shows the profile as of the derived stages'
marks (an ingest leaves them caught up; see `Store.lags`).

Returns plain JSON-ready dicts: `decnet-fed observation IP --json` prints them
as they are, the human view renders them. Times are ISO 8601 UTC strings.
Local only: this carries IPs, credentials and commands and must never be
handed to the federation (that is `node.query`'s job).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from node.ingest.timestamps import format_time_us
from node.profile.enrichment.service import Enricher
from node.profile.fingerprints import TYPES
from node.store import Store

#: Most recent commands included by default; ``commands_total`` says how many exist.
DEFAULT_COMMAND_LIMIT = 200


def _t(time_us: int | None) -> str | None:
    return None if time_us is None else format_time_us(time_us)


async def observation_profile(store: Store, ip: str, enricher: Enricher, *,
                              command_limit: int = DEFAULT_COMMAND_LIMIT) -> dict[str, Any] | None:
    """Everything known about one attacker IP, or None if it was never observed."""
    rows = await store.fetch(
        "SELECT first_seen_us, last_seen_us, event_count FROM observations WHERE ip = ?", (ip,))
    if not rows:
        return None
    first, last, events = rows[0]
    one = (ip,)
    services = [r[0] for r in await store.fetch(
        "SELECT service FROM observation_services WHERE ip = ? ORDER BY service", one)]
    honeypots = [r[0] for r in await store.fetch(
        "SELECT honeypot FROM observation_honeypots WHERE ip = ? ORDER BY honeypot", one)]
    phase_rows = await store.fetch(
        "SELECT honeypot, phase, count, first_seen_us, last_seen_us FROM profile_phases"
        " WHERE ip = ? ORDER BY honeypot, first_seen_us, phase", one)
    phases = [{"honeypot": hp, "phase": phase, "count": count, "first_seen": _t(first_us),
               "last_seen": _t(last_us)} for hp, phase, count, first_us, last_us in phase_rows]
    commands_total = (await store.fetch(
        "SELECT count(*) FROM profile_commands WHERE ip = ?", one))[0][0]
    return {
        "ip": ip,
        "first_seen": _t(first),
        "last_seen": _t(last),
        "event_count": events,
        "services": services,
        "honeypots": honeypots,
        "enrichment": await enricher.describe(store, ip),
        "smtp_targets": await _counted(
            store, "SELECT domain, count, first_seen_us, last_seen_us FROM profile_smtp_targets"
            " WHERE ip = ? ORDER BY count DESC, domain", one, ("domain",)),
        "fingerprints": [
            {**row, "side": TYPES[row["kind"]].side if row["kind"] in TYPES else None}
            for row in await _counted(
                store, "SELECT kind, value, version, count, first_seen_us, last_seen_us"
                " FROM profile_fingerprints WHERE ip = ? ORDER BY kind, first_seen_us",
                one, ("kind", "value", "version"))
        ],
        "rotation": await _rotation(store, ip),
        "ipv6_leaks": await _ipv6(store, ip),
        "sessions": await _counted(
            store, "SELECT session, honeypot, service, count, first_seen_us, last_seen_us"
            " FROM profile_sessions WHERE ip = ? ORDER BY first_seen_us",
            one, ("session", "honeypot", "service")),
        "credentials": await _counted(
            store, "SELECT username, secret, outcome, count, first_seen_us, last_seen_us"
            " FROM profile_credentials WHERE ip = ? ORDER BY first_seen_us",
            one, ("username", "secret", "outcome")),
        "phases": phases,
        "phase_order": _phase_order(phase_rows),
        "commands_total": commands_total,
        "commands": [
            {"time": _t(t), "honeypot": hp, "session": sess, "phases": ph.split(","),
             "command": cmd}
            for t, hp, sess, ph, cmd in reversed(await store.fetch(
                "SELECT time_us, honeypot, session, phases, command FROM profile_commands"
                " WHERE ip = ? ORDER BY time_us DESC, session DESC, command DESC LIMIT ?",
                (ip, command_limit)))
        ],
        "payloads": await _counted(
            store, "SELECT sha256, source, count, first_seen_us, last_seen_us"
            " FROM profile_payloads WHERE ip = ? ORDER BY first_seen_us", one,
            ("sha256", "source")),
        "c2_endpoints": await _counted(
            store, "SELECT host, url, via, count, first_seen_us, last_seen_us FROM profile_c2"
            " WHERE ip = ? ORDER BY first_seen_us, host", one, ("host", "url", "via")),
        "simhashes": {
            "keystroke": [
                {"session": sid, "honeypot": hp, "simhash": value, "digraphs": digraphs,
                 "samples": samples, "truncated": bool(trunc)}
                for sid, hp, value, digraphs, samples, trunc in await store.fetch(
                    "SELECT l.sid, l.honeypot, k.simhash, k.digraphs, k.samples,"
                    " coalesce(s.truncated, 0) FROM session_links l"
                    " JOIN keystroke_simhashes k ON k.sid = l.sid"
                    " LEFT JOIN transcript_sessions s ON s.sid = l.sid"
                    " WHERE l.ip = ? ORDER BY l.time_us", one)
            ],
            "mail_body": await _counted(
                store, "SELECT simhash, count, first_seen_us, last_seen_us"
                " FROM profile_mail_simhashes WHERE ip = ? ORDER BY first_seen_us",
                one, ("simhash",)),
        },
    }


async def rejection_counts(store: Store) -> dict[str, int]:
    """Per-field rejection totals (reason → count), for `status` (written directly, no fold)."""
    rows = await store.fetch("SELECT reason, count FROM profile_rejections ORDER BY reason")
    return {reason: count for reason, count in rows}


async def _counted(store: Store, sql: str, params: Sequence[Any],
                   names: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of ``names… , count, first_seen_us, last_seen_us`` as dicts."""
    result = []
    for row in await store.fetch(sql, params):
        item = dict(zip(names, row, strict=False))
        count, first, last = row[len(names):]
        item.update(count=count, first_seen=_t(first), last_seen=_t(last))
        result.append(item)
    return result


async def _rotation(store: Store, ip: str) -> dict[str, Any]:
    records = [
        {"time": _t(t), "port": port, "probe": probe, "old": old, "new": new}
        for t, port, probe, old, new in await store.fetch(
            "SELECT time_us, port, probe, old_value, new_value FROM profile_rotations"
            " WHERE ip = ? ORDER BY time_us, id", (ip,))
    ]
    probes = []
    for port, probe, value, first, last in await store.fetch(
            "SELECT port, probe, value, first_seen_us, last_seen_us FROM profile_probe_state"
            " WHERE ip = ? ORDER BY probe, port", (ip,)):
        mine = [r for r in records if r["port"] == port and r["probe"] == probe]
        probes.append({"port": port, "probe": probe, "current": value, "first_seen": _t(first),
                       "last_seen": _t(last), "rotations": len(mine),
                       "last_rotation": mine[-1]["time"] if mine else None})
    return {"count": len(records), "last_rotation": records[-1]["time"] if records else None,
            "probes": probes, "records": records}


async def _ipv6(store: Store, ip: str) -> dict[str, Any]:
    addresses = await _counted(
        store, "SELECT address, kind, oui, iid, count, first_seen_us, last_seen_us"
        " FROM profile_ipv6_leaks WHERE ip = ? ORDER BY last_seen_us DESC, address",
        (ip,), ("address", "kind", "oui", "iid"))
    latest = addresses[0] if addresses else None
    return {
        "count": sum(a["count"] for a in addresses),
        "last_address": latest["address"] if latest else None,
        "kind": latest["kind"] if latest else None,
        "oui": latest["oui"] if latest else None,
        "addresses": addresses,
    }


def _phase_order(rows: Sequence[tuple[Any, ...]]) -> dict[str, dict[str, str]]:
    """Per honeypot, the phase seen first and the phase seen last (by event time)."""
    order: dict[str, dict[str, str]] = {}
    for honeypot in sorted({row[0] for row in rows}):
        mine = [row for row in rows if row[0] == honeypot]
        first = min(mine, key=lambda row: (row[3], row[1]))
        last = max(mine, key=lambda row: (row[4], row[1]))
        order[honeypot] = {"first": first[1], "last": last[1]}
    return order
