"""The one retry policy: what is retried, how long it waits, and when it gives up."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from test_autotask_client_kit import CODE, FakeTime, invoice_world, mock_client, serving

from agent.autotask import AutotaskApiError, AutotaskNetworkError, RetryPolicy
from agent.autotask.retry import retry_after_seconds, retry_reason
from sandbox.autotask.app import THREAD_TEXT
from sandbox.core import SandboxOptions
from sandbox.faults import Fault

Handler = Callable[[httpx.Request], httpx.Response]
OK = httpx.Response(200, json={"item": {"id": 1}})


def scripted(*answers: httpx.Response | Exception) -> tuple[list[httpx.Request], Handler]:
    """A handler answering in turn (an exception is raised, as a broken network would)."""
    sent: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return sent, handler


def errors(status: int, text: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"errors": [text]}, headers=headers)


def test_a_500_fault_is_retried_with_exponential_waits() -> None:
    with serving(invoice_world(1)) as served:
        served.sandbox.autotask_faults.add(Fault("error", path_contains="/invoices/1", times=2))
        client = served.client()
        assert client.get("Invoices", 1) is not None
        assert served.time.waits == [1.0, 2.0]
        assert client.calls_made["Invoices"] == 3


def test_a_503_is_retried() -> None:
    fake = FakeTime()
    sent, handler = scripted(errors(503, "Service Unavailable"), OK)
    assert mock_client(handler, fake).get("Invoices", 1) == {"id": 1}
    assert len(sent) == 2


def test_the_thread_threshold_error_is_retried_whatever_its_status() -> None:
    fake = FakeTime()
    text = THREAD_TEXT.format(limit=3, endpoint="Invoices")
    sent, handler = scripted(errors(500, text), errors(400, "Itgenatr005"), OK)
    assert mock_client(handler, fake).get("Invoices", 1) == {"id": 1}
    assert len(sent) == 3
    assert fake.waits == [1.0, 2.0]


def test_a_429_waits_what_retry_after_says() -> None:
    fake = FakeTime()
    _, handler = scripted(errors(429, "slow down", **{"Retry-After": "7"}), OK)
    assert mock_client(handler, fake).get("Invoices", 1) == {"id": 1}
    assert fake.waits == [7.0]


def test_a_429_without_retry_after_backs_off() -> None:
    fake = FakeTime()
    _, handler = scripted(errors(429, "slow down"), errors(429, "slow down"), OK)
    mock_client(handler, fake).get("Invoices", 1)
    assert fake.waits == [1.0, 2.0]


def test_a_500_verdict_is_not_retried() -> None:
    fake = FakeTime()
    text = "Invoice with id 1 does not exist or you do not have the adequate permissions."
    sent, handler = scripted(errors(500, text))
    with pytest.raises(AutotaskApiError) as caught:
        mock_client(handler, fake).get("Invoices", 1)
    assert (caught.value.status, caught.value.errors) == (500, [text])
    assert len(sent) == 1 and fake.waits == []


def test_a_400_is_not_retried() -> None:
    fake = FakeTime()
    sent, handler = scripted(errors(400, "bad request"))
    with pytest.raises(AutotaskApiError):
        mock_client(handler, fake).get("Invoices", 1)
    assert len(sent) == 1


def test_retries_stop_after_the_last_attempt_with_the_last_error() -> None:
    fake = FakeTime()
    sent, handler = scripted(errors(503, "down for maintenance"))
    with pytest.raises(AutotaskApiError, match="HTTP 503: down for maintenance"):
        mock_client(handler, fake).get("Invoices", 1)
    assert len(sent) == 6
    assert fake.waits == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_network_errors_are_retried_then_reported() -> None:
    fake = FakeTime()
    sent, handler = scripted(httpx.ConnectError("connection refused"))
    client = mock_client(handler, fake, retry=RetryPolicy(max_attempts=3))
    with pytest.raises(AutotaskNetworkError, match="ConnectError: connection refused"):
        client.get("Invoices", 1)
    assert len(sent) == 3 and fake.waits == [1.0, 2.0]


def test_a_read_timeout_is_retried() -> None:
    fake = FakeTime()
    _, handler = scripted(httpx.ReadTimeout("timed out"), OK)
    assert mock_client(handler, fake).get("Invoices", 1) == {"id": 1}


def test_backoff_is_full_jitter_under_an_exponential_ceiling_capped_at_60s() -> None:
    policy = RetryPolicy()
    assert [policy.backoff(n, 1.0) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert policy.backoff(3, 0.5) == 2.0
    assert policy.backoff(3, 0.0) == 0.0


def test_jittered_waits_come_from_the_injected_draw() -> None:
    fake = FakeTime()
    draws = iter([0.25, 0.5])
    _, handler = scripted(errors(503, "x"), errors(503, "x"), OK)
    mock_client(handler, fake, draw=lambda: next(draws)).get("Invoices", 1)
    assert fake.waits == [0.25, 1.0]


def test_retry_after_may_be_an_http_date() -> None:
    now = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds(later, now=now.timestamp) == 30.0
    assert retry_after_seconds("soon") is None


@pytest.mark.parametrize(
    ("status", "text", "retried"),
    [
        (500, "An unexpected error occurred while processing the request (HTTP 500).", True),
        (500, "Unable to find x in the Invoice Entity.", False),
        (500, "Zone information could not be determined", False),
        (501, "Not implemented", False),
        (502, "", True),
        (404, "No HTTP resource was found", False),
        (400, "Thread Threshold Exceeded: Itgenatr005", True),
        (200, '{"items": [{"description": "thread threshold exceeded"}]}', False),
        (500, "'x' is not a valid date and time for webServiceDate.", False),
        (500, "webServiceDat: unknown field (did you mean webServiceDate?)", False),
    ],
)
def test_which_answers_are_retried(status: int, text: str, retried: bool) -> None:
    assert (retry_reason(status, text) is not None) is retried


def test_thread_threshold_errors_from_real_concurrency_are_retried_until_all_succeed() -> None:
    # Six threads, the client allowed six in flight, the sandbox three: three are refused with
    # Itgenatr005 and retried. A retry waits (in fake time) until a slot is free again.
    options = SandboxOptions(autotask_hourly_budget=1_000, latency=True, latency_at_half=0.3)
    with serving(invoice_world(6), options) as served:
        served.sandbox.autotask.record_foreign_requests(500)
        threads = served.sandbox.autotask.threads

        def until_a_slot_frees(_: float) -> None:
            # Polls the sandbox's own count: the wait ends on the condition, not on luck.
            deadline = time.monotonic() + 10
            while threads.in_flight(CODE, "Invoices") >= 3 and time.monotonic() < deadline:
                threading.Event().wait(0.005)

        served.time.on_sleep = until_a_slot_frees
        client = served.client(max_in_flight=6, zone_url=served.urls.autotask_zone_url)
        barrier = threading.Barrier(6)
        found: list[object] = []

        def read(invoice_id: int) -> None:
            barrier.wait()
            found.append(client.get("Invoices", invoice_id))

        workers = [threading.Thread(target=read, args=(i,)) for i in range(1, 7)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert len(found) == 6 and None not in found
        assert len(served.time.waits) >= 3
        assert client.calls_made["Invoices"] == 6 + len(served.time.waits)
