"""Invoices voided in Autotask after they were posted: their Xero documents deleted or voided
(issue 5 §5), exactly once, through the outbox.

Once posted, an invoice carries our ``webServiceDate`` and the poll no longer sees it, so voids
are read on their own, each full cycle, before anything else is posted or marked:

1. Detection (Autotask): ONE query, ``isVoided = true`` and ``voidedDate >= cursor`` (reference
   autotask-api §11, §12.4), only ``id``, ``voidedDate`` and ``invoiceNumber`` returned, one page
   per 500 invoices voided since the cursor (a second page only on a day with more than 500
   voids). Nothing voided: that one query is the whole Autotask cost. The invoices found are
   matched to our rows locally (``posted`` or ``done`` invoice and credit-note rows with a Xero
   id). The cursor (stream ``voids.autotask``) is the start of the last detection that
   committed its rows, less a day of overlap; the first one looks ``days_back`` days back.
2. Each match gets a work row of kind ``void`` (one per document row: same Autotask id and
   organisation), created ``pending`` with an event on the document row, in one transaction,
   before the cursor moves. From then on the outbox carries it: claims with a lease, ``failed``
   with backoff, ``dead``, ``blocked`` with reasons, the user's retry and skip.
3. Per organisation, claimed void rows are handled in chunks: the documents are read from Xero
   first (``GET /Invoices?IDs=``, 50 a call; credit notes by ``where``, 25 a call), whatever
   happened before (a crash right after the write, a user who voided it by hand), then
   (``agent.mapping.voids.decide_void``): DRAFT/SUBMITTED -> ``POST`` with ``Status: DELETED``;
   AUTHORISED with nothing paid or credited -> ``Status: VOIDED``; already DELETED or VOIDED ->
   recorded as done without a write; payments or allocations -> ``blocked`` with the reason and
   the fix, nothing sent. The writes go in batches of 50 (``summarizeErrors=false``), one
   Idempotency-Key per batch from the rows and their attempts.
4. Done: the void row ``posting -> posted -> done`` and the document row ``-> voided``, with
   their events, in one transaction. Blocked: the void row ``blocked`` (retry it once the
   payment is removed in Xero; skip it once voided by hand) and the document row keeps its
   state with the reason as its last error.

A crash anywhere leaves either no void row (the cursor did not move: detected again), a
``pending`` row, or a ``posting`` row whose lease is taken back with ``needs_lookup``: in each
case the document is read from Xero again before anything is sent, so it is deleted or voided
once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from agent.autotask import AutotaskBudgetExhausted, AutotaskError
from agent.autotask.records import Invoice
from agent.mapping.voids import VoidDecision, decide_void
from agent.store import LeaseLost, OutboxKind, OutboxRow, OutboxState, StateConflict, TenantInfo
from agent.store.outbox_model import is_allowed
from agent.sync.report import CycleReport
from agent.xero import MAX_BATCH, XeroAuthError, XeroError, XeroOrgPaused
from agent.xero.documents import documents_by_id

if TYPE_CHECKING:
    from agent.sync.engine import SyncEngine

log = logging.getLogger("atx.sync")
S = OutboxState
VOIDS_STREAM = "voids.autotask"
OVERLAP = timedelta(days=1)  # voids recorded late, or clocks apart, are still seen
CLAIM_CHUNK = 500
DOCUMENT_KINDS = (OutboxKind.INVOICE, OutboxKind.CREDIT_NOTE)
ID_FIELDS = {"invoice": "InvoiceID", "credit_note": "CreditNoteID"}
DETECT_FIELDS = ("isVoided", "voidedDate", "invoiceNumber")


def void_filters(since: datetime) -> list[dict[str, Any]]:
    stamp = since.replace(tzinfo=None).isoformat(timespec="seconds")
    return [
        {"op": "eq", "field": "isVoided", "value": True},
        {"op": "gte", "field": "voidedDate", "value": stamp},
    ]


@dataclass
class VoidJob:
    row: OutboxRow  # the void row, claimed
    kind: str  # "invoice" or "credit_note"
    xero_id: str
    number: str | None
    document_row: int
    voided_on: str
    decision: VoidDecision | None = None
    done: bool = False

    @property
    def label(self) -> str:
        noun = "credit note" if self.kind == "credit_note" else "invoice"
        return f"Xero {noun} {self.number or self.xero_id}"


class Halt(Exception):
    """The organisation cannot take calls now: the rows still claimed were given back."""


class VoidSync:
    def __init__(self, engine: SyncEngine, report: CycleReport, *, days_back: int) -> None:
        self.engine = engine
        self.store = engine.store
        self.outbox = engine.store.outbox
        self.report = report
        self.days_back = days_back

    def run(self, tenants: Sequence[TenantInfo]) -> None:
        if self.engine.stop.is_set():
            return
        self.detect()
        for tenant in tenants:
            if self.engine.stop.is_set():
                return
            self.process(tenant.tenant_id, tenant.tenant_name or tenant.tenant_id)

    # -- 1, 2: Autotask ---------------------------------------------------------------------

    def detect(self) -> int:
        """Void rows for our posted documents whose invoice was voided; returns how many."""
        started = self.engine.now()
        since = self._since(started)
        try:
            voided = list(
                self.engine.autotask.records(
                    Invoice, void_filters(since), include_fields=DETECT_FIELDS
                )
            )
        except AutotaskBudgetExhausted as exc:
            self.report.defer(f"voids: {exc}")
            return 0
        except AutotaskError as exc:
            self.report.error(f"reading voided invoices from Autotask: {exc}")
            return 0
        created = 0
        if voided:
            invoices = {str(i.id): i for i in voided if i.isVoided}
            rows = self.outbox.for_autotask_ids(invoices, kinds=(*DOCUMENT_KINDS, OutboxKind.VOID))
            have = {(r.autotask_id, r.org) for r in rows if r.kind is OutboxKind.VOID}
            with self.outbox.batch():
                for doc in rows:
                    if (
                        doc.kind in DOCUMENT_KINDS
                        and doc.state in (S.POSTED, S.DONE)
                        and doc.xero_id
                        and (doc.autotask_id, doc.org) not in have
                    ):
                        self._new_void_row(doc, invoices[doc.autotask_id])
                        created += 1
        self.store.cursors.set(VOIDS_STREAM, (started - OVERLAP).isoformat())
        return created

    def _since(self, now: datetime) -> datetime:
        stored = self.store.cursors.get(VOIDS_STREAM)
        if stored:
            try:
                return datetime.fromisoformat(stored)
            except ValueError:
                log.warning("voids: unreadable cursor %r; looking %d days back", stored,
                            self.days_back)  # fmt: skip
        start = now - timedelta(days=self.days_back)
        return start.replace(hour=0, minute=0, second=0, microsecond=0)

    def _new_void_row(self, doc: OutboxRow, invoice: Invoice) -> None:
        snapshot = doc.snapshot
        on = invoice.voidedDate.isoformat() if invoice.voidedDate is not None else ""
        header = dict(snapshot.get("invoice") or {})
        header.update(isVoided=True, voidedDate=on or None)
        void = {
            "row": doc.id,
            "kind": doc.kind.value,
            "xero_id": doc.xero_id,
            "xero_number": doc.xero_number,
            "voided_date": on,
        }
        row = self.outbox.upsert_discovered(
            OutboxKind.VOID,
            doc.autotask_id,
            doc.org,
            {
                "void": void,
                "invoice": header,
                "company": snapshot.get("company"),
                "currency": snapshot.get("currency"),
            },
            max_attempts=self.engine.retry.max_attempts,
        )
        noun = "credit note" if doc.kind is OutboxKind.CREDIT_NOTE else "invoice"
        what = f"Xero {noun} {doc.xero_number or doc.xero_id}"
        day = on[:10] or "an unknown day"
        if row.state is S.DISCOVERED:
            self.outbox.transition(
                row.id,
                S.PENDING,
                detail=f"the Autotask invoice was voided on {day}: {what} is to be deleted or"
                f" voided in Xero (row {doc.id})",
            )
        self.outbox.update(
            doc.id,
            last_error=doc.last_error,
            detail=f"voided in Autotask on {day}: row {row.id} deletes or voids {what}",
        )
        log.info("Autotask invoice %s was voided on %s: %s to be voided (row %s)",
                 doc.autotask_id, day, what, row.id)  # fmt: skip

    # -- 3, 4: Xero -------------------------------------------------------------------------

    def process(self, org: str, org_name: str) -> None:
        engine = self.engine
        while not engine.stop.is_set():
            paused = engine.xero.status(org).paused_until
            if paused is not None:
                self.report.pause(org, paused)
                return
            rows = self.outbox.claim(
                engine.owner, engine.lease_seconds, CLAIM_CHUNK, kinds=[OutboxKind.VOID], org=org
            )
            if not rows:
                return
            try:
                self._chunk(org, org_name, [self._job(r) for r in rows])
            except Halt:
                return

    @staticmethod
    def _job(row: OutboxRow) -> VoidJob:
        spec = row.snapshot.get("void") or {}
        return VoidJob(
            row=row,
            kind=str(spec.get("kind") or "invoice"),
            xero_id=str(spec.get("xero_id") or ""),
            number=spec.get("xero_number"),
            document_row=int(spec.get("row") or 0),
            voided_on=str(spec.get("voided_date") or "")[:10],
        )

    def _chunk(self, org: str, org_name: str, jobs: list[VoidJob]) -> None:
        for kind in ("invoice", "credit_note"):
            mine = [j for j in jobs if j.kind == kind]
            if not mine:
                continue
            try:
                found = documents_by_id(self.engine.xero.gateway, org, kind,
                                        [j.xero_id for j in mine])  # fmt: skip
            except (XeroOrgPaused, XeroAuthError) as exc:
                self._halt(org, jobs, exc)
            except XeroError as exc:
                for job in mine:
                    self._failed(job, f"reading it from Xero: {exc}", needs_lookup=True)
                continue
            to_send: list[VoidJob] = []
            with self.outbox.batch():
                for job in mine:
                    job.decision = decide_void(kind, found.get(job.xero_id), job.label)
                    if job.decision.action == "done":
                        how = f"found {job.decision.status} in Xero already"
                        self._done(job, job.decision.status, how, org_name)
                    elif job.decision.action == "blocked":
                        self._blocked(job, job.decision.reason or "void: not possible in Xero")
                    else:
                        to_send.append(job)
            for start in range(0, len(to_send), MAX_BATCH):
                if self.engine.stop.is_set():
                    self._give_back(jobs, "the agent is stopping")
                    raise Halt
                self._send(org, org_name, kind, to_send[start : start + MAX_BATCH], jobs)

    def _send(
        self, org: str, org_name: str, kind: str, batch: list[VoidJob], jobs: list[VoidJob]
    ) -> None:
        live: list[VoidJob] = []
        for job in batch:
            try:
                self.outbox.extend_lease(job.row.id, self.engine.owner, self.engine.lease_seconds)
            except LeaseLost as exc:
                log.warning("row %s skipped: %s", job.row.id, exc)
                job.done = True
                continue
            live.append(job)
        if not live:
            return
        documents = [
            {ID_FIELDS[kind]: j.xero_id, "Status": (j.decision.target if j.decision else None)}
            for j in live
        ]
        keys = [f"void:{j.row.id}:{j.xero_id}:{j.row.attempts}" for j in live]
        try:
            results = self.engine.xero.post_documents(org, kind, documents, keys, upsert=True)
        except (XeroOrgPaused, XeroAuthError) as exc:
            self._halt(org, jobs, exc)
        except XeroError as exc:
            # No answer per document: each is read again before anything is sent again.
            self.report.add("xero_writes")
            for job in live:
                self._failed(job, str(exc), needs_lookup=True)
            return
        self.report.add("xero_writes")
        with self.outbox.batch():
            for job, result in zip(live, results, strict=True):
                target = job.decision.target if job.decision else None
                verb = "delete" if target == "DELETED" else "void"
                if result.ok:
                    status = result.document_status or target or ""
                    how = "deleted" if status == "DELETED" else "voided"
                    was = job.decision.status if job.decision else "?"
                    self._done(job, status, f"{how} in Xero (it was {was})", org_name)
                elif result.request_rejected:
                    self._failed(job, "Xero refused the request: " + "; ".join(result.errors),
                                 needs_lookup=False)  # fmt: skip
                else:
                    self._blocked(job, (
                        f"void: the Autotask invoice was voided, but Xero refused to {verb}"
                        f" {job.label}: {'; '.join(result.errors)}; if it has a payment or credit"
                        " applied, remove it in Xero, then retry this row; or void it in Xero by"
                        " hand and skip this row"
                    ))  # fmt: skip

    # -- outcomes (each with its events, in one transaction) ------------------------------------

    def _done(self, job: VoidJob, status: str, how: str, org_name: str) -> None:
        outbox = self.outbox
        owner = self.engine.owner
        moved = False
        try:
            with outbox.batch():
                outbox.transition(
                    job.row.id, S.POSTED, owner=owner, detail=f"{job.label}: {how}",
                    xero_number=job.number, needs_lookup=False,
                )  # fmt: skip
                outbox.transition(
                    job.row.id, S.DONE, detail=f"done: {job.label} is {status} in {org_name}"
                )
                doc = outbox.get(job.document_row)
                if doc is not None and is_allowed(doc.state, S.VOIDED):
                    outbox.transition(
                        doc.id, S.VOIDED, last_error=None,
                        detail=f"voided in Autotask on {job.voided_on or 'an unknown day'}:"
                        f" {job.label} {how} (row {job.row.id})",
                    )  # fmt: skip
                moved = True
        except (LeaseLost, StateConflict) as exc:
            log.warning("void row %s: result not recorded: %s", job.row.id, exc)
        job.done = True
        if moved:
            self.report.add("deleted_in_xero" if status == "DELETED" else "voided_in_xero")
            log.info("Autotask invoice %s voided: %s %s", job.row.autotask_id, job.label, how)

    def _blocked(self, job: VoidJob, reason: str) -> None:
        outbox = self.outbox
        try:
            with outbox.batch():
                outbox.transition(
                    job.row.id, S.BLOCKED, owner=self.engine.owner, block_reasons=[reason],
                    needs_lookup=False, detail="blocked: " + reason,
                )  # fmt: skip
                doc = outbox.get(job.document_row)
                if doc is not None and doc.last_error != reason:
                    detail = f"not voided in Xero (row {job.row.id}): {reason}"
                    outbox.update(doc.id, last_error=reason, detail=detail)
        except (LeaseLost, StateConflict) as exc:
            log.warning("void row %s: result not recorded: %s", job.row.id, exc)
        else:
            self.report.add("void_blocked")
            log.warning("Autotask invoice %s voided, %s not: %s", job.row.autotask_id,
                        job.label, reason)  # fmt: skip
        job.done = True

    def _failed(self, job: VoidJob, error: str, *, needs_lookup: bool) -> None:
        engine = self.engine
        retry_at = engine.retry.next_attempt_at(job.row.attempts, engine.now())
        try:
            new = self.outbox.record_failure(
                job.row.id, error=error, retry_at=retry_at, owner=engine.owner,
                needs_lookup=needs_lookup,
            )  # fmt: skip
        except (LeaseLost, StateConflict) as exc:
            log.warning("void row %s: result not recorded: %s", job.row.id, exc)
        else:
            self.report.add("dead" if new.state is S.DEAD else "failed")
            log.warning("void of %s failed (attempt %d): %s", job.label, new.attempts, error)
        job.done = True

    def _give_back(self, jobs: list[VoidJob], why: str) -> None:
        for job in jobs:
            if job.done:
                continue
            job.done = True
            try:
                self.outbox.release(job.row.id, self.engine.owner, detail=why)
            except (LeaseLost, StateConflict) as exc:
                log.warning("void row %s: not given back: %s", job.row.id, exc)
            else:
                self.report.add("released")

    def _halt(self, org: str, jobs: list[VoidJob], exc: XeroError) -> NoReturn:
        if isinstance(exc, XeroOrgPaused):
            self.report.pause(org, exc.until)
            until = f"{exc.until:%Y-%m-%d %H:%M}"
            self._give_back(jobs, f"Xero paused the organisation until {until} UTC")
        else:
            self.report.error(str(exc))
            self._give_back(jobs, f"Xero connection problem: {exc}")
        raise Halt from exc
