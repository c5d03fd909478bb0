"""Zone discovery, credentials and routing of the simulated Autotask."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from test_sandbox_autotask_kit import ANY_ID, OTHER_SECRET, Api, headers, serving, small_world

from sandbox.world import SANDBOX_AUTOTASK_USERNAME


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    with serving(small_world()) as api:
        yield api


def test_zone_discovery_answers_the_zone_url_on_the_requested_host_without_credentials(
    api: Api,
) -> None:
    url = api.urls.autotask_zone_lookup_url + "v1.0/zoneInformation"
    response = httpx.get(url, params={"user": SANDBOX_AUTOTASK_USERNAME})
    assert response.status_code == 200
    body = response.json()
    assert body["url"] == api.urls.autotask_zone_url
    assert set(body) == {"zoneName", "url", "webUrl", "ci"}
    assert isinstance(body["ci"], int)


def test_zone_discovery_of_an_unknown_user_is_a_500_with_the_real_text(api: Api) -> None:
    url = api.urls.autotask_zone_lookup_url + "v1.0/zoneInformation"
    response = httpx.get(url, params={"user": "nobody@example.com"})
    assert response.status_code == 500
    assert response.json() == {"errors": ["Zone information could not be determined"]}


def test_zone_discovery_does_not_spend_the_hourly_budget(api: Api) -> None:
    before = api.sandbox.autotask.request_count()
    url = api.urls.autotask_zone_lookup_url + "v1.0/ZoneInformation"
    assert httpx.get(url, params={"user": SANDBOX_AUTOTASK_USERNAME}).status_code == 200
    assert api.sandbox.autotask.request_count() == before


@pytest.mark.parametrize(
    "sent",
    [
        {},
        headers(secret="wrong"),
        headers(code="WRONGCODE"),
        headers(username="nobody@example.com"),
        headers(secret=OTHER_SECRET),  # another user's secret
    ],
    ids=["none", "wrong-secret", "wrong-code", "unknown-user", "other-users-secret"],
)
def test_missing_or_wrong_credentials_get_a_401_with_an_errors_body(
    api: Api, sent: dict[str, str]
) -> None:
    response = httpx.get(api.base + "Invoices/1", headers=sent)
    assert response.status_code == 401
    assert response.json() == {
        "errors": ["Unauthorized: UserName, Secret or ApiIntegrationCode is invalid."]
    }


def test_header_names_are_case_insensitive(api: Api) -> None:
    sent = {k.lower(): v for k, v in headers().items()}
    assert httpx.get(api.base + "Invoices/1", headers=sent).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/ATServicesRest/V1.0/Invoices/1",
        "/atservicesrest/v1.0/invoices/1",
        "/AtServicesRest/v1.0/INVOICES/1/",
    ],
)
def test_paths_and_entity_names_route_case_insensitively(api: Api, path: str) -> None:
    response = api.client.get(f"http://{api.urls.host}:{api.urls.autotask_port}{path}")
    assert response.status_code == 200
    assert response.json()["item"]["id"] == 1


def test_an_unknown_entity_is_an_aspnet_404(api: Api) -> None:
    response = api.client.post(api.base + "Invoicez/query", json={"filter": ANY_ID})
    assert response.status_code == 404
    assert "No HTTP resource was found" in response.json()["Message"]


def test_a_wrong_method_is_an_aspnet_405(api: Api) -> None:
    response = api.client.delete(api.base + "Invoices/1")
    assert response.status_code == 405
    assert "does not support http method 'DELETE'" in response.json()["Message"]


def test_version_answers_the_platform_version(api: Api) -> None:
    body = api.client.get(api.base + "Version").json()
    assert set(body) == {"majorVersion", "minorVersion", "build", "customerType"}


def test_every_swagger_queryable_entity_is_served_even_when_the_world_has_none(api: Api) -> None:
    assert api.items("PurchaseOrderItemReceiving", ANY_ID) == []
    assert api.items("ExpenseReports", ANY_ID) == []
