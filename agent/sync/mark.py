"""Marking posted documents as sent in Autotask (autotask-api §9): ``webServiceDate``, plus
``invoiceNumber`` when Xero numbered the document.

One PATCH per invoice is the floor of a cycle (invoices are updated one at a time), so they run
in parallel, 3 at a time (Autotask's per-endpoint thread limit), without the client's
per-invoice read-back; instead every 500 are confirmed by one query that reads back only ``id``,
``webServiceDate`` and ``invoiceNumber``. A PATCH that did not stick (Autotask answers 200 and
ignores fields the API user may not edit, §13 #2) fails the row with what to do.
A PATCH whose answer was lost (a dropped connection) is not sent again: the read-back tells
whether it was applied, so each invoice gets one PATCH.

While the cycle posts, ``send`` PATCHes each row as soon as it is recorded ``posted`` (inside
``sending()``), so the PATCHes run from the first Xero batch on, 3 in flight all the time, while
the engine reads, maps and posts the next invoices. ``run`` at the end of the cycle waits for
them, confirms them, and marks the rest.

Rows posted before this cycle (a crash or a stop between posting and marking) are read first:
those Autotask already shows as marked become ``done`` without a second PATCH. A crash after a
PATCH and before its confirmation leaves the row ``posted``, so it is one of those.

A split invoice (``agent.sync.split``) is marked once, when the last of its parts is posted: one
PATCH for all of them, and every part row becomes ``done`` (or ``failed``) with it. Until then its
posted parts wait, ``posted``, at no Autotask cost (a crash between parts leaves them so; the next
cycle posts the missing part, then marks). When Xero numbers the documents, no number is written
back to Autotask for a split invoice (each part has its own): its history says so.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from agent.autotask import (
    UNSET,
    AutotaskBudgetExhausted,
    AutotaskClient,
    AutotaskError,
    AutotaskNetworkError,
    AutotaskWriteNotApplied,
)
from agent.autotask.invoice_update import InvoiceUpdate
from agent.autotask.records import Invoice
from agent.store import OutboxRow, OutboxState, Store, StoreError
from agent.sync import split
from agent.sync.backoff import RetryStrategy
from agent.sync.envelope import Envelope
from agent.sync.prepare import label
from agent.sync.report import CycleReport

log = logging.getLogger("atx.sync")
S = OutboxState
PARALLEL_PATCHES = 3
CONFIRM_BATCH = 500  # ids per read-back query: the most values an `in` filter may hold
CONFIRM_FIELDS = ["webServiceDate", "invoiceNumber"]


@dataclass(frozen=True)
class Marking:
    """What marking needs of a posted row (not its snapshot or payload, which can be large)."""

    id: int
    autotask_id: int
    attempts: int
    number: str | None  # the Xero number to write back, when Xero numbered the document
    label: str
    parts: tuple[int, ...] = ()  # a split invoice: the rows of its parts marked by this PATCH
    note: str = ""  # added to the history when it is marked

    @property
    def rows(self) -> tuple[int, ...]:
        return self.parts or (self.id,)

    @classmethod
    def of(cls, row: OutboxRow) -> Marking:
        env = Envelope(row.payload or {})
        number = row.xero_number if env.xero_numbers_it and row.xero_number else None
        return cls(row.id, int(row.autotask_id), row.attempts, number, label(row))

    @classmethod
    def of_parts(cls, rows: Sequence[OutboxRow]) -> Marking:
        """One PATCH for the posted parts of a split invoice (never an invoice number)."""
        rows = sorted(rows, key=lambda r: r.id)
        first = rows[0]
        ids = tuple(r.id for r in rows)
        note = ""
        if any(Envelope(r.payload or {}).xero_numbers_it for r in rows):
            numbers = ", ".join(r.xero_number or "?" for r in rows)
            note = (
                f"; invoiceNumber not written: the invoice is split into {len(rows)} Xero"
                f" documents, each numbered by its organisation ({numbers})"
            )
        kind = "credit note" if first.kind.value == "credit_note" else "invoice"
        text = (
            f"{kind} for Autotask invoice {first.autotask_id} (split: rows"
            f" {', '.join(map(str, ids))})"
        )
        attempts = max(r.attempts for r in rows)
        return cls(first.id, int(first.autotask_id), attempts, None, text, ids, note)


Outcome = InvoiceUpdate | Exception


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
        self._pool: ThreadPoolExecutor | None = None
        self._confirmer: ThreadPoolExecutor | None = None
        self._lock = threading.Condition()
        self._unanswered = 0  # background PATCHes whose answer is not taken in yet
        self._answers = 0
        self._sent_ids: set[int] = set()
        self._answered: list[tuple[Marking, Outcome]] = []  # PATCHed, not confirmed yet
        self._confirms: list[Future[None]] = []
        self._crashed: list[BaseException] = []
        self._exhausted: list[str] = []

    # -- in the background, while the cycle posts ----------------------------------------------

    @contextmanager
    def sending(self) -> Iterator[None]:
        """Accept ``send`` for the duration. Leaving stops the PATCHes not started yet (their
        rows stay ``posted``: marked by the next cycle) and waits for those in flight."""
        self._pool = ThreadPoolExecutor(PARALLEL_PATCHES, thread_name_prefix="atx-mark")
        self._confirmer = ThreadPoolExecutor(1, thread_name_prefix="atx-confirm")
        try:
            yield
        finally:
            pool, self._pool = self._pool, None
            pool.shutdown(wait=True, cancel_futures=True)
            confirmer, self._confirmer = self._confirmer, None
            confirmer.shutdown(wait=True, cancel_futures=True)

    def send(self, row: OutboxRow) -> None:
        """PATCH this row (just recorded ``posted``, committed) now, in the background. Each
        500 answered are confirmed in the background too; ``run`` confirms the rest. Outside
        ``sending()`` (or when stopping) the row waits for ``run``."""
        pool = self._pool
        if pool is None or self.stop.is_set() or self._exhausted:
            return
        if split.is_part(row):
            item, waiting = self._parts(row)
            if item is None:
                self._waiting(row, waiting)
                return
        else:
            item = Marking.of(row)
        with self._lock:
            if any(i in self._sent_ids for i in item.rows):
                return
            self._sent_ids.update(item.rows)
            self._unanswered += 1
        future = pool.submit(self._patch, item)
        future.add_done_callback(lambda done: self._answer(item, done))

    def answered(self) -> int:
        """Background PATCHes answered so far (failed ones included)."""
        with self._lock:
            return self._answers

    def _answer(self, item: Marking, future: Future[Outcome]) -> None:
        """A background PATCH ended (on its worker thread, or cancelled when leaving
        ``sending()``)."""
        with self._lock:
            self._unanswered -= 1
            self._answers += 1
            self._lock.notify_all()
            if future.cancelled():
                return
            crash = future.exception()
            if crash is not None:  # not an Autotask error (those are outcomes): run() raises it
                self._crashed.append(crash)
                return
            self._answered.append((item, future.result()))
            confirmer = self._confirmer
            busy = any(not c.done() for c in self._confirms)
            if confirmer is None or busy or len(self._answered) < CONFIRM_BATCH:
                return
            batch = self._answered[:CONFIRM_BATCH]
            del self._answered[:CONFIRM_BATCH]
            self._confirms.append(confirmer.submit(self._settle_and_confirm, batch))

    def _settle_and_confirm(self, answered: list[tuple[Marking, Outcome]]) -> None:
        if not self.stop.is_set():
            self._confirm(self._settle(answered))

    # -- at the end of the cycle ---------------------------------------------------------------

    def run(self, rows: Sequence[OutboxRow], fresh: set[int]) -> None:
        """Mark ``rows`` (all ``posted``); ``fresh`` are the ids posted in this cycle. Those
        already sent (``send``) are waited for and confirmed, the others PATCHed now."""
        patched = self._collect()
        items: list[tuple[Marking, bool]] = []
        groups: set[tuple[str, str]] = set()
        for row in rows:
            if row.id in self._sent_ids:
                continue
            if not split.is_part(row):
                items.append((Marking.of(row), row.id in fresh))
                continue
            key = (row.kind.value, row.autotask_id)
            if key in groups:
                continue
            groups.add(key)
            item, _ = self._parts(row)
            if item is not None and not any(i in self._sent_ids for i in item.rows):
                items.append((item, any(i in fresh for i in item.rows)))
        earlier = [item for item, new in items if not new]
        todo = [item for item, new in items if new]
        if earlier:
            current = self._read([item.autotask_id for item in earlier])
            for item in earlier:
                invoice = current.get(item.autotask_id)
                if invoice is not None and self._already_marked(item, invoice):
                    self._done(item, "Autotask already shows it as sent")
                else:
                    todo.append(item)
        if todo and not self.stop.is_set() and not self._exhausted:
            with ThreadPoolExecutor(PARALLEL_PATCHES, thread_name_prefix="atx-mark") as pool:
                outcomes = list(pool.map(self._patch, todo))
            patched += self._settle(list(zip(todo, outcomes, strict=True)))
        if self._exhausted:
            self.report.defer(self._exhausted[0])
        if patched and not self.stop.is_set():
            self._confirm(patched)

    def _collect(self) -> list[tuple[Marking, InvoiceUpdate]]:
        """Waits for the PATCHes sent in the background and their confirmations; returns the
        PATCHes answered but not confirmed yet (their failures recorded)."""
        with self._lock:
            self._lock.wait_for(lambda: self._unanswered == 0)
            confirms = list(self._confirms)
        for confirm in confirms:
            confirm.result()  # an error recording a confirmation ends the cycle, as it would here
        if self._crashed:
            raise self._crashed[0]
        with self._lock:
            answered = list(self._answered)
            self._answered.clear()
        return self._settle(answered)

    def _settle(
        self, outcomes: list[tuple[Marking, Outcome]]
    ) -> list[tuple[Marking, InvoiceUpdate]]:
        """PATCHes that failed fail their rows; the others are returned, to be confirmed."""
        patched: list[tuple[Marking, InvoiceUpdate]] = []
        for item, outcome in outcomes:
            if isinstance(outcome, InvoiceUpdate):
                patched.append((item, outcome))
            elif not isinstance(outcome, _NotTried):  # not tried: stays posted, for next cycle
                self._failed(item, f"marking it as sent in Autotask failed: {outcome}")
        return patched

    def _patch(self, item: Marking) -> Outcome:
        if self.stop.is_set() or self._exhausted:
            return _NotTried()
        stamp, number = self.now(), item.number if item.number is not None else UNSET
        try:
            return self.autotask.patch_invoice(
                item.autotask_id,
                web_service_date=stamp,
                invoice_number=number,
                resend_if_dropped=False,
            )
        except AutotaskBudgetExhausted as exc:
            self._exhausted.append(str(exc))
            return _NotTried()
        except AutotaskNetworkError as exc:
            # The answer was lost, perhaps not the write: read back with the others rather than
            # sent again (one PATCH per invoice).
            return _AnswerLost(item.autotask_id, number, stamp, error=str(exc))
        except AutotaskError as exc:
            return exc

    def _confirm(self, patched: list[tuple[Marking, InvoiceUpdate]]) -> None:
        for start in range(0, len(patched), CONFIRM_BATCH):
            chunk = patched[start : start + CONFIRM_BATCH]
            try:
                current = self._read([item.autotask_id for item, _ in chunk])
            except AutotaskError as exc:
                # The PATCHes went out; the next cycle reads them back before patching again.
                self.report.error(f"confirming the Autotask write-back failed: {exc}")
                return
            for item, update in chunk:
                self._confirm_one(item, update, current.get(item.autotask_id))

    def _confirm_one(self, item: Marking, update: InvoiceUpdate, invoice: Invoice | None) -> None:
        if invoice is None:
            self._failed(
                item,
                f"Autotask invoice {item.autotask_id} could not be read back after marking it; "
                "check the API user can still see it",
            )
            return
        unapplied = update.unapplied(invoice)
        if unapplied and isinstance(update, _AnswerLost):  # the PATCH did not get through
            self._failed(item, f"marking it as sent in Autotask failed: {update.error}")
        elif unapplied:
            self._failed(
                item, str(AutotaskWriteNotApplied("Invoices", item.autotask_id, unapplied))
            )
        else:
            self._done(item, f"marked as sent in Autotask ({', '.join(update.fields())})")

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _already_marked(item: Marking, invoice: Invoice) -> bool:
        number = item.number
        if invoice.webServiceDate is None:
            return False
        return number is None or (invoice.invoiceNumber or "") == number

    def _parts(self, row: OutboxRow) -> tuple[Marking | None, list[OutboxRow]]:
        """The PATCH of a split invoice once every part is posted; else None and the parts
        still on their way (skipped and voided rows are not waited for)."""
        rows = self.store.outbox.for_autotask_ids([row.autotask_id], kinds=[row.kind])
        live = [r for r in rows if r.state not in (S.SKIPPED, S.VOIDED)]
        waiting = [r for r in live if r.state not in (S.POSTED, S.DONE)]
        posted = [r for r in live if r.state is S.POSTED]
        if waiting or not posted:
            return None, waiting
        return Marking.of_parts(posted), []

    def _waiting(self, row: OutboxRow, waiting: Sequence[OutboxRow]) -> None:
        """A part posted before the others: its history says what it waits for."""
        info = (row.payload or {}).get(split.SPLIT_KEY) or {}
        names = {o.get("tenant_id"): o.get("name") for o in info.get("organisations") or []}
        others = "; ".join(
            f"row {r.id} in {names.get(r.org) or r.org}, {r.state.value}" for r in waiting
        )
        detail = (
            f"part {info.get('part', '?')} of {info.get('parts', '?')} is in Xero; Autotask"
            f" invoice {row.autotask_id} is marked as sent once every part is (waiting for"
            f" {others or 'the other parts'})"
        )
        try:
            self.store.outbox.update(row.id, last_error=row.last_error, detail=detail)
        except StoreError as exc:
            log.info("%s: %s", label(row), exc)

    def _read(self, ids: Sequence[int]) -> dict[int, Invoice]:
        found = self.autotask.records_in(Invoice, "id", ids, include_fields=CONFIRM_FIELDS)
        return {invoice.id: invoice for invoice in found}

    def _done(self, item: Marking, detail: str) -> None:
        if item.parts:
            detail += f" once all {len(item.parts)} parts were in Xero{item.note}"
        for row_id in item.rows:
            try:
                self.store.outbox.transition(row_id, S.DONE, detail=detail, expected_from=S.POSTED)
            except StoreError as exc:
                log.info("%s: %s", item.label, exc)
                continue
            self.report.add("marked")
        log.info("%s %s", item.label, detail)

    def _failed(self, item: Marking, error: str) -> None:
        retry_at = self.retry.next_attempt_at(max(item.attempts, 1), self.now())
        recorded = False
        for row_id in item.rows:
            try:
                self.store.outbox.record_failure(row_id, error=error, retry_at=retry_at)
            except StoreError as exc:
                log.info("%s: %s", item.label, exc)
                continue
            recorded = True
        if not recorded:
            return
        self.report.add("mark_failed")
        log.warning(
            "%s is in Xero but %s; next try at %s", item.label, error,
            retry_at.isoformat(timespec="seconds"),
        )  # fmt: skip


class _NotTried(Exception):
    """A PATCH not sent (stopping, or the Autotask budget is spent)."""


@dataclass(frozen=True)
class _AnswerLost(InvoiceUpdate):
    """A PATCH whose answer never came (the connection dropped): confirmed by the read-back."""

    error: str = ""
