"""Posting documents in batches with one result per document (reference §9, §10).

- At most 50 documents per request.
- ``summarizeErrors=false`` (the string: the SDK would send a Python bool as "False", §14 #7), so
  Xero answers 200 with every element, each marked OK / WARNING / ERROR with its own messages,
  instead of a 400 that hides which valid documents were created.
- ``unitdp=4`` where the endpoint takes it (not on purchase orders or contacts, per the spec).
- One ``Idempotency-Key`` per request, from the batch's outbox rows and payload hashes.
- A 400 that rejects the whole request is spread over its documents (``request_rejected``), so
  the caller can record a reason on each row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.xero.errors import XeroError, XeroOutcomeUnknown, XeroRequestError
from agent.xero.gateway import XeroGateway, error_messages, validation_messages
from agent.xero.idempotency import batch_key

MAX_BATCH = 50
ZERO_GUID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class DocumentKind:
    name: str  # the outbox kind
    collection: str  # JSON collection and SDK body key
    id_field: str
    number_field: str
    create: str  # AccountingApi method for PUT (create only)
    upsert: str  # AccountingApi method for POST (update or create)
    unitdp: bool


KINDS: dict[str, DocumentKind] = {
    k.name: k
    for k in (
        DocumentKind("invoice", "Invoices", "InvoiceID", "InvoiceNumber",
                     "create_invoices", "update_or_create_invoices", True),
        DocumentKind("credit_note", "CreditNotes", "CreditNoteID", "CreditNoteNumber",
                     "create_credit_notes", "update_or_create_credit_notes", True),
        DocumentKind("purchase_order", "PurchaseOrders", "PurchaseOrderID", "PurchaseOrderNumber",
                     "create_purchase_orders", "update_or_create_purchase_orders", False),
        DocumentKind("contact", "Contacts", "ContactID", "ContactNumber",
                     "create_contacts", "update_or_create_contacts", False),
        DocumentKind("item", "Items", "ItemID", "Code", "create_items", "update_or_create_items",
                     True),
    )
}  # fmt: skip


@dataclass(frozen=True)
class DocumentResult:
    """What Xero said about one document, at the document's position in the input."""

    index: int
    key: str
    ok: bool
    status: str  # StatusAttributeString: OK, WARNING or ERROR
    xero_id: str | None
    number: str | None
    document_status: str | None  # e.g. DRAFT, AUTHORISED
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    # True when Xero refused the whole request: the errors may not be this document's own.
    request_rejected: bool = False
    record: dict[str, Any] = field(default_factory=dict, repr=False)


def document_kind(kind: str) -> DocumentKind:
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(
            f"unknown document kind {kind!r}; expected one of {', '.join(KINDS)}"
        ) from None


def post_documents(
    gateway: XeroGateway,
    tenant_id: str,
    kind: str,
    documents: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    *,
    upsert: bool = False,
) -> list[DocumentResult]:
    """Send ``documents`` (Xero wire form, PascalCase) in requests of at most 50; ``keys`` name
    each document (``idempotency.document_key``). If a later request fails, the exception's
    ``partial_results`` holds the results of the requests already answered."""
    spec = document_kind(kind)
    if len(keys) != len(documents):
        raise ValueError("one key per document is needed")
    results: list[DocumentResult] = []
    for start in range(0, len(documents), MAX_BATCH):
        chunk = [_clean(d) for d in documents[start : start + MAX_BATCH]]
        chunk_keys = list(keys[start : start + MAX_BATCH])
        try:
            results.extend(_post_chunk(gateway, tenant_id, spec, chunk, chunk_keys, start, upsert))
        except XeroError as exc:
            exc.partial_results = tuple(results)
            raise
    return results


def _post_chunk(
    gateway: XeroGateway,
    tenant_id: str,
    spec: DocumentKind,
    chunk: list[dict[str, Any]],
    keys: list[str],
    offset: int,
    upsert: bool,
) -> list[DocumentResult]:
    method = "POST" if upsert else "PUT"
    operation = spec.upsert if upsert else spec.create
    what = f"{method} /{spec.collection} ({len(chunk)} documents)"
    params: dict[str, Any] = {
        "summarize_errors": "false",
        "idempotency_key": batch_key(tenant_id, spec.name, method, keys, chunk),
    }
    if spec.unitdp:
        params["unitdp"] = 4
    # The SDK names the body after the collection in snake case (invoices, credit_notes, ...).
    body_param = _snake(spec.collection)
    params[body_param] = {spec.collection: chunk}
    try:
        reply = gateway.call(tenant_id, operation, write=True, **params)
    except XeroOutcomeUnknown as exc:
        raise XeroOutcomeUnknown(exc.what, exc.cause, keys) from None
    except XeroRequestError as exc:
        if exc.status != 400:
            raise
        return _rejected(spec, exc, keys, offset)
    elements = reply.body.get(spec.collection) if isinstance(reply.body, dict) else None
    if not isinstance(elements, list) or len(elements) != len(chunk):
        # Results that cannot be matched to documents are no results: treat as unknown.
        raise XeroOutcomeUnknown(what, "the answer did not list every document", keys)
    return [_result(spec, e, keys[i], offset + i) for i, e in enumerate(elements)]


def _result(spec: DocumentKind, element: Any, key: str, index: int) -> DocumentResult:
    record = dict(element) if isinstance(element, dict) else {}
    errors = tuple(validation_messages(record.get("ValidationErrors")))
    warnings = tuple(validation_messages(record.get("Warnings")))
    status = str(record.get("StatusAttributeString") or ("ERROR" if errors else "OK")).upper()
    failed = bool(
        errors or status == "ERROR" or record.get("HasErrors") or record.get("HasValidationErrors")
    )
    xero_id = record.get(spec.id_field)
    number = record.get(spec.number_field)
    return DocumentResult(
        index=index,
        key=key,
        ok=not failed,
        status="ERROR" if failed else status,
        xero_id=None if failed or not xero_id or xero_id == ZERO_GUID else str(xero_id),
        number=str(number) if number else None,
        document_status=str(record["Status"]) if record.get("Status") else None,
        errors=errors or (("Xero marked the document as failed",) if failed else ()),
        warnings=warnings,
        record=record,
    )


def _rejected(
    spec: DocumentKind, exc: XeroRequestError, keys: list[str], offset: int
) -> list[DocumentResult]:
    """A 400 for the whole request: per-document errors when Xero listed one element per
    document, otherwise every document carries the request's messages."""
    body = exc.body if isinstance(exc.body, dict) else {}
    elements = body.get("Elements")
    if isinstance(elements, list) and len(elements) == len(keys):
        return [
            _result(spec, {**e, "StatusAttributeString": "ERROR"}, keys[i], offset + i)
            if isinstance(e, dict) and validation_messages(e.get("ValidationErrors"))
            else _failed(keys[i], offset + i, exc.messages, rejected=True)
            for i, e in enumerate(elements)
        ]
    messages = error_messages(body) or exc.messages
    return [_failed(k, offset + i, messages, rejected=True) for i, k in enumerate(keys)]


def _failed(key: str, index: int, messages: Sequence[str], *, rejected: bool) -> DocumentResult:
    return DocumentResult(
        index=index,
        key=key,
        ok=False,
        status="ERROR",
        xero_id=None,
        number=None,
        document_status=None,
        errors=tuple(messages) or ("Xero refused the request",),
        request_rejected=rejected,
    )


def _clean(value: Any) -> Any:
    """Drop None values (the SDK cannot serialise them, and an absent field is what Xero
    expects for "not set")."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value if v is not None]
    return value


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))
