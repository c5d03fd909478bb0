"""Response bodies the sandbox sends are held to the official specs too."""

from __future__ import annotations

from sandbox.conformance import response_errors

INVOICE_ID = "ed255415-e141-4150-aab7-89c3bbbb851c"


def test_xero_collection_response_may_carry_the_envelope() -> None:
    body = {
        "Id": "ccece84a-075c-4fcd-9073-149d4f7a91cf",
        "Status": "OK",
        "ProviderName": "Atx sandbox",
        "DateTimeUTC": "/Date(1552327126164)/",
        "Invoices": [{"InvoiceID": INVOICE_ID, "Type": "ACCREC", "Status": "AUTHORISED"}],
    }

    assert response_errors("xero", "Invoices", body) == []


def test_envelope_fields_are_not_allowed_on_single_records() -> None:
    assert response_errors("xero", "Invoice", {"InvoiceID": INVOICE_ID, "ProviderName": "x"}) == [
        "ProviderName: unknown field"
    ]


def test_unknown_field_in_a_sandbox_response_is_reported() -> None:
    body = {"Invoices": [{"InvoiceID": INVOICE_ID, "AmountDeu": 10.0}]}

    assert response_errors("xero", "Invoices", body) == [
        "Invoices[0].AmountDeu: unknown field (did you mean AmountDue?)"
    ]


def test_xero_error_response_conforms() -> None:
    body = {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": [
            {
                "InvoiceID": INVOICE_ID,
                "ValidationErrors": [{"Message": "Account code '999' is not a valid code"}],
            }
        ],
    }

    assert response_errors("xero", "Error", body) == []


def test_autotask_query_page_with_nulls_conforms() -> None:
    body = {
        "items": [{"id": 28310, "invoiceNumber": "1001", "webServiceDate": None, "paidDate": None}],
        "pageDetails": {"count": 1, "requestCount": 500, "prevPageUrl": None, "nextPageUrl": None},
    }

    assert response_errors("autotask", "QueryActionResult[InvoiceModel,Invoice]", body) == []


def test_autotask_write_result_item_id_is_a_number() -> None:
    assert response_errors("autotask", "OperationResultModel", {"itemId": 28310}) == []


def test_autotask_response_with_a_field_the_model_lacks_is_reported() -> None:
    body = {"item": {"id": 28310, "currencyID": 1}}

    assert response_errors("autotask", "ItemQueryResultModel[InvoiceModel,Invoice]", body) == [
        "item.currencyID: unknown field"
    ]


def test_xero_identity_connections_are_a_bare_array() -> None:
    body = [
        {
            "id": "7cb59f93-2964-421d-bb5e-a0f7a4572a44",
            "tenantId": "fe79f7dd-b6d4-4a92-ba7b-538af6289c58",
            "tenantType": "ORGANISATION",
            "tenantName": "Acme IT Pty Ltd",
            "createdDateUtc": "2019-12-07T18:46:19.5165400",
        }
    ]

    assert response_errors("xero_identity", "Connection[]", body) == []
    assert response_errors("xero_identity", "Connection[]", [{"tenantID": "x"}]) == [
        "[0].tenantID: unknown field (did you mean tenantId?)"
    ]
