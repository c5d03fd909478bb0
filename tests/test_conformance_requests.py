"""Request bodies are checked against the official specs, unknown fields included."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from xero_python.accounting import (
    Allocation,
    Allocations,
    Contact,
    Contacts,
    CreditNote,
    CreditNotes,
    CurrencyCode,
    Invoice,
    Invoices,
    Item,
    Items,
    LineAmountTypes,
    LineItem,
    LineItemTracking,
    Purchase,
    PurchaseOrder,
    PurchaseOrders,
)
from xero_python.api_client.serializer import serialize

from sandbox.conformance import request_errors

CONTACT_ID = "430fa14a-f945-44d3-9f97-5df5e28441b8"


def sdk_invoice(**overrides: Any) -> Invoice:
    fields: dict[str, Any] = {
        "type": "ACCREC",
        "contact": Contact(contact_id=CONTACT_ID),
        "date": date(2026, 11, 1),
        "due_date": date(2026, 11, 15),
        "line_amount_types": LineAmountTypes.EXCLUSIVE,
        "currency_code": CurrencyCode.AUD,
        "invoice_number": "1001",
        "reference": "PO12345",
        "status": "AUTHORISED",
        "line_items": [
            LineItem(
                description="Remote Support – Café ☕",  # noqa: RUF001 - unicode on purpose
                quantity=Decimal("1.5"),
                unit_amount=Decimal("165.00"),
                account_code="200",
                tax_type="OUTPUT",
                tracking=[LineItemTracking(name="Line of Business", option="Managed Services")],
            )
        ],
    }
    return Invoice(**(fields | overrides))


def xero_invoices_body() -> dict[str, Any]:
    return {
        "Invoices": [
            {
                "Type": "ACCREC",
                "Contact": {"ContactID": CONTACT_ID},
                "Date": "2026-11-01",
                "LineItems": [
                    {
                        "Description": "Support",
                        "Quantity": 1,
                        "UnitAmount": 10,
                        "AccountCode": "200",
                    },
                    {
                        "Description": "Laptop",
                        "Quantity": 1,
                        "UnitAmount": 999,
                        "AccountCode": "200",
                    },
                ],
            }
        ]
    }


def test_misspelled_xero_line_field_is_reported_with_path_and_suggestion() -> None:
    body = xero_invoices_body()
    line = body["Invoices"][0]["LineItems"][1]
    line["AcountCode"] = line.pop("AccountCode")

    assert request_errors("xero", "Invoices", body) == [
        "Invoices[0].LineItems[1].AcountCode: unknown field (did you mean AccountCode?)"
    ]


def test_misspelled_autotask_patch_field_is_reported_with_a_suggestion() -> None:
    body = {"id": 28310, "webServiceDte": "2026-11-20T10:00:00.000"}

    assert request_errors("autotask", "InvoiceModel", body, partial=True) == [
        "webServiceDte: unknown field (did you mean webServiceDate?)"
    ]


def test_xero_field_names_are_case_sensitive() -> None:
    body = {"Invoices": [{"Type": "ACCREC", "contact": {"ContactID": CONTACT_ID}}]}

    assert request_errors("xero", "Invoices", body) == [
        "Invoices[0].contact: unknown field (did you mean Contact?)"
    ]


def test_unknown_field_without_a_close_match_has_no_suggestion() -> None:
    body = {"Invoices": [{"Type": "ACCREC", "Flavour": "vanilla"}]}

    assert request_errors("xero", "Invoices", body) == ["Invoices[0].Flavour: unknown field"]


def test_xero_python_serialised_invoices_conform() -> None:
    body = serialize(Invoices(invoices=[sdk_invoice(), sdk_invoice(invoice_number="1002")]))

    assert request_errors("xero", "Invoices", body) == []


@pytest.mark.parametrize(
    ("schema", "model"),
    [
        (
            "CreditNotes",
            CreditNotes(
                credit_notes=[
                    CreditNote(
                        type="ACCRECCREDIT",
                        contact=Contact(contact_id=CONTACT_ID),
                        date=date(2026, 11, 2),
                        credit_note_number="CN-1050",
                        line_items=[
                            LineItem(description="SLA credit", quantity=1, unit_amount=150)
                        ],
                    )
                ]
            ),
        ),
        (
            "Allocations",
            Allocations(
                allocations=[
                    Allocation(
                        invoice=Invoice(invoice_id=CONTACT_ID),
                        amount=Decimal("150.00"),
                        date=date(2026, 11, 2),
                    )
                ]
            ),
        ),
        (
            "Contacts",
            Contacts(
                contacts=[
                    Contact(name="Zoë's Bakehouse", contact_number="174009", email_address="a@b.c")
                ]
            ),
        ),
        (
            "Items",
            Items(
                items=[
                    Item(
                        code="HW-LAT5440",
                        name="Dell Latitude 5440",
                        sales_details=Purchase(unit_price=Decimal("1546.80"), account_code="200"),
                    )
                ]
            ),
        ),
        (
            "PurchaseOrders",
            PurchaseOrders(
                purchase_orders=[
                    PurchaseOrder(
                        contact=Contact(contact_id=CONTACT_ID),
                        purchase_order_number="PO-7001",
                        line_items=[LineItem(description="Freight", quantity=1, unit_amount=25)],
                    )
                ]
            ),
        ),
    ],
)
def test_xero_python_serialised_documents_conform(schema: str, model: Any) -> None:
    assert request_errors("xero", schema, serialize(model)) == []


def test_fields_the_sdk_knows_but_the_vendored_spec_lacks_are_accepted() -> None:
    body = serialize(Invoices(invoices=[sdk_invoice(rounding_amount=Decimal("0.01"))]))

    assert body["Invoices"][0]["RoundingAmount"] == 0.01
    assert request_errors("xero", "Invoices", body) == []


def test_wrong_types_are_reported_with_expected_and_actual() -> None:
    body = xero_invoices_body()
    body["Invoices"][0]["LineItems"][0]["Quantity"] = "1.5"
    body["Invoices"][0]["SentToContact"] = "yes"

    assert request_errors("xero", "Invoices", body) == [
        'Invoices[0].LineItems[0].Quantity: expected number, got string "1.5"',
        'Invoices[0].SentToContact: expected boolean, got string "yes"',
    ]


def test_xero_null_is_a_type_error() -> None:
    body = xero_invoices_body()
    body["Invoices"][0]["Reference"] = None

    assert request_errors("xero", "Invoices", body) == [
        "Invoices[0].Reference: expected string, got null"
    ]


def test_enum_typo_is_reported_with_close_values() -> None:
    body = xero_invoices_body()
    body["Invoices"][0]["CurrencyCode"] = "AUS"
    body["Invoices"][0]["Status"] = "AUTHORIZED"

    currency, status = request_errors("xero", "Invoices", body)

    assert currency.startswith('Invoices[0].CurrencyCode: "AUS" is not an allowed value (did you')
    assert "AUD" in currency
    assert status == (
        'Invoices[0].Status: "AUTHORIZED" is not one of DRAFT, SUBMITTED, DELETED, AUTHORISED, '
        "PAID, VOIDED"
    )


def test_xero_ids_must_be_uuids() -> None:
    body = xero_invoices_body()
    body["Invoices"][0]["Contact"]["ContactID"] = "AT-174000"

    assert request_errors("xero", "Invoices", body) == [
        'Invoices[0].Contact.ContactID: "AT-174000" is not a valid uuid'
    ]


def test_xero_dates_are_not_format_checked() -> None:
    body = xero_invoices_body()
    body["Invoices"][0]["Date"] = "/Date(1793491200000)/"  # what xero-python sends
    body["Invoices"][0]["DueDate"] = "2026-11-15"

    assert request_errors("xero", "Invoices", body) == []


def test_too_long_text_is_reported() -> None:
    body = {"Items": [{"Code": "X" * 31}]}

    assert request_errors("xero", "Items", body) == [
        "Items[0].Code: longer than 30 characters (31)"
    ]


def test_missing_required_field_is_reported() -> None:
    body = {"Items": [{"Name": "Dell Latitude 5440"}]}

    assert request_errors("xero", "Items", body) == ["Items[0].Code: required field missing"]


def test_partial_skips_required_fields() -> None:
    body = {"Items": [{"Name": "Dell Latitude 5440"}]}

    assert request_errors("xero", "Items", body, partial=True) == []


def test_partial_still_reports_unknown_fields_and_types() -> None:
    body = {"Items": [{"Name": 5, "Nmae": "x"}]}

    assert request_errors("xero", "Items", body, partial=True) == [
        "Items[0].Name: expected string, got number 5",
        "Items[0].Nmae: unknown field (did you mean Name?)",
    ]


def test_readonly_xero_fields_are_accepted_in_requests() -> None:
    body = xero_invoices_body()
    body["Invoices"][0] |= {"HasAttachments": False, "Total": 1009.0, "AmountDue": 1009.0}

    assert request_errors("xero", "Invoices", body) == []


def test_autotask_field_names_match_case_insensitively() -> None:
    # The Swagger's own QueryModel example is PascalCase, and Autotask accepts it.
    body = {
        "MaxRecords": 500,
        "IncludeFields": ["id", "invoiceNumber"],
        "Filter": [{"Op": "gt", "Field": "id", "Value": 0}],
    }

    assert request_errors("autotask", "QueryModel", body) == []


def test_autotask_case_variants_are_still_type_checked() -> None:
    assert request_errors("autotask", "QueryModel", {"MaxRecords": "500"}) == [
        'maxRecords: expected integer, got string "500"'
    ]


def test_autotask_field_given_twice_in_different_case_is_reported() -> None:
    body = {"maxRecords": 500, "MaxRecords": 10}

    assert request_errors("autotask", "QueryModel", body) == [
        "MaxRecords: duplicate of field maxRecords (field names are case-insensitive)"
    ]


def test_autotask_filter_values_may_be_any_json_value() -> None:
    body = {
        "filter": [
            {"op": "in", "field": "id", "value": [1, 2, 3]},
            {"op": "eq", "field": "isVoided", "value": False},
            {"op": "beginsWith", "field": "invoiceNumber", "value": "10"},
            {"op": "or", "items": [{"op": "notExist", "field": "webServiceDate"}]},
        ]
    }

    assert request_errors("autotask", "QueryModel", body) == []


def test_nested_autotask_filter_typo_is_reported() -> None:
    body = {"filter": [{"op": "or", "items": [{"op": "eq", "feild": "id", "value": 1}]}]}

    assert request_errors("autotask", "QueryModel", body) == [
        "filter[0].items[0].feild: unknown field (did you mean field?)"
    ]


def test_autotask_null_clears_a_field() -> None:
    assert request_errors("autotask", "InvoiceModel", {"id": 28310, "paidDate": None}) == []


def test_autotask_datetimes_without_zone_are_accepted() -> None:
    body = {"id": 28310, "webServiceDate": "2026-11-20T10:00:00", "paidDate": "2026-11-21"}

    assert request_errors("autotask", "InvoiceModel", body, partial=True) == []


def test_autotask_integer_field_rejects_a_float() -> None:
    assert request_errors("autotask", "InvoiceModel", {"id": 28310.5}) == [
        "id: expected integer, got number 28310.5"
    ]


def test_body_of_the_wrong_shape_is_reported_at_the_root() -> None:
    assert request_errors("xero", "Invoices", [{"Type": "ACCREC"}]) == [
        '$: expected object, got array [{"Type": "ACCREC"}]'
    ]


def test_unknown_schema_name_is_a_programming_error() -> None:
    with pytest.raises(KeyError, match="Invoicez"):
        request_errors("xero", "Invoicez", {})
