"""Finding documents and contacts by their natural keys, for crash safety (reference §12).

After an unknown outcome (dropped connection, timeout, crash) or once the 6-minute idempotency
window has passed, a document is looked up before it is posted again. Lists of numbers go in
chunks: Xero answers 404 when ``InvoiceNumbers=`` grows past ~50 values (§15 #9), and ``where``
clauses are kept shorter still.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any, TypeVar

from agent.xero.errors import XeroNotFound
from agent.xero.gateway import XeroGateway

NUMBERS_PER_CALL = 50
WHERE_TERMS_PER_CALL = 25

Record = dict[str, Any]
T = TypeVar("T")


def _chunks(values: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for value in values:
        if value and value.lower() not in seen:
            seen[value.lower()] = value
    return list(seen.values())


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def normalised_name(name: str) -> str:
    """Names compared without case and surrounding or repeated whitespace (issue 3 §3)."""
    return " ".join(name.split()).casefold()


def _by_number(records: Iterable[Record], field: str, wanted: Sequence[str]) -> dict[str, Record]:
    found: dict[str, Record] = {}
    index = {w.lower(): w for w in wanted}
    for record in records:
        number = str(record.get(field) or "").lower()
        if number in index and index[number] not in found:
            found[index[number]] = record
    return found


def _list(body: Any, collection: str) -> list[Record]:
    items = body.get(collection) if isinstance(body, dict) else None
    return [r for r in items or [] if isinstance(r, dict)]


def find_invoices_by_number(
    gateway: XeroGateway, tenant_id: str, numbers: Iterable[str]
) -> dict[str, Record]:
    """Sales invoices whose ``InvoiceNumber`` is one of ``numbers`` (as asked -> Xero's
    record, without lines). Numbers not found are absent from the answer."""
    wanted = _unique(numbers)
    found: dict[str, Record] = {}
    for chunk in _chunks(wanted, NUMBERS_PER_CALL):
        reply = gateway.call(tenant_id, "get_invoices", invoice_numbers=list(chunk), unitdp=4)
        # Only sales invoices have unique numbers; a bill may reuse one (reference §12).
        sales = [r for r in _list(reply.body, "Invoices") if r.get("Type", "ACCREC") == "ACCREC"]
        found.update(_by_number(sales, "InvoiceNumber", chunk))
    return found


def find_credit_notes_by_number(
    gateway: XeroGateway, tenant_id: str, numbers: Iterable[str]
) -> dict[str, Record]:
    """Credit notes by ``CreditNoteNumber`` (GET /CreditNotes has no numbers list: ``where``)."""
    wanted = _unique(numbers)
    found: dict[str, Record] = {}
    for chunk in _chunks(wanted, WHERE_TERMS_PER_CALL):
        where = " OR ".join(f"CreditNoteNumber=={_quoted(n)}" for n in chunk)
        reply = gateway.call(tenant_id, "get_credit_notes", where=where, unitdp=4)
        found.update(_by_number(_list(reply.body, "CreditNotes"), "CreditNoteNumber", chunk))
    return found


def find_documents_by_reference(
    gateway: XeroGateway, tenant_id: str, kind: str, terms: Iterable[str]
) -> dict[str, list[Record]]:
    """Sales invoices (``kind="invoice"``) or credit notes (``"credit_note"``) whose
    ``Reference`` contains one of ``terms`` (case-insensitive): term -> the records. For
    documents Xero numbers, where a marker in the Reference is the only natural key (§12);
    the caller checks which record really carries its marker."""
    operation, collection, doc_type = {
        "invoice": ("get_invoices", "Invoices", "ACCREC"),
        "credit_note": ("get_credit_notes", "CreditNotes", "ACCRECCREDIT"),
    }[kind]
    wanted = _unique(terms)
    found: dict[str, list[Record]] = {}
    for chunk in _chunks(wanted, WHERE_TERMS_PER_CALL):
        where = " OR ".join(f"Reference.Contains({_quoted(t)})" for t in chunk)
        reply = gateway.call(tenant_id, operation, where=where, unitdp=4)
        for record in _list(reply.body, collection):
            if record.get("Type", doc_type) != doc_type:
                continue
            reference = str(record.get("Reference") or "").lower()
            for term in chunk:
                if term.lower() in reference:
                    found.setdefault(term, []).append(record)
    return found


def find_purchase_order_by_number(
    gateway: XeroGateway, tenant_id: str, number: str
) -> Record | None:
    try:
        reply = gateway.call(
            tenant_id, "get_purchase_order_by_number", purchase_order_number=number
        )
    except XeroNotFound:
        return None
    found = _list(reply.body, "PurchaseOrders")
    return found[0] if found else None


def find_bills_by_reference(gateway: XeroGateway, tenant_id: str, reference: str) -> list[Record]:
    """The bills (ACCPAY invoices, not deleted or voided) whose Reference is ``reference``."""
    where = f'Type=="ACCPAY" AND Reference=={_quoted(reference)}'
    reply = gateway.call(tenant_id, "get_invoices", where=where)
    return [
        dict(r)
        for r in _list(reply.body, "Invoices")
        if r.get("Type", "ACCPAY") == "ACCPAY"
        and str(r.get("Reference") or "") == reference
        and r.get("Status") not in ("DELETED", "VOIDED")
    ]


def find_purchase_orders_by_reference(
    gateway: XeroGateway, tenant_id: str, reference: str, day: date
) -> list[Record]:
    """The purchase orders of ``day`` (not deleted) whose Reference is ``reference``: the
    PurchaseOrders endpoint takes no ``where``, so one day's orders are read and compared."""
    reply = gateway.call(tenant_id, "get_purchase_orders", date_from=day, date_to=day)
    return [
        dict(r)
        for r in _list(reply.body, "PurchaseOrders")
        if str(r.get("Reference") or "") == reference and r.get("Status") != "DELETED"
    ]


def get_purchase_order(gateway: XeroGateway, tenant_id: str, order_id: str) -> Record | None:
    try:
        reply = gateway.call(tenant_id, "get_purchase_order", purchase_order_id=order_id)
    except XeroNotFound:
        return None
    found = _list(reply.body, "PurchaseOrders")
    return found[0] if found else None


def get_invoice(gateway: XeroGateway, tenant_id: str, invoice_id: str) -> Record | None:
    try:
        reply = gateway.call(tenant_id, "get_invoice", invoice_id=invoice_id, unitdp=4)
    except XeroNotFound:
        return None
    found = _list(reply.body, "Invoices")
    return found[0] if found else None


def find_contact(
    gateway: XeroGateway,
    tenant_id: str,
    *,
    contact_number: str | None = None,
    account_number: str | None = None,
    name: str | None = None,
) -> Record | None:
    """The first contact matching, in this order: ``ContactNumber`` (GET /Contacts/{number}),
    ``AccountNumber`` (where), then the name compared without case or extra whitespace."""
    if contact_number:
        try:
            reply = gateway.call(
                tenant_id, "get_contact_by_contact_number", contact_number=contact_number
            )
        except XeroNotFound:
            reply = None
        if reply is not None:
            contacts = [
                c
                for c in _list(reply.body, "Contacts")
                if str(c.get("ContactNumber") or "").lower() == contact_number.lower()
            ]
            if contacts:
                return contacts[0]
    if account_number:
        reply = gateway.call(
            tenant_id, "get_contacts", where=f"AccountNumber=={_quoted(account_number)}"
        )
        contacts = _list(reply.body, "Contacts")
        if contacts:
            return contacts[0]
    if name and name.strip():
        # Search by the longest word: Xero's searchTerm is a substring match, and the stored
        # name may differ in spacing from ours.
        term = max(name.split(), key=len)
        reply = gateway.call(tenant_id, "get_contacts", search_term=term)
        wanted = normalised_name(name)
        for contact in _list(reply.body, "Contacts"):
            if normalised_name(str(contact.get("Name") or "")) == wanted:
                return contact
    return None
