"""The operator's spend gates."""

from __future__ import annotations

import pytest

from venice_video.mcp_server._budget import Budget, SpendRefused


def test_no_limits_allow_anything() -> None:
    budget = Budget()
    budget.check(1e6)
    assert budget.cap() is None and not budget.is_limited
    assert budget.describe()["remaining_usd"] is None


def test_per_call_maximum_refuses_a_dearer_quote() -> None:
    budget = Budget(max_cost_per_call=0.10)
    budget.check(0.10)
    with pytest.raises(SpendRefused) as caught:
        budget.check(0.25)
    assert caught.value.reason == "per_call_max"
    assert "$0.25" in caught.value.message and "$0.10" in caught.value.message


def test_budget_counts_spending_and_holds() -> None:
    budget = Budget(total=0.30)
    budget.hold(0.1)
    budget.hold(0.2)  # float slack: 0.1 + 0.2 fits in 0.30
    assert budget.remaining == 0.0
    with pytest.raises(SpendRefused) as caught:
        budget.hold(0.01)
    assert caught.value.reason == "budget"
    assert caught.value.limits["remaining_usd"] == 0.0
    budget.settle(0.2, None)  # the second queue failed: nothing charged
    budget.settle(0.1, 0.1)
    assert budget.spent == 0.1 and budget.reserved == 0.0
    assert budget.remaining == pytest.approx(0.2)


def test_cap_is_the_tighter_gate() -> None:
    budget = Budget(max_cost_per_call=0.5, total=1.0)
    assert budget.cap() == 0.5
    budget.settle(0.0, 0.8)
    assert budget.cap() == pytest.approx(0.2)


def test_negative_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="budget|total"):
        Budget(total=-1)
    with pytest.raises(ValueError, match="max_cost_per_call"):
        Budget(max_cost_per_call=-0.01)
