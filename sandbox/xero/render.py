"""Stored records -> the shapes Xero returns (still Python values; ``serialize.to_wire`` finishes).

Shapes follow the spec's response examples: documents carry a contact summary, their payments and
credit notes; payments carry an invoice summary. Only fields of the spec's schemas are sent (Xero
also sends e.g. ``DateString``, which the spec does not describe).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandbox.world import Record
from sandbox.xero.documents import CREDIT_NOTE, INVOICE, PURCHASE_ORDER, DocKind
from sandbox.xero.ledger import Ledger
from sandbox.xero.serialize import CENT
from sandbox.xero.settlements import allocations_to


def _public(record: Record) -> Record:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def contact_summary(ledger: Ledger, ref: Record | None) -> Record | None:
    if ref is None:
        return None
    contact = ledger.contact(ref["ContactID"]) or {}
    summary = {
        "ContactID": ref["ContactID"],
        "ContactNumber": contact.get("ContactNumber"),
        "Name": contact.get("Name"),
        "ContactStatus": contact.get("ContactStatus"),
        "EmailAddress": contact.get("EmailAddress"),
        "HasValidationErrors": False,
    }
    return summary


def _unit(value: Any, unitdp: int) -> Any:
    if isinstance(value, Decimal) and unitdp != 4:
        return value.quantize(CENT, rounding=ROUND_HALF_UP)
    return value


def render_line(line: Record, unitdp: int) -> Record:
    out = dict(line)
    out["UnitAmount"] = _unit(line.get("UnitAmount"), unitdp)
    return out


def render_document(
    ledger: Ledger, kind: DocKind, doc: Record, *, unitdp: int = 2, with_lines: bool = True
) -> Record:
    out = _public(doc)
    out["Contact"] = contact_summary(ledger, doc.get("Contact"))
    if kind is not PURCHASE_ORDER:  # the PurchaseOrder schema has no UpdatedDateUTCString
        out["UpdatedDateUTCString"] = f"{doc['UpdatedDateUTC']:%Y-%m-%dT%H:%M:%S}"
    if with_lines:
        out["LineItems"] = [render_line(li, unitdp) for li in doc.get("LineItems", [])]
    else:
        out.pop("LineItems", None)
    payments = [
        {
            "PaymentID": p["PaymentID"],
            "Date": p["Date"],
            "Amount": p["Amount"],
            "Reference": p.get("Reference"),
            "CurrencyRate": p["CurrencyRate"],
            "HasAccount": True,
            "HasValidationErrors": False,
        }
        for p in ledger.org.payments
        if p["_document_id"] == doc.get(kind.id_field) and p["Status"] == "AUTHORISED"
    ]
    if kind is INVOICE:
        out["Payments"] = payments
        out["Prepayments"], out["Overpayments"] = [], []
        out["CreditNotes"] = [
            {
                "CreditNoteID": note["CreditNoteID"],
                "CreditNoteNumber": note.get("CreditNoteNumber"),
                "Date": alloc["Date"],
                "Total": note["Total"],
                "AppliedAmount": alloc["Amount"],
                "HasErrors": False,
            }
            for note, alloc in allocations_to(ledger, doc["InvoiceID"])
        ]
        out["HasErrors"] = False
    elif kind is CREDIT_NOTE:
        out["Payments"] = payments
        out["Allocations"] = [
            {
                "AllocationID": a["AllocationID"],
                "Amount": a["Amount"],
                "Date": a["Date"],
                "Invoice": invoice_summary(ledger, a["Invoice"]["InvoiceID"]),
            }
            for a in doc.get("Allocations", [])
        ]
        out["HasErrors"] = False
    return out


def invoice_summary(ledger: Ledger, invoice_id: str) -> Record:
    invoice = ledger.invoice(invoice_id)
    if invoice is None:
        return {"InvoiceID": invoice_id}
    keys = (
        "InvoiceID",
        "InvoiceNumber",
        "Type",
        "Status",
        "Date",
        "DueDate",
        "CurrencyCode",
        "CurrencyRate",
        "Total",
        "AmountDue",
        "AmountPaid",
        "AmountCredited",
        "Reference",
    )
    out = {k: invoice.get(k) for k in keys}
    out["Contact"] = contact_summary(ledger, invoice.get("Contact"))
    return out


def render_payment(ledger: Ledger, payment: Record) -> Record:
    out = _public(payment)
    account = ledger.account(account_id=payment["Account"]["AccountID"]) or {}
    out["Account"] = {
        "AccountID": payment["Account"]["AccountID"],
        "Code": account.get("Code"),
        "Name": account.get("Name"),
    }
    out["Invoice"] = invoice_summary(ledger, payment["_document_id"])
    out["UpdatedDateUTCString"] = f"{payment['UpdatedDateUTC']:%Y-%m-%dT%H:%M:%S}"
    out["HasValidationErrors"] = False
    return out


def render_allocation(ledger: Ledger, note: Record, allocation: Record) -> Record:
    return {
        "AllocationID": allocation["AllocationID"],
        "Amount": allocation["Amount"],
        "Date": allocation["Date"],
        "Invoice": invoice_summary(ledger, allocation["Invoice"]["InvoiceID"]),
        "CreditNote": {
            "CreditNoteID": note["CreditNoteID"],
            "CreditNoteNumber": note.get("CreditNoteNumber"),
            "RemainingCredit": note.get("RemainingCredit"),
        },
    }


def render_contact(ledger: Ledger, contact: Record) -> Record:
    out = _public(contact)
    types = {
        i.get("Type")
        for i in ledger.org.invoices
        if (i.get("Contact") or {}).get("ContactID") == contact["ContactID"]
    }
    out["IsCustomer"] = "ACCREC" in types
    out["IsSupplier"] = "ACCPAY" in types
    out["HasValidationErrors"] = False
    return out


def render_item(item: Record, unitdp: int) -> Record:
    out = _public(item)
    for details in ("SalesDetails", "PurchaseDetails"):
        if isinstance(item.get(details), dict):
            out[details] = dict(item[details])
            out[details]["UnitPrice"] = _unit(item[details].get("UnitPrice"), unitdp)
    return out


# Xero's `Version` names the tax regime; GB organisations are "UK" [spec `Organisation.Version`].
_VERSIONS = {"AU": "AU", "NZ": "NZ", "GB": "UK", "US": "US"}


def render_organisation(ledger: Ledger) -> Record:
    org = ledger.org
    return {
        "OrganisationID": org.tenant_id,
        "APIKey": org.short_code.upper().ljust(30, "X")[:30],
        "Name": org.name,
        "LegalName": org.name,
        "PaysTax": True,
        "Version": _VERSIONS.get(org.country_code, "GLOBAL"),
        "OrganisationType": "COMPANY",
        "BaseCurrency": org.base_currency,
        "CountryCode": org.country_code,
        "IsDemoCompany": False,
        "OrganisationStatus": "ACTIVE",
        "FinancialYearEndDay": 30 if org.country_code == "AU" else 31,
        "FinancialYearEndMonth": 6 if org.country_code == "AU" else 3,
        "SalesTaxBasis": "ACCRUALS",
        "DefaultSalesTax": "Tax Exclusive",
        "DefaultPurchasesTax": "Tax Exclusive",
        "PeriodLockDate": ledger.period_lock_date,
        "EndOfYearLockDate": ledger.end_of_year_lock_date,
        "CreatedDateUTC": ledger.created,
        "OrganisationEntityType": "COMPANY",
        "ShortCode": org.short_code,
        "Edition": "BUSINESS",
        "Class": "STANDARD",
        "Addresses": [],
        "Phones": [],
        "ExternalLinks": [],
        "PaymentTerms": {},
    }


def render_actions(ledger: Ledger) -> list[Record]:
    multi = len(ledger.org.currencies) > 1
    names = (
        "CreateDraftInvoice",
        "CreateApprovedInvoice",
        "CreateDraftBill",
        "CreateApprovedBill",
        "CreateInvoicePayment",
        "CreateDraftPurchaseOrder",
        "CreateApprovedPurchaseOrder",
    )
    actions = [{"Name": n, "Status": "ALLOWED"} for n in names]
    actions.append({"Name": "UseMulticurrency", "Status": "ALLOWED" if multi else "NOT-ALLOWED"})
    return actions
