"""Federation query reports: the JSON shape of `query` answers and their human table.

Shared by `decnet-fed query` and `decnet-fed demo`.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import Any

from federation.client import OK, PeerAnswer
from federation.wire import NodeInfo, Question, SeenAnswer, SimhashQuestion, question_json
from node.cli.render import plural, print_table
from node.query import NearAggregate


def _iso(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.isoformat().replace("+00:00", "Z")


def _seen_row(answer: SeenAnswer) -> dict[str, Any]:
    out: dict[str, Any] = {
        "seen": answer.seen.seen, "count": answer.seen.count,
        "first_seen": _iso(answer.seen.first_seen_s), "last_seen": _iso(answer.seen.last_seen_s),
        "time_granularity_s": answer.time_granularity_s}
    if answer.seen.distinct_attackers:
        out["distinct_attackers"] = answer.seen.distinct_attackers
    return out


def _near_row(answer: NearAggregate) -> dict[str, Any]:
    return {"match": answer.match, "min_distance": answer.min_distance,
            "count_within": answer.count_within}


def _info_row(answer: NodeInfo) -> dict[str, Any]:
    return {"name": answer.name, "key_id": answer.key_id,
            "schema_versions": f"{answer.min_schema_version}..{answer.max_schema_version}"}


#: The fields each kind of answer adds to a peer's row.
_ROW_FIELDS: dict[type[Any], Callable[[Any], dict[str, Any]]] = {
    SeenAnswer: _seen_row, NearAggregate: _near_row, NodeInfo: _info_row}


def answer_row(row: PeerAnswer) -> dict[str, Any]:
    """One peer's row of the JSON report."""
    out: dict[str, Any] = {"peer": row.peer, "address": row.address, "status": row.status,
                           "mode": row.mode, "latency_ms": round(row.latency_s * 1000, 3)}
    if row.answer is not None:
        out.update(_ROW_FIELDS[type(row.answer)](row.answer))
    if row.error is not None:
        out["error"] = row.error
    return out


def query_report(question: Question, rows: Sequence[PeerAnswer]) -> dict[str, Any]:
    """``{"question", "answers", "summary"}`` for `query` (JSON and the human table)."""
    answers = [answer_row(row) for row in rows]
    ok = [a for a in answers if a["status"] == OK]
    summary: dict[str, Any] = {"peers_asked": len(rows), "peers_answered": len(ok)}
    if isinstance(question, SimhashQuestion):
        matched = [a for a in ok if a.get("match")]
        distances = [a["min_distance"] for a in matched if a["min_distance"] is not None]
        summary.update(peers_matched=len(matched),
                       total_within=sum(a["count_within"] for a in matched),
                       min_distance=min(distances) if distances else None)
    else:
        seen = [a for a in ok if a.get("seen")]
        firsts = [a["first_seen"] for a in seen if a["first_seen"]]
        lasts = [a["last_seen"] for a in seen if a["last_seen"]]
        summary.update(peers_seen=len(seen), total_count=sum(a["count"] for a in seen),
                       earliest=min(firsts) if firsts else None,
                       latest=max(lasts) if lasts else None)
    return {"question": question_json(question), "answers": answers, "summary": summary}


def _day(text: str | None) -> str:
    return "-" if text is None else text[:10]


def print_report(report: dict[str, Any]) -> None:
    summary = report["summary"]
    if "peers_matched" in summary:
        print_table(["PEER", "MODE", "STATUS", "MATCH", "WITHIN", "CLOSEST", "LATENCY", "NOTE"], [
            (a["peer"], a["mode"], a["status"], _yes(a.get("match")), a.get("count_within", "-"),
             a.get("min_distance") if a.get("min_distance") is not None else "-",
             f"{a['latency_ms']:.1f} ms", a.get("error", "")[:80])
            for a in report["answers"]])
        print(f"\n{summary['peers_matched']} of {plural(summary['peers_asked'], 'peer')} have a"
              f" SimHash"
              f" within {report['question']['within']} ({summary['peers_answered']} answered);"
              f" {summary['total_within']} in total, closest"
              f" {summary['min_distance'] if summary['min_distance'] is not None else '-'}")
        return
    print_table(["PEER", "MODE", "STATUS", "SEEN", "COUNT", "FIRST SEEN", "LAST SEEN", "LATENCY",
                 "NOTE"],
                [(a["peer"], a["mode"], a["status"], _yes(a.get("seen")), a.get("count", "-"),
                  _day(a.get("first_seen")), _day(a.get("last_seen")),
                  f"{a['latency_ms']:.1f} ms", a.get("error", "")[:80])
                 for a in report["answers"]])
    print(f"\nseen by {summary['peers_seen']} of {plural(summary['peers_asked'], 'peer')}"
          f" ({summary['peers_answered']} answered); total count {summary['total_count']};"
          f" earliest {_day(summary['earliest'])}, latest {_day(summary['latest'])}")


def _yes(value: object) -> str:
    return "-" if value is None else ("yes" if value else "no")


def question_text(question: dict[str, Any]) -> str:
    """A question (as `question_json` gives it) the way an operator would say it."""
    kind = question.get("kind")
    if kind == "smtp":
        return f"has anyone seen mail aimed at {question['domain']}?"
    if kind == "fingerprint":
        return f"has anyone seen the {question['fingerprint']} {question['value']}?"
    if kind == "simhash":
        return (f"has anyone seen a {question['simhash_kind']} SimHash within"
                f" {question['within']} bits of {question['simhash']}?")
    return "who are you?"
