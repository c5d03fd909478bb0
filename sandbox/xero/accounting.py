"""The Accounting API under `/api.xro/2.0/`: routing, GET endpoints, idempotent writes.

Paths match case-insensitively, as Xero's do (`/Invoices` and `/invoices` are one endpoint).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.world import Record
from sandbox.xero import documents, queries, render
from sandbox.xero.access import Access, authorise, known_resource, scope_allows
from sandbox.xero.idempotency import fingerprint
from sandbox.xero.ledger import Ledger
from sandbox.xero.serialize import (
    api_exception,
    envelope,
    json_response,
    parse_date,
    parse_if_modified_since,
    problem_response,
)
from sandbox.xero.writes import WriteRequest, flag, handle_write, not_found, unitdp

if TYPE_CHECKING:
    from sandbox.core import Sandbox


def accounting_routes(sandbox: Sandbox) -> list[Route]:
    service = sandbox.xero

    async def endpoint(request: Request) -> Response:
        access = authorise(service, request.headers)
        if not isinstance(access, Access):
            return access
        segments = [s for s in request.path_params["rest"].split("/") if s]
        if not segments:
            return not_found()
        write = request.method in ("PUT", "POST")
        if not known_resource(segments[0]):
            return not_found()
        if not scope_allows(access.grant, segments[0].lower(), write):
            return problem_response(401, "Unauthorized", "AuthorizationUnsuccessful")
        ledger = service.ledger(access.tenant_id)
        if not write:
            try:
                with service.lock:
                    return _read(ledger, access, segments, request)
            except queries.QueryError as exc:
                return json_response(api_exception(16, "QueryParseException", str(exc)), 400)
            except ValueError as exc:
                return json_response(api_exception(16, "QueryParseException", str(exc)), 400)
        body = await request.body()
        write_request = WriteRequest(
            access,
            ledger,
            request.method,
            segments,
            request.query_params,
            body,
            sandbox.options.strict_requests,
        )

        async def run() -> Response:
            with service.lock:
                return handle_write(write_request)

        key = request.headers.get("idempotency-key")
        if not key:
            return await run()
        print_ = fingerprint(
            request.method, request.url.path, request.url.query, access.tenant_id, body
        )
        return await service.idempotency.run(access.client_id, key, print_, run)

    return [Route("/api.xro/2.0/{rest:path}", endpoint, methods=["GET", "PUT", "POST"])]


# -- reads ----------------------------------------------------------------------------------------


def _csv(request: Request, name: str) -> set[str] | None:
    value = request.query_params.get(name)
    return {v.strip().lower() for v in value.split(",") if v.strip()} if value else None


def _int(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    return int(value) if value not in (None, "") else None


def _modified_since(request: Request, records: list[Record]) -> list[Record]:
    header = request.headers.get("if-modified-since")
    if not header:
        return records
    since = parse_if_modified_since(header)
    # Strictly later than the header, which is read to the second (reference §10).
    return [r for r in records if r.get("UpdatedDateUTC") and r["UpdatedDateUTC"] > since]


def _listing(
    ledger: Ledger,
    request: Request,
    collection: str,
    element: str,
    records: list[Record],
    show: Callable[[Record], Record],
    *,
    pageable: bool,
) -> Response:
    shown = [show(r) for r in _modified_since(request, records)]
    shown = queries.where(shown, request.query_params.get("where"), element)
    shown = queries.order(shown, request.query_params.get("order"), element)
    pagination = None
    if pageable:
        shown, pagination = queries.paginate(
            shown, _int(request, "page"), _int(request, "pageSize")
        )
    return json_response(envelope(collection, shown, ledger.now(), pagination))


def _read(ledger: Ledger, access: Access, segments: list[str], request: Request) -> Response:
    seg = [s.lower() for s in segments]
    org = ledger.org
    dp = unitdp(request.query_params)
    kind = documents.KINDS.get(seg[0])
    if kind is not None:
        return _read_documents(ledger, access, kind, segments, request, dp)
    if seg[0] == "contacts":
        if len(seg) == 2:
            found = ledger.contact(segments[1]) or ledger.contact_by_number(segments[1])
            if found is None:
                return not_found()
            return json_response(
                envelope("Contacts", [render.render_contact(ledger, found)], ledger.now())
            )
        ids = _csv(request, "IDs")
        term = (request.query_params.get("searchTerm") or "").lower()
        contacts = [
            c
            for c in org.contacts
            if (ids is None or c["ContactID"].lower() in ids)
            and (
                ids is not None
                or flag(request.query_params, "includeArchived", False)
                or c.get("ContactStatus") != "ARCHIVED"
            )
            and (
                not term
                or any(
                    term in str(c.get(f) or "").lower()
                    for f in ("Name", "FirstName", "LastName", "ContactNumber", "EmailAddress")
                )
            )
        ]
        return _listing(
            ledger,
            request,
            "Contacts",
            "Contact",
            contacts,
            lambda c: render.render_contact(ledger, c),
            pageable=True,
        )
    if seg[0] == "items":
        items = org.items
        if len(seg) == 2:
            found = ledger.item(item_id=segments[1]) or ledger.item(code=segments[1])
            items = [found] if found else []
            if not items:
                return not_found()
        return _listing(
            ledger,
            request,
            "Items",
            "Item",
            items,
            lambda i: render.render_item(i, dp),
            pageable=False,
        )
    if seg[0] == "payments":
        payments = org.payments
        if len(seg) == 2:
            found = ledger.payment(segments[1])
            if found is None:
                return not_found()
            payments = [found]
        return _listing(
            ledger,
            request,
            "Payments",
            "Payment",
            payments,
            lambda p: render.render_payment(ledger, p),
            pageable=True,
        )
    if seg == ["organisation"]:
        return json_response(
            envelope("Organisations", [render.render_organisation(ledger)], ledger.now())
        )
    if seg == ["organisation", "actions"]:
        return json_response(envelope("Actions", render.render_actions(ledger), ledger.now()))
    reference: dict[str, tuple[str, str, list[Record]]] = {
        "accounts": ("Accounts", "Account", org.accounts),
        "taxrates": ("TaxRates", "TaxRate", org.tax_rates),
        "currencies": ("Currencies", "Currency", org.currencies),
        "brandingthemes": ("BrandingThemes", "BrandingTheme", org.branding_themes),
    }
    if seg[0] in reference and len(seg) == 1:
        collection, element, records = reference[seg[0]]
        tax_type = request.query_params.get("TaxType")
        if seg[0] == "taxrates" and tax_type:
            records = [r for r in records if r.get("TaxType") == tax_type]
        return _listing(
            ledger, request, collection, element, records, lambda r: dict(r), pageable=False
        )
    return not_found()


def _read_documents(
    ledger: Ledger,
    access: Access,
    kind: documents.DocKind,
    segments: list[str],
    request: Request,
    dp: int,
) -> Response:
    records = documents.records(ledger, kind)
    if len(segments) == 2:
        found = documents.find(ledger, kind, segments[1])
        if found is None:
            return not_found()
        shown = [render.render_document(ledger, kind, found, unitdp=dp)]
        return json_response(envelope(kind.collection, shown, ledger.now()))
    if len(segments) != 1:
        return not_found()
    query = request.query_params
    ids = _csv(request, "IDs")
    numbers = _csv(request, f"{kind.number_field}s")
    contacts = _csv(request, "ContactIDs")
    statuses = _csv(request, "Statuses") or _csv(request, "Status")
    mine = flag(query, "createdByMyApp", False)
    term = (query.get("searchTerm") or "").lower()
    date_from = parse_date(query["DateFrom"]) if query.get("DateFrom") else None
    date_to = parse_date(query["DateTo"]) if query.get("DateTo") else None
    selected = [
        r
        for r in records
        if (ids is None or r[kind.id_field].lower() in ids)
        and (numbers is None or str(r.get(kind.number_field) or "").lower() in numbers)
        and (contacts is None or (r.get("Contact") or {}).get("ContactID", "").lower() in contacts)
        and (statuses is None or r["Status"].lower() in statuses)
        and (not mine or r.get("_created_by") == access.client_id)
        and (
            not term
            or any(term in str(r.get(f) or "").lower() for f in (kind.number_field, "Reference"))
        )
        and (date_from is None or r["Date"] >= date_from)
        and (date_to is None or r["Date"] <= date_to)
    ]
    # Without `page`, Xero lists invoices and credit notes without their lines (spec `page`
    # parameter: "with line items shown for each invoice"); summaryOnly never has them.
    lines = kind is documents.PURCHASE_ORDER or query.get("page") is not None
    lines = lines and not flag(query, "summaryOnly", False)
    return _listing(
        ledger,
        request,
        kind.collection,
        kind.element,
        selected,
        lambda r: render.render_document(ledger, kind, r, unitdp=dp, with_lines=lines),
        pageable=True,
    )
