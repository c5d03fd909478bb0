"""The rate governor per organisation: pacing, concurrency, 429 waits, daily pauses, retries
(reference §8). Sleeping moves the sandbox clock, so nothing waits for real."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from test_xero_client_kit import AU, GB, invoices, record_requests, serving

from agent.xero import GovernorPolicy, XeroOrgPaused, XeroUnavailable, document_key
from sandbox.faults import Fault


def test_a_day_429_pauses_that_organisation_while_the_other_keeps_working(
    tmp_path: Path,
) -> None:
    with serving(tmp_path, xero_day_limit=2) as served, served.client() as client:
        served.connect(client)
        client.organisation(AU)
        client.find_invoices_by_number(AU, ["AT-1"])
        with pytest.raises(XeroOrgPaused) as raised:
            client.get_invoice(AU, "00000000-0000-0000-0000-000000000001")
        assert raised.value.tenant_id == AU
        assert raised.value.until > served.sandbox.clock.now() + timedelta(seconds=60)
        status = client.status(AU)
        assert status.paused_until == raised.value.until
        assert status.day_remaining == 0 and status.last_problem == "day"
        assert served.time.waits == []  # paused, not slept
        # The other organisation has its own day.
        assert client.organisation(GB).base_currency == "GBP"
        assert client.status(GB).paused_until is None


def test_a_paused_organisation_fails_fast_without_calling_xero(tmp_path: Path) -> None:
    with serving(tmp_path, xero_day_limit=1) as served, served.client() as client:
        served.connect(client)
        client.organisation(AU)
        with pytest.raises(XeroOrgPaused):
            client.find_invoices_by_number(AU, ["AT-1"])
        calls = client.status(AU).calls_made
        with pytest.raises(XeroOrgPaused, match="paused until"):
            client.post_documents(AU, "invoice", invoices(1), ["1:a"])
        assert client.status(AU).calls_made == calls


def test_the_pause_lifts_by_itself_when_the_day_turns(tmp_path: Path) -> None:
    with serving(tmp_path, xero_day_limit=1) as served, served.client() as client:
        served.connect(client)
        client.organisation(AU)
        with pytest.raises(XeroOrgPaused) as raised:
            client.organisation(AU, refresh=True)
        wait = (raised.value.until - served.sandbox.clock.now()).total_seconds()
        served.sandbox.clock.advance(wait + 1)
        assert client.organisation(AU, refresh=True).base_currency == "AUD"
        assert client.status(AU).paused_until is None


def test_a_minute_429_waits_retry_after_and_sends_the_same_idempotency_key(
    tmp_path: Path,
) -> None:
    with serving(tmp_path, xero_minute_limit=2) as served, served.client() as client:
        served.connect(client)
        sent = record_requests(client)
        client.organisation(AU)
        client.organisation(GB)  # another organisation: its own minute
        client.find_invoices_by_number(AU, ["AT-1"])
        (result,) = client.post_documents(AU, "invoice", invoices(1), [document_key(7, "h")])
        assert result.ok and result.number == "AT-1000"
        (wait,) = served.time.waits
        assert 1 <= wait <= 61.0  # Retry-After (real seconds) plus at most 0.5 s of jitter
        puts = [s for s in sent if s.method == "PUT"]
        assert len(puts) == 2
        assert puts[0].headers["idempotency-key"] == puts[1].headers["idempotency-key"]
        assert client.status(AU).rate_limited == 1
        assert client.status(AU).last_problem == "minute"
        assert len(served.sandbox.xero.invoices(AU)) == 1


def test_pacing_keeps_starts_under_the_minute_limit_without_a_single_429(tmp_path: Path) -> None:
    policy = GovernorPolicy(minute_limit=3)
    with (
        serving(tmp_path, xero_minute_limit=3) as served,
        served.client(policy=policy) as client,
    ):
        served.connect(client)
        for _ in range(7):
            client.organisation(AU, refresh=True)
        assert client.status(AU).rate_limited == 0
        assert client.status(AU).calls_made == 7
        # 7 starts with at most 3 per rolling minute span more than two minutes.
        assert sum(served.time.waits) > 120


def test_no_more_than_five_calls_are_in_flight_per_organisation(tmp_path: Path) -> None:
    with serving(tmp_path) as served, served.client() as client:
        served.connect(client)
        served.sandbox.xero_faults.add(
            Fault("slow", "/api.xro/2.0/Organisation", delay_seconds=0.2, times=None)
        )
        errors: list[BaseException] = []

        def call() -> None:
            try:
                client.organisation(AU, refresh=True)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=call) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        status = client.status(AU)
        assert errors == []
        assert status.peak_in_flight == 5 and status.in_flight == 0
        assert status.rate_limited == 0  # Xero never had to refuse "concurrent"
        assert status.calls_made == 12


def test_sdk_urllib3_retries_are_off_so_a_429_on_a_get_reaches_the_governor(
    tmp_path: Path,
) -> None:
    with serving(tmp_path, xero_minute_limit=1) as served, served.client() as client:
        served.connect(client)
        sent = record_requests(client)
        client.organisation(AU)
        started = time.monotonic()
        client.organisation(AU, refresh=True)
        assert time.monotonic() - started < 1.0  # no real sleep inside urllib3
        assert len(served.time.waits) == 1  # the governor's own (fake) sleep
        assert [s.method for s in sent] == ["GET", "GET", "GET"]
        assert client.status(AU).rate_limited == 1


def test_status_shows_the_remaining_limits_and_the_calls_made(tmp_path: Path) -> None:
    with serving(tmp_path) as served, served.client() as client:
        served.connect(client)
        client.organisation(AU)
        client.organisation(GB)
        client.organisation(GB, refresh=True)
        au, gb = client.status(AU), client.status(GB)
        assert (au.minute_remaining, au.day_remaining, au.calls_made) == (59, 4999, 1)
        assert (gb.minute_remaining, gb.day_remaining, gb.calls_made) == (58, 998, 2)
        assert gb.app_minute_remaining == 9997  # the app's minute spans both organisations
        assert set(client.statuses()) == {AU, GB}
        assert client.governor.calls_made() == 3


def test_server_errors_on_reads_are_retried_with_backoff(tmp_path: Path) -> None:
    with serving(tmp_path) as served, served.client() as client:
        served.connect(client)
        served.sandbox.xero_faults.add(Fault("error", "/Organisation", status=503, times=2))
        assert client.organisation(AU).base_currency == "AUD"
        assert client.status(AU).calls_made == 3
        assert len(served.time.waits) == 2


def test_reads_give_up_after_the_attempts_with_a_clear_error(tmp_path: Path) -> None:
    with serving(tmp_path) as served, served.client() as client:
        served.connect(client)
        served.sandbox.xero_faults.add(Fault("error", "/Organisation", status=502, times=None))
        with pytest.raises(XeroUnavailable, match=r"get_organisations failed: HTTP 502"):
            client.organisation(AU)
        assert client.status(AU).calls_made == 4


def test_a_server_error_on_a_write_is_retried_with_the_same_key(tmp_path: Path) -> None:
    with serving(tmp_path) as served, served.client() as client:
        served.connect(client)
        sent = record_requests(client)
        served.sandbox.xero_faults.add(Fault("error", "/Invoices", method="PUT", status=500))
        (result,) = client.post_documents(AU, "invoice", invoices(1), ["1:a"])
        assert result.ok
        keys = [s.headers["idempotency-key"] for s in sent if s.method == "PUT"]
        assert len(keys) == 2 and keys[0] == keys[1]
        assert len(served.sandbox.xero.invoices(AU)) == 1
