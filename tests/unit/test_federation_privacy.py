"""Privacy policy: coarse times, budgets with injected time, the audit log."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from federation.audit import AuditLog, AuditThrottle
from federation.budget import PeerBudgets
from federation.errors import OverBudget
from federation.privacy import DAY_S, PrivacyPolicy, coarsen_us

T0 = 1_772_442_600  # 2026-03-02T09:10:00Z


def test_coarsening_floors_to_the_granularity() -> None:
    assert coarsen_us(None, DAY_S) is None
    assert coarsen_us(T0 * 10**6 + 7, DAY_S) == T0 - T0 % DAY_S
    assert coarsen_us(T0 * 10**6, 3600) == T0 - T0 % 3600


@pytest.mark.parametrize("bad", [{"min_count": 0}, {"rate_per_s": 0}, {"burst": 0},
                                 {"max_simhash_distance": 65}, {"time_granularity_s": 0}])
def test_bad_policy_values_name_their_field(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        PrivacyPolicy(**bad)  # type: ignore[arg-type]


def test_token_bucket_allows_a_burst_then_refills_with_time() -> None:
    budgets = PeerBudgets(PrivacyPolicy(rate_per_s=2.0, burst=3))
    for _ in range(3):
        budgets.take_token("k", T0)
    with pytest.raises(OverBudget, match="rate"):
        budgets.take_token("k", T0)
    budgets.take_token("other", T0)  # budgets are per peer
    budgets.take_token("k", T0 + 0.5)
    with pytest.raises(OverBudget):
        budgets.take_token("k", T0 + 0.5)


def test_daily_distinct_questions_budget_counts_new_questions_only_and_resets() -> None:
    budgets = PeerBudgets(PrivacyPolicy(daily_distinct_questions=2))
    assert budgets.charge_question("k", b"a", T0)
    assert budgets.charge_question("k", b"b", T0)
    assert not budgets.charge_question("k", b"a", T0 + 10)  # a repeat is free
    with pytest.raises(OverBudget, match="daily"):
        budgets.charge_question("k", b"c", T0 + 10)
    budgets.charge_question("k", b"c", T0 + DAY_S)


def test_audit_log_records_who_asked_what(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.log")
    log.record(now_s=T0, peer="bravo", key_id="0" * 16, method="/m", question={"q": "x" * 999},
               answer={"seen": True})
    log.record(now_s=T0, peer="bravo", key_id="0" * 16, method="/m", question=None,
               answer=None, status="RESOURCE_EXHAUSTED", reason="rate limit")
    log.close()
    line, refused = map(orjson.loads, (tmp_path / "audit.log").read_bytes().splitlines())
    assert line["peer"] == "bravo" and line["time"] == "2026-03-02T09:10:00Z"
    assert line["status"] == "OK" and len(line["question"]["q"]) < 400
    assert (refused["status"], refused["reason"]) == ("RESOURCE_EXHAUSTED", "rate limit")


def test_audit_log_reopens_its_path_after_logrotate_moved_it(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    log = AuditLog(path)
    log.record(now_s=T0, peer="a", key_id="0" * 16, method="/m", question=None, answer=None)
    path.rename(tmp_path / "audit.log.1")
    log.reopen()  # what SIGHUP does in `serve`
    log.record(now_s=T0, peer="b", key_id="0" * 16, method="/m", question=None, answer=None)
    (tmp_path / "audit.log").unlink()
    log.reopen()
    log.record(now_s=T0, peer="c", key_id="0" * 16, method="/m", question=None, answer=None)
    log.close()
    assert orjson.loads((tmp_path / "audit.log.1").read_bytes())["peer"] == "a"
    assert orjson.loads(path.read_bytes())["peer"] == "c"
    assert path.stat().st_mode & 0o777 == 0o600


def test_audit_log_is_private_to_the_operator(tmp_path: Path) -> None:
    AuditLog(tmp_path / "audit.log").close()
    assert (tmp_path / "audit.log").stat().st_mode & 0o777 == 0o600


def test_audit_throttle_bounds_a_peers_refusal_lines_and_counts_the_rest() -> None:
    throttle = AuditThrottle(rate_per_s=1.0, burst=3)
    kept = [throttle.admit("k", T0) for _ in range(10)]
    assert kept == [0, 0, 0] + [None] * 7
    assert throttle.admit("other", T0) == 0  # per peer
    assert throttle.admit("k", T0 + 1) == 7  # the next line says how many it stands for
    assert throttle.admit("k", T0 + 1) is None
