"""Simulated Xero rate limits on the sandbox clock (reference §8). No sleeping for luck."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import httpx
import pytest
from test_sandbox_xero_support import AU, GB, Env, bearer, pkce_login, running, sdk
from xero_python.accounting import Contact, Contacts
from xero_python.exceptions import RateLimitException

from sandbox.clock import SandboxClock
from sandbox.faults import Fault
from sandbox.world import SANDBOX_XERO_PKCE_CLIENT_ID


def _get(env: Env, token: dict[str, str], tenant: str = AU) -> httpx.Response:
    return env.http.get(env.api + "/Organisation", headers=bearer(token, tenant))


def test_minute_limit_answers_429_until_the_window_moves() -> None:
    with running(xero_minute_limit=3) as env:
        token = pkce_login(env)
        remaining = [_get(env, token).headers["X-MinLimit-Remaining"] for _ in range(3)]
        assert remaining == ["2", "1", "0"]
        refused = _get(env, token)
        assert refused.status_code == 429
        assert refused.headers["X-Rate-Limit-Problem"] == "minute"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        # Unauthenticated calls are not charged to the organisation.
        garbage = env.http.get(env.api + "/Organisation", headers={"Authorization": "Bearer x"})
        assert garbage.status_code == 401 and "X-MinLimit-Remaining" not in garbage.headers
        # The SDK surfaces it as RateLimitException naming the limit (reference §8); a POST,
        # because urllib3 itself retries GET/PUT after Retry-After (see the test below).
        client = sdk(env, token, SANDBOX_XERO_PKCE_CLIENT_ID)
        with pytest.raises(RateLimitException) as raised:
            client.api.update_or_create_contacts(AU, Contacts(contacts=[Contact(name="X")]))
        assert raised.value.rate_limit == "minute"
        # The other organisation has its own minute.
        assert _get(env, token, GB).status_code == 200
        env.sandbox.clock.advance(61)
        assert _get(env, token).status_code == 200


def test_retry_after_is_in_real_seconds() -> None:
    with running(clock=SandboxClock(scale=60), xero_minute_limit=1) as env:
        token = pkce_login(env)
        assert _get(env, token).status_code == 200
        refused = _get(env, token)
        # A sandbox minute lasts one real second at scale 60.
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"


def test_sdk_get_is_retried_by_urllib3_after_retry_after() -> None:
    # xero-python's urllib3 PoolManager keeps urllib3's default Retry(total=3), which sleeps
    # Retry-After and repeats a GET/PUT on 429: the sandbox's real-second Retry-After makes
    # that wait as long as the sandbox minute (one real second at scale 60).
    with running(clock=SandboxClock(scale=60), xero_minute_limit=1) as env:
        token = pkce_login(env)
        client = sdk(env, token, SANDBOX_XERO_PKCE_CLIENT_ID)
        assert _get(env, token).status_code == 200
        assert _get(env, token).status_code == 429
        started = time.monotonic()
        assert client.api.get_organisations(AU).organisations[0].organisation_id == AU
        assert time.monotonic() - started >= 0.5


def test_day_limit_by_option_and_by_tier() -> None:
    start = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    with running(clock=SandboxClock(start=start), xero_day_limit=2) as env:
        token = pkce_login(env)
        assert [_get(env, token).headers["X-DayLimit-Remaining"] for _ in range(2)] == ["1", "0"]
        refused = _get(env, token)
        assert refused.headers["X-Rate-Limit-Problem"] == "day"
        # The daily window is fixed: it reopens at midnight UTC, ~12 hours away.
        assert 11 * 3600 < int(refused.headers["Retry-After"]) <= 12 * 3600
        env.sandbox.clock.advance(12 * 3600 + 1)
        assert _get(env, pkce_login(env)).status_code == 200
    with running() as env:
        token = pkce_login(env)
        assert _get(env, token, AU).headers["X-DayLimit-Remaining"] == "4999"  # core tier
        assert _get(env, token, GB).headers["X-DayLimit-Remaining"] == "999"  # starter tier
        assert _get(env, token, AU).headers["X-AppMinLimit-Remaining"] == "9997"


def test_app_minute_limit_spans_organisations() -> None:
    with running(xero_app_minute_limit=2) as env:
        token = pkce_login(env)
        assert _get(env, token, AU).status_code == 200
        assert _get(env, token, GB).status_code == 200
        refused = _get(env, token, AU)
        assert refused.status_code == 429
        assert refused.headers["X-Rate-Limit-Problem"] == "appminute"


def test_concurrent_limit_counts_requests_in_flight() -> None:
    with running(xero_concurrent_limit=1) as env:
        token = pkce_login(env)
        env.sandbox.xero_faults.add(Fault("slow", "/api.xro/2.0/Invoices", delay_seconds=1.0))
        results: list[int] = []
        slow = threading.Thread(
            target=lambda: results.append(
                env.http.get(env.api + "/Invoices", headers=bearer(token)).status_code
            )
        )
        slow.start()
        deadline = time.monotonic() + 5
        # Wait for the condition itself, not for an amount of time.
        while env.sandbox.xero.governor.in_flight(AU) == 0 and time.monotonic() < deadline:
            threading.Event().wait(0.01)
        refused = _get(env, token)
        slow.join()
        assert refused.status_code == 429
        assert refused.headers["X-Rate-Limit-Problem"] == "concurrent"
        assert results == [200]
        assert env.sandbox.xero.governor.in_flight(AU) == 0
        assert _get(env, token).status_code == 200


def test_idempotent_replays_still_count() -> None:
    with running(xero_minute_limit=2) as env:
        token = pkce_login(env)
        headers = bearer(token) | {"Idempotency-Key": "same"}
        body = {"Name": "Replay Pty"}
        assert env.http.put(env.api + "/Contacts", headers=headers, json=body).status_code == 200
        assert env.http.put(env.api + "/Contacts", headers=headers, json=body).status_code == 200
        assert env.http.put(env.api + "/Contacts", headers=headers, json=body).status_code == 429
