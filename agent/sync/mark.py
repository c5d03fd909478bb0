"""Marking posted documents as sent in Autotask (autotask-api §9): ``webServiceDate``, plus
``invoiceNumber`` when Xero numbered the document.

One PATCH per invoice is the floor (invoices are updated one at a time), so they run in parallel
(3 at a time: Autotask's per-endpoint thread limit) without the client's per-invoice read-back;
instead every 500 are confirmed by one query that reads back only ``id``, ``webServiceDate`` and
``invoiceNumber``. A PATCH that did not stick (Autotask answers 200 and ignores fields the API
user may not edit, §13 #2) fails the row with what to do.

Rows posted before this cycle (a crash or a stop between posting and marking) are read first:
those Autotask already shows as marked become ``done`` without a second PATCH.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from agent.autotask import (
    UNSET,
    AutotaskBudgetExhausted,
    AutotaskClient,
    AutotaskError,
    AutotaskWriteNotApplied,
)
from agent.autotask.invoice_update import InvoiceUpdate
from agent.autotask.records import Invoice
from agent.store import OutboxRow, OutboxState, Store, StoreError
from agent.sync.backoff import RetryStrategy
from agent.sync.envelope import Envelope
from agent.sync.prepare import label
from agent.sync.report import CycleReport

log = logging.getLogger("atx.sync")
S = OutboxState
PARALLEL_PATCHES = 3
CONFIRM_FIELDS = ["webServiceDate", "invoiceNumber"]


class Marker:
    def __init__(
        self,
        *,
        store: Store,
        autotask: AutotaskClient,
        retry: RetryStrategy,
        report: CycleReport,
        now: Callable[[], datetime],
        stop: threading.Event,
    ) -> None:
        self.store = store
        self.autotask = autotask
        self.retry = retry
        self.report = report
        self.now = now
        self.stop = stop

    def run(self, rows: Sequence[OutboxRow], fresh: set[int]) -> None:
        """Mark ``rows`` (all ``posted``); ``fresh`` are the ids posted in this cycle."""
        if not rows:
            return
        earlier = [r for r in rows if r.id not in fresh]
        todo = [r for r in rows if r.id in fresh]
        if earlier:
            current = self._read([int(r.autotask_id) for r in earlier])
            for row in earlier:
                invoice = current.get(int(row.autotask_id))
                if invoice is not None and self._already_marked(row, invoice):
                    self._done(row, "Autotask already shows it as sent")
                else:
                    todo.append(row)
        if todo and not self.stop.is_set():
            self._patch_and_confirm(todo)

    @staticmethod
    def _number(row: OutboxRow) -> str | None:
        """The Xero number to write back, when Xero numbered the document."""
        env = Envelope(row.payload or {})
        return row.xero_number if env.xero_numbers_it and row.xero_number else None

    def _already_marked(self, row: OutboxRow, invoice: Invoice) -> bool:
        number = self._number(row)
        if invoice.webServiceDate is None:
            return False
        return number is None or (invoice.invoiceNumber or "") == number

    def _read(self, ids: Sequence[int]) -> dict[int, Invoice]:
        found = self.autotask.records_in(Invoice, "id", ids, include_fields=CONFIRM_FIELDS)
        return {invoice.id: invoice for invoice in found}

    def _patch_and_confirm(self, rows: list[OutboxRow]) -> None:
        stamp = self.now()
        sent: dict[int, tuple[OutboxRow, InvoiceUpdate]] = {}
        exhausted: list[str] = []

        def patch(row: OutboxRow) -> tuple[OutboxRow, InvoiceUpdate | Exception]:
            if self.stop.is_set() or exhausted:
                return row, _NotTried()
            number = self._number(row)
            try:
                update = self.autotask.patch_invoice(
                    int(row.autotask_id),
                    web_service_date=stamp,
                    invoice_number=number if number is not None else UNSET,
                )
            except AutotaskBudgetExhausted as exc:
                exhausted.append(str(exc))
                return row, _NotTried()
            except AutotaskError as exc:
                return row, exc
            return row, update

        with ThreadPoolExecutor(PARALLEL_PATCHES, thread_name_prefix="atx-mark") as pool:
            outcomes = list(pool.map(patch, rows))
        for row, outcome in outcomes:
            if isinstance(outcome, InvoiceUpdate):
                sent[int(row.autotask_id)] = (row, outcome)
            elif isinstance(outcome, _NotTried):
                continue  # stays posted: marked by the next cycle
            else:
                self._failed(row, f"marking it as sent in Autotask failed: {outcome}")
        if exhausted:
            self.report.defer(exhausted[0])
        if not sent:
            return
        try:
            current = self._read(sorted(sent))
        except AutotaskError as exc:
            # The PATCHes went out; the next cycle reads them back before patching again.
            self.report.error(f"confirming the Autotask write-back failed: {exc}")
            return
        for invoice_id, (row, update) in sent.items():
            invoice = current.get(invoice_id)
            if invoice is None:
                self._failed(
                    row,
                    f"Autotask invoice {invoice_id} could not be read back after marking it; "
                    "check the API user can still see it",
                )
                continue
            unapplied = update.unapplied(invoice)
            if unapplied:
                error = AutotaskWriteNotApplied("Invoices", invoice_id, unapplied)
                self._failed(row, str(error))
            else:
                self._done(row, f"marked as sent in Autotask ({', '.join(update.fields())})")

    def _done(self, row: OutboxRow, detail: str) -> None:
        try:
            self.store.outbox.transition(row.id, S.DONE, detail=detail, expected_from=S.POSTED)
        except StoreError as exc:
            log.info("%s: %s", label(row), exc)
            return
        self.report.add("marked")
        log.info("%s %s", label(row), detail)

    def _failed(self, row: OutboxRow, error: str) -> None:
        retry_at = self.retry.next_attempt_at(max(row.attempts, 1), self.now())
        try:
            self.store.outbox.record_failure(row.id, error=error, retry_at=retry_at)
        except StoreError as exc:
            log.info("%s: %s", label(row), exc)
            return
        self.report.add("mark_failed")
        log.warning(
            "%s is in Xero but %s; next try at %s", label(row), error,
            retry_at.isoformat(timespec="seconds"),
        )  # fmt: skip


class _NotTried(Exception):
    """A PATCH not sent (stopping, or the Autotask budget is spent)."""
