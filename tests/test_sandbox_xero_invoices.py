"""Simulated Xero invoices: batches, validation, totals, statuses, reads (reference §10-§13)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from test_sandbox_xero_support import (
    ACME,
    AU,
    GB,
    Env,
    bearer,
    code_login,
    invoice_body,
    pkce_login,
    running,
    sdk,
    stored_invoice,
    unknown_fields,
)
from xero_python.accounting import Contact as SdkContact
from xero_python.accounting import Invoice, Invoices, LineItem
from xero_python.exceptions import AccountingBadRequestException

from sandbox import conformance
from sandbox.world import SANDBOX_XERO_PKCE_CLIENT_ID


def _put(env: Env, token: dict[str, Any], invoices: list[dict[str, Any]], **params: str) -> Any:
    return env.http.put(
        env.api + "/Invoices", params=params, headers=bearer(token), json={"Invoices": invoices}
    )


def _messages(element: dict[str, Any]) -> list[str]:
    return [e["Message"] for e in element.get("ValidationErrors", [])]


BAD_LINE = {"Description": "Bad", "Quantity": 1, "UnitAmount": 5, "AccountCode": "999"}


def test_batch_without_summarize_errors_returns_every_element() -> None:
    with running() as env:
        token = pkce_login(env)
        good, bad = invoice_body(), invoice_body(LineItems=[BAD_LINE])
        response = _put(env, token, [good, bad], summarizeErrors="false")
        assert response.status_code == 200
        body = response.json()
        assert unknown_fields(body, "Invoices") == []
        ok, failed = body["Invoices"]
        assert ok["StatusAttributeString"] == "OK" and ok["InvoiceNumber"] == "INV-0001"
        assert failed["StatusAttributeString"] == "ERROR" and failed["HasErrors"] is True
        assert failed["InvoiceID"] == "00000000-0000-0000-0000-000000000000"
        assert _messages(failed) == ["Account code '999' is not a valid code for this document."]
        assert len(env.sandbox.xero.invoices(AU)) == 1


@pytest.mark.parametrize("params", [{}, {"summarizeErrors": "true"}])
def test_summarised_batch_is_a_400_but_valid_elements_are_still_created(
    params: dict[str, str],
) -> None:
    with running() as env:
        token = pkce_login(env)
        response = _put(env, token, [invoice_body(), invoice_body(LineItems=[BAD_LINE])], **params)
        assert response.status_code == 400
        body = response.json()
        assert body["ErrorNumber"] == 10 and body["Type"] == "ValidationException"
        assert body["Message"] == "A validation exception occurred"
        assert len(body["Elements"]) == 1 and "InvoiceNumber" not in body["Elements"][0]
        # The valid invoice exists although its id was never returned (reference §10).
        assert [i["InvoiceNumber"] for i in env.sandbox.xero.invoices(AU)] == ["INV-0001"]


def test_sdk_create_with_summarize_errors_false_and_a_duplicate_number() -> None:
    with running() as env:
        client = sdk(env, pkce_login(env), SANDBOX_XERO_PKCE_CLIENT_ID)
        invoice = Invoice(
            type="ACCREC",
            contact=SdkContact(contact_id=ACME),
            date=date(2026, 3, 2),
            due_date=date(2026, 3, 30),
            invoice_number="AT-1001",
            status="AUTHORISED",
            line_items=[
                LineItem(
                    description="Support",
                    quantity=Decimal("1.5"),
                    unit_amount=Decimal("99.9950"),
                    account_code="200",
                    tax_type="OUTPUT",
                )
            ],
        )
        created = client.api.create_invoices(
            AU, Invoices(invoices=[invoice]), summarize_errors="false", unitdp=4
        )
        first = created.invoices[0]
        assert first.status_attribute_string == "OK" and first.date == date(2026, 3, 2)
        assert first.line_items[0].unit_amount == Decimal("99.995")
        assert first.line_items[0].line_amount == Decimal("149.99")  # 1.5 x 99.995, to cents
        assert first.total == Decimal("164.99") and first.amount_due == Decimal("164.99")
        again = client.api.create_invoices(
            AU, Invoices(invoices=[invoice]), summarize_errors="false", unitdp=4
        )
        assert again.invoices[0].has_errors is True
        assert again.invoices[0].validation_errors[0].message == "Invoice # must be unique."
        with pytest.raises(AccountingBadRequestException) as raised:
            client.api.create_invoices(AU, Invoices(invoices=[invoice]))
        assert raised.value.reason == "Invoice # must be unique."
        # An ACCPAY bill may repeat a number: only ACCREC numbers are unique (reference §12).
        bill = invoice_body(
            Type="ACCPAY",
            InvoiceNumber="AT-1001",
            LineItems=[{"Description": "Parts", "UnitAmount": 10, "AccountCode": "400"}],
        )
        token = client.store
        assert _put(env, token, [bill]).status_code == 200


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"AccountCode": "260"}, "Account must be valid."),
        ({"TaxType": "OLDGST"}, "Tax Rate must be active"),
        (
            {"TaxType": "GST on Income"},
            "The TaxType code GST on Income does not exist or cannot be used for this type of "
            "transaction.",
        ),
        ({"TaxType": "INPUT"}, "The TaxType code 'INPUT' cannot be used with account code '200'."),
        ({"Description": ""}, "The description field is mandatory for each line item."),
        (
            {"LineAmount": 150},
            "The line total 150.00 does not match the expected line total 200.00",
        ),
    ],
)
def test_line_validation_messages(line: dict[str, Any], message: str) -> None:
    with running() as env:
        token = pkce_login(env)
        base = invoice_body()["LineItems"][0]
        response = _put(
            env, token, [invoice_body(LineItems=[base | line])], summarizeErrors="false"
        )
        assert _messages(response.json()["Invoices"][0]) == [message]


def test_currency_contact_and_type_validation() -> None:
    # Not strict: strict mode would refuse Type "BOGUS" by the schema before Xero's own checks.
    with running(strict_requests=False) as env:
        token = pkce_login(env)
        response = _put(
            env,
            token,
            [
                invoice_body(CurrencyCode="EUR"),
                invoice_body(Contact={"ContactID": "99999999-9999-4999-8999-999999999999"}),
                invoice_body(Type="BOGUS"),
                invoice_body(CurrencyCode="USD", CurrencyRate=0.65),
            ],
            summarizeErrors="false",
        ).json()["Invoices"]
        assert _messages(response[0]) == ["Organisation is not subscribed to currency EUR"]
        assert "could not be found" in _messages(response[1])[0]
        assert _messages(response[2]) == ["Invoice Type must be one of ACCREC, ACCPAY."]
        assert response[3]["StatusAttributeString"] == "OK" and response[3]["CurrencyRate"] == 0.65


def test_a_contact_named_only_by_name_is_created_with_the_invoice() -> None:
    with running() as env:
        token = pkce_login(env)
        created = _put(env, token, [invoice_body(Contact={"Name": "New Customer Ltd"})]).json()
        contact = created["Invoices"][0]["Contact"]
        assert contact["Name"] == "New Customer Ltd"
        assert env.sandbox.xero.ledger(AU).contact(contact["ContactID"]) is not None


def test_inclusive_and_notax_totals_round_tax_per_line() -> None:
    with running() as env:
        token = pkce_login(env)
        lines = [
            {
                "Description": f"L{i}",
                "Quantity": 1,
                "UnitAmount": 0.15,
                "AccountCode": "200",
                "TaxType": "OUTPUT",
            }
            for i in range(3)
        ]
        exclusive, inclusive, notax = _put(
            env,
            token,
            [
                invoice_body(LineItems=lines),
                invoice_body(LineItems=lines, LineAmountTypes="Inclusive"),
                invoice_body(LineItems=lines, LineAmountTypes="NoTax"),
            ],
        ).json()["Invoices"]
        # 0.015 rounds to 0.02 on each line: 0.06 tax, not 10% of 0.45 (reference §13).
        assert (exclusive["SubTotal"], exclusive["TotalTax"], exclusive["Total"]) == (
            0.45,
            0.06,
            0.51,
        )
        # Inclusive: 0.15 x 10/110 = 0.0136 -> 0.01 per line.
        assert (inclusive["SubTotal"], inclusive["TotalTax"], inclusive["Total"]) == (
            0.42,
            0.03,
            0.45,
        )
        assert (notax["TotalTax"], notax["Total"]) == (0.0, 0.45)


def test_unit_amount_is_rounded_to_cents_without_unitdp_4() -> None:
    with running() as env:
        token = pkce_login(env)
        line = {"Description": "x", "Quantity": 3, "UnitAmount": 1.2345, "AccountCode": "200"}
        created = _put(env, token, [invoice_body(LineItems=[line])]).json()["Invoices"][0]
        assert created["LineItems"][0]["UnitAmount"] == 1.23
        assert created["LineItems"][0]["LineAmount"] == 3.69
        four = _put(env, token, [invoice_body(LineItems=[line])], unitdp="4").json()["Invoices"][0]
        assert four["LineItems"][0]["UnitAmount"] == 1.2345
        assert four["LineItems"][0]["LineAmount"] == 3.70
        read = env.http.get(f"{env.api}/Invoices/{four['InvoiceID']}", headers=bearer(token))
        assert read.json()["Invoices"][0]["LineItems"][0]["UnitAmount"] == 1.23


def test_status_transitions_update_and_upsert_by_number() -> None:
    with running() as env:
        token = pkce_login(env)
        draft = _put(env, token, [invoice_body(Status="DRAFT", InvoiceNumber="AT-7")]).json()
        invoice_id = draft["Invoices"][0]["InvoiceID"]
        url = f"{env.api}/Invoices/{invoice_id}"
        approved = env.http.post(
            url, headers=bearer(token), json={"Invoices": [{"Status": "AUTHORISED"}]}
        )
        assert approved.json()["Invoices"][0]["Status"] == "AUTHORISED"
        back = env.http.post(url, headers=bearer(token), json={"Status": "DRAFT"})
        assert back.status_code == 400
        # POST /Invoices matches an ACCREC invoice by its number.
        upsert = env.http.post(
            env.api + "/Invoices",
            headers=bearer(token),
            json={"Invoices": [{"Type": "ACCREC", "InvoiceNumber": "AT-7", "Reference": "PO 42"}]},
        )
        assert upsert.json()["Invoices"][0]["InvoiceID"] == invoice_id
        assert stored_invoice(env, "AT-7")["Reference"] == "PO 42"
        voided = env.http.post(url, headers=bearer(token), json={"Status": "VOIDED"})
        assert voided.json()["Invoices"][0]["Status"] == "VOIDED"
        again = env.http.post(url, headers=bearer(token), json={"Reference": "x"})
        assert again.json()["Elements"][0]["ValidationErrors"][0]["Message"] == (
            "Invoice not of valid status for modification"
        )
        deleted = _put(env, token, [invoice_body(Status="SUBMITTED")]).json()["Invoices"][0]
        gone = env.http.post(
            f"{env.api}/Invoices/{deleted['InvoiceID']}",
            headers=bearer(token),
            json={"Status": "DELETED"},
        )
        assert gone.json()["Invoices"][0]["Status"] == "DELETED"
        assert (
            env.http.post(
                env.api + "/Invoices/nope", headers=bearer(token), json={"Status": "DELETED"}
            ).status_code
            == 404
        )


def test_reads_filter_page_and_refuse_unsupported_where() -> None:
    with running() as env:
        token = pkce_login(env)
        batch = [
            invoice_body(InvoiceNumber=f"AT-{n}", Date=f"2026-01-{n:02d}") for n in range(1, 8)
        ]
        _put(env, token, batch)
        get = env.http.get
        headers = bearer(token)

        def numbers(**params: str) -> list[str]:
            response = get(env.api + "/Invoices", params=params, headers=headers)
            assert response.status_code == 200, response.text
            return [i["InvoiceNumber"] for i in response.json()["Invoices"]]

        assert numbers(where='InvoiceNumber=="AT-3"') == ["AT-3"]
        assert numbers(where='Type=="ACCREC" AND Date>=DateTime(2026,1,6)') == ["AT-6", "AT-7"]
        assert len(numbers(where=f'Contact.ContactID==Guid("{ACME}")')) == 7
        assert len(numbers(where=f'ContactID=GUID("{ACME}")')) == 7
        assert numbers(InvoiceNumbers="AT-1,AT-2", order="InvoiceNumber DESC") == ["AT-2", "AT-1"]
        assert numbers(Statuses="DRAFT") == []
        assert len(numbers(createdByMyApp="true")) == 7
        other_app = get(env.api + "/Invoices", params={"createdByMyApp": "True"},
                        headers=bearer(code_login(env))).json()["Invoices"]  # fmt: skip
        assert other_app == []
        paged = get(env.api + "/Invoices", params={"page": "2", "pageSize": "3"}, headers=headers)
        body = paged.json()
        assert body["pagination"] == {"page": 2, "pageSize": 3, "pageCount": 3, "itemCount": 7}
        assert [i["InvoiceNumber"] for i in body["Invoices"]] == ["AT-4", "AT-5", "AT-6"]
        assert body["Invoices"][0]["LineItems"]  # paged invoices carry their lines
        unpaged = get(env.api + "/Invoices", headers=headers).json()["Invoices"]
        assert "LineItems" not in unpaged[0]
        refused = get(env.api + "/Invoices", params={"where": "Foo==1"}, headers=headers)
        assert refused.status_code == 400
        assert refused.json()["Message"] == "No property or field 'Foo' exists in type 'Invoice'"
        junk = get(env.api + "/Invoices", params={"where": "Total.Sum() > 3"}, headers=headers)
        assert junk.status_code == 400 and junk.json()["Type"] == "QueryParseException"
        # Other organisation, other books.
        assert get(env.api + "/Invoices", headers=bearer(token, GB)).json()["Invoices"] == []


def test_sdk_reads_with_if_modified_since_and_by_number() -> None:
    with running() as env:
        client = sdk(env, pkce_login(env), SANDBOX_XERO_PKCE_CLIENT_ID)
        _put(env, client.store, [invoice_body(InvoiceNumber="AT-1")])
        # If-Modified-Since is read to the second: a change in the same second still shows.
        env.sandbox.clock.advance(2)
        mark = env.sandbox.clock.now()
        env.sandbox.clock.advance(5)
        _put(env, client.store, [invoice_body(InvoiceNumber="AT-2")])
        recent = client.api.get_invoices(AU, if_modified_since=mark)
        assert [i.invoice_number for i in recent.invoices] == ["AT-2"]
        one = client.api.get_invoice(AU, "AT-1").invoices[0]
        assert one.contact.name == "Acme Corp" and one.amount_due == Decimal("220.00")
        assert one.updated_date_utc.tzinfo is not None


def test_strict_mode_rejects_a_misspelled_field_via_conformance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The wiring: whatever conformance reports is answered 400 and nothing is written.
    monkeypatch.setattr(
        "sandbox.xero.writes.request_errors",
        lambda service, schema, body, partial=False: [
            "Invoices[0].LineItems[0].AcountCode: unknown"
        ],
    )
    with running() as env:
        token = pkce_login(env)
        line = {"Description": "x", "UnitAmount": 1, "AcountCode": "200"}
        response = _put(env, token, [invoice_body(LineItems=[line])])
        assert response.status_code == 400
        assert "AcountCode" in response.text and response.json()["Type"] == "ValidationException"
        assert env.sandbox.xero.invoices(AU) == []


def test_strict_mode_rejects_a_misspelled_field() -> None:
    probe = {"Invoices": [{"LineItems": [{"AcountCode": "200"}]}]}
    if not conformance.request_errors("xero", "Invoices", probe):
        pytest.skip("sandbox.conformance.request_errors is still the placeholder returning []")
    with running() as env:
        token = pkce_login(env)
        line = {"Description": "x", "UnitAmount": 1, "AcountCode": "200"}
        response = _put(env, token, [invoice_body(LineItems=[line])])
        assert response.status_code == 400 and "AcountCode" in response.text
        assert env.sandbox.xero.invoices(AU) == []
    with running(strict_requests=False) as env:
        token = pkce_login(env)
        # Like the real Xero: an unknown field is ignored when not strict.
        assert _put(env, token, [invoice_body(Status="DRAFT", LineItems=[line])]).status_code == 200
