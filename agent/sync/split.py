"""Split invoices (setting ``mixed_invoice`` = ``split``, issue 5 §4): one Autotask invoice whose
lines of business are routed to different organisations becomes one document per organisation.

- Routing (``RoutingTable.route``) names the parts: each organisation, the billing items it
  takes, and why (``Split`` / ``Part``).
- Each part is an outbox row of its own, keyed (kind, Autotask id, organisation) like any other:
  the row first discovered (organisation '') becomes one part, ``prepare`` creates the others. Every
  part row keeps the whole Autotask snapshot (what Autotask said, so a later routing change can
  split it differently); its payload is the part's own document, mapped from ``part_snapshot``:
  only its lines, the contact, accounts, tax and currency of its organisation, its totals from its
  lines. The payload's ``split`` key says which part it is (``split_info``).
- Autotask is marked once, when every part is posted (``mark``); its ``paidDate`` is set when
  every part is fully paid, to the latest day (``payments``); a void voids every part (``voids``,
  one void row per document row).

The invoice number is the same in each organisation (Xero wants it unique per organisation).
When Xero numbers the documents, no number is written back to Autotask for a split invoice: it
has one number per part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from agent.mapping import InvoiceSnapshot
from agent.mapping.lines import autotask_line_total
from agent.mapping.totals import money, shown
from agent.store import OutboxRow, OutboxState
from agent.sync.routing import Part, Routed, RoutingTable, Split

S = OutboxState
SENT = frozenset({S.POSTING, S.POSTED, S.DONE})
# The last_error of a part row the sync skipped because the invoice no longer has lines for its
# organisation: such a row comes back when lines go there again (a user's skip never does).
DROPPED = "split: "
SPLIT_KEY = "split"
LOB_FIX = (
    "check the API user's line-of-business permissions in Autotask (or wait until Autotask has "
    "attached every item), then retry"
)


def whole_problem(snapshot: InvoiceSnapshot) -> str | None:
    """Lines missing from the whole invoice (checked before it is cut in parts, whose totals
    come from their lines): the block reason, or None."""
    total = snapshot.invoice.invoiceTotal
    if total is None:
        return None  # mapping blocks it with its own reason
    line_totals = [autotask_line_total(item) for item in snapshot.items]
    if any(t is None for t in line_totals):
        return None  # mapping blocks the line that cannot be priced
    found = sum((t for t in line_totals if t is not None), Decimal(0))
    if found == money(total):
        return None
    return (
        f"items: the {len(line_totals)} billing items visible add up to {shown(found)} but the"
        f" invoice total is {shown(money(total))}, so it cannot be split into its parts yet;"
        f" {LOB_FIX}"
    )


def part_total(snapshot: InvoiceSnapshot, part: Part) -> Decimal:
    mine = set(part.items)
    totals = (autotask_line_total(i) for i in snapshot.items if i.id in mine)
    return sum((t for t in totals if t is not None), Decimal(0))


def part_snapshot(snapshot: InvoiceSnapshot, part: Part) -> InvoiceSnapshot:
    """The invoice as its part: only the part's billing items, its totals from them (so mapping
    checks the part's document against the part's own figures)."""
    mine = set(part.items)
    items = tuple(i for i in snapshot.items if i.id in mine)
    taxes = [i.taxDollars for i in items]
    tax = sum((money(t) for t in taxes if t is not None), Decimal(0))
    invoice = snapshot.invoice.model_copy(
        update={
            "invoiceTotal": part_total(snapshot, part),
            "totalTaxValue": tax if all(t is not None for t in taxes) else None,
        }
    )
    return replace(snapshot, invoice=invoice, items=items)


def sign_problem(snapshot: InvoiceSnapshot, part: Part) -> str | None:
    """A part whose sign differs from the invoice's (a positive part of a credit note, say)
    would be another kind of document than its row: held, with what to do."""
    whole = snapshot.invoice.invoiceTotal
    if whole is None:
        return None
    mine = part_total(snapshot, part)
    if (whole < 0) == (mine < 0) or mine == 0:
        return None
    kind = "credit note" if whole < 0 else "invoice"
    other = "an invoice" if whole < 0 else "a credit note"
    return (
        f"routing: {part.title} of this split {kind} ({part.lines()}) totals {shown(mine)}: it"
        f" would be {other}, not a {kind}; route its lines to one organisation in Mappings →"
        " Routing, or enter it in Xero by hand and skip this row"
    )


def split_info(
    split: Split, part: Part, routing: RoutingTable, snapshot: InvoiceSnapshot
) -> dict[str, Any]:
    """The payload's ``split`` key: which part of how many, its lines and the others."""
    whole = snapshot.invoice.invoiceTotal
    return {
        "part": part.index,
        "parts": part.count,
        "billing_items": list(part.items),
        "lines_of_business": list(part.lines_of_business),
        "total": str(part_total(snapshot, part)),
        "invoice_total": None if whole is None else str(money(whole)),
        "organisations": [
            {"tenant_id": p.org, "name": routing.name(p.org), "part": p.index} for p in split.parts
        ],
    }


def describe(part: Part, routing: RoutingTable) -> str:
    """For the history: "part 1 of 2 in Acme AU: billing items 1, 2 (line(s) of business 101)"."""
    return f"{part.title} in {routing.name(part.org)}: {part.lines()}"


def sent_conflict(
    others: Sequence[OutboxRow],
    decision: Routed | Split,
    snapshot: InvoiceSnapshot,
    routing: RoutingTable,
) -> str | None:
    """A row of the invoice that is in Xero (or may be) would carry other lines under this
    decision: the sync never changes a sent part behind the accountant's back, so the invoice's
    unsent rows are held with this reason (dropping them would lose their lines)."""
    everything = {i.id for i in snapshot.items}
    for other in others:
        if other.state in (S.SKIPPED, S.VOIDED):
            continue
        if other.state not in SENT and other.xero_id is None and not other.needs_lookup:
            continue
        info = (other.payload or {}).get(SPLIT_KEY)
        carried = set(info.get("billing_items") or []) if isinstance(info, dict) else everything
        if isinstance(decision, Split):
            part = decision.part(other.org)
            wanted = set(part.items) if part is not None else set()
        else:
            wanted = everything if decision.org == other.org else set()
        if carried != wanted:
            now = ", ".join(map(str, sorted(wanted))) or "none of them"
            return (
                f"routing: row {other.id} in {routing.name(other.org)} is in Xero already (or"
                f" being sent) with billing items {', '.join(map(str, sorted(carried)))}, but"
                f" the routing now gives it {now}; a sent document is not changed by the sync:"
                " route the lines back in Mappings → Routing, or correct the documents in Xero"
                " by hand and skip this row"
            )
    return None


def is_part(row: OutboxRow) -> bool:
    """The row's document is one part of a split invoice."""
    payload = row.payload
    return bool(payload and isinstance(payload.get(SPLIT_KEY), dict))


def dropped_by_split(row: OutboxRow) -> bool:
    return row.state is S.SKIPPED and (row.last_error or "").startswith(DROPPED)
