"""Payments back to Autotask (issue 5 §1; reference §11 "Payments", autotask-api §10).

Each cycle, after posting and marking:

1. **Poll Xero**, per organisation: ``GET /Payments`` with ``If-Modified-Since`` the organisation's
   cursor (``payments.xero`` / tenant id in ``sync_cursors``), deleted payments included. One
   call when nothing changed. The cursor is Xero's own ``UpdatedDateUTC`` of the last change
   seen; since the header is read to the second, the payments changed in that last second are
   kept with it and dropped when they come back unchanged. Before any cursor, the poll starts a
   day before the organisation's first invoice reached Xero.
2. **Read the invoices** the changed payments touch, only those we posted (outbox invoice rows
   ``posted`` or ``done`` with that Xero id), 50 per ``GET /Invoices?IDs=``: paid, credited
   (credit-note allocations count as paid), due, and ``FullyPaidOnDate``. An allocation is no
   payment: the sales credit notes changed (``GET /CreditNotes``, a cursor of their own,
   ``payments.xero_credit_notes``) are read at most once an hour (``CREDIT_NOTE_INTERVAL``) and
   the invoices they are allocated to read with the others. Their balances are
   recorded, and the cursor advanced, in one transaction (``Store.payments``).
3. **Write to Autotask**: each invoice whose recorded ``paidDate`` differs from what Xero says
   (fully paid: the day of the payment that completed it; reopened by a deleted payment: none).
   Autotask is read first (one query per 500): what it already shows (a crash after the PATCH,
   before it was recorded) is recorded without a second PATCH. The others are PATCHed, 3 in
   flight, without the client's per-invoice read-back, then confirmed by one query; each outcome
   is recorded in one transaction with its event. Autotask ignores fields it will not take with a
   200 (autotask-api §13 #2): a date that does not stick is flagged for the user and not tried
   again until Xero changes. A ``paidDate`` we did not write is never cleared.

Nothing to do costs one Xero call per organisation (two, once an hour) and no Autotask call.

A split invoice (``agent.sync.split``) has a balance per part, each in its organisation; Autotask
has one ``paidDate``: set when every part is fully paid, to the latest of their days, and cleared
when a deleted payment reopens any part. The date is written once for the invoice and recorded on
every part (``WriteTarget``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from agent.autotask import AutotaskBudgetExhausted, AutotaskClient, AutotaskError
from agent.autotask.records import Invoice
from agent.store import OutboxKind, OutboxState, Store, TenantInfo
from agent.store.payments import InvoiceBalance, PaymentRecord, PostedInvoice, refused_key
from agent.sync.report import CycleReport
from agent.xero import XeroClient, XeroError, XeroOrgPaused
from agent.xero.payments import xero_date, xero_moment

log = logging.getLogger("atx.sync")

PAYMENTS_STREAM = "payments.xero"
CREDIT_NOTES_STREAM = "payments.xero_credit_notes"
# Credit notes are polled at most this often: a cycle with nothing to do then costs one call
# (payments) per organisation, and an allocation that settles an invoice is seen within this.
CREDIT_NOTE_INTERVAL = timedelta(hours=1)
FIRST_POLL_MARGIN = timedelta(days=1)
PARALLEL_PATCHES = 3
READ_BATCH = 500
CENT = Decimal("0.01")


# -- pure: the cursor and the balance ----------------------------------------------------------


@dataclass(frozen=True)
class PaymentCursor:
    """Where an organisation's poll resumes: ``since`` (Xero's UpdatedDateUTC of the last change
    seen), the changes seen in its last second (``PaymentID@UpdatedDateUTC``), and when it was
    last polled (our clock; credit notes are polled less often)."""

    since: datetime
    edge: frozenset[str] = frozenset()
    polled_at: datetime | None = None

    @classmethod
    def load(cls, text: str | None) -> PaymentCursor | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            since = xero_moment(data["since"])
        except (ValueError, KeyError, TypeError):
            return None
        if since is None:
            return None
        edge = frozenset(str(k) for k in data.get("edge") or [])
        return cls(since, edge, xero_moment(data.get("polled_at")))

    def dump(self) -> str:
        data: dict[str, Any] = {"since": self.since.isoformat(), "edge": sorted(self.edge)}
        if self.polled_at is not None:
            data["polled_at"] = self.polled_at.isoformat()
        return json.dumps(data, separators=(",", ":"))

    def fresh(self, payments: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The payments not already seen (those of the last second come back: the header is
        read to the second)."""
        return [p for p in payments if change_key(p) not in self.edge]

    def advanced(self, payments: Iterable[Mapping[str, Any]]) -> PaymentCursor:
        since, edge = self.since, set(self.edge)
        for payment in payments:
            moment = xero_moment(payment.get("UpdatedDateUTC"))
            if moment is None:
                continue
            if _second(moment) > _second(since):
                edge = set()
            if moment > since:
                since = moment
            if _second(moment) == _second(since):
                edge.add(change_key(payment))
        return PaymentCursor(since, frozenset(edge), self.polled_at)


def change_key(record: Mapping[str, Any]) -> str:
    """A payment's (or credit note's) id and the moment it last changed."""
    moment = xero_moment(record.get("UpdatedDateUTC"))
    stamp = "" if moment is None else moment.isoformat()
    ident = record.get("PaymentID") or record.get("CreditNoteID") or ""
    return f"{ident}@{stamp}"


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def allocated_invoice_ids(note: Mapping[str, Any]) -> list[str]:
    """The invoices a credit note is allocated to."""
    found = []
    for allocation in note.get("Allocations") or []:
        if isinstance(allocation, Mapping):
            invoice_id = paid_invoice_id(allocation)
            if invoice_id is not None:
                found.append(invoice_id)
    return found


def paid_invoice_id(payment: Mapping[str, Any]) -> str | None:
    """The invoice a payment (or its deletion) changes; None for payments on other documents."""
    invoice = payment.get("Invoice")
    if not isinstance(invoice, Mapping):
        return None
    value = invoice.get("InvoiceID")
    return str(value) if value else None


def balance_of(
    invoice: Mapping[str, Any], payments: Sequence[Mapping[str, Any]] = ()
) -> InvoiceBalance:
    """What Xero shows of an invoice. Fully paid when nothing is due and Xero says PAID; the day
    is ``FullyPaidOnDate``, else the latest of its payments and allocations (credit notes,
    overpayments, prepayments), else the latest of ``payments`` (those just polled)."""
    total = _money(invoice.get("Total"))
    paid = _money(invoice.get("AmountPaid"))
    credited = _money(invoice.get("AmountCredited"))
    due = _money(invoice.get("AmountDue"), total - paid - credited)
    status = str(invoice.get("Status") or "")
    paid_on: date | None = None
    if due <= 0 and status == "PAID":
        paid_on = xero_date(invoice.get("FullyPaidOnDate"))
        if paid_on is None:
            days = [
                xero_date(p.get("Date"))
                for key in ("Payments", "CreditNotes", "Overpayments", "Prepayments")
                for p in invoice.get(key) or []
                if isinstance(p, Mapping)
            ]
            days += [xero_date(p.get("Date")) for p in payments if p.get("Status") != "DELETED"]
            paid_on = max((d for d in days if d is not None), default=None)
    return InvoiceBalance(
        xero_id=str(invoice.get("InvoiceID") or ""),
        status=status,
        total=total,
        amount_paid=paid,
        amount_credited=credited,
        amount_due=due,
        paid_on=paid_on,
    )


def _money(value: Any, default: Decimal = Decimal(0)) -> Decimal:
    if value is None:
        return default.quantize(CENT)
    try:
        return Decimal(str(value)).quantize(CENT)
    except (InvalidOperation, ValueError):
        return default.quantize(CENT)


@dataclass(frozen=True)
class WriteTarget:
    """One Autotask invoice whose ``paidDate`` must change: ``record`` holds what to write
    (for a split invoice, its parts' figures together) and ``outbox_ids`` the rows it is recorded
    on (every part of a split invoice)."""

    record: PaymentRecord
    outbox_ids: tuple[int, ...]

    @property
    def split(self) -> bool:
        return len(self.outbox_ids) > 1


def combined(parts: Sequence[PaymentRecord | None]) -> PaymentRecord | None:
    """A split invoice's payment state from its parts' (None: a part Xero showed no payment
    on yet): fully paid on the latest part's day when every part is; the ``paidDate`` written is
    the one recorded on its parts."""
    have = [p for p in parts if p is not None]
    if not have:
        return None
    complete = all(p is not None and p.paid_on is not None for p in parts)
    wanted = max(p.paid_on for p in have if p.paid_on is not None) if complete else None
    written = [p.paid_date_set for p in have if p.paid_date_set is not None]
    wanted_key = refused_key(wanted)
    refused = wanted_key if any(p.refused_for == wanted_key for p in have) else None
    due = sum((p.amount_due or Decimal(0) for p in have), Decimal(0))
    return replace(
        have[0],
        paid_on=wanted,
        paid_date_set=max(written) if written else None,
        refused_for=refused,
        amount_due=due,
        problem=next((p.problem for p in have if p.problem), None),
    )


# -- the step -----------------------------------------------------------------------------------


class PaymentsBack:
    def __init__(
        self,
        *,
        store: Store,
        xero: XeroClient,
        autotask: AutotaskClient,
        report: CycleReport,
        now: Callable[[], datetime],
        stop: threading.Event,
        credit_note_interval: timedelta = CREDIT_NOTE_INTERVAL,
    ) -> None:
        self.credit_note_interval = credit_note_interval
        self.store = store
        self.xero = xero
        self.autotask = autotask
        self.report = report
        self.now = now
        self.stop = stop

    def run(self, tenants: Sequence[TenantInfo]) -> None:
        for tenant in tenants:
            if self.stop.is_set():
                return
            if tenant.tenant_id in self.report.paused:
                continue
            try:
                self.poll(tenant.tenant_id)
            except XeroOrgPaused as exc:
                self.report.pause(tenant.tenant_id, exc.until)
            except XeroError as exc:
                name = tenant.tenant_name or tenant.tenant_id
                self.report.error(f"reading payments from {name}: {exc}")
        if self.stop.is_set():
            return
        try:
            self.write_back()
        except AutotaskBudgetExhausted as exc:
            self.report.defer(str(exc))
        except AutotaskError as exc:
            self.report.error(f"writing payments to Autotask: {exc}")

    # -- 1 and 2: Xero ---------------------------------------------------------------------------

    def _cursor(self, stream: str, org: str) -> tuple[str | None, PaymentCursor | None]:
        stored = self.store.cursors.get(stream, org)
        cursor = PaymentCursor.load(stored)
        if cursor is None:
            first = self.store.payments.first_posted_at(org)
            if first is not None:
                cursor = PaymentCursor(first - FIRST_POLL_MARGIN)
        return stored, cursor

    def poll(self, org: str) -> None:
        payments = self.store.payments
        stored, cursor = self._cursor(PAYMENTS_STREAM, org)
        if cursor is None:
            return  # nothing of ours in this organisation yet: nothing to poll for
        fresh = cursor.fresh(self.xero.changed_payments(org, cursor.since))
        self.report.add("payments_seen", len(fresh))
        touched: dict[str, list[Mapping[str, Any]]] = {}
        for payment in fresh:
            invoice_id = paid_invoice_id(payment)
            if invoice_id is not None:
                touched.setdefault(invoice_id, []).append(payment)
        saves: list[tuple[str, str, str]] = []
        advanced = cursor.advanced(fresh)
        if advanced.dump() != stored:
            saves.append((PAYMENTS_STREAM, org, advanced.dump()))
        # Credit-note allocations are no payments: the notes changed are read now and then.
        _, notes = self._cursor(CREDIT_NOTES_STREAM, org)
        now = self.now()
        if notes is not None and (
            notes.polled_at is None or now - notes.polled_at >= self.credit_note_interval
        ):
            changed_notes = notes.fresh(self.xero.changed_credit_notes(org, notes.since))
            for note in changed_notes:
                for invoice_id in allocated_invoice_ids(note):
                    touched.setdefault(invoice_id, [])
            moved = replace(notes.advanced(changed_notes), polled_at=now)
            saves.append((CREDIT_NOTES_STREAM, org, moved.dump()))
        ours = payments.posted_invoices(org, touched)
        balances: list[tuple[PostedInvoice, InvoiceBalance]] = []
        if ours:
            invoices = self.xero.invoices_by_id(org, ours)
            for xero_id, posted in ours.items():
                invoice = invoices.get(xero_id)
                if invoice is None:
                    log.warning("payments: Xero did not return invoice %s of row %d",
                                xero_id, posted.outbox_id)  # fmt: skip
                    continue
                balance = balance_of(invoice, touched.get(xero_id, []))
                balances.append((posted, balance))
        changed = payments.record_balances(org, balances, cursors=saves)
        part = [b for _, b in balances if b.paid_on is None and b.amount_due > 0]
        self.report.add("part_paid", len([b for b in part if b.amount_paid + b.amount_credited]))
        if fresh or changed:
            log.info("payments from %s: %d changed in Xero, %d of our invoices, %d balances new",
                     org, len(fresh), len(balances), changed)  # fmt: skip

    # -- 3: Autotask ----------------------------------------------------------------------------

    def targets(self, rows: Sequence[PaymentRecord]) -> list[WriteTarget]:
        """The invoices to write: one per row, or one per split invoice (its parts together),
        left out when the parts together need nothing (no Autotask call)."""
        invoice = OutboxKind.INVOICE.value
        shared = self.store.outbox.shared({r.autotask_id for r in rows}, [OutboxKind.INVOICE])
        found = [
            WriteTarget(r, (r.outbox_id,))
            for r in rows
            if (invoice, str(r.autotask_id)) not in shared
        ]
        split_ids = sorted({r.autotask_id for r in rows if (invoice, str(r.autotask_id)) in shared})
        if not split_ids:
            return found
        parts: dict[int, list[int]] = {}
        for doc in self.store.outbox.for_autotask_ids(split_ids, kinds=[OutboxKind.INVOICE]):
            if doc.state not in (OutboxState.SKIPPED, OutboxState.VOIDED):
                parts.setdefault(int(doc.autotask_id), []).append(doc.id)
        records = self.store.payments.get_many(i for ids in parts.values() for i in ids)
        for ids in parts.values():
            together = combined([records.get(i) for i in ids])
            if together is None:
                continue
            mine = tuple(i for i in ids if i in records)
            if together.paid_on == together.paid_date_set:
                # Autotask shows what the parts together say: parts recorded behind (a crash
                # between two records) catch up, without a write.
                for i in mine:
                    if records[i].paid_date_set != together.paid_date_set:
                        self.store.payments.record_written(
                            i, together.paid_date_set, "paidDate of the split invoice recorded"
                        )
                continue
            if together.refused_for is not None:
                continue  # Autotask refused this value: not tried again until Xero changes
            found.append(WriteTarget(together, mine))
        return sorted(found, key=lambda t: t.record.outbox_id)

    def write_back(self) -> None:
        pending = self.store.payments.to_write()
        if not pending:
            return
        targets = self.targets(pending)
        if not targets:
            return
        current = self._read([t.record.autotask_id for t in targets])
        todo: list[WriteTarget] = []
        for target in targets:
            row = target.record
            shown = current.get(row.autotask_id)
            if shown is None:
                self._problem(target, self._unreadable(row), refused=False)
                continue
            shown_day = None if shown.paidDate is None else shown.paidDate.date()
            if shown_day == row.paid_on:
                self._written(target, already=True)
            elif row.paid_on is None and shown_day != row.paid_date_set:
                # Someone changed it since we set it: theirs is left alone.
                self._problem(
                    target,
                    f"a Xero payment was deleted and invoice {self._name(row)} is open again"
                    f" ({row.amount_due} due), but Autotask shows paidDate {shown_day}, not the"
                    f" {row.paid_date_set} the agent set: the agent leaves it alone; clear it in"
                    " Autotask if the invoice is unpaid",
                    refused=True,
                )
            else:
                todo.append(target)
        if not todo or self.stop.is_set():
            return
        with ThreadPoolExecutor(PARALLEL_PATCHES, thread_name_prefix="atx-paid") as pool:
            outcomes = list(pool.map(self._patch, [t.record for t in todo]))
        sent = [t for t, outcome in zip(todo, outcomes, strict=True) if outcome is None]
        for target, outcome in zip(todo, outcomes, strict=True):
            if outcome is not None:
                self._problem(target, outcome, refused=False)
        if not sent:
            return
        after = self._read([t.record.autotask_id for t in sent])
        for target in sent:
            row = target.record
            shown = after.get(row.autotask_id)
            if shown is None:
                self._problem(target, self._unreadable(row), refused=False)
                continue
            shown_day = None if shown.paidDate is None else shown.paidDate.date()
            if shown_day == row.paid_on:
                self._written(target, already=False)
            elif row.paid_on is None:
                self._problem(
                    target,
                    f"a Xero payment was deleted and invoice {self._name(row)} is open again"
                    f" ({row.amount_due} due), but Autotask would not clear its paidDate"
                    f" {shown_day}: clear Paid Date on the invoice in Autotask by hand (the API"
                    " user may lack the right to edit invoices)",
                    refused=True,
                )
            else:
                self._problem(
                    target,
                    f"invoice {self._name(row)} is paid in Xero on {row.paid_on} but Autotask did"
                    f" not take paidDate (it shows {shown_day}): check the API user may edit"
                    " invoices, or set Paid Date in Autotask by hand",
                    refused=True,
                )

    def _patch(self, row: PaymentRecord) -> str | None:
        """PATCH ``paidDate``; None when sent, else why not."""
        if self.stop.is_set():
            return "not sent: the agent is stopping"
        try:
            self.autotask.patch_invoice(
                row.autotask_id, paid_date=row.paid_on, resend_if_dropped=False
            )
        except AutotaskBudgetExhausted as exc:
            self.report.defer(str(exc))
            return f"not sent: {exc}"
        except AutotaskError as exc:
            # A dropped answer included: the next cycle reads Autotask before sending it again.
            return f"setting paidDate in Autotask failed: {exc}"
        return None

    def _read(self, ids: Sequence[int]) -> dict[int, Invoice]:
        found: dict[int, Invoice] = {}
        for start in range(0, len(ids), READ_BATCH):
            chunk = ids[start : start + READ_BATCH]
            for invoice in self.autotask.records_in(
                Invoice, "id", chunk, include_fields=["paidDate"]
            ):
                found[invoice.id] = invoice
        return found

    def _written(self, target: WriteTarget, *, already: bool) -> None:
        row = target.record
        how = "Autotask already shows" if already else "set in Autotask:"
        parts = len(target.outbox_ids)
        if row.paid_on is None:
            shown = "Autotask shows no paidDate" if already else "paidDate cleared in Autotask"
            detail = f"payment deleted in Xero ({row.amount_due} due): {shown}"
            if target.split:
                detail += f" (split invoice: a part of {parts} is open again)"
            self.report.add("paid_dates_cleared")
        else:
            detail = f"paid in Xero: {how} paidDate {row.paid_on.isoformat()}"
            if target.split:
                detail += f" (split invoice: all {parts} parts paid, the last on that day)"
            self.report.add("paid_dates_set")
        for outbox_id in target.outbox_ids:
            self.store.payments.record_written(outbox_id, row.paid_on, detail)
        log.info("payments: invoice %s: %s", self._name(row), detail)

    def _problem(self, target: WriteTarget, problem: str, *, refused: bool) -> None:
        row = target.record
        for outbox_id in target.outbox_ids:
            self.store.payments.record_problem(
                outbox_id, problem, refused=refused, wanted=row.paid_on if target.split else ""
            )
        self.report.add("payment_write_failed")
        log.warning("payments: invoice %s: %s", self._name(row), problem)

    def _unreadable(self, row: PaymentRecord) -> str:
        return (
            f"Autotask invoice {row.autotask_id} could not be read to set its paidDate; check the"
            " API user can still see it"
        )

    @staticmethod
    def _name(row: PaymentRecord) -> str:
        return str(row.autotask_id)
