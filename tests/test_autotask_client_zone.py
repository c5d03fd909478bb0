"""Zone discovery, its cache, re-discovery after a 401, credentials and their messages."""

from __future__ import annotations

import logging

import httpx
import pytest
from pydantic import SecretStr
from test_autotask_client_kit import (
    CODE,
    SECRET,
    USERNAME,
    FakeTime,
    invoice_world,
    make_client,
    serving,
)

from agent.autotask import AutotaskAuthError, AutotaskClient, AutotaskConfigError
from agent.config import Settings
from sandbox.core import Sandbox
from sandbox.server import running_sandbox
from sandbox.world import World


def test_zone_is_discovered_once_and_cached_across_calls() -> None:
    with serving(invoice_world(3)) as served:
        client = served.client()
        assert client.zone_url is None
        assert client.get("Invoices", 1) is not None
        assert client.get("Invoices", 2) is not None
        assert client.count("Invoices", []) == 3
        assert len(served.paths("zoneInformation")) == 1
        assert client.zone_url == served.urls.autotask_zone_url


def test_discovery_asks_for_the_user_and_sends_no_credentials() -> None:
    with serving(invoice_world(1)) as served:
        served.client().get("Invoices", 1)
        lookup = next(r for r in served.sent if "zoneInformation" in r.url.path)
        assert lookup.url.params["user"] == USERNAME
        assert "Secret" not in lookup.headers
        assert "ApiIntegrationCode" not in lookup.headers


def test_every_call_carries_the_three_auth_headers_and_json_content_type() -> None:
    with serving(invoice_world(2)) as served:
        client = served.client()
        client.get("Invoices", 1)
        list(client.query("Invoices", []))
        calls = [r for r in served.sent if "/V1.0/" in r.url.path]
        assert len(calls) == 2
        for request in calls:
            assert request.headers["ApiIntegrationCode"] == CODE
            assert request.headers["UserName"] == USERNAME
            assert request.headers["Secret"] == SECRET
            assert request.headers["Content-Type"] == "application/json"


def test_a_discovered_zone_is_reported_so_the_agent_can_persist_it() -> None:
    found: list[str] = []
    with serving(invoice_world(1)) as served:
        served.client(on_zone_discovered=found.append).get("Invoices", 1)
        assert found == [served.urls.autotask_zone_url]


def test_a_base_url_skips_discovery() -> None:
    with serving(invoice_world(1)) as served:
        # Nothing listens on the lookup URL: discovery would fail.
        client = served.client(
            zone_lookup_url="http://127.0.0.1:9/atservicesrest/",
            base_url=served.urls.autotask_zone_url,
        )
        assert client.get("Invoices", 1) is not None
        assert served.paths("zoneInformation") == []


def test_a_persisted_zone_is_used_without_discovery() -> None:
    with serving(invoice_world(1)) as served:
        client = served.client(zone_url=served.urls.autotask_zone_url)
        assert client.get("Invoices", 1) is not None
        assert served.paths("zoneInformation") == []


def test_a_401_from_a_zone_the_tenant_left_rediscovers_and_retries_once() -> None:
    # Two sandboxes are two zones: the tenant has moved from the old one to the new one.
    old_zone = Sandbox(World())  # does not know the API user any more: 401
    found: list[str] = []
    with running_sandbox(old_zone) as old, serving(invoice_world(1)) as served:
        client = served.client(zone_url=old.autotask_zone_url, on_zone_discovered=found.append)
        item = client.get("Invoices", 1)
        assert item is not None and item["id"] == 1
        assert client.zone_url == served.urls.autotask_zone_url
        assert found == [served.urls.autotask_zone_url]
        assert client.calls_made == {"Invoices": 2, "ZoneInformation": 1}


def test_a_secret_changed_in_autotask_is_reported_after_one_rediscovery() -> None:
    with serving(invoice_world(1)) as served:
        client = served.client()
        client.get("Invoices", 1)
        served.sandbox.world.autotask_users[0].secret = "rotated-by-an-admin"
        with pytest.raises(AutotaskAuthError) as caught:
            client.get("Invoices", 1)
        assert "ATX_AUTOTASK_SECRET" in str(caught.value)
        assert client.calls_made == {"Invoices": 3, "ZoneInformation": 2}


def test_an_unknown_username_says_to_check_the_username() -> None:
    with serving(invoice_world(1)) as served:
        client = served.client(username="nobody@example.com")
        with pytest.raises(AutotaskAuthError) as caught:
            client.get("Invoices", 1)
        message = str(caught.value)
        assert "check ATX_AUTOTASK_USERNAME; it must be the API user's email" in message
        assert "\n" not in message
        assert served.time.waits == []  # a verdict, not retried


def test_a_wrong_secret_names_the_settings_and_never_the_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-secret-value-1234"
    with serving(invoice_world(1)) as served:
        client = served.client(secret=wrong)
        with pytest.raises(AutotaskAuthError) as caught:
            client.get("Invoices", 1)
        message = str(caught.value)
        assert message == (
            f"Autotask rejected the API user {USERNAME!r}: check ATX_AUTOTASK_SECRET and "
            "ATX_AUTOTASK_INTEGRATION_CODE, and that the user's license is API User (system)"
        )
        shown = [message, repr(caught.value), repr(client), caplog.text]
        for text in shown:
            assert wrong not in text
            assert CODE not in text


def test_a_401_with_a_fixed_base_url_also_points_at_the_base_url() -> None:
    with serving(invoice_world(1)) as served:
        client = served.client(base_url=served.urls.autotask_zone_url, secret="wrong")
        with pytest.raises(AutotaskAuthError, match="ATX_AUTOTASK_BASE_URL"):
            client.get("Invoices", 1)
        assert served.paths("zoneInformation") == []


def test_missing_credentials_name_the_variables_to_set() -> None:
    settings = Settings(autotask_username="api@example.com")
    with pytest.raises(AutotaskConfigError) as caught:
        AutotaskClient.from_settings(settings)
    message = str(caught.value)
    assert "ATX_AUTOTASK_SECRET" in message
    assert "ATX_AUTOTASK_INTEGRATION_CODE" in message
    assert "ATX_AUTOTASK_USERNAME" not in message
    assert "\n" not in message


def test_from_settings_uses_the_configured_lookup_url() -> None:
    with serving(invoice_world(1)) as served:
        settings = Settings(
            autotask_username=USERNAME,
            autotask_secret=SecretStr(SECRET),
            autotask_integration_code=SecretStr(CODE),
            autotask_zone_lookup_url=served.urls.autotask_zone_lookup_url,
        )
        with AutotaskClient.from_settings(settings, budget=None) as client:
            assert client.get("Invoices", 1) is not None
            assert client.zone_url == served.urls.autotask_zone_url


def test_the_client_repr_shows_no_secret() -> None:
    client = AutotaskClient(USERNAME, "s3cr3t-value", "C0DE-value", base_url="https://x.example/")
    assert "s3cr3t-value" not in repr(client)
    assert "C0DE-value" not in repr(client)


def test_timeouts_are_set_on_every_request_even_on_a_callers_http_client() -> None:
    seen: list[dict[str, float | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={"item": {"id": 1}})

    http = httpx.Client(transport=httpx.MockTransport(handler), timeout=None)
    client = make_client(http, FakeTime(), base_url="https://z.example/", budget=None)
    client.get("Invoices", 1)
    assert seen == [{"connect": 10.0, "read": 120.0, "write": 120.0, "pool": 120.0}]
