"""The sandbox's shared machinery: its clock, fault plans and admin routes."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import httpx
import pytest

from sandbox import seed
from sandbox.clock import SandboxClock
from sandbox.core import Sandbox, SandboxOptions
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


def test_a_fault_with_a_probability_hits_a_seeded_share_of_the_matching_requests() -> None:
    def hits(seed: int) -> list[bool]:
        plan = FaultPlan()
        plan.add(Fault(kind="error", method="PUT", times=None, probability=0.05, seed=seed))
        assert plan.take("GET", "/x") is None  # not matching: no draw
        return [plan.take("PUT", "/x") is not None for _ in range(2000)]

    first = hits(7)
    assert first == hits(7)  # the same requests, every run
    assert first != hits(8)
    assert 50 <= sum(first) <= 150  # about 5 % of 2,000


def test_a_probable_fault_counts_only_its_hits_and_lets_the_next_fault_match() -> None:
    plan = FaultPlan()
    plan.add(Fault(kind="error", status=503, times=3, probability=0.5, seed=1))
    plan.add(Fault(kind="slow", times=None))
    taken = [plan.take("GET", "/x") for _ in range(40)]
    assert sum(1 for f in taken if f is not None and f.kind == "error") == 3
    assert all(f is not None for f in taken)  # every miss fell through to the slow fault
    assert [f.kind for f in plan.pending()] == ["slow"]


@pytest.mark.parametrize("probability", [0, -0.1, 1.5, "0.5", True, float("nan")])
def test_a_probability_outside_0_to_1_is_refused(probability: object) -> None:
    with pytest.raises(ValueError, match="probability"):
        FaultPlan().add(Fault(kind="error", probability=probability))  # type: ignore[arg-type]


def test_the_admin_route_accepts_a_probability_and_a_seed() -> None:
    sandbox = Sandbox(World())
    with running_sandbox(sandbox) as urls:
        base = urls.xero_api_url
        body = {"kind": "error", "status": 500, "times": None, "probability": 0.05, "seed": 3}
        added = httpx.post(f"{base}/_sandbox/faults", json=body)
        assert added.status_code == 201 and added.json()["probability"] == 0.05
        (fault,) = sandbox.xero_faults.pending()
        assert (fault.probability, fault.seed, fault.times) == (0.05, 3, None)
        listed = httpx.get(f"{base}/_sandbox/faults").json()["faults"]
        assert listed[0]["seed"] == 3
        bad = httpx.post(f"{base}/_sandbox/faults", json={"kind": "error", "probability": 2})
        assert bad.status_code == 400 and "probability" in bad.json()["error"]


def test_the_state_route_reports_budget_use_and_documents_per_organisation() -> None:
    sandbox = Sandbox(seed.generate(10, seed=1, today=date(2026, 3, 2)))
    with running_sandbox(sandbox) as urls:
        state = httpx.get(f"{urls.xero_api_url}/_sandbox/state").json()
    orgs = state["xero"]["organisations"]
    assert [o["tenant_id"] for o in orgs] == [o.tenant_id for o in sandbox.world.xero_orgs]
    first = sandbox.world.xero_orgs[0]
    assert orgs[0]["invoices"] == len(first.invoices)
    assert orgs[0]["credit_notes"] == len(first.credit_notes)
    assert state["autotask"] == {
        "requests_in_window": 0,
        "hourly_budget": 10_000,
        "added_latency_seconds": 0.0,
    }


def test_a_round_trip_holds_every_answer_but_not_the_admin_routes() -> None:
    sandbox = Sandbox(World(), options=SandboxOptions(round_trip=0.2))
    with running_sandbox(sandbox) as urls, httpx.Client() as http:
        began = time.perf_counter()
        http.get(f"{urls.xero_api_url}/_sandbox/clock")
        admin = time.perf_counter() - began
        began = time.perf_counter()
        http.get(f"{urls.xero_api_url}/connections")  # 401: no token, answered after the trip
        api = time.perf_counter() - began
    assert api >= 0.2 > admin
