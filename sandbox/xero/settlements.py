"""Payments and credit-note allocations, and the balances they drive (reference §11).

An invoice's ``AmountDue`` is ``Total - AmountPaid - AmountCredited``; it becomes PAID (with
``FullyPaidOnDate``) when that reaches zero and goes back to AUTHORISED when a payment is deleted.
Deleted payments stay listed with ``Status: DELETED`` and a new ``UpdatedDateUTC`` (reference §11
"Payments"), so a poller with ``If-Modified-Since`` sees the reversal.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sandbox.world import Record
from sandbox.xero.ledger import Ledger, WriteOutcome
from sandbox.xero.serialize import ZERO_GUID, money, parse_date, to_decimal

ZERO = Decimal("0")
_PAYMENT_TYPES = {
    "ACCREC": "ACCRECPAYMENT",
    "ACCPAY": "ACCPAYPAYMENT",
    "ACCRECCREDIT": "ARCREDITPAYMENT",
    "ACCPAYCREDIT": "APCREDITPAYMENT",
}


def _live_payments(ledger: Ledger, document_id: str) -> list[Record]:
    return [
        p
        for p in ledger.org.payments
        if p["Status"] == "AUTHORISED" and p["_document_id"] == document_id
    ]


def allocations_to(ledger: Ledger, invoice_id: str) -> list[tuple[Record, Record]]:
    """(credit note, allocation) pairs applied to one invoice."""
    return [
        (note, alloc)
        for note in ledger.org.credit_notes
        for alloc in note.get("Allocations", [])
        if alloc["Invoice"]["InvoiceID"] == invoice_id
    ]


def refresh_balance(ledger: Ledger, doc: Record) -> None:
    """Recompute paid/credited/due and the PAID status of an invoice or a credit note."""
    payments = _live_payments(ledger, doc.get("InvoiceID") or doc.get("CreditNoteID", ""))
    paid = sum((p["Amount"] for p in payments), ZERO)
    settled_on: list[date] = [p["Date"] for p in payments]
    if "InvoiceID" in doc:
        credits = allocations_to(ledger, doc["InvoiceID"])
        credited = sum((a["Amount"] for _, a in credits), ZERO)
        settled_on += [a["Date"] for _, a in credits]
        doc["AmountPaid"], doc["AmountCredited"] = paid, credited
        doc["AmountDue"] = doc["Total"] - paid - credited
        outstanding = doc["AmountDue"]
    else:
        allocated = sum((a["Amount"] for a in doc.get("Allocations", [])), ZERO)
        settled_on += [a["Date"] for a in doc.get("Allocations", [])]
        doc["AppliedAmount"] = allocated + paid
        doc["RemainingCredit"] = doc["Total"] - allocated - paid
        outstanding = doc["RemainingCredit"]
    if doc["Status"] in ("AUTHORISED", "PAID"):
        if outstanding <= ZERO:
            doc["Status"] = "PAID"
            # A zero-total approved document is paid on its own date.
            doc["FullyPaidOnDate"] = max(settled_on, default=doc["Date"])
        else:
            doc["Status"] = "AUTHORISED"
            doc["FullyPaidOnDate"] = None


def _ref(raw: Any, *fields: str) -> dict[str, Any]:
    return {k: raw[k] for k in fields if isinstance(raw, dict) and raw.get(k)}


def create_payment(ledger: Ledger, raw: Record, client_id: str) -> WriteOutcome:
    errors: list[str] = []
    target = _ref(raw.get("Invoice"), "InvoiceID", "InvoiceNumber") or _ref(raw, "InvoiceNumber")
    invoice = ledger.invoice(next(iter(target.values()))) if target else None
    if raw.get("CreditNote") or raw.get("Prepayment") or raw.get("Overpayment"):
        errors.append("The sandbox records payments against invoices only.")
    elif invoice is None:
        errors.append("Invoice could not be found" if target else "An Invoice must be specified.")
    account_ref = _ref(raw.get("Account"), "AccountID", "Code")
    account = (
        ledger.account(code=account_ref.get("Code"), account_id=account_ref.get("AccountID"))
        if account_ref
        else None
    )
    if account is None:
        errors.append("A valid Account must be specified for the payment.")
    elif not (account.get("Type") == "BANK" or account.get("EnablePaymentsToAccount")):
        errors.append("Account type is invalid for making a payment to/from")
    try:
        amount = money(to_decimal(raw.get("Amount")))
    except ValueError:
        errors.append("Payment Amount must be specified.")
        amount = ZERO
    try:
        day = parse_date(raw["Date"]) if raw.get("Date") else ledger.clock.now().date()
    except ValueError:
        errors.append(f"Date '{raw.get('Date')}' is not a valid date.")
        day = ledger.clock.now().date()
    if invoice is not None and not errors:
        if invoice["Status"] not in ("AUTHORISED", "PAID"):
            errors.append("Payments can only be made against Authorised documents")  # Chargebee
        elif amount <= ZERO:
            errors.append("Payment amount must be greater than zero.")
        elif amount > invoice["AmountDue"]:
            # Xero's wording, spec example of PUT /Payments.
            errors.append("Payment amount exceeds the amount outstanding on this document")
    if errors:
        return WriteOutcome(None, {**raw, "PaymentID": ZERO_GUID}, errors)
    assert invoice is not None and account is not None
    payment: Record = {
        "PaymentID": str(uuid.uuid4()),
        "Date": day,
        "Amount": amount,
        "BankAmount": amount,
        "CurrencyRate": invoice.get("CurrencyRate", Decimal(1)),
        "Reference": raw.get("Reference"),
        "IsReconciled": bool(raw.get("IsReconciled", False)),
        "Status": "AUTHORISED",
        "PaymentType": _PAYMENT_TYPES[invoice["Type"]],
        "UpdatedDateUTC": ledger.now(),
        "HasAccount": True,
        "Account": {"AccountID": account["AccountID"], "Code": account.get("Code")},
        "_document_id": invoice["InvoiceID"],
        "_created_by": client_id,
    }
    ledger.org.payments.append(payment)
    refresh_balance(ledger, invoice)
    invoice["UpdatedDateUTC"] = payment["UpdatedDateUTC"]
    return WriteOutcome(payment, payment)


def delete_payment(ledger: Ledger, payment: Record) -> WriteOutcome:
    if payment["Status"] == "DELETED":
        return WriteOutcome(None, dict(payment), ["Payment has already been deleted."])
    payment["Status"] = "DELETED"
    payment["UpdatedDateUTC"] = ledger.now()
    invoice = ledger.invoice(payment["_document_id"])
    if invoice is not None:
        refresh_balance(ledger, invoice)
        invoice["UpdatedDateUTC"] = payment["UpdatedDateUTC"]
    return WriteOutcome(payment, payment)


def allocate(ledger: Ledger, note: Record, raw: Record) -> WriteOutcome:
    """One element of `PUT /CreditNotes/{id}/Allocations` (reference §11 "Credit notes")."""
    errors: list[str] = []
    target = _ref(raw.get("Invoice"), "InvoiceID", "InvoiceNumber")
    invoice = ledger.invoice(next(iter(target.values()))) if target else None
    try:
        amount = money(to_decimal(raw.get("Amount")))
    except ValueError:
        errors.append("Amount must be specified.")
        amount = ZERO
    try:
        day = parse_date(raw["Date"]) if raw.get("Date") else None
    except ValueError:
        day = None
    if day is None:
        errors.append("Date must be specified.")
    if invoice is None:
        errors.append("Invoice could not be found" if target else "An Invoice must be specified.")
    if note["Status"] not in ("AUTHORISED",):
        errors.append("Only AUTHORISED credit notes can be allocated.")
    if invoice is not None and not errors:
        expected = {"ACCRECCREDIT": "ACCREC", "ACCPAYCREDIT": "ACCPAY"}[note["Type"]]
        if invoice["Type"] != expected or invoice["Status"] != "AUTHORISED":
            errors.append(
                "The credit note can only be allocated to an AUTHORISED invoice of the same kind."
            )
        elif invoice["Contact"]["ContactID"] != note["Contact"]["ContactID"]:
            errors.append("The credit note and the invoice must be for the same contact.")
        elif invoice["CurrencyCode"] != note["CurrencyCode"]:
            errors.append("The credit note and the invoice must be in the same currency.")
        elif amount <= ZERO:
            errors.append("Amount must be greater than zero.")
        elif amount > note["RemainingCredit"]:
            errors.append("The amount allocated exceeds the remaining credit on the credit note.")
        elif amount > invoice["AmountDue"]:
            errors.append("The amount allocated exceeds the amount due on the invoice.")
    if errors:
        return WriteOutcome(None, dict(raw), errors)
    assert invoice is not None and day is not None
    allocation: Record = {
        "AllocationID": str(uuid.uuid4()),
        "Amount": amount,
        "Date": day,
        "Invoice": {"InvoiceID": invoice["InvoiceID"]},
    }
    note.setdefault("Allocations", []).append(allocation)
    now = ledger.now()
    refresh_balance(ledger, note)
    refresh_balance(ledger, invoice)
    note["UpdatedDateUTC"] = invoice["UpdatedDateUTC"] = now
    return WriteOutcome(allocation, allocation)
