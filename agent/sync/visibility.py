"""Can the Autotask API user see every line of business? (issue 5 §4, setup check)

With Organizational Structure on, an API user tied to lines of business sees only the billing
items of no line of business or of its own; the invoice itself, and its ``invoiceTotal``, stay
visible (autotask-api §2, "Line of Business visibility"). The sync would then send incomplete
invoices: the hosted products' "Invoice amounts do not match" (product-and-patterns A2 #2).

The check is cheap: one page of invoices (the newest ``SAMPLE`` kept) and one query for their
billing items; an invoice whose total differs from the sum of the lines the user can see
(``totalAmount``, tax included) is the sign. ``compare`` is pure; ``lob_warning`` reads Autotask.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import islice

from agent.autotask import AutotaskClient, AutotaskError
from agent.autotask.records import BillingItem, Invoice
from agent.mapping.lines import autotask_line_total
from agent.mapping.totals import money

log = logging.getLogger("atx.setup")
SAMPLE = 20  # invoices compared
PAGE = 500  # one page of invoices read, of which the newest SAMPLE are compared
TOLERANCE = Decimal("0.01")
RECENT_DAYS = 90


@dataclass(frozen=True)
class Mismatch:
    invoice_id: int
    number: str
    total: Decimal
    visible: Decimal


def compare(invoices: Sequence[Invoice], items: Iterable[BillingItem]) -> list[Mismatch]:
    """Invoices whose ``invoiceTotal`` differs from the sum of the billing items given."""
    sums: dict[int, Decimal] = {}
    for item in items:
        line = autotask_line_total(item)
        if item.invoiceID is not None and line is not None:
            sums[item.invoiceID] = sums.get(item.invoiceID, Decimal(0)) + line
    found = []
    for invoice in invoices:
        if invoice.invoiceTotal is None:
            continue
        total, visible = money(invoice.invoiceTotal), sums.get(invoice.id, Decimal(0))
        if abs(total - visible) >= TOLERANCE:
            number = invoice.invoiceNumber or f"#{invoice.id}"
            found.append(Mismatch(invoice.id, number, total, visible))
    return found


def warning_for(mismatches: Sequence[Mismatch], compared: int) -> str | None:
    if not mismatches:
        return None
    shown = ", ".join(
        f"{m.number} (total {m.total:,.2f}, visible lines {m.visible:,.2f})" for m in mismatches[:3]
    )
    more = f" and {len(mismatches) - 3} more" if len(mismatches) > 3 else ""
    return (
        f"{len(mismatches)} of {compared} recent invoices total more or less than the billing items"
        f" this API user can see: {shown}{more}. The API user probably cannot see every line of"
        " business, and such invoices would reach Xero incomplete: in Autotask give its security"
        " level (or resource) access to every line of business (Admin > Organizational"
        " Structure), then test again"
    )


def _page(client: AutotaskClient, filters: list[dict[str, object]]) -> list[Invoice]:
    fields = ["id", "invoiceNumber", "invoiceTotal", "isVoided"]
    return list(
        islice(client.records(Invoice, filters, include_fields=fields, page_size=PAGE), PAGE)
    )


def lob_warning(client: AutotaskClient, today: date) -> str | None:
    """The warning for the user, or None when the recent invoices add up (or none exist, or the
    check itself could not be made: that is logged, the setup goes on). Invoices of the last
    ``RECENT_DAYS`` days are read (one page, oldest first), else any."""
    since = (today - timedelta(days=RECENT_DAYS)).isoformat()
    try:
        found = _page(
            client, [{"op": "gte", "field": "invoiceDateTime", "value": f"{since}T00:00:00"}]
        )
        if not found:
            found = _page(client, [{"op": "gte", "field": "id", "value": 0}])
        newest = sorted((i for i in found if not i.isVoided), key=lambda i: i.id, reverse=True)
        sample = newest[:SAMPLE]
        if not sample:
            return None
        items = client.records_in(
            BillingItem,
            "invoiceID",
            [i.id for i in sample],
            include_fields=["invoiceID", "extendedPrice", "taxDollars", "totalAmount"],
        )
        return warning_for(compare(sample, items), len(sample))
    except AutotaskError as exc:
        log.warning("the line-of-business visibility check could not be made: %s", exc)
        return None
