"""PATCH and PUT on Invoices and BillingItems in the simulated Autotask."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from test_sandbox_autotask_kit import (
    LOB_CODE,
    LOB_USERNAME,
    OTHER_SECRET,
    Api,
    headers,
    serving,
    small_world,
)


@pytest.fixture
def api() -> Iterator[Api]:
    with serving(small_world()) as api:
        yield api


def patch(api: Api, entity: str, body: dict[str, Any]) -> httpx.Response:
    return api.client.patch(api.base + entity, json=body)


def test_patch_sets_the_three_updatable_invoice_fields(api: Api) -> None:
    body = {
        "id": 1,
        "invoiceNumber": "XERO-0001",
        "webServiceDate": "2026-05-01T10:00:00.000",
        "paidDate": "2026-05-02T00:00:00",
    }
    response = patch(api, "Invoices", body)
    assert response.status_code == 200
    assert response.json() == {"itemId": 1}
    stored = api.record("Invoices", 1)
    assert stored["invoiceNumber"] == "XERO-0001"
    assert stored["webServiceDate"] == "2026-05-01T10:00:00"
    assert stored["paidDate"] == "2026-05-02T00:00:00"


def test_webservicedate_sent_with_z_is_answered_without_a_zone(api: Api) -> None:
    patch(api, "Invoices", {"id": 1, "webServiceDate": "2026-05-01T10:00:00.123Z"})
    item = api.client.get(api.base + "Invoices/1").json()["item"]
    assert item["webServiceDate"] == "2026-05-01T10:00:00.123"


def test_paid_date_keeps_the_date_only(api: Api) -> None:
    patch(api, "Invoices", {"id": 1, "paidDate": "2026-05-02T15:45:00"})
    assert (
        api.client.get(api.base + "Invoices/1").json()["item"]["paidDate"] == "2026-05-02T00:00:00"
    )


def test_paid_date_null_clears_it(api: Api) -> None:
    assert patch(api, "Invoices", {"id": 4, "paidDate": None}).status_code == 200
    assert api.client.get(api.base + "Invoices/4").json()["item"]["paidDate"] is None


def test_read_only_invoice_fields_are_silently_ignored(api: Api) -> None:
    response = patch(api, "Invoices", {"id": 1, "invoiceTotal": 999.0, "isVoided": True})
    assert response.status_code == 200
    item = api.client.get(api.base + "Invoices/1").json()["item"]
    assert item["invoiceTotal"] == 1.0
    assert item["isVoided"] is False


def test_a_misspelled_field_is_ignored_with_200_outside_strict_mode(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api.sandbox.options, "strict_requests", False)
    response = patch(api, "Invoices", {"id": 1, "webServiceDte": "2026-05-01T10:00:00"})
    assert response.status_code == 200
    assert api.client.get(api.base + "Invoices/1").json()["item"]["webServiceDate"] is None


def test_a_misspelled_field_is_refused_in_strict_mode(api: Api) -> None:
    response = patch(api, "Invoices", {"id": 1, "webServiceDte": "2026-05-01T10:00:00"})
    assert response.status_code == 500
    assert any("webServiceDte" in e for e in response.json()["errors"])
    assert api.client.get(api.base + "Invoices/1").json()["item"]["webServiceDate"] is None


def test_field_names_in_a_patch_bind_case_insensitively(api: Api) -> None:
    assert patch(api, "Invoices", {"Id": 1, "WebServiceDate": "2026-05-01"}).status_code == 200
    assert api.record("Invoices", 1).get("webServiceDate") == "2026-05-01T00:00:00"


def test_patch_on_the_item_url_is_405(api: Api) -> None:
    response = api.client.patch(api.base + "Invoices/1", json={"webServiceDate": "2026-05-01"})
    assert response.status_code == 405


def test_patch_without_an_id_is_an_error(api: Api) -> None:
    response = patch(api, "Invoices", {"webServiceDate": "2026-05-01T10:00:00"})
    assert response.status_code == 500
    assert "id" in response.json()["errors"][0]


def test_patch_of_an_unknown_id_is_an_error(api: Api) -> None:
    response = patch(api, "Invoices", {"id": 999, "webServiceDate": "2026-05-01T10:00:00"})
    assert response.status_code == 500
    assert "999" in response.json()["errors"][0]


def test_an_unreadable_date_is_an_error_and_changes_nothing(api: Api) -> None:
    response = patch(api, "Invoices", {"id": 1, "invoiceNumber": "N", "paidDate": "yesterday"})
    assert response.status_code == 500
    assert api.record("Invoices", 1).get("invoiceNumber") == "inv-beta"


def test_an_invoice_number_over_100_characters_is_an_error(api: Api) -> None:
    response = patch(api, "Invoices", {"id": 1, "invoiceNumber": "x" * 101})
    assert response.status_code == 500


def test_put_nulls_the_updatable_fields_it_leaves_out(api: Api) -> None:
    response = api.client.put(api.base + "Invoices", json={"id": 4, "webServiceDate": "2026-05-01"})
    assert response.status_code == 200
    stored = api.record("Invoices", 4)
    assert stored["paidDate"] is None
    assert stored["invoiceNumber"] is None
    assert stored["invoiceTotal"] == 4.0  # read-only fields stay


def test_billing_items_change_only_their_web_service_date(api: Api) -> None:
    body = {"id": 10, "webServiceDate": "2026-05-01T10:00:00", "itemName": "Changed"}
    assert patch(api, "BillingItems", body).json() == {"itemId": 10}
    stored = api.record("BillingItems", 10)
    assert stored["webServiceDate"] == "2026-05-01T10:00:00"
    assert stored["itemName"] == "Labour"


def test_a_billing_item_outside_the_users_lines_of_business_cannot_be_patched(api: Api) -> None:
    sent = headers(username=LOB_USERNAME, secret=OTHER_SECRET, code=LOB_CODE)
    response = httpx.patch(
        api.base + "BillingItems", headers=sent, json={"id": 11, "webServiceDate": "2026-05-01"}
    )
    assert response.status_code == 500
    assert api.record("BillingItems", 11).get("webServiceDate") is None


def test_applied_writes_are_recorded_per_record_and_field(api: Api) -> None:
    patch(api, "Invoices", {"id": 1, "webServiceDate": "2026-05-01T10:00:00"})
    patch(api, "Invoices", {"id": 1, "invoiceNumber": "XERO-0001"})
    patch(api, "Invoices", {"id": 2, "webServiceDate": "2026-05-01T10:00:00"})
    patch(api, "Invoices", {"id": 2, "webServiceDate": None})
    patch(api, "Invoices", {"id": 999, "webServiceDate": "2026-05-01T10:00:00"})  # refused
    api.client.put(api.base + "Invoices", json={"id": 4, "webServiceDate": "2026-05-01"})
    patch(api, "BillingItems", {"id": 10, "webServiceDate": "2026-05-01T10:00:00"})
    api.sandbox.autotask.update("Invoices", 3, webServiceDate="2026-05-01T10:00:00")  # the UI

    service = api.sandbox.autotask
    invoices = service.writes("Invoices")
    assert [(w.record_id, w.method) for w in invoices] == [
        (1, "PATCH"), (1, "PATCH"), (2, "PATCH"), (2, "PATCH"), (4, "PUT"),
    ]  # fmt: skip
    assert invoices[1].fields == {"invoiceNumber": "XERO-0001"}
    assert invoices[4].fields["invoiceNumber"] is None  # a PUT nulls what it leaves out
    assert service.write_counts("invoices", "webServiceDate") == {1: 1, 2: 1, 4: 1}
    assert [w.entity for w in service.writes()] == ["Invoices"] * 5 + ["BillingItems"]
