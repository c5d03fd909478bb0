"""Line-of-business visibility, entity metadata and the Python API of the simulated Autotask."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from test_sandbox_autotask_kit import (
    ANY_ID,
    LOB_CODE,
    LOB_USERNAME,
    OTHER_SECRET,
    Api,
    headers,
    serving,
    small_world,
)

from sandbox.core import Sandbox

LOB_USER = headers(username=LOB_USERNAME, secret=OTHER_SECRET, code=LOB_CODE)


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    with serving(small_world()) as api:
        yield api


def lob_query(api: Api, entity: str, path: str = "query") -> httpx.Response:
    return httpx.post(f"{api.base}{entity}/{path}", headers=LOB_USER, json={"filter": ANY_ID})


def test_a_lob_user_silently_sees_only_billing_items_of_its_lines_of_business(api: Api) -> None:
    ids = [item["id"] for item in lob_query(api, "BillingItems").json()["items"]]
    assert ids == [10, 12]  # 11 belongs to another line of business; 12 has none


def test_a_lob_user_counts_only_what_it_can_see(api: Api) -> None:
    assert lob_query(api, "BillingItems", "query/count").json() == {"queryCount": 2}


def test_a_lob_user_reads_a_hidden_billing_item_as_null(api: Api) -> None:
    response = httpx.get(api.base + "BillingItems/11", headers=LOB_USER)
    assert response.json() == {"item": None}


def test_a_lob_user_still_sees_the_invoice_itself(api: Api) -> None:
    assert len(lob_query(api, "Invoices").json()["items"]) == 5


def test_a_user_without_lob_restriction_sees_every_billing_item(api: Api) -> None:
    assert api.ids("BillingItems", ANY_ID) == [10, 11, 12]


def test_field_information_marks_only_the_updatable_invoice_fields_writable(api: Api) -> None:
    fields = api.client.get(api.base + "Invoices/entityInformation/fields").json()["fields"]
    writable = {f["name"] for f in fields if not f["isReadOnly"]}
    assert writable == {"invoiceNumber", "webServiceDate", "paidDate"}
    by_name = {f["name"]: f for f in fields}
    assert by_name["invoiceDateTime"]["dataType"] == "datetime"
    assert by_name["id"]["dataType"] == "long"
    assert by_name["dueDate"]["isQueryable"] is False


def test_field_information_lists_picklist_values_set_for_the_sandbox(api: Api) -> None:
    values = [{"value": "200", "label": "Sales", "isActive": True}]
    api.sandbox.autotask.set_picklist("BillingCodes", "generalLedgerAccount", values)
    fields = api.client.get(api.base + "BillingCodes/entityInformation/fields").json()["fields"]
    gl = next(f for f in fields if f["name"] == "generalLedgerAccount")
    assert gl["isPickList"] is True
    assert gl["picklistValues"] == values


def test_entity_information_says_what_the_entity_allows(api: Api) -> None:
    info = api.client.get(api.base + "Invoices/entityInformation").json()["info"]
    assert info["canQuery"] is True
    assert info["canUpdate"] is True
    assert info["canCreate"] is False
    assert info["hasUserDefinedFields"] is False


def test_user_defined_field_definitions_come_from_the_records(api: Api) -> None:
    body = api.client.get(api.base + "Companies/entityInformation/userDefinedFields").json()
    assert [f["name"] for f in body["fields"]] == ["Xero Org"]


def test_records_and_add_number_new_records_after_the_highest_id() -> None:
    sandbox = Sandbox(small_world())
    added = sandbox.autotask.add("invoices", {"invoiceNumber": "NEW"})
    assert added["id"] == 6
    assert [r["id"] for r in sandbox.autotask.records("Invoices")] == [1, 2, 3, 4, 5, 6]


def test_records_are_copies_that_cannot_change_the_service() -> None:
    sandbox = Sandbox(small_world())
    sandbox.autotask.records("Invoices")[0]["invoiceNumber"] = "changed"
    assert (sandbox.autotask.get("Invoices", 1) or {}).get("invoiceNumber") == "inv-beta"


def test_void_invoice_sets_the_void_fields_at_sandbox_time() -> None:
    sandbox = Sandbox(small_world())
    voided = sandbox.autotask.void_invoice(1, by_resource_id=29682885)
    assert voided["isVoided"] is True
    assert voided["voidedByResourceID"] == 29682885
    assert voided["voidedDate"].startswith(sandbox.clock.now().strftime("%Y-%m-%dT"))
    assert "Z" not in voided["voidedDate"]


def test_a_voided_invoice_is_found_by_voided_date(api: Api) -> None:
    filters = [{"op": "gte", "field": "voidedDate", "value": "2026-03-01T00:00:00"}]
    assert api.ids("Invoices", filters) == [2]
