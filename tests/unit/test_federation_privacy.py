"""Privacy policy: thresholds equal "never seen", coarse times, budgets with injected time."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from federation.audit import AuditLog
from federation.budget import PeerBudgets
from federation.errors import OverBudget
from federation.privacy import DAY_S, PrivacyPolicy, coarsen_us, shape_near, shape_seen
from node.query import NearAggregate, SeenAggregate

T0 = 1_772_442_600  # 2026-03-02T09:10:00Z
NEVER = SeenAggregate(False, 0, 0, None, None)


def test_times_are_floored_to_the_day_by_default() -> None:
    shared = shape_seen(SeenAggregate(True, 5, 2, T0 * 10**6 + 7, (T0 + 3600) * 10**6),
                        PrivacyPolicy())
    assert shared.first_seen_s == shared.last_seen_s == T0 - T0 % DAY_S
    assert (shared.seen, shared.count, shared.distinct_attackers) == (True, 5, 2)
    assert coarsen_us(None, DAY_S) is None
    assert coarsen_us(T0 * 10**6, 3600) == T0 - T0 % 3600


@pytest.mark.parametrize(("policy", "found"), [
    (PrivacyPolicy(min_count=3), SeenAggregate(True, 2, 2, T0 * 10**6, T0 * 10**6)),
    (PrivacyPolicy(min_distinct_attackers=2), SeenAggregate(True, 50, 1, T0 * 10**6,
                                                            T0 * 10**6)),
])
def test_below_threshold_is_identical_to_never_seen(policy: PrivacyPolicy,
                                                    found: SeenAggregate) -> None:
    assert shape_seen(found, policy) == shape_seen(NEVER, policy)


def test_simhash_below_min_count_is_identical_to_no_match() -> None:
    policy = PrivacyPolicy(min_count=2)
    assert shape_near(NearAggregate(True, 1, 1), policy) == NearAggregate(False, None, 0)
    assert shape_near(NearAggregate(True, 1, 2), policy) == NearAggregate(True, 1, 2)


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
    budgets.charge_question("k", b"a", T0)
    budgets.charge_question("k", b"b", T0)
    budgets.charge_question("k", b"a", T0 + 10)  # a repeat is free
    with pytest.raises(OverBudget, match="daily"):
        budgets.charge_question("k", b"c", T0 + 10)
    budgets.charge_question("k", b"c", T0 + DAY_S)


def test_audit_log_records_who_asked_what(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.log")
    log.record(now_s=T0, peer="bravo", key_id="0" * 16, method="/m", question={"q": "x" * 999},
               answer={"seen": True})
    log.close()
    line = orjson.loads((tmp_path / "audit.log").read_bytes())
    assert line["peer"] == "bravo" and line["time"] == "2026-03-02T09:10:00Z"
    assert len(line["question"]["q"]) < 400


def test_audit_log_is_private_to_the_operator(tmp_path: Path) -> None:
    AuditLog(tmp_path / "audit.log").close()
    assert (tmp_path / "audit.log").stat().st_mode & 0o777 == 0o600
