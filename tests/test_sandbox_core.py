"""The sandbox's shared machinery: its clock, fault plans and admin routes."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from sandbox.clock import SandboxClock
from sandbox.core import Sandbox
from sandbox.faults import Fault, FaultPlan
from sandbox.server import running_sandbox
from sandbox.world import World


def test_clock_advance_moves_sandbox_time_without_waiting() -> None:
    clock = SandboxClock(start=datetime(2026, 1, 1, tzinfo=UTC))
    before = clock.seconds()
    clock.advance(3600)
    assert clock.seconds() - before >= 3600
    assert clock.now() >= datetime(2026, 1, 1, 1, tzinfo=UTC)


def test_scaled_clock_turns_real_seconds_into_more_sandbox_seconds() -> None:
    clock = SandboxClock(scale=3600)
    assert clock.to_real(3600) == pytest.approx(1.0)
    clock.set_scale(60)
    assert clock.to_real(60) == pytest.approx(1.0)


def test_changing_the_scale_keeps_time_continuous() -> None:
    clock = SandboxClock(scale=1000)
    clock.advance(500)
    before = clock.seconds()
    clock.set_scale(1)
    assert clock.seconds() >= before


def test_clock_refuses_a_non_positive_scale() -> None:
    with pytest.raises(ValueError, match="positive"):
        SandboxClock(scale=0)


def test_fault_hits_only_matching_requests_and_only_as_often_as_asked() -> None:
    plan = FaultPlan()
    plan.add(Fault(kind="error", path_contains="/invoices", method="PUT", times=2))
    assert plan.take("GET", "/api.xro/2.0/Invoices") is None
    assert plan.take("PUT", "/api.xro/2.0/Contacts") is None
    assert plan.take("PUT", "/api.xro/2.0/Invoices") is not None
    assert plan.take("put", "/API.XRO/2.0/INVOICES") is not None
    assert plan.take("PUT", "/api.xro/2.0/Invoices") is None


def test_fault_without_a_count_lasts_until_cleared() -> None:
    plan = FaultPlan()
    plan.add(Fault(kind="slow", delay_seconds=0.01, times=None))
    for _ in range(5):
        assert plan.take("GET", "/x") is not None
    plan.clear()
    assert plan.take("GET", "/x") is None


def test_unknown_fault_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultPlan().add(Fault(kind="explode"))  # type: ignore[arg-type]


def test_admin_routes_steer_faults_and_clock_over_http() -> None:
    sandbox = Sandbox(World())
    with running_sandbox(sandbox) as urls:
        base = urls.xero_api_url
        added = httpx.post(f"{base}/_sandbox/faults", json={"kind": "error", "status": 503})
        assert added.status_code == 201
        assert [f.status for f in sandbox.xero_faults.pending()] == [503]
        bad = httpx.post(f"{base}/_sandbox/faults", json={"kind": "error", "colour": "red"})
        assert bad.status_code == 400
        assert httpx.delete(f"{base}/_sandbox/faults").json() == {"faults": []}
        before = sandbox.clock.seconds()
        moved = httpx.post(f"{base}/_sandbox/clock", json={"advance": 86400, "scale": 10})
        assert moved.status_code == 200
        assert moved.json()["scale"] == 10
        assert sandbox.clock.seconds() - before >= 86400
