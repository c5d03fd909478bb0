"""Pacing by the tenant's shared hourly budget, read from ThresholdInformation."""

from __future__ import annotations

from typing import Any

import pytest
from test_autotask_client_kit import Served, invoice_world, serving

from agent.autotask import AutotaskBudgetExhausted, BudgetPolicy
from sandbox.core import SandboxOptions

# Readings only when the test says so, so the numbers below are exact.
RARELY: dict[str, Any] = {"refresh_every_calls": 10_000, "refresh_every_seconds": 1e9}


def budget_of(limit: int) -> SandboxOptions:
    return SandboxOptions(autotask_hourly_budget=limit)


def readings(served: Served) -> int:
    return len(served.paths("ThresholdInformation"))


def test_below_half_the_budget_requests_are_not_slowed() -> None:
    with serving(invoice_world(3), budget_of(100)) as served:
        served.sandbox.autotask.record_foreign_requests(40)
        client = served.client(budget=BudgetPolicy(**RARELY))
        for invoice_id in (1, 2, 3):
            client.get("Invoices", invoice_id)
        assert served.time.waits == []
        assert client.calls_made == {"ZoneInformation": 1, "ThresholdInformation": 1, "Invoices": 3}


def test_past_half_the_budget_requests_are_spread_over_the_window() -> None:
    with serving(invoice_world(3), budget_of(1_000)) as served:
        served.sandbox.autotask.record_foreign_requests(600)  # other integrations of the tenant
        client = served.client(budget=BudgetPolicy(**RARELY))
        for invoice_id in (1, 2, 3):
            client.get("Invoices", invoice_id)
        # The reading counts itself: 601 used. The gap grows from 0 at 50% to
        # window / remaining at 90%; here 25.25% of the way: 0.2525 * 3600 s / 399.
        first = (601 / 1_000 - 0.5) / 0.4 * 3_600 / 399
        second = (602 / 1_000 - 0.5) / 0.4 * 3_600 / 398
        assert served.time.waits == pytest.approx([first, second])


def test_the_pace_gets_slower_as_the_budget_fills() -> None:
    gaps = []
    for foreign in (550, 700, 850):
        with serving(invoice_world(2), budget_of(1_000)) as served:
            served.sandbox.autotask.record_foreign_requests(foreign)
            client = served.client(budget=BudgetPolicy(**RARELY))
            client.get("Invoices", 1)
            client.get("Invoices", 2)
            gaps.append(served.time.waits[-1])
    assert gaps[0] < gaps[1] < gaps[2]
    assert gaps[2] == pytest.approx((851 / 1_000 - 0.5) / 0.4 * 3_600 / 149)


def test_at_ninety_percent_a_client_that_may_not_wait_gets_the_numbers() -> None:
    with serving(invoice_world(1), budget_of(100)) as served:
        served.sandbox.autotask.record_foreign_requests(95)
        client = served.client(budget=BudgetPolicy(wait=False, **RARELY))
        with pytest.raises(AutotaskBudgetExhausted) as caught:
            client.get("Invoices", 1)
        assert (caught.value.used, caught.value.threshold) == (96, 100)
        assert "96 of 100 requests per 60 minutes used (96%)" in str(caught.value)
        assert served.paths("/Invoices") == []


def test_at_ninety_percent_the_client_pauses_until_the_window_frees() -> None:
    with serving(invoice_world(1), budget_of(100), sandbox_time=True) as served:
        served.sandbox.autotask.record_foreign_requests(95)
        client = served.client(budget=BudgetPolicy(recheck_seconds=600, **RARELY))
        assert client.get("Invoices", 1) is not None
        # Re-read every 10 minutes; the foreign requests leave the rolling hour after 60.
        assert served.time.waits == [600.0] * 6
        assert readings(served) == 7
        status = client.budget_status()
        assert status is not None and status.paused_until is None


def test_a_pause_is_bounded_and_then_reported() -> None:
    with serving(invoice_world(1), budget_of(100), sandbox_time=True) as served:
        served.sandbox.autotask.record_foreign_requests(95)
        policy = BudgetPolicy(recheck_seconds=600, max_pause_seconds=1_200, **RARELY)
        with pytest.raises(AutotaskBudgetExhausted):
            served.client(budget=policy).get("Invoices", 1)
        assert served.time.waits == [600.0, 600.0]


def test_a_429_for_a_spent_budget_pauses_instead_of_hammering() -> None:
    with serving(invoice_world(1), budget_of(100)) as served:
        client = served.client(budget=BudgetPolicy(wait=False, **RARELY))
        client.get("Invoices", 1)  # reads 1 of 100
        served.sandbox.autotask.record_foreign_requests(98)  # the budget is now spent
        with pytest.raises(AutotaskBudgetExhausted):
            client.get("Invoices", 1)
        assert served.time.waits == [1.0]  # one backoff after the 429, then the pause line
        assert client.calls_made["Invoices"] == 2


def test_usage_is_read_again_every_n_requests() -> None:
    with serving(invoice_world(1), budget_of(10_000)) as served:
        client = served.client(
            budget=BudgetPolicy(refresh_every_calls=5, refresh_every_seconds=1e9)
        )
        for _ in range(12):
            client.get("Invoices", 1)
        assert readings(served) == 3  # before requests 1, 6 and 11


def test_usage_is_read_again_after_m_seconds() -> None:
    with serving(invoice_world(1), budget_of(10_000)) as served:
        client = served.client(budget=BudgetPolicy(refresh_every_calls=10_000))
        client.get("Invoices", 1)
        client.get("Invoices", 1)
        served.time.now += 121
        client.get("Invoices", 1)
        assert readings(served) == 2


def test_other_integrations_burst_is_noticed_at_the_next_reading() -> None:
    with serving(invoice_world(1), budget_of(1_000)) as served:
        client = served.client(budget=BudgetPolicy(refresh_every_calls=10_000))
        client.get("Invoices", 1)
        client.get("Invoices", 1)
        assert served.time.waits == []
        served.sandbox.autotask.record_foreign_requests(700)
        served.time.now += 121
        client.get("Invoices", 1)
        client.get("Invoices", 1)
        assert len(served.time.waits) == 1 and served.time.waits[0] > 0


def test_budget_status_shows_usage_for_the_status_screen() -> None:
    with serving(invoice_world(1), budget_of(1_000)) as served:
        served.sandbox.autotask.record_foreign_requests(599)
        client = served.client(budget=BudgetPolicy(**RARELY))
        assert client.budget_status() is not None
        client.get("Invoices", 1)
        status = client.budget_status()
        assert status is not None
        assert (status.used, status.threshold, status.window_minutes) == (601, 1_000, 60)
        assert status.fraction == pytest.approx(0.601)
        assert status.pace_seconds > 0
        assert status.paused_until is None
        assert status.read_at is not None


def test_budget_status_is_none_when_pacing_is_off() -> None:
    with serving(invoice_world(1)) as served:
        client = served.client(budget=None)
        client.get("Invoices", 1)
        assert client.budget_status() is None
        assert "ThresholdInformation" not in client.calls_made


def test_an_unreadable_gauge_does_not_stop_the_request() -> None:
    from sandbox.faults import Fault

    with serving(invoice_world(1), budget_of(1_000)) as served:
        served.sandbox.autotask_faults.add(Fault("error", path_contains="ThresholdInformation"))
        client = served.client(budget=BudgetPolicy(**RARELY))
        assert client.get("Invoices", 1) is not None
        assert served.time.waits == []  # the gauge is read once per attempt, never retried
