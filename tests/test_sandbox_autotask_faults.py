"""Injected faults on the simulated Autotask, end to end over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from test_sandbox_autotask_kit import Api, serving, small_world

from sandbox.faults import Fault

STAMP = {"id": 1, "webServiceDate": "2026-05-01T10:00:00"}


@pytest.fixture
def api() -> Iterator[Api]:
    with serving(small_world()) as api:
        yield api


def test_an_error_fault_answers_500_with_an_errors_body_and_applies_nothing(api: Api) -> None:
    api.sandbox.autotask_faults.add(Fault("error", path_contains="/invoices", method="PATCH"))
    response = api.client.patch(api.base + "Invoices", json=STAMP)
    assert response.status_code == 500
    assert isinstance(response.json()["errors"][0], str)
    assert api.record("Invoices", 1).get("webServiceDate") is None


def test_an_error_fault_can_be_queued_through_the_admin_route(api: Api) -> None:
    admin = api.urls.autotask_zone_url.replace("/ATServicesRest/", "/_sandbox/faults")
    assert httpx.post(admin, json={"kind": "error", "status": 503}).status_code == 201
    assert api.client.get(api.base + "Invoices/1").status_code == 503
    assert api.client.get(api.base + "Invoices/1").status_code == 200


def test_a_slow_fault_delays_the_answer(api: Api) -> None:
    api.sandbox.autotask_faults.add(Fault("slow", path_contains="/query", delay_seconds=0.3))
    started = time.monotonic()
    response = api.client.post(
        api.base + "Invoices/query", json={"filter": [{"op": "exist", "field": "id"}]}
    )
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_a_dropped_connection_after_a_patch_still_applied_the_write(api: Api) -> None:
    api.sandbox.autotask_faults.add(Fault("drop_after_write", method="PATCH"))
    with pytest.raises(httpx.TransportError):
        api.client.patch(api.base + "Invoices", json=STAMP)
    item = api.client.get(api.base + "Invoices/1").json()["item"]
    assert item["webServiceDate"] == "2026-05-01T10:00:00"
