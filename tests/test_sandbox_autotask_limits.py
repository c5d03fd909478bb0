"""The hourly budget, thread limits and added latency of the simulated Autotask."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from test_sandbox_autotask_kit import (
    ANY_ID,
    OTHER_CODE,
    OTHER_SECRET,
    OTHER_USERNAME,
    Api,
    headers,
    serving,
    small_world,
)

from sandbox.core import SandboxOptions

OTHER = headers(username=OTHER_USERNAME, secret=OTHER_SECRET, code=OTHER_CODE)


def threshold(api: Api) -> dict[str, Any]:
    response = api.client.get(api.base + "ThresholdInformation")
    assert response.status_code == 200
    return dict(response.json())


def test_threshold_information_reports_the_budget_and_counts_itself() -> None:
    with serving(small_world(), SandboxOptions(autotask_hourly_budget=250)) as api:
        assert threshold(api) == {
            "externalRequestThreshold": 250,
            "requestThresholdTimeframe": 60,
            "currentTimeframeRequestCount": 1,
        }
        assert threshold(api)["currentTimeframeRequestCount"] == 2


def test_requests_of_other_integrations_share_the_same_budget() -> None:
    with serving(small_world()) as api:
        httpx.get(api.base + "Invoices/1", headers=OTHER)
        api.sandbox.autotask.record_foreign_requests(40)
        assert threshold(api)["currentTimeframeRequestCount"] == 42


def test_a_spent_budget_refuses_every_integration_with_429() -> None:
    with serving(small_world(), SandboxOptions(autotask_hourly_budget=5)) as api:
        api.sandbox.autotask.record_foreign_requests(5)
        mine = api.client.get(api.base + "Invoices/1")
        theirs = httpx.get(api.base + "Invoices/1", headers=OTHER)
        for response in (mine, theirs):
            assert response.status_code == 429
            assert "threshold" in response.json()["errors"][0]


def test_the_budget_frees_up_as_the_rolling_hour_moves_on() -> None:
    with serving(small_world(), SandboxOptions(autotask_hourly_budget=5)) as api:
        api.sandbox.autotask.record_foreign_requests(5)
        assert api.client.get(api.base + "Invoices/1").status_code == 429
        api.sandbox.clock.advance(3599)
        assert api.client.get(api.base + "Invoices/1").status_code == 429
        api.sandbox.clock.advance(2)
        assert api.client.get(api.base + "Invoices/1").status_code == 200


def test_refused_requests_do_not_spend_the_budget() -> None:
    with serving(small_world(), SandboxOptions(autotask_hourly_budget=5)) as api:
        api.sandbox.autotask.record_foreign_requests(5)
        api.client.get(api.base + "Invoices/1")
        httpx.get(api.base + "Invoices/1", headers=headers(secret="wrong"))
        assert api.sandbox.autotask.request_count() == 5


def _concurrently(api: Api, requests: list[tuple[str, dict[str, str]]]) -> list[httpx.Response]:
    """Send POST queries at the same moment, one thread each; answers in request order."""
    barrier = threading.Barrier(len(requests))
    results: list[httpx.Response | None] = [None] * len(requests)

    def send(index: int, entity: str, sent: dict[str, str]) -> None:
        with httpx.Client(headers=sent, timeout=10) as client:
            barrier.wait()
            results[index] = client.post(api.base + f"{entity}/query", json={"filter": ANY_ID})

    threads = [
        threading.Thread(target=send, args=(i, entity, sent))
        for i, (entity, sent) in enumerate(requests)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def _slow_options() -> SandboxOptions:
    # Latency keeps requests in flight: usage is pushed to 50% so each one takes 0.8 s.
    return SandboxOptions(autotask_hourly_budget=40, latency=True, latency_at_half=0.8)


def test_a_fourth_and_fifth_concurrent_request_hit_the_thread_threshold() -> None:
    with serving(small_world(), _slow_options()) as api:
        api.sandbox.autotask.record_foreign_requests(20)
        responses = _concurrently(api, [("Invoices", headers())] * 5)
        refused = [r for r in responses if r.status_code != 200]
        assert len(refused) == 2
        for response in refused:
            assert response.status_code == 500  # not 429: clients must match on the text
            text = response.json()["errors"][0]
            assert "Thread Threshold Exceeded" in text
            assert "threshold of 3 threads has been exceeded" in text
            assert "Itgenatr005" in text


def test_threads_are_counted_per_endpoint_and_integration_code() -> None:
    with serving(small_world(), _slow_options()) as api:
        api.sandbox.autotask.record_foreign_requests(20)
        requests = [("Invoices", headers())] * 3 + [("Companies", headers()), ("Invoices", OTHER)]
        responses = _concurrently(api, requests)
        assert [r.status_code for r in responses] == [200] * 5


def test_latency_is_added_past_three_quarters_of_the_budget() -> None:
    options = SandboxOptions(
        autotask_hourly_budget=100,
        latency=True,
        latency_at_half=0.05,
        latency_at_three_quarters=0.4,
    )
    with serving(small_world(), options) as api:
        started = time.monotonic()
        api.client.get(api.base + "Invoices/1")
        assert time.monotonic() - started < 0.3
        api.sandbox.autotask.record_foreign_requests(75)
        started = time.monotonic()
        api.client.get(api.base + "Invoices/1")
        assert time.monotonic() - started >= 0.4
