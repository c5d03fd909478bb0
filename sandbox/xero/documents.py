"""Invoices, credit notes and purchase orders: create, update, status rules (reference §11, §12).

One code path for the three: they share contacts, lines, currency, numbering and statuses; the
differences live in ``DocKind``. Each write validates the element first and changes nothing when a
message was found, so a batch can create its valid elements and report the rest (reference §10).
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from sandbox.world import Record
from sandbox.xero.directory import materialise_contact, resolve_contact
from sandbox.xero.ledger import Ledger, WriteOutcome
from sandbox.xero.lines import LineRules, build_lines, totals
from sandbox.xero.serialize import parse_date, to_decimal
from sandbox.xero.settlements import refresh_balance

Mode = Literal["create", "upsert", "update"]
ZERO = Decimal("0")


@dataclass(frozen=True)
class DocKind:
    key: str  # numbering key in Ledger.NUMBER_PREFIX
    collection: str  # the JSON collection name, also the strict-check schema name
    element: str  # Xero's type name (where-clause messages, SDK model)
    id_field: str
    number_field: str
    records_attr: str  # the XeroOrg list
    types: tuple[str, ...]  # valid Type values; () when the document has no Type
    numbered_types: tuple[str, ...]  # types with a unique, auto-generated number
    statuses: tuple[str, ...]  # every status
    create_statuses: tuple[str, ...]  # statuses a new document may have
    dates: tuple[str, ...]
    texts: tuple[str, ...]  # fields kept as sent
    ledger_document: bool  # posts to the ledger: payments, credits, account codes checked


INVOICE = DocKind(
    "invoice",
    "Invoices",
    "Invoice",
    "InvoiceID",
    "InvoiceNumber",
    "invoices",
    ("ACCREC", "ACCPAY"),
    ("ACCREC",),
    ("DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "VOIDED", "DELETED"),
    ("DRAFT", "SUBMITTED", "AUTHORISED"),
    ("Date", "DueDate", "ExpectedPaymentDate", "PlannedPaymentDate"),
    ("Reference", "Url", "SentToContact"),
    True,
)
CREDIT_NOTE = DocKind(
    "credit_note",
    "CreditNotes",
    "CreditNote",
    "CreditNoteID",
    "CreditNoteNumber",
    "credit_notes",
    ("ACCRECCREDIT", "ACCPAYCREDIT"),
    ("ACCRECCREDIT",),
    ("DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "VOIDED", "DELETED"),
    ("DRAFT", "SUBMITTED", "AUTHORISED"),
    ("Date", "DueDate"),
    ("Reference", "SentToContact"),
    True,
)
PURCHASE_ORDER = DocKind(
    "purchase_order",
    "PurchaseOrders",
    "PurchaseOrder",
    "PurchaseOrderID",
    "PurchaseOrderNumber",
    "purchase_orders",
    (),
    ("",),
    ("DRAFT", "SUBMITTED", "AUTHORISED", "BILLED", "DELETED"),
    ("DRAFT", "SUBMITTED", "AUTHORISED"),
    ("Date", "DeliveryDate", "ExpectedArrivalDate"),
    (
        "Reference",
        "SentToContact",
        "DeliveryAddress",
        "AttentionTo",
        "Telephone",
        "DeliveryInstructions",
    ),
    False,
)
KINDS = {k.collection.lower(): k for k in (INVOICE, CREDIT_NOTE, PURCHASE_ORDER)}

# Status changes Xero allows on an existing document (reference §11 "Status").
_TRANSITIONS = {
    "DRAFT": {"DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"},
    "SUBMITTED": {"DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"},
    "AUTHORISED": {"AUTHORISED", "VOIDED"},
}
_PO_TRANSITIONS = {
    "DRAFT": {"DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"},
    "SUBMITTED": {"DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"},
    "AUTHORISED": {"DRAFT", "SUBMITTED", "AUTHORISED", "BILLED", "DELETED"},
}
_CONTENT_FIELDS = ("LineItems", "Contact", "Date", "CurrencyCode", "LineAmountTypes")
_LOCKED = "This document cannot be edited as it has a payment or credit note allocated to it."


def records(ledger: Ledger, kind: DocKind) -> list[Record]:
    result: list[Record] = getattr(ledger.org, kind.records_attr)
    return result


def find(ledger: Ledger, kind: DocKind, key: str) -> Record | None:
    return {
        "invoice": ledger.invoice,
        "credit_note": ledger.credit_note,
        "purchase_order": ledger.purchase_order,
    }[kind.key](key)


def write(
    ledger: Ledger,
    kind: DocKind,
    raw: Record,
    mode: Mode,
    *,
    unitdp: int,
    client_id: str,
    target: Record | None = None,
) -> WriteOutcome:
    existing = target if mode == "update" else _match(ledger, kind, raw, mode)
    if mode == "create" and raw.get(kind.id_field) and find(ledger, kind, raw[kind.id_field]):
        return _failed(raw, kind, [f"{kind.element} {raw[kind.id_field]} already exists."])
    if existing is None:
        return _create(ledger, kind, raw, unitdp=unitdp, client_id=client_id)
    return _update(ledger, kind, existing, raw, unitdp=unitdp)


def _match(ledger: Ledger, kind: DocKind, raw: Record, mode: Mode) -> Record | None:
    if mode != "upsert":
        return None
    if raw.get(kind.id_field):
        return find(ledger, kind, str(raw[kind.id_field]))
    number = raw.get(kind.number_field)
    # POST matches on the number only where numbers are unique: ACCREC, ACCRECCREDIT, POs.
    if number and str(raw.get("Type", "")) in kind.numbered_types:
        found = find(ledger, kind, str(number))
        return found if found and found.get("Type", "") == raw.get("Type", "") else None
    return None


def _failed(raw: Record, kind: DocKind, errors: list[str], keep_id: bool = False) -> WriteOutcome:
    echo = copy.deepcopy(raw)
    if not keep_id:
        # A failed new element comes back with the empty GUID (XeroAPI/xero-php-oauth2#275).
        echo[kind.id_field] = "00000000-0000-0000-0000-000000000000"
    return WriteOutcome(None, echo, errors)


def _header(ledger: Ledger, kind: DocKind, raw: Record, base: Record, errors: list[str]) -> Record:
    """Header fields of ``raw`` laid over ``base`` (the stored document, or {} when new)."""
    doc = dict(base)
    for name in kind.texts:
        if name in raw:
            doc[name] = raw[name]
    for name in kind.dates:
        if raw.get(name):
            try:
                doc[name] = parse_date(raw[name])
            except ValueError:
                errors.append(f"{name} '{raw[name]}' is not a valid date.")
    doc.setdefault("Date", ledger.clock.now().date())
    if "Contact" in raw or not base:
        doc["Contact"] = resolve_contact(ledger, raw.get("Contact"), kind.ledger_document, errors)
    currency = str(raw.get("CurrencyCode") or doc.get("CurrencyCode") or ledger.org.base_currency)
    if not ledger.currency_enabled(currency):
        errors.append(f"Organisation is not subscribed to currency {currency}")  # reference §11
    doc["CurrencyCode"] = currency
    if currency == ledger.org.base_currency:
        doc["CurrencyRate"] = Decimal(1)
    elif raw.get("CurrencyRate") is not None:
        doc["CurrencyRate"] = to_decimal(raw["CurrencyRate"])
    else:
        # Xero would take the XE.com rate of the day; the sandbox has no rates table.
        doc.setdefault("CurrencyRate", Decimal(1))
    amount_types = str(raw.get("LineAmountTypes") or doc.get("LineAmountTypes") or "Exclusive")
    if amount_types not in ("Exclusive", "Inclusive", "NoTax"):
        errors.append(f"LineAmountTypes '{amount_types}' is not valid.")
    doc["LineAmountTypes"] = amount_types
    theme = raw.get("BrandingThemeID")
    if theme:
        if ledger.branding_theme(str(theme)) is None:
            errors.append(f"Branding theme '{theme}' is not valid.")
        doc["BrandingThemeID"] = theme
    return doc


def _check_number(
    ledger: Ledger, kind: DocKind, doc: Record, errors: list[str], own_id: str | None
) -> None:
    number = doc.get(kind.number_field)
    if not number or doc.get("Type", "") not in kind.numbered_types:
        return
    holder = find(ledger, kind, str(number))
    if (
        holder is not None
        and holder[kind.id_field] != own_id
        and holder.get("Type", "") == doc.get("Type", "")
    ):
        # "Invoice # must be unique." is quoted in XeroAPI/Xero-Net#236.
        label = {"invoice": "Invoice", "credit_note": "Credit Note", "purchase_order": "Order"}
        errors.append(f"{label[kind.key]} # must be unique.")


def _check_lock_date(ledger: Ledger, doc: Record, errors: list[str]) -> None:
    lock = max(
        (d for d in (ledger.period_lock_date, ledger.end_of_year_lock_date) if d), default=None
    )
    if lock and doc.get("Status") not in ("DRAFT", "DELETED") and doc["Date"] <= lock:
        errors.append(
            "The document date cannot be before the period lock date, currently set at "
            f"{lock:%d %b %Y}."
        )


def _lines(
    ledger: Ledger,
    kind: DocKind,
    doc: Record,
    raw_lines: list[Record],
    unitdp: int,
    prev: list[Record],
) -> tuple[list[Record], list[str]]:
    doc_type = str(doc.get("Type", ""))
    refused = {
        "ACCPAY": "Discounts may not be applied to ACCPAY invoices.",  # Xero-Net#198
        "ACCRECCREDIT": "Discounts may not be applied to credit notes.",
        "ACCPAYCREDIT": "Discounts may not be applied to credit notes.",
        "": "Discounts may not be applied to purchase orders.",
    }.get(doc_type)
    rules = LineRules(
        sales=doc_type in ("ACCREC", "ACCRECCREDIT"),
        discounts_refused=refused,
        account_required=kind.ledger_document and doc["Status"] not in ("DRAFT", "DELETED"),
        unitdp=unitdp,
    )
    built = build_lines(ledger, raw_lines, doc["LineAmountTypes"], rules, prev)
    return built.lines, built.errors


def _finish(ledger: Ledger, kind: DocKind, doc: Record, errors: list[str]) -> None:
    doc.update(totals(doc["LineItems"], doc["LineAmountTypes"]))
    if doc["Total"] < ZERO:
        errors.append("The document total cannot be negative; send a credit note instead.")
    if doc["Status"] in ("SUBMITTED", "AUTHORISED") and not doc["LineItems"]:
        errors.append(f"A {doc['Status']} document must have at least one line item.")
    _check_lock_date(ledger, doc, errors)
    if kind is INVOICE:  # the only schema with the flag
        doc["IsDiscounted"] = any(
            li.get("DiscountRate") or li.get("DiscountAmount") for li in doc["LineItems"]
        )
    doc["UpdatedDateUTC"] = ledger.now()


def _create(
    ledger: Ledger, kind: DocKind, raw: Record, *, unitdp: int, client_id: str
) -> WriteOutcome:
    errors: list[str] = []
    doc = _header(ledger, kind, raw, {}, errors)
    if kind.types:
        doc["Type"] = raw.get("Type")
        if doc["Type"] not in kind.types:
            errors.append(f"{kind.element} Type must be one of {', '.join(kind.types)}.")
    status = str(raw.get("Status") or "DRAFT")
    if status not in kind.create_statuses:
        errors.append(f"A new {kind.element} cannot have Status {status}.")
    doc["Status"] = status
    doc[kind.number_field] = raw.get(kind.number_field) or None
    _check_number(ledger, kind, doc, errors, None)
    doc["LineItems"], line_errors = _lines(
        ledger,
        kind,
        doc,
        list(raw.get("LineItems") or []),
        unitdp if kind.ledger_document else 4,
        [],
    )
    errors += line_errors
    _finish(ledger, kind, doc, errors)
    if errors:
        return _failed(raw, kind, errors)
    doc[kind.id_field] = str(uuid.uuid4())
    doc["Contact"] = materialise_contact(ledger, doc["Contact"])
    if not doc[kind.number_field] and doc.get("Type", "") in kind.numbered_types:
        doc[kind.number_field] = ledger.next_number(kind.key, ledger.numbers(kind.key))
    doc["HasAttachments"] = False
    doc["_created_by"] = client_id
    records(ledger, kind).append(doc)
    if kind.ledger_document:
        refresh_balance(ledger, doc)
    return WriteOutcome(doc, doc)


def _update(
    ledger: Ledger, kind: DocKind, stored: Record, raw: Record, *, unitdp: int
) -> WriteOutcome:
    errors: list[str] = []
    current = stored["Status"]
    wanted = str(raw.get("Status") or current)
    allowed = (_PO_TRANSITIONS if kind is PURCHASE_ORDER else _TRANSITIONS).get(current, set())
    # Something applied to it: payments or credit on an invoice; allocations or refunds of a
    # credit note (its AppliedAmount). Xero then refuses a void or a change of its content.
    settled = kind.ledger_document and (
        stored.get("AmountPaid", ZERO) > ZERO
        or stored.get("AmountCredited", ZERO) > ZERO
        or (kind is CREDIT_NOTE and stored.get("AppliedAmount", ZERO) > ZERO)
    )
    if current not in allowed and not (current == "PAID" and wanted == "PAID"):
        errors.append(f"{kind.element} not of valid status for modification")
    elif wanted not in allowed and wanted != current:
        errors.append(f"{kind.element} cannot change from {current} to {wanted}.")
    if settled and (wanted == "VOIDED" or any(f in raw for f in _CONTENT_FIELDS)):
        errors.append(_LOCKED)
    if errors:
        return _failed(raw | {kind.id_field: stored[kind.id_field]}, kind, errors, keep_id=True)

    doc = _header(ledger, kind, raw, stored, errors)
    doc["Status"] = wanted if wanted != "PAID" else current
    if raw.get(kind.number_field):
        doc[kind.number_field] = raw[kind.number_field]
        _check_number(ledger, kind, doc, errors, stored[kind.id_field])
    if "LineItems" in raw:
        raw_lines, dp = list(raw.get("LineItems") or []), unitdp
    else:
        # Re-run the stored lines (at their stored precision) so a status or LineAmountTypes
        # change is validated and taxed like a new document.
        keep_tax = doc["LineAmountTypes"] == stored["LineAmountTypes"]
        raw_lines = [
            {k: v for k, v in li.items() if keep_tax or k not in ("TaxAmount", "LineAmount")}
            for li in stored["LineItems"]
        ]
        dp = 4
    doc["LineItems"], line_errors = _lines(
        ledger, kind, doc, raw_lines, dp if kind.ledger_document else 4, stored["LineItems"]
    )
    errors += line_errors
    _finish(ledger, kind, doc, errors)
    if errors:
        return _failed(raw | {kind.id_field: stored[kind.id_field]}, kind, errors, keep_id=True)
    doc["Contact"] = materialise_contact(ledger, doc["Contact"])
    stored.clear()
    stored.update(doc)
    if kind.ledger_document:
        refresh_balance(ledger, stored)
    return WriteOutcome(stored, stored)
