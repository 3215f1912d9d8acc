"""The daily blind-evaluation budget: every guess costs one, and a restart forgets none."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from federation.budget import PeerBudgets
from federation.errors import OverBudget
from federation.ledger import EvaluationRow, Ledger
from federation.privacy import DAY_S, PrivacyPolicy

POLICY = dataclasses.replace(PrivacyPolicy(), daily_blind_evaluations=20)
NOW = 20_000 * DAY_S + 60


def test_evaluations_are_counted_per_peer_and_day_and_refunded() -> None:
    budgets = PeerBudgets(POLICY)
    budgets.charge_evaluations("a", 16, NOW)
    with pytest.raises(OverBudget, match="16 used, 5 asked"):
        budgets.charge_evaluations("a", 5, NOW)  # refused whole: nothing charged
    budgets.charge_evaluations("a", 4, NOW)
    budgets.charge_evaluations("b", 20, NOW)  # another peer's budget
    budgets.refund_evaluations("a", 4, NOW)  # an answer that was never sent
    budgets.charge_evaluations("a", 4, NOW)
    with pytest.raises(OverBudget):
        budgets.charge_evaluations("a", 1, NOW)
    budgets.charge_evaluations("a", 20, NOW + DAY_S)  # a new UTC day


async def test_a_used_up_evaluation_budget_stays_used_up_after_a_restart(
        tmp_path: Path) -> None:
    path = tmp_path / "federation.db"
    ledger = Ledger(path)
    day = int(NOW // DAY_S)
    await ledger.record([], [], int(NOW * 1000), [EvaluationRow("a", day, 16)])
    await ledger.record([], [], int(NOW * 1000), [EvaluationRow("a", day, 4)])
    ledger.close()
    again = Ledger(path)
    (row,) = again.evaluations(day)
    again.close()
    assert (row.key_id, row.count) == ("a", 20)
    budgets = PeerBudgets(POLICY)
    budgets.restore_evaluations(row.key_id, day, row.count)
    with pytest.raises(OverBudget):
        budgets.charge_evaluations("a", 1, NOW)
