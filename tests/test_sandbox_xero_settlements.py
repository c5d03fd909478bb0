"""Simulated Xero payments and credit-note allocations (reference §11)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from test_sandbox_xero_support import (
    ACME,
    AU,
    GLOBEX,
    Env,
    bearer,
    invoice_body,
    pkce_login,
    running,
    sdk,
    stored_invoice,
    unknown_fields,
)
from xero_python.accounting import PaymentDelete

from sandbox.world import SANDBOX_XERO_PKCE_CLIENT_ID
from sandbox.xero.service import XeroError


def _invoice(env: Env, token: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    response = env.http.put(
        env.api + "/Invoices", headers=bearer(token), json={"Invoices": [invoice_body(**overrides)]}
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["Invoices"][0])


def _credit_note(env: Env, token: dict[str, Any], amount: float, **overrides: Any) -> Any:
    note = {
        "Type": "ACCRECCREDIT",
        "Contact": {"ContactID": ACME},
        "Date": "2026-03-05",
        "Status": "AUTHORISED",
        "LineItems": [
            {
                "Description": "Refund",
                "Quantity": 1,
                "UnitAmount": amount,
                "AccountCode": "200",
                "TaxType": "OUTPUT",
            }
        ],
    } | overrides
    return env.http.put(
        env.api + "/CreditNotes", headers=bearer(token), json={"CreditNotes": [note]}
    )


def test_credit_note_allocation_reduces_the_amount_due() -> None:
    with running() as env:
        token = pkce_login(env)
        invoice = _invoice(env, token)  # 200 + 20 GST
        created = _credit_note(env, token, 50)
        assert created.status_code == 200
        note = created.json()["CreditNotes"][0]
        assert note["CreditNoteNumber"] == "CN-0001" and note["RemainingCredit"] == 55.0
        assert unknown_fields(created.json(), "CreditNotes") == []
        url = f"{env.api}/CreditNotes/{note['CreditNoteID']}/Allocations"

        def allocate(amount: float) -> Any:
            return env.http.put(
                url,
                headers=bearer(token),
                params={"summarizeErrors": "false"},
                json={
                    "Allocations": [
                        {
                            "Invoice": {"InvoiceID": invoice["InvoiceID"]},
                            "Amount": amount,
                            "Date": "2026-03-06",
                        }
                    ]
                },
            )

        too_much = allocate(60).json()["Allocations"][0]
        assert too_much["StatusAttributeString"] == "ERROR"
        done = allocate(55)
        assert done.status_code == 200
        assert unknown_fields(done.json(), "Allocations") == []
        read = env.http.get(f"{env.api}/Invoices/{invoice['InvoiceID']}", headers=bearer(token))
        after = read.json()["Invoices"][0]
        assert after["AmountDue"] == 165.0 and after["AmountCredited"] == 55.0
        assert after["CreditNotes"][0]["AppliedAmount"] == 55.0
        note_now = env.http.get(
            f"{env.api}/CreditNotes/{note['CreditNoteID']}", headers=bearer(token)
        ).json()["CreditNotes"][0]
        assert note_now["Status"] == "PAID" and note_now["RemainingCredit"] == 0.0


def test_allocation_needs_an_authorised_note_and_the_same_contact() -> None:
    with running() as env:
        token = pkce_login(env)
        invoice = _invoice(env, token)
        draft = _credit_note(env, token, 10, Status="DRAFT").json()["CreditNotes"][0]
        other = _credit_note(env, token, 10, Contact={"ContactID": GLOBEX}).json()["CreditNotes"][0]
        body = {
            "Allocations": [
                {"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Amount": 5, "Date": "2026-03-06"}
            ]
        }
        for note, message in (
            (draft, "Only AUTHORISED credit notes can be allocated."),
            (other, "The credit note and the invoice must be for the same contact."),
        ):
            refused = env.http.put(
                f"{env.api}/CreditNotes/{note['CreditNoteID']}/Allocations",
                headers=bearer(token),
                json=body,
            )
            assert refused.status_code == 400
            assert refused.json()["Elements"][0]["ValidationErrors"][0]["Message"] == message


def test_payments_drive_invoice_status_and_deleted_payments_stay_visible() -> None:
    with running() as env:
        client = sdk(env, pkce_login(env), SANDBOX_XERO_PKCE_CLIENT_ID)
        token = client.store
        invoice = _invoice(env, token)
        xero = env.sandbox.xero
        first = xero.record_payment(AU, invoice["InvoiceID"], "100.00", date(2026, 3, 10))
        stored = stored_invoice(env, invoice["InvoiceID"])
        assert stored["AmountDue"] == Decimal("120.00") and stored["Status"] == "AUTHORISED"
        with pytest.raises(XeroError, match="exceeds the amount outstanding"):
            xero.record_payment(AU, invoice["InvoiceID"], 500)
        env.sandbox.clock.advance(2)
        since = env.sandbox.clock.now()
        env.sandbox.clock.advance(2)
        # A customer pays the rest through the API, as a bank feed would record it.
        put = env.http.put(
            env.api + "/Payments",
            headers=bearer(token),
            json={
                "Payments": [
                    {
                        "Invoice": {"InvoiceID": invoice["InvoiceID"]},
                        "Account": {"Code": "090"},
                        "Date": "2026-03-12",
                        "Amount": 120,
                    }
                ]
            },
        )
        assert put.status_code == 200, put.text
        assert unknown_fields(put.json(), "Payments") == []
        paid = client.api.get_invoice(AU, invoice["InvoiceID"]).invoices[0]
        assert paid.status == "PAID" and paid.amount_due == 0
        assert paid.fully_paid_on_date == date(2026, 3, 12)
        assert len(paid.payments) == 2

        recent = client.api.get_payments(AU, if_modified_since=since)
        assert [p.amount for p in recent.payments] == [Decimal("120.0")]
        env.sandbox.clock.advance(2)
        since = env.sandbox.clock.now()
        env.sandbox.clock.advance(2)
        deleted = client.api.delete_payment(AU, first["PaymentID"], PaymentDelete(status="DELETED"))
        assert deleted.payments[0].status == "DELETED"
        changed = client.api.get_payments(AU, if_modified_since=since, order="UpdatedDateUTC ASC")
        assert [(p.payment_id, p.status) for p in changed.payments] == [
            (first["PaymentID"], "DELETED")
        ]
        assert changed.payments[0].invoice.invoice_id == invoice["InvoiceID"]
        reopened = client.api.get_invoice(AU, invoice["InvoiceID"]).invoices[0]
        assert reopened.status == "AUTHORISED" and reopened.amount_due == Decimal("100.00")
        assert reopened.fully_paid_on_date is None
        everything = client.api.get_payments(AU, where='Status=="DELETED"')
        assert len(everything.payments) == 1


def test_payment_refusals_and_python_api_delete() -> None:
    with running() as env:
        token = pkce_login(env)
        draft = _invoice(env, token, Status="DRAFT")
        refused = env.http.put(
            env.api + "/Payments",
            headers=bearer(token),
            params={"summarizeErrors": "false"},
            json={
                "Payments": [
                    {
                        "Invoice": {"InvoiceID": draft["InvoiceID"]},
                        "Account": {"Code": "090"},
                        "Amount": 1,
                    },
                    {
                        "Invoice": {"InvoiceID": draft["InvoiceID"]},
                        "Account": {"Code": "200"},
                        "Amount": 1,
                    },
                ]
            },
        )
        first, second = (p["ValidationErrors"][0]["Message"] for p in refused.json()["Payments"])
        assert first == "Payments can only be made against Authorised documents"
        assert second == "Account type is invalid for making a payment to/from"
        invoice = _invoice(env, token)
        payment = env.sandbox.xero.record_payment(AU, invoice["InvoiceID"], 220)
        assert stored_invoice(env, invoice["InvoiceID"])["Status"] == "PAID"
        env.sandbox.xero.delete_payment(AU, payment["PaymentID"])
        assert stored_invoice(env, invoice["InvoiceID"])["Status"] == "AUTHORISED"
        with pytest.raises(XeroError):
            env.sandbox.xero.delete_payment(AU, payment["PaymentID"])
        voidable = env.http.post(
            f"{env.api}/Invoices/{invoice['InvoiceID']}",
            headers=bearer(token),
            json={"Status": "VOIDED"},
        )
        assert voidable.status_code == 200  # the only payment was deleted


def test_paid_invoice_cannot_be_voided_or_edited() -> None:
    with running() as env:
        token = pkce_login(env)
        invoice = _invoice(env, token)
        env.sandbox.xero.record_payment(AU, invoice["InvoiceID"], 10)
        url = f"{env.api}/Invoices/{invoice['InvoiceID']}"
        changes: list[dict[str, Any]] = [{"Status": "VOIDED"}, {"LineItems": []}]
        for change in changes:
            refused = env.http.post(url, headers=bearer(token), json=change)
            assert refused.status_code == 400
            assert refused.json()["Elements"][0]["ValidationErrors"][0]["Message"] == (
                "This document cannot be edited as it has a payment or credit note allocated to it."
            )


def test_credit_notes_delete_void_and_refuse_a_void_once_allocated() -> None:
    """Credit notes follow the invoice rules (reference §11 "Credit notes": same status enum):
    a draft is DELETED, an approved one VOIDED, one with an allocation is refused with the
    message an invoice with a payment gets."""
    with running() as env:
        token = pkce_login(env)
        draft = _credit_note(env, token, 10, Status="DRAFT").json()["CreditNotes"][0]
        url = f"{env.api}/CreditNotes/{draft['CreditNoteID']}"
        gone = env.http.post(url, headers=bearer(token), json={"Status": "DELETED"})
        assert gone.status_code == 200 and gone.json()["CreditNotes"][0]["Status"] == "DELETED"
        approved = _credit_note(env, token, 10).json()["CreditNotes"][0]
        url = f"{env.api}/CreditNotes/{approved['CreditNoteID']}"
        refused = env.http.post(url, headers=bearer(token), json={"Status": "DELETED"})
        assert refused.status_code == 400  # an approved note is voided, not deleted
        voided = env.http.post(url, headers=bearer(token), json={"Status": "VOIDED"})
        assert voided.status_code == 200 and voided.json()["CreditNotes"][0]["Status"] == "VOIDED"

        invoice = _invoice(env, token)
        allocated = _credit_note(env, token, 10).json()["CreditNotes"][0]
        url = f"{env.api}/CreditNotes/{allocated['CreditNoteID']}"
        applied = env.http.put(
            url + "/Allocations",
            headers=bearer(token),
            json={
                "Allocations": [
                    {
                        "Invoice": {"InvoiceID": invoice["InvoiceID"]},
                        "Amount": 5,
                        "Date": "2026-03-06",
                    }
                ]
            },
        )
        assert applied.status_code == 200, applied.text
        kept = env.http.post(url, headers=bearer(token), json={"Status": "VOIDED"})
        assert kept.status_code == 400
        assert kept.json()["Elements"][0]["ValidationErrors"][0]["Message"] == (
            "This document cannot be edited as it has a payment or credit note allocated to it."
        )
        read = env.http.get(url, headers=bearer(token)).json()["CreditNotes"][0]
        assert read["Status"] == "AUTHORISED" and read["AppliedAmount"] == 5.0


def test_payments_page_and_updated_timestamps_are_sandbox_time() -> None:
    with running() as env:
        token = pkce_login(env)
        invoice = _invoice(env, token)
        for _ in range(3):
            env.sandbox.xero.record_payment(AU, invoice["InvoiceID"], 1)
        page = env.http.get(
            env.api + "/Payments", headers=bearer(token), params={"page": "2", "pageSize": "2"}
        ).json()
        assert page["pagination"]["itemCount"] == 3 and len(page["Payments"]) == 1
        stamp = env.sandbox.xero.payments(AU)[0]["UpdatedDateUTC"]
        assert abs((stamp - env.sandbox.clock.now()).total_seconds()) < 5
        assert stamp.tzinfo == UTC or stamp.utcoffset() == datetime.now(UTC).utcoffset()
