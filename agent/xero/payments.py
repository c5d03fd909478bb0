"""Reading payments back from Xero (reference §11 "Payments"): the payments changed since a
moment, and the balances of the invoices they touch.

``changed_payments`` asks ``GET /Payments`` with ``If-Modified-Since`` (UTC, to the second, as
a datetime the SDK formats; reference §10), oldest change first, 1,000 a page: one call when
nothing changed. Deleted payments stay listed with ``Status: DELETED``.
``changed_credit_notes`` does the same for sales credit notes (an allocation is no payment: it
changes its note). ``invoices_by_id`` reads the invoices with ``GET /Invoices?IDs=`` in chunks
of 50 (longer lists fail, §10), without their lines. All go through the gateway: the
organisation's governor and its one retry policy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from agent.xero.errors import XeroRequestError
from agent.xero.gateway import XeroGateway
from agent.xero.lookups import NUMBERS_PER_CALL, Record, _chunks, _list

PAGE_SIZE = 1000
_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def changed_payments(gateway: XeroGateway, tenant_id: str, since: datetime | None) -> list[Record]:
    """Every payment (deleted ones too) whose ``UpdatedDateUTC`` is after ``since`` (all when
    None), oldest change first."""
    return _changed(gateway, tenant_id, "get_payments", "Payments", since, {})


def changed_credit_notes(
    gateway: XeroGateway, tenant_id: str, since: datetime | None
) -> list[Record]:
    """Sales credit notes changed after ``since`` (an allocation to an invoice changes its
    note), with their ``Allocations``, oldest change first."""
    where = {"where": 'Type=="ACCRECCREDIT"'}
    return _changed(gateway, tenant_id, "get_credit_notes", "CreditNotes", since, where)


def _changed(
    gateway: XeroGateway,
    tenant_id: str,
    operation: str,
    collection: str,
    since: datetime | None,
    extra: dict[str, Any],
) -> list[Record]:
    found: list[Record] = []
    page = 1
    header = None if since is None else since.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    while True:
        kwargs: dict[str, Any] = {"order": "UpdatedDateUTC ASC", "page": page, **extra}
        kwargs["page_size"] = PAGE_SIZE
        if header is not None:
            kwargs["if_modified_since"] = header
        try:
            reply = gateway.call(tenant_id, operation, **kwargs)
        except XeroRequestError as exc:
            if exc.status == 304:  # Not Modified: nothing changed
                return found
            raise
        items = _list(reply.body, collection)
        found.extend(items)
        pagination = reply.body.get("pagination") if isinstance(reply.body, dict) else None
        pages = pagination.get("pageCount") if isinstance(pagination, dict) else None
        if len(items) < PAGE_SIZE or (isinstance(pages, int) and page >= pages):
            return found
        page += 1


def invoices_by_id(
    gateway: XeroGateway, tenant_id: str, invoice_ids: Iterable[str]
) -> dict[str, Record]:
    """Invoices by ``InvoiceID`` (as asked -> Xero's record, without lines); ids Xero does not
    know are absent."""
    wanted = list(dict.fromkeys(i for i in invoice_ids if i))
    found: dict[str, Record] = {}
    for chunk in _chunks(wanted, NUMBERS_PER_CALL):
        reply = gateway.call(tenant_id, "get_invoices", i_ds=list(chunk))
        by_id = {str(r.get("InvoiceID") or "").lower(): r for r in _list(reply.body, "Invoices")}
        for invoice_id in chunk:
            record = by_id.get(invoice_id.lower())
            if record is not None:
                found[invoice_id] = record
    return found


def xero_moment(value: Any) -> datetime | None:
    """A Xero date-time: ``/Date(ms+0000)/`` or ISO-8601 (naive means UTC); None if absent or
    unreadable."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    match = _MS_DATE.match(text)
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def xero_date(value: Any) -> date | None:
    """A Xero date (``/Date(ms+0000)/`` at midnight UTC, or ``YYYY-MM-DD[T...]``)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    moment = xero_moment(value)
    return None if moment is None else moment.date()
