"""PUT/POST on the Accounting API: body parsing, strict checks, batches, `summarizeErrors`.

Batches (reference §10): every element is validated and applied on its own. With
``summarizeErrors=false`` the answer is 200 with every element, each marked by
``StatusAttributeString`` OK/ERROR and its ``ValidationErrors``. Otherwise (the server default,
whatever the spec says) any error turns the answer into a 400 ``ValidationException`` listing the
failed elements, while the valid ones are still created and their ids are not returned. Xero's
client guidance is <= 50 documents per request; the sandbox accepts any number.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from starlette.datastructures import QueryParams
from starlette.responses import Response

from sandbox.conformance import request_errors
from sandbox.world import Record
from sandbox.xero import directory, documents, render, settlements
from sandbox.xero.access import Access
from sandbox.xero.ledger import Ledger, WriteOutcome
from sandbox.xero.serialize import (
    api_exception,
    envelope,
    json_response,
    validation_exception,
)

NOT_FOUND = "The resource you're looking for cannot be found"
# The flag each element type uses for "this element failed" [spec schemas].
_ERROR_FLAG = {
    "Invoices": "HasErrors",
    "CreditNotes": "HasErrors",
    "Contacts": "HasValidationErrors",
    "Payments": "HasValidationErrors",
}


@dataclass
class WriteRequest:
    access: Access
    ledger: Ledger
    method: str
    segments: list[str]  # path after /api.xro/2.0/, as sent
    query: QueryParams
    body: bytes
    strict: bool


def not_found() -> Response:
    return Response(NOT_FOUND, status_code=404, media_type="text/plain; charset=utf-8")


def flag(query: QueryParams, name: str, default: bool) -> bool:
    # xero-python sends Python booleans as "True"/"False" (reference §14, footgun 7).
    value = query.get(name)
    return default if value is None else value.strip().lower() not in ("false", "0", "no")


def unitdp(query: QueryParams) -> int:
    return 4 if query.get("unitdp", "").strip() == "4" else 2


def _elements(body: Any, collection: str) -> list[Any]:
    """Xero takes `{"Invoices": [...]}` or one bare object (reference §10)."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for key, value in body.items():
            if key.lower() == collection.lower() and isinstance(value, list):
                return value
        return [body]
    return []


def handle_write(req: WriteRequest) -> Response:
    try:
        body = json.loads(req.body or b"null", parse_float=Decimal)
    except ValueError:
        return json_response(
            api_exception(14, "PostDataInvalidException", "The request body is not valid JSON"), 400
        )
    seg = [s.lower() for s in req.segments]
    ledger, client = req.ledger, req.access.client_id
    dp = unitdp(req.query)
    kind = documents.KINDS.get(seg[0])
    if kind is not None and len(seg) == 1:
        mode: documents.Mode = "create" if req.method == "PUT" else "upsert"
        return _batch(
            req,
            body,
            kind.collection,
            lambda raw: documents.write(ledger, kind, raw, mode, unitdp=dp, client_id=client),
            lambda rec: render.render_document(ledger, kind, rec, unitdp=dp),
        )
    if kind is not None and len(seg) == 2 and req.method == "POST":
        target = documents.find(ledger, kind, req.segments[1])
        if target is None:
            return not_found()
        return _batch(
            req,
            body,
            kind.collection,
            lambda raw: documents.write(
                ledger, kind, raw, "update", unitdp=dp, client_id=client, target=target
            ),
            lambda rec: render.render_document(ledger, kind, rec, unitdp=dp),
            single=True,
        )
    if seg[:1] == ["creditnotes"] and len(seg) == 3 and seg[2] == "allocations":
        note = ledger.credit_note(req.segments[1])
        if note is None or req.method != "PUT":
            return not_found()
        return _batch(
            req,
            body,
            "Allocations",
            lambda raw: settlements.allocate(ledger, note, raw),
            lambda rec: render.render_allocation(ledger, note, rec),
        )
    if seg[0] in ("contacts", "items") and len(seg) <= 2:
        return _directory_write(req, body, seg, dp)
    if seg == ["payments"]:
        return _batch(
            req,
            body,
            "Payments",
            lambda raw: settlements.create_payment(ledger, raw, client),
            lambda rec: render.render_payment(ledger, rec),
        )
    if seg[0] == "payments" and len(seg) == 2 and req.method == "POST":
        payment = ledger.payment(req.segments[1])
        if payment is None:
            return not_found()
        return _batch(
            req,
            body,
            "Payments",
            lambda raw: _delete_payment(ledger, payment, raw),
            lambda rec: render.render_payment(ledger, rec),
            schema="PaymentDelete",
            single=True,
        )
    return not_found()


def _directory_write(req: WriteRequest, body: Any, seg: list[str], dp: int) -> Response:
    ledger = req.ledger
    target = None
    if len(seg) == 2:
        if req.method != "POST":
            return not_found()
        if seg[0] == "contacts":
            target = ledger.contact(req.segments[1]) or ledger.contact_by_number(req.segments[1])
        else:
            target = ledger.item(item_id=req.segments[1]) or ledger.item(code=req.segments[1])
        if target is None:
            return not_found()
    mode: directory.Mode = "update" if target else "create" if req.method == "PUT" else "upsert"
    if seg[0] == "contacts":
        return _batch(
            req,
            body,
            "Contacts",
            lambda raw: directory.write_contact(ledger, raw, mode, target),
            lambda rec: render.render_contact(ledger, rec),
            single=target is not None,
        )
    return _batch(
        req,
        body,
        "Items",
        lambda raw: directory.write_item(ledger, raw, mode, unitdp=dp, target=target),
        lambda rec: render.render_item(rec, dp),
        single=target is not None,
    )


def _delete_payment(ledger: Ledger, payment: Record, raw: Record) -> WriteOutcome:
    if str(raw.get("Status", "")).upper() != "DELETED":
        return WriteOutcome(None, dict(raw), ["A payment can only be updated to Status DELETED."])
    return settlements.delete_payment(ledger, payment)


def _batch(
    req: WriteRequest,
    body: Any,
    collection: str,
    apply: Callable[[Record], WriteOutcome],
    show: Callable[[Record], Record],
    *,
    schema: str | None = None,
    single: bool = False,
) -> Response:
    elements = _elements(body, collection)
    if single:
        elements = elements[:1]
    if not elements:
        return json_response(
            api_exception(
                14, "PostDataInvalidException", f"No {collection} were found in the request"
            ),
            400,
        )
    if req.strict:
        problems = (
            [p for e in elements for p in request_errors("xero", schema, e)]
            if schema
            else request_errors("xero", collection, {collection: elements})
        )
        if problems:
            # Stricter than Xero, which ignores unknown fields silently: nothing is written.
            return json_response(
                validation_exception([{"ValidationErrors": [{"Message": p} for p in problems]}]),
                400,
            )
    shown: list[Record] = []
    failed: list[Record] = []
    for raw in elements:
        outcome = (
            apply(raw)
            if isinstance(raw, dict)
            else WriteOutcome(None, {}, [f"Each element of {collection} must be an object."])
        )
        if outcome.record is not None:
            shown.append({**show(outcome.record), "StatusAttributeString": "OK"})
            continue
        echo = {
            **outcome.echo,
            "StatusAttributeString": "ERROR",
            "ValidationErrors": [{"Message": m} for m in outcome.errors],
        }
        if collection in _ERROR_FLAG:
            echo[_ERROR_FLAG[collection]] = True
        shown.append(echo)
        failed.append(echo)
    if failed and (single or flag(req.query, "summarizeErrors", True)):
        return json_response(validation_exception(failed), 400)
    return json_response(envelope(collection, shown, req.ledger.now()))
