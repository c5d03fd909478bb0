"""Posting one organisation's pending rows to Xero (issue 3 §4, DESIGN.md "exactly once").

Per chunk of claimed rows (one lease each):
1. rows already in Xero (an earlier Autotask write-back failed) go straight to ``posted``;
2. rows whose last attempt has an unknown outcome are looked up first: by number, or by the
   Reference marker when Xero numbers them (``envelope``); a document found is adopted;
3. contacts the documents need are created (``contacts``);
4. documents go in batches of <= 50, one idempotency key per batch built from each row, its
   payload hash and its attempt (Xero caches error answers under a key, so a re-post after a
   failed lookup must not reuse one); a resync (the user's explicit request) sends the
   document's own id and updates it, draft or approved, unless Xero would refuse the change
   (read first: a payment or credit note allocated, or voided/deleted): then the document is
   kept as it is and the row goes back to ``done`` with the reason (``not_updatable``);
5. each result is recorded with its event (``jobs.Outcomes``), a batch's results in one
   transaction; rows recorded ``posted`` then go to ``on_posted`` (the engine starts marking
   them in Autotask at once).

Failures: Xero refusing a document -> ``blocked`` with Xero's words; a failed or unanswered
request -> ``failed`` with backoff and ``needs_lookup`` (any write that may have reached Xero is
looked up before it is sent again); a paused organisation or a connection that needs a person ->
the rows go back to ``pending`` untried, with no attempt counted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import NoReturn

from agent.store import LeaseLost, OutboxKind, OutboxRow, OutboxState, StateConflict, Store
from agent.sync.backoff import RetryStrategy
from agent.sync.contacts import ContactMaker
from agent.sync.envelope import ID_FIELDS, NUMBER_FIELDS, Envelope, carries_marker
from agent.sync.jobs import Halt, Job, Outcomes
from agent.sync.orgs import OrgContext
from agent.sync.prepare import Preparer
from agent.sync.report import CycleReport
from agent.xero import (
    MAX_BATCH,
    DocumentResult,
    XeroAuthError,
    XeroClient,
    XeroError,
    XeroOrgPaused,
    document_key,
    payload_hash,
)
from agent.xero.documents import documents_by_id

log = logging.getLogger("atx.sync")
S = OutboxState
DOCUMENT_KINDS = (OutboxKind.INVOICE, OutboxKind.CREDIT_NOTE)
CLAIM_CHUNK = 500  # rows per claim: contacts are created once per chunk


class OrgPoster:
    def __init__(
        self,
        *,
        store: Store,
        xero: XeroClient,
        context: OrgContext,
        preparer: Preparer,
        retry: RetryStrategy,
        report: CycleReport,
        owner: str,
        now: Callable[[], datetime],
        lease_seconds: float,
        stop: threading.Event,
        only_ids: Sequence[int] | None = None,
        on_posted: Callable[[OutboxRow], None] | None = None,
    ) -> None:
        self.store = store
        self.xero = xero
        self.context = context
        self.org = context.tenant_id
        self.preparer = preparer
        self.report = report
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.stop = stop
        self.only_ids = only_ids
        # Rows recorded posted, handed to ``on_posted`` once their transaction has committed.
        self.on_posted = on_posted
        self._posted: list[OutboxRow] = []
        self.outcomes = Outcomes(
            store, report, retry, owner, now, context.name,
            self._posted.append if on_posted is not None else None,
        )  # fmt: skip
        self._chunk: list[Job] = []

    def run(self) -> None:
        while not self.stop.is_set():
            paused = self.xero.status(self.org).paused_until
            if paused is not None:
                self.report.pause(self.org, paused)
                return
            rows = self.store.outbox.claim(
                self.owner,
                self.lease_seconds,
                CLAIM_CHUNK,
                kinds=DOCUMENT_KINDS,
                org=self.org,
                ids=self.only_ids,
            )
            if not rows:
                return
            try:
                self._chunk_of(rows)
            except Halt:
                return

    # -- one chunk ----------------------------------------------------------------------------

    def _chunk_of(self, rows: list[OutboxRow]) -> None:
        self._chunk = []
        for row in rows:
            if row.payload_json is None or not Envelope(row.payload or {}).current:
                # Retried by a user after this cycle's mapping step (or mapped by an older
                # version): map it now.
                row = self.preparer.prepare(row, owner=self.owner)
                if row.state is not S.POSTING or row.payload_json is None:
                    continue
            env = Envelope(row.payload or {})
            job = Job(row, env, env.document)
            if row.xero_id and not env.resync:
                self._in_xero_already(job)
                continue
            self._chunk.append(job)
        self._reconcile([j for j in self._chunk if j.row.needs_lookup and not j.env.resync])
        self._updatable_only([j for j in self._chunk if j.env.resync and not j.done])
        self._hand_over_posted()
        ContactMaker(
            self.store, self.xero, self.org, self.context.name, self.outcomes, self.report,
            self._halt,
        ).run([j for j in self._chunk if not j.done])  # fmt: skip
        groups: dict[tuple[str, bool], list[Job]] = {}
        for job in self._chunk:
            if not job.done:
                groups.setdefault((job.env.kind, job.env.resync), []).append(job)
        for (kind, resync), jobs in sorted(groups.items()):
            for start in range(0, len(jobs), MAX_BATCH):
                if self.stop.is_set():
                    self._give_back("the agent is stopping")
                    self.report.stopped = True
                    raise Halt
                self._post(kind, resync, jobs[start : start + MAX_BATCH])

    def _in_xero_already(self, job: Job) -> None:
        row = job.row
        if row.attempts > row.max_attempts:
            error = row.last_error or "marking it in Autotask kept failing"
            self.outcomes.failed(job, error, needs_lookup=False)
        else:
            self.outcomes.already_posted(job)

    def _halt(self, exc: XeroError) -> NoReturn:
        if isinstance(exc, XeroOrgPaused):
            self.report.pause(self.org, exc.until)
            self._give_back(f"Xero paused the organisation until {exc.until:%Y-%m-%d %H:%M} UTC")
        else:
            self.report.error(str(exc))
            self._give_back(f"Xero connection problem: {exc}")
        raise Halt from exc

    def _give_back(self, why: str) -> None:
        for job in self._chunk:
            if not job.done:
                self.outcomes.release(job, why)

    # -- lookups after an unknown outcome ----------------------------------------------------

    def _reconcile(self, jobs: list[Job]) -> None:
        for kind in ("invoice", "credit_note"):
            mine = [j for j in jobs if j.env.kind == kind]
            if not mine:
                continue
            try:
                found = self._look_up(kind, mine)
            except (XeroOrgPaused, XeroAuthError) as exc:
                self._halt(exc)
            except XeroError as exc:
                for job in mine:
                    self.outcomes.failed(job, f"looking it up in Xero: {exc}", needs_lookup=True)
                continue
            for job in mine:
                record = found.get(job.row.id)
                if record is not None:
                    xero_id = str(record.get(ID_FIELDS[kind]) or "")
                    number = record.get(NUMBER_FIELDS[kind])
                    status = record.get("Status")
                    how = "found (after an unknown outcome" + (f", {status})" if status else ")")
                    self.outcomes.posted(job, xero_id, str(number) if number else None, how)

    def _look_up(self, kind: str, jobs: list[Job]) -> dict[int, dict[str, object]]:
        """Row id -> the Xero document that is already there."""
        found: dict[int, dict[str, object]] = {}
        numbered = {j.env.number: j for j in jobs if j.env.number}
        if numbered:
            find = (
                self.xero.find_invoices_by_number
                if kind == "invoice"
                else self.xero.find_credit_notes_by_number
            )
            by_number = {n.lower(): r for n, r in find(self.org, list(numbered)).items()}
            for number, job in numbered.items():
                if number is not None and number.lower() in by_number:
                    found[job.row.id] = by_number[number.lower()]
        marked = {j.env.marker: j for j in jobs if not j.env.number and j.env.marker}
        if marked:
            by_term = self.xero.find_documents_by_reference(
                self.org, kind, [m for m in marked if m]
            )
            for marker, job in marked.items():
                assert marker is not None
                for record in by_term.get(marker, []):
                    if carries_marker(str(record.get("Reference") or ""), marker):
                        found[job.row.id] = record
                        break
        return found

    # -- updates of documents already in Xero (resync) -------------------------------------

    def _updatable_only(self, jobs: list[Job]) -> None:
        """A resync is the user's decision to overwrite the document with Autotask's version,
        draft or approved. Each is read first: one Xero would refuse to change (a payment or
        credit note allocated to it, or voided or deleted) is left as it is and the row goes
        back to ``done`` with the reason as its last error."""
        for kind in ("invoice", "credit_note"):
            mine = [j for j in jobs if j.env.kind == kind and j.row.xero_id]
            if not mine:
                continue
            try:
                found = documents_by_id(
                    self.xero.gateway, self.org, kind, [str(j.row.xero_id) for j in mine]
                )
            except (XeroOrgPaused, XeroAuthError) as exc:
                self._halt(exc)
            except XeroError as exc:
                for job in mine:
                    self.outcomes.failed(job, f"reading it from Xero: {exc}", needs_lookup=False)
                continue
            for job in mine:
                record = found.get(str(job.row.xero_id))
                if record is None:
                    continue  # Xero does not know it: the update says so
                status = str(record.get("Status") or "").upper()
                settled = _amount(record.get("AmountPaid")) + _amount(record.get("AmountCredited"))
                if status in ("VOIDED", "DELETED", "PAID") or settled > 0:
                    self._keep_approved(job, kind, status)

    def _keep_approved(self, job: Job, kind: str, status: str) -> None:
        reason = not_updatable(kind, job.row.xero_number or str(job.row.xero_id), status)
        owner = self.owner
        job.done = True
        try:
            with self.store.outbox.batch():
                self.store.outbox.transition(
                    job.row.id, S.POSTED, owner=owner, detail=f"not updated in Xero: {reason}"
                )
                self.store.outbox.transition(
                    job.row.id, S.DONE, last_error=reason, detail="kept as it is in Xero"
                )
        except (LeaseLost, StateConflict) as exc:
            log.warning("row %s: result not recorded: %s", job.row.id, exc)
            return
        self.report.add("update_refused")
        log.warning("%s: %s", job.row.autotask_id, reason)

    # -- one batch ----------------------------------------------------------------------------

    def _post(self, kind: str, resync: bool, jobs: list[Job]) -> None:
        live: list[Job] = []
        with self.store.outbox.batch():
            for job in jobs:
                try:
                    self.store.outbox.extend_lease(job.row.id, self.owner, self.lease_seconds)
                except LeaseLost as exc:  # the lease expired and another worker has the row now
                    log.warning("row %s skipped: %s", job.row.id, exc)
                    job.done = True
                    continue
                if resync:
                    job.document[ID_FIELDS[kind]] = job.row.xero_id
                live.append(job)
        if not live:
            return
        documents = [j.document for j in live]
        keys = [
            f"{document_key(j.row.id, payload_hash(j.document))}:{j.row.attempts}" for j in live
        ]
        try:
            results = self.xero.post_documents(self.org, kind, documents, keys, upsert=resync)
        except (XeroOrgPaused, XeroAuthError) as exc:
            self._halt(exc)
        except XeroError as exc:
            # No per-document answer: the request may or may not have been applied, so every
            # document is looked up before it is sent again.
            self.report.add("xero_writes")
            for job in live:
                self.outcomes.failed(job, str(exc), needs_lookup=True)
            return
        self.report.add("xero_writes")
        # One transaction for the batch's results: Xero answered them all at once, and a crash
        # before the commit leaves every row 'posting', looked up before it is sent again.
        with self.store.outbox.batch():
            for job, result in zip(live, results, strict=True):
                self._record(job, result)
        self._hand_over_posted()

    def _hand_over_posted(self) -> None:
        """Rows recorded posted, and committed, go on to ``on_posted`` (the write-back)."""
        if self.on_posted is None or not self._posted:
            return
        rows = list(self._posted)
        self._posted.clear()
        for row in rows:
            self.on_posted(row)

    def _record(self, job: Job, result: DocumentResult) -> None:
        if result.ok and result.xero_id:
            how = "updated" if job.env.resync else "posted"
            self.outcomes.posted(job, result.xero_id, result.number, how)
            if job.env.resync:
                self.report.add("updated")
            for warning in result.warnings:
                log.info("row %s: Xero warns: %s", job.row.id, warning)
        elif result.request_rejected:
            error = "Xero refused the request: " + "; ".join(result.errors)
            self.outcomes.failed(job, error, needs_lookup=False)
        else:
            self.outcomes.blocked(job, [xero_reason(job, result)])


def not_updatable(kind: str, number: str, status: str) -> str:
    """Why a resync left the document as it is in Xero (reference xero-api §11 "Status")."""
    noun = "credit note" if kind == "credit_note" else "invoice"
    if status in ("VOIDED", "DELETED"):
        return (
            f"not updated: {noun} {number} is {status} in Xero; skip this row, or invoice again"
            " in Autotask"
        )
    return (
        f"not updated: {noun} {number} has a payment or credit note allocated in Xero"
        f" ({status}), and Xero refuses any change to it until they are removed; remove them in"
        " Xero and resync, or void the invoice in Autotask and invoice again"
    )


def _amount(value: object) -> float:
    try:
        return float(str(value)) if value is not None else 0.0
    except ValueError:
        return 0.0


def xero_reason(job: Job, result: DocumentResult) -> str:
    kind = "credit note" if job.env.kind == "credit_note" else "invoice"
    messages = "; ".join(result.errors)
    if any("must be unique" in m.lower() for m in result.errors):
        fix = (
            f"Xero already has a {kind} numbered {job.env.number}: if it is this one, skip the "
            "row; otherwise change the number prefix in Settings, then retry"
        )
    else:
        fix = (
            "fix the invoice in Autotask, the mappings or the Xero organisation, then retry it "
            f"(atx retry {job.row.autotask_id})"
        )
    return f"xero: Xero refused the {kind}: {messages}; {fix}"
