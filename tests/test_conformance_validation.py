"""Schema keywords are checked by jsonschema / openapi-schema-validator, with the documented
departures expressed through them; the unknown-field walk is the only hand-written check."""

from __future__ import annotations

import copy
import threading
import time
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from jsonschema import Draft4Validator
from openapi_schema_validator import OAS30Validator
from xero_python.accounting import Contact, Invoice, Invoices, LineItem, LineItemTracking
from xero_python.api_client.serializer import serialize

from sandbox import conformance
from sandbox.conformance import request_errors, response_errors
from sandbox.seed import generate

CONTACT_ID = "430fa14a-f945-44d3-9f97-5df5e28441b8"


def batch(invoices: int, lines: int) -> dict[str, Any]:
    return serialize(
        Invoices(
            invoices=[
                Invoice(
                    type="ACCREC",
                    contact=Contact(contact_id=CONTACT_ID),
                    date=date(2026, 11, 1),
                    invoice_number=str(1001 + n),
                    line_items=[
                        LineItem(
                            description="Managed workstation - per device",
                            quantity=Decimal(12),
                            unit_amount=Decimal("65.00"),
                            account_code="200",
                            tax_type="OUTPUT",
                            tracking=[LineItemTracking(name="LOB", option="Managed Services")],
                        )
                        for _ in range(lines)
                    ],
                )
                for n in range(invoices)
            ]
        )
    )


# --- the validators are the library's -----------------------------------------------------


def test_each_service_validates_with_the_library_validator() -> None:
    autotask = conformance._book("autotask")._validator("InvoiceModel", False)
    xero = conformance._book("xero")._validator("Invoices", False)

    assert isinstance(autotask, conformance.AutotaskValidator)
    # Draft 4 with only "type" and "enum" replaced (to let null through).
    replaced = {
        keyword
        for keyword, check in conformance.AutotaskValidator.VALIDATORS.items()
        if check is not Draft4Validator.VALIDATORS[keyword]
    }
    assert replaced == {"type", "enum"}
    assert isinstance(xero, OAS30Validator)
    assert conformance._book("xero")._validator("Invoices", False) is xero  # built once


def test_each_keyword_is_reported_at_its_location_deep_in_a_batch() -> None:
    body = batch(invoices=12, lines=3)
    body["Invoices"][11]["LineItems"][2]["Quantity"] = "12"  # type
    body["Invoices"][11]["Status"] = "AUTHORIZED"  # enum
    body["Invoices"][2]["Contact"]["ContactID"] = "AT-174000"  # format: uuid
    body["Invoices"][10]["LineItems"][0]["Tracking"][0]["AcountCode"] = "x"  # unknown field

    assert request_errors("xero", "Invoices", body) == [
        'Invoices[2].Contact.ContactID: "AT-174000" is not a valid uuid',
        "Invoices[10].LineItems[0].Tracking[0].AcountCode: unknown field",
        'Invoices[11].LineItems[2].Quantity: expected number, got string "12"',
        'Invoices[11].Status: "AUTHORIZED" is not one of DRAFT, SUBMITTED, DELETED, AUTHORISED, '
        "PAID, VOIDED",
    ]


def test_missing_required_and_over_long_fields_are_reported_per_item() -> None:
    body = {"Items": [{"Code": "A"}, {"Name": "Dell"}, {"Code": "X" * 31}]}

    assert request_errors("xero", "Items", body) == [
        "Items[1].Code: required field missing",
        "Items[2].Code: longer than 30 characters (31)",
    ]


def test_wrong_type_in_an_autotask_body_names_the_canonical_field() -> None:
    body = {"Filter": [{"OP": 5, "Items": [{"UDF": "yes"}]}], "maxrecords": 1.5}

    assert request_errors("autotask", "QueryModel", body) == [
        'filter[0].items[0].udf: expected boolean, got string "yes"',
        "filter[0].op: expected string, got number 5",
        "maxRecords: expected integer, got number 1.5",
    ]


def test_every_problem_is_one_line() -> None:
    body = {"Invoices": [{"Reference": "x\ny" * 40, "Type": "ACC\nREC", "Total": True}] * 2}

    problems = request_errors("xero", "Invoices", body)

    assert len(problems) == 4
    assert all("\n" not in problem for problem in problems)


def test_a_body_of_the_wrong_shape_is_reported_once_at_the_root() -> None:
    assert request_errors("xero", "Invoices", {"Invoices": {"Type": "ACCREC"}}) == [
        'Invoices: expected array, got object {"Type": "ACCREC"}'
    ]
    assert request_errors("autotask", "QueryModel", [1]) == ["$: expected object, got array [1]"]


# --- departures -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "body"),
    [
        ("InvoiceModel", {"id": 1, "paidDate": None, "invoiceTotal": None, "isVoided": None}),
        ("QueryModel", {"filter": None, "includeFields": [None, "id"], "maxRecords": None}),
        ("QueryModel", {"filter": [None, {"op": None, "items": None}]}),
        ("ParameterExpression", {"nodeType": None}),  # an enum
    ],
)
def test_autotask_null_is_accepted_anywhere(schema: str, body: Any) -> None:
    assert request_errors("autotask", schema, body) == []
    assert response_errors("autotask", schema, body) == []


def test_autotask_null_does_not_excuse_an_unknown_field() -> None:
    assert request_errors("autotask", "InvoiceModel", {"id": 1, "currencyID": None}) == [
        "currencyID: unknown field"
    ]


def test_autotask_enum_still_rejects_other_values() -> None:
    assert request_errors("autotask", "ParameterExpression", {"nodeType": "Plus"}) == [
        'nodeType: "Plus" is not an allowed value (did you mean UnaryPlus?)'
    ]


def test_xero_null_is_still_a_type_error() -> None:
    body = {"Invoices": [{"Type": None, "LineItems": None}]}

    assert request_errors("xero", "Invoices", body) == [
        "Invoices[0].LineItems: expected array, got null",
        "Invoices[0].Type: expected string, got null",
        "Invoices[0].Type: null is not one of ACCPAY, ACCPAYCREDIT, APOVERPAYMENT, APPREPAYMENT, "
        "ACCREC, ACCRECCREDIT, AROVERPAYMENT, ARPREPAYMENT",
    ]


def test_autotask_field_names_are_canonicalised_at_every_depth() -> None:
    body = {"MAXRECORDS": 5, "Filter": [{"Op": "or", "ITEMS": [{"Field": "id", "VALUE": [1]}]}]}

    assert request_errors("autotask", "QueryModel", body) == []


def test_autotask_formats_are_not_checked() -> None:
    body = {"id": 2**40, "webServiceDate": "next Tuesday", "paymentTerm": 2**40}

    assert request_errors("autotask", "InvoiceModel", body) == []


def test_xero_checks_uuid_and_no_other_format() -> None:
    body = batch(invoices=1, lines=1)
    body["Invoices"][0] |= {"Date": "soon", "DueDate": "/Date(1793491200000+0000)/"}
    body["Invoices"][0]["LineItems"][0]["Quantity"] = 1e300  # format: double
    assert request_errors("xero", "Invoices", body) == []

    body["Invoices"][0]["InvoiceID"] = "430fa14a44d39f975df5e28441b8"
    assert request_errors("xero", "Invoices", body) == [
        'Invoices[0].InvoiceID: "430fa14a44d39f975df5e28441b8" is not a valid uuid'
    ]


def test_xero_identity_checks_uuids_too() -> None:
    assert response_errors("xero_identity", "Connection[]", [{"tenantId": "acme"}]) == [
        '[0].tenantId: "acme" is not a valid uuid'
    ]


def test_readonly_fields_are_accepted_in_requests() -> None:
    body = batch(invoices=1, lines=1)
    body["Invoices"][0] |= {"HasAttachments": True, "AmountDue": 780.0, "UpdatedDateUTC": "x"}

    assert request_errors("xero", "Invoices", body) == []
    assert request_errors("autotask", "InvoiceModel", {"id": 1, "invoiceTotal": 9.5}) == []


@pytest.mark.parametrize("item_id", [28310, "28310", {"id": 1}, [1, 2], True])
def test_autotask_object_is_free_form(item_id: Any) -> None:
    assert response_errors("autotask", "OperationResultModel", {"itemId": item_id}) == []


@pytest.mark.parametrize("value", [0, "10", False, [1, 2], ["a"], {"nested": "x"}])
def test_autotask_filter_value_is_free_form(value: Any) -> None:
    body = {"filter": [{"op": "eq", "field": "id", "value": value}]}

    assert request_errors("autotask", "QueryModel", body) == []


def test_sdk_fields_missing_from_the_spec_are_allowed_and_typed() -> None:
    body = {"Items": [{"Code": "A", "QuantityAvailable": 3.0, "QuantityOnBackOrder": "2"}]}

    assert request_errors("xero", "Items", body) == [
        'Items[0].QuantityOnBackOrder: expected number, got string "2"'
    ]


def test_the_xero_envelope_is_for_collection_responses_only() -> None:
    envelope = {"Id": "x", "Status": "OK", "ProviderName": "p", "DateTimeUTC": "/Date(1)/"}
    body = {**envelope, "Items": [{"Code": "A"}]}

    assert response_errors("xero", "Items", body) == []
    assert response_errors("xero", "Items", {**body, "Status": 200}) == [
        "Status: expected string, got number 200"
    ]
    assert request_errors("xero", "Items", body) == [
        f"{name}: unknown field" for name in sorted(envelope)
    ]


def test_partial_skips_only_required() -> None:
    body = {"Items": [{"Name": "x" * 51, "Nmae": "x"}]}

    assert request_errors("xero", "Items", body, partial=True) == [
        "Items[0].Name: longer than 50 characters (51)",
        "Items[0].Nmae: unknown field (did you mean Name?)",
    ]
    assert "Items[0].Code: required field missing" in request_errors("xero", "Items", body)


def test_a_damaged_seeded_record_reports_each_problem() -> None:
    world = generate(10, seed=3, today=date(2026, 11, 20))
    item = copy.deepcopy(world.autotask["BillingItems"][0])
    item |= {"quantity": "2", "rate": None, "organisationalLevelAssociationID": 101}
    contact = copy.deepcopy(world.xero_orgs[0].contacts[0])
    contact |= {
        "ContactStatus": "active",
        "Addresses": [{"AddressType": "HOME", "AddressLine1": "x"}],
    }

    assert response_errors("autotask", "BillingItemModel", item) == [
        "organisationalLevelAssociationID: unknown field "
        "(did you mean organizationalLevelAssociationID?)",
        'quantity: expected number, got string "2"',
    ]
    assert response_errors("xero", "Contact", contact) == [
        'Addresses[0].AddressType: "HOME" is not one of POBOX, STREET',
        'ContactStatus: "active" is not one of ACTIVE, ARCHIVED, GDPRREQUEST',
    ]


# --- cost and concurrency -------------------------------------------------------------------


def test_a_fifty_invoice_batch_validates_in_well_under_a_quarter_second() -> None:
    body = batch(invoices=50, lines=8)
    request_errors("xero", "Invoices", body)  # build the validator once

    best = min(_timed(lambda: request_errors("xero", "Invoices", body)) for _ in range(3))

    assert best < 0.25  # about 50 ms on a developer machine


def test_concurrent_first_use_builds_one_book() -> None:
    conformance._make_book.cache_clear()
    body = batch(invoices=2, lines=2)
    body["Invoices"][1]["LineItems"][0]["AcountCode"] = "200"
    start = threading.Barrier(8)
    results: list[list[str]] = []

    def work() -> None:
        start.wait()
        results.append(request_errors("xero", "Invoices", body))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert conformance._make_book.cache_info().currsize == 1
    assert results == [results[0]] * 8
    assert results[0] == [
        "Invoices[1].LineItems[0].AcountCode: unknown field (did you mean AccountCode?)"
    ]


def _timed(action: Any) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started
