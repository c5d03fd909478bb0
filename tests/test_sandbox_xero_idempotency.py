"""Simulated Xero `Idempotency-Key` (reference §9): replay, mismatch, 6-minute window."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from test_sandbox_xero_support import (
    ACME,
    AU,
    Env,
    bearer,
    code_login,
    invoice_body,
    pkce_login,
    running,
    sdk,
)
from xero_python.accounting import Contact as SdkContact
from xero_python.accounting import Invoice, Invoices

from sandbox.faults import Fault
from sandbox.world import SANDBOX_XERO_PKCE_CLIENT_ID


def _put(env: Env, token: dict[str, Any], key: str, **overrides: Any) -> httpx.Response:
    return env.http.put(
        env.api + "/Invoices",
        params={"summarizeErrors": "false"},
        headers=bearer(token) | {"Idempotency-Key": key},
        json={"Invoices": [invoice_body(**overrides)]},
    )


def test_same_key_same_body_replays_without_a_second_write() -> None:
    with running() as env:
        token = pkce_login(env)
        first = _put(env, token, "k-1")
        again = _put(env, token, "k-1")
        assert again.status_code == first.status_code == 200
        assert again.content == first.content
        assert len(env.sandbox.xero.invoices(AU)) == 1


def test_same_key_different_body_is_refused() -> None:
    with running() as env:
        token = pkce_login(env)
        assert _put(env, token, "k-1").status_code == 200
        other = _put(env, token, "k-1", Reference="changed")
        assert other.status_code == 400
        assert other.json()["Detail"] == "Idempotency key used with a different request"
        assert len(env.sandbox.xero.invoices(AU)) == 1


def test_keys_are_forgotten_after_six_sandbox_minutes() -> None:
    with running() as env:
        token = pkce_login(env)
        _put(env, token, "k-1")
        env.sandbox.clock.advance(5 * 60)
        _put(env, token, "k-1")
        assert len(env.sandbox.xero.invoices(AU)) == 1
        env.sandbox.clock.advance(61)
        # The window ran out: the retry is a new request and writes again (reference §9).
        _put(env, token, "k-1")
        assert len(env.sandbox.xero.invoices(AU)) == 2


def test_errors_are_replayed_too_and_keys_are_per_app() -> None:
    with running() as env:
        token = pkce_login(env)
        bad = _put(env, token, "k-err", CurrencyCode="EUR")
        assert bad.json()["Invoices"][0]["StatusAttributeString"] == "ERROR"
        assert _put(env, token, "k-err", CurrencyCode="EUR").content == bad.content
        # A new token of the same app shares the key space...
        assert _put(env, pkce_login(env), "k-err", CurrencyCode="EUR").content == bad.content
        # ...another app using the same key string has a key of its own.
        other_app = _put(env, code_login(env), "k-err")
        assert other_app.json()["Invoices"][0]["StatusAttributeString"] == "OK"


def test_retry_after_a_dropped_response_gets_the_original_result() -> None:
    with running() as env:
        token = pkce_login(env)
        env.sandbox.xero_faults.add(Fault("drop_after_write", "/Invoices", method="PUT"))
        with pytest.raises(httpx.HTTPError):
            _put(env, token, "k-drop")
        # The write happened; the retry with the same key returns it instead of a duplicate.
        retry = _put(env, token, "k-drop")
        assert retry.status_code == 200
        stored = env.sandbox.xero.invoices(AU)
        assert [i["InvoiceID"] for i in stored] == [retry.json()["Invoices"][0]["InvoiceID"]]


def test_concurrent_repeats_wait_for_the_first() -> None:
    with running() as env:
        token = pkce_login(env)
        env.sandbox.xero_faults.add(
            Fault("slow", "/Invoices", method="PUT", delay_seconds=0.2, times=4)
        )
        with ThreadPoolExecutor(4) as pool:
            responses = list(pool.map(lambda _: _put(env, token, "k-race"), range(4)))
        assert {r.content for r in responses} == {responses[0].content}
        assert len(env.sandbox.xero.invoices(AU)) == 1


def test_sdk_sends_the_key_and_long_keys_are_refused() -> None:
    with running() as env:
        token = pkce_login(env)
        client = sdk(env, token, SANDBOX_XERO_PKCE_CLIENT_ID)
        invoice = Invoice(type="ACCREC", contact=SdkContact(contact_id=ACME), status="DRAFT")
        for _ in range(2):
            client.api.create_invoices(
                AU, Invoices(invoices=[invoice]), summarize_errors="false", idempotency_key="sdk-1"
            )
        assert len(env.sandbox.xero.invoices(AU)) == 1
        assert _put(env, token, "x" * 129).status_code == 400
