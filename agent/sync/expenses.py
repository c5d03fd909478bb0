"""Approved Autotask expense reports as Xero bills (issue 5 §6).

Runs in each full cycle after the invoices are posted, only when the ``sync_expenses`` setting is
true; off (the default) costs nothing.

1. Autotask: one query for the reports approved (``status`` 4) within ``days_back``, then one
   ``in`` query for the items of those that still need a bill (none when every report is
   already posted).
2. The outbox: one row of kind ``expense`` per report, in the default organisation
   (``default_org``, else the only one connected); snapshot = the report and its items. The bill
   (Type ACCPAY, amounts tax-inclusive, no TaxType: Xero applies each account's default rate)
   is built here: the contact from the ``expense_contact`` mapping (key = the submitter's
   resource id, value = a Xero ContactID), each line's account from ``expense_account`` (key =
   the expense category id), else ``po_cogs_account``. The bill is what the company owes the
   employee: the reimbursable items, not rejected, at the amount reimbursed in Autotask's
   internal currency (``internalCurrencyReimbursementAmount``; an item spent in another
   currency is converted by Autotask), in that currency (``CurrencyCode``). Items paid by the
   company (not reimbursable) are left off and named in the payload. What is missing blocks
   the row with a reason naming it; a blocked row is mapped again each cycle.
3. Xero: claimed rows are created 50 to a request. A row whose last attempt had an unknown
   outcome first looks its bill up by Reference, so a crash after the create never creates a
   second bill.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

from agent.autotask import AutotaskBudgetExhausted, AutotaskError
from agent.store import LeaseLost, OutboxKind, OutboxRow, OutboxState, StateConflict, Store
from agent.store.outbox_model import SNAPSHOT_REPLACEABLE
from agent.sync.discover import internal_currency_code
from agent.sync.jobs import RowOutcomes, claimed_chunks, renew_leases
from agent.sync.options import RuntimeView, SyncOptions
from agent.sync.report import CycleReport
from agent.xero import MAX_BATCH, XeroAuthError, XeroError, XeroOrgPaused
from agent.xero.lookups import find_bills_by_reference

if TYPE_CHECKING:
    from agent.store import TenantInfo
    from agent.sync.engine import SyncEngine

log = logging.getLogger("atx.sync")
S = OutboxState
K = OutboxKind.EXPENSE
CLAIM_CHUNK = 500
ALL = 1_000_000
EXPENSE_REPORT_APPROVED = 4  # ExpenseReports.status (autotask-api)
REPORT_FIELDS = ("id", "name", "status", "submitterID", "weekEnding", "submitDate")
ITEM_FIELDS = (
    "id",
    "expenseReportID",
    "expenseCategory",
    "description",
    "expenseDate",
    "expenseCurrencyID",
    "expenseCurrencyExpenseAmount",
    "internalCurrencyExpenseAmount",
    "internalCurrencyReimbursementAmount",
    "isReimbursable",
    "isRejected",
)


def reference_of(report: Mapping[str, Any]) -> str:
    name = str(report.get("name") or "").strip()
    return f"Expense report {name or report['id']}"


def reimbursed(item: Mapping[str, Any]) -> Decimal | None:
    """What the company pays the employee back for ``item``, in the internal currency; None
    for an item it does not (paid by the company, or rejected)."""
    if item.get("isReimbursable") is False or item.get("isRejected") is True:
        return None
    for field in (
        "internalCurrencyReimbursementAmount",
        "internalCurrencyExpenseAmount",
        "expenseCurrencyExpenseAmount",
    ):
        value = item.get(field)
        if value is not None and not isinstance(value, bool):
            return Decimal(str(value)).quantize(Decimal("0.01"))
    return Decimal(0)


def build_bill(
    snapshot: Mapping[str, Any],
    contacts: Mapping[str, str],
    accounts: Mapping[str, str],
    default_account: str | None,
) -> dict[str, Any] | list[str]:
    """The Xero bill of one report, or the reasons it cannot be built (pure)."""
    report = snapshot["report"]
    items = [i for i in snapshot["items"] if reimbursed(i) is not None]
    reasons: list[str] = []
    resource = str(report.get("submitterID"))
    contact = contacts.get(resource)
    if not contact:
        reasons.append(
            f"expense: resource {resource} has no Xero contact: map it (expense_contact)"
        )
    if not snapshot["items"]:
        reasons.append(f"expense: report {report['id']} has no expense items")
    elif not items:
        reasons.append(
            f"expense: report {report['id']} has nothing to reimburse (every item is paid by"
            " the company or rejected); skip it"
        )
    lines: list[dict[str, Any]] = []
    for item in items:
        category = str(item.get("expenseCategory"))
        account = accounts.get(category) or default_account
        if not account:
            reason = (
                f"expense: no account for expense category {category}: map it"
                " (expense_account) or set po_cogs_account"
            )
            if reason not in reasons:
                reasons.append(reason)
            continue
        lines.append(
            {
                "Description": str(item.get("description") or f"Expense {item['id']}")[:4000],
                "Quantity": 1,
                "UnitAmount": float(reimbursed(item) or 0),
                "AccountCode": account,
            }
        )
    if reasons:
        return reasons
    when = str(report.get("weekEnding") or report.get("submitDate") or "")[:10]
    bill: dict[str, Any] = {
        "Type": "ACCPAY",
        "Contact": {"ContactID": contact},
        "Reference": reference_of(report),
        "LineAmountTypes": "Inclusive",
        "Status": "DRAFT",
        "LineItems": lines,
    }
    if when:
        bill["Date"] = when
    currency = str(snapshot.get("currency") or "").strip().upper()
    if len(currency) == 3 and currency.isalpha():
        bill["CurrencyCode"] = currency
    return bill


class _Halt(Exception):
    """The organisation cannot take calls now: the rows still claimed were given back."""


@dataclass
class ExpenseSync:
    engine: SyncEngine
    report: CycleReport
    runtime: RuntimeView

    @property
    def store(self) -> Store:
        return self.engine.store

    @cached_property
    def outcomes(self) -> RowOutcomes:
        engine = self.engine
        return RowOutcomes(engine.store, self.report, engine.retry, engine.owner, engine.now,
                           "expense")  # fmt: skip

    def run(self, tenants: Sequence[TenantInfo], options: SyncOptions) -> None:
        ids = [t.tenant_id for t in tenants]
        if options.default_org in ids:
            org = str(options.default_org)
        elif len(ids) == 1:
            org = ids[0]
        else:
            self.report.error("expense sync: set default_org: more than one organisation")
            return
        try:
            self._discover(org, options.days_back)
        except AutotaskBudgetExhausted as exc:
            self.report.defer(f"expense sync: {exc}")
            return
        except AutotaskError as exc:
            self.report.error(f"expense sync: reading Autotask expense reports: {exc}")
            return
        try:
            self._post(org)
        except _Halt:
            return

    # -- 1 and 2: Autotask and the outbox ---------------------------------------------------------

    def _discover(self, org: str, days_back: int) -> None:
        autotask, outbox = self.engine.autotask, self.store.outbox
        since = self.engine.now().date() - timedelta(days=days_back)
        approved: list[dict[str, Any]] = [
            {"op": "eq", "field": "status", "value": EXPENSE_REPORT_APPROVED},
            # Approved within the window (days_back), as invoices are polled: not every report
            # ever approved, each cycle.
            {"op": "gte", "field": "approvedDate", "value": f"{since.isoformat()}T00:00:00"},
        ]
        reports = [
            r
            for r in autotask.query("ExpenseReports", approved)
            if r.get("status") == EXPENSE_REPORT_APPROVED
        ]
        existing = {r.autotask_id: r for r in outbox.list_rows(kind=K, org=org, limit=ALL)}
        open_reports = [
            r
            for r in reports
            if str(r["id"]) not in existing or existing[str(r["id"])].state in SNAPSHOT_REPLACEABLE
        ]
        if not open_reports:
            return
        items: dict[int, list[dict[str, Any]]] = {}
        ids = [int(r["id"]) for r in open_reports]
        for item in autotask.query_in("ExpenseItems", "expenseReportID", ids):
            items.setdefault(int(item["expenseReportID"]), []).append(
                {k: item.get(k) for k in ITEM_FIELDS}
            )
        contacts = self.store.mappings.resolve_all(org, "expense_contact")
        accounts = self.store.mappings.resolve_all(org, "expense_account")
        cogs = (self.runtime.text("po_cogs_account", org, limit=10) or "").strip() or None
        mapped = self.store.mappings.resolve_all(org, "currency")
        currency = internal_currency_code(autotask, mapped)
        for found in open_reports:
            lines = sorted(items.get(int(found["id"]), []), key=lambda i: int(i["id"]))
            snapshot = {"report": {k: found.get(k) for k in REPORT_FIELDS}, "items": lines,
                        "currency": currency}  # fmt: skip
            row = outbox.upsert_discovered(K, str(found["id"]), org, snapshot)
            if row.state in (S.DISCOVERED, S.PENDING, S.BLOCKED):
                self._map(row, snapshot, contacts, accounts, cogs)

    def _map(
        self,
        row: OutboxRow,
        snapshot: Mapping[str, Any],
        contacts: Mapping[str, str],
        accounts: Mapping[str, str],
        cogs: str | None,
    ) -> None:
        built = build_bill(snapshot, contacts, accounts, cogs)
        payload = built if isinstance(built, list) else {"kind": "expense", "payload": built}
        self.outcomes.mapped(row, payload)

    # -- 3: Xero ----------------------------------------------------------------------------------

    def _post(self, org: str) -> None:
        give_back = lambda rows: self.outcomes.give_back(rows, "not mapped yet")  # noqa: E731
        for rows in claimed_chunks(self.engine, self.report, org, K, CLAIM_CHUNK, give_back):
            self._chunk(org, rows)

    def _chunk(self, org: str, rows: list[OutboxRow]) -> None:
        creates: list[tuple[OutboxRow, dict[str, Any]]] = []
        for row in rows:
            bill = (row.payload or {}).get("payload")
            if not isinstance(bill, dict):
                self.outcomes.release(row, "not mapped yet")
                continue
            if row.needs_lookup:
                try:
                    found = self._lookup(org, bill)
                except (XeroOrgPaused, XeroAuthError) as exc:
                    self._halt(org, rows, exc)
                except XeroError as exc:
                    self.outcomes.failed(
                        row, f"looking the bill up in Xero: {exc}", needs_lookup=True
                    )
                    continue
                if found is not None:
                    if self._done(row, found, "found in Xero"):
                        self.report.add("adopted")
                    continue
            creates.append((row, bill))
        for start in range(0, len(creates), MAX_BATCH):
            self._send(org, creates[start : start + MAX_BATCH], rows)

    def _lookup(self, org: str, bill: Mapping[str, Any]) -> dict[str, Any] | None:
        reference = str(bill.get("Reference") or "")
        contact = (bill.get("Contact") or {}).get("ContactID")
        for record in find_bills_by_reference(self.engine.xero.gateway, org, reference):
            if (record.get("Contact") or {}).get("ContactID", contact) == contact:
                return record
        return None

    def _send(
        self, org: str, batch: list[tuple[OutboxRow, dict[str, Any]]], claimed: list[OutboxRow]
    ) -> None:
        engine = self.engine
        held = {r.id for r in renew_leases(engine, self.outcomes, [r for r, _ in batch])}
        live = [(row, doc) for row, doc in batch if row.id in held]
        if not live:
            return
        keys = [f"expense:{r.id}:{r.payload_hash}:{r.attempts}" for r, _ in live]
        try:
            results = engine.xero.post_documents(org, "invoice", [d for _, d in live], keys)
        except (XeroOrgPaused, XeroAuthError) as exc:
            self._halt(org, claimed, exc)
        except XeroError as exc:
            self.report.add("xero_writes")
            for row, _ in live:
                self.outcomes.failed(row, str(exc), needs_lookup=True)
            return
        self.report.add("xero_writes")
        for (row, doc), result in zip(live, results, strict=True):
            if result.ok and result.xero_id:
                record = {**result.record, "InvoiceID": result.xero_id}
                if self._done(row, record, "created in Xero"):
                    self.report.add("bills_created")
            elif result.request_rejected:
                refused = "Xero refused the request: " + "; ".join(result.errors)
                self.outcomes.failed(row, refused, needs_lookup=False)
            else:
                reason = f"expense: Xero refused bill {doc.get('Reference')}: " + "; ".join(
                    result.errors
                )
                self.outcomes.blocked(row, reason)

    # -- outcomes ---------------------------------------------------------------------------------

    def _halt(self, org: str, rows: Sequence[OutboxRow], exc: XeroError) -> NoReturn:
        self.outcomes.give_back(rows, f"Xero: {exc}")
        if isinstance(exc, XeroOrgPaused):
            self.report.pause(org, exc.until)
        raise _Halt from exc

    def _done(self, row: OutboxRow, bill: Mapping[str, Any], how: str) -> bool:
        outbox, owner = self.store.outbox, self.engine.owner
        reference = str(bill.get("Reference") or "")
        try:
            with outbox.batch():
                outbox.transition(row.id, S.POSTED, owner=owner, xero_id=str(bill.get("InvoiceID")),
                                  xero_number=bill.get("InvoiceNumber") or None,
                                  detail=f"bill {reference} {how}")  # fmt: skip
                outbox.transition(row.id, S.DONE, detail=f"done: bill {reference}")
        except (LeaseLost, StateConflict) as exc:
            log.warning("expense row %s: result not recorded: %s", row.id, exc)
            return False
        log.info("bill %s (expense report %s) %s", reference, row.autotask_id, how)
        return True
