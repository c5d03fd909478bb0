"""The invoice write-back: PATCH on the collection, re-read to confirm, retries, parallelism."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from test_autotask_client_kit import FakeTime, invoice_world, mock_client, serving

from agent.autotask import AutotaskNetworkError, AutotaskWriteNotApplied
from sandbox.core import SandboxOptions
from sandbox.faults import Fault

STAMP = datetime(2026, 5, 1, 10, 0, 0, 250000, tzinfo=UTC)


def test_update_invoice_patches_the_collection_with_the_id_in_the_body() -> None:
    with serving(invoice_world(3)) as served:
        served.client().update_invoice(2, web_service_date=STAMP)
        [patch] = [r for r in served.sent if r.method == "PATCH"]
        assert patch.url.path == "/ATServicesRest/V1.0/Invoices"
        assert json.loads(patch.content) == {"id": 2, "webServiceDate": "2026-05-01T10:00:00.250"}


def test_update_invoice_answers_the_invoice_as_read_back() -> None:
    with serving(invoice_world(3)) as served:
        after = served.client().update_invoice(2, web_service_date=STAMP, invoice_number="X-2")
        assert after.webServiceDate == STAMP
        assert after.invoiceNumber == "X-2"
        assert served.sandbox.autotask.get("Invoices", 2)["invoiceNumber"] == "X-2"  # type: ignore[index]


def test_an_aware_time_is_sent_as_utc() -> None:
    with serving(invoice_world(1)) as served:
        auckland = timezone(timedelta(hours=12))
        served.client().update_invoice(1, web_service_date=datetime(2026, 5, 2, 9, tzinfo=auckland))
        stored = served.sandbox.autotask.get("Invoices", 1)
        assert stored is not None and stored["webServiceDate"] == "2026-05-01T21:00:00"


def test_paid_date_is_sent_as_the_date_at_midnight() -> None:
    with serving(invoice_world(1)) as served:
        after = served.client().update_invoice(1, paid_date=date(2026, 5, 3))
        [patch] = [r for r in served.sent if r.method == "PATCH"]
        assert json.loads(patch.content)["paidDate"] == "2026-05-03T00:00:00.000"
        assert after.paidDate == datetime(2026, 5, 3, tzinfo=UTC)


def test_paid_date_can_be_cleared_with_none() -> None:
    with serving(invoice_world(1)) as served:
        served.sandbox.autotask.update("Invoices", 1, paidDate="2026-05-03T00:00:00")
        after = served.client().update_invoice(1, paid_date=None)
        assert after.paidDate is None
        [patch] = [r for r in served.sent if r.method == "PATCH"]
        assert json.loads(patch.content) == {"id": 1, "paidDate": None}


def test_fields_not_given_are_left_alone() -> None:
    with serving(invoice_world(1)) as served:
        served.sandbox.autotask.update("Invoices", 1, paidDate="2026-05-03T00:00:00")
        after = served.client().update_invoice(1, invoice_number="NEW-1")
        assert after.paidDate == datetime(2026, 5, 3, tzinfo=UTC)


def test_an_update_with_nothing_to_change_is_refused_before_sending() -> None:
    with serving(invoice_world(1)) as served, pytest.raises(ValueError, match="at least one"):
        served.client().update_invoice(1)
    assert [r for r in served.sent if r.method == "PATCH"] == []


def test_a_silently_ignored_write_is_detected_by_the_read_back() -> None:
    # Autotask answers 200 to a PATCH it did not apply (reference §6); the read-back says so.
    unchanged = {"id": 7, "invoiceNumber": "INV-7", "webServiceDate": None}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            return httpx.Response(200, json={"itemId": 7})
        return httpx.Response(200, json={"item": unchanged})

    client = mock_client(handler, FakeTime())
    with pytest.raises(AutotaskWriteNotApplied) as caught:
        client.update_invoice(7, web_service_date=STAMP, invoice_number="INV-7")
    assert caught.value.fields == ["webServiceDate"]
    assert "Invoices 7" in str(caught.value)


def test_a_write_to_an_invoice_that_cannot_be_read_back_is_not_trusted() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            return httpx.Response(200, json={"itemId": 7})
        return httpx.Response(200, json={"item": None})

    with pytest.raises(AutotaskWriteNotApplied):
        mock_client(handler, FakeTime()).update_invoice(7, paid_date=date(2026, 5, 3))


def test_a_patch_whose_connection_drops_after_the_write_is_retried_and_confirmed() -> None:
    with serving(invoice_world(1)) as served:
        served.sandbox.autotask_faults.add(Fault("drop_after_write", method="PATCH"))
        client = served.client()
        after = client.update_invoice(1, web_service_date=STAMP)
        assert after.webServiceDate == STAMP
        assert [r.method for r in served.sent if "/V1.0/" in r.url.path] == [
            "PATCH",
            "PATCH",
            "GET",
        ]
        assert served.time.waits == [1.0]


def test_a_patch_sent_only_once_raises_when_its_answer_is_lost() -> None:
    # For the mark step, which reads every invoice back anyway: one PATCH per invoice.
    with serving(invoice_world(1)) as served:
        served.sandbox.autotask_faults.add(Fault("drop_after_write", method="PATCH"))
        client = served.client()
        with pytest.raises(AutotaskNetworkError, match=r"PATCH V1\.0/Invoices failed"):
            client.patch_invoice(1, web_service_date=STAMP, resend_if_dropped=False)
        assert [r.method for r in served.sent if "/V1.0/" in r.url.path] == ["PATCH"]
        assert served.sandbox.autotask.write_counts("Invoices", "webServiceDate") == {1: 1}
        assert served.time.waits == []


def test_parallel_patches_from_a_thread_pool_keep_three_in_flight_per_endpoint() -> None:
    # Latency (usage pushed past half) keeps each request on the wire for 0.2 s, so eight
    # workers really overlap; the sandbox refuses a 4th concurrent request with Itgenatr005.
    options = SandboxOptions(autotask_hourly_budget=1_000, latency=True, latency_at_half=0.2)
    with serving(invoice_world(12), options) as served:
        served.sandbox.autotask.record_foreign_requests(500)
        in_flight = 0
        peak = 0
        lock = threading.Lock()
        inner = httpx.HTTPTransport()

        class Counting(httpx.BaseTransport):
            def handle_request(self, request: httpx.Request) -> httpx.Response:
                nonlocal in_flight, peak
                with lock:
                    in_flight += 1
                    peak = max(peak, in_flight)
                try:
                    response = inner.handle_request(request)
                    response.read()
                    return response
                finally:
                    with lock:
                        in_flight -= 1

        with httpx.Client(transport=Counting()) as http:
            client = served.client(http=http)
            with ThreadPoolExecutor(max_workers=8) as pool:
                done: list[Any] = list(
                    pool.map(
                        lambda i: client.update_invoice(i, web_service_date=STAMP), range(1, 13)
                    )
                )
        assert len(done) == 12
        assert peak == 3
        assert served.time.waits == []  # no thread-threshold error, so nothing was retried
