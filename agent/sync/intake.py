"""From polled Autotask invoices to outbox rows: which need a (new) snapshot, and upserting them.

An invoice is read in full (lines and references) only when its row needs it:
- it has no row yet;
- its row is not sent and the invoice itself changed (a different header means different lines
  may have been attached, autotask-api §13 #7);
- its row waits for a snapshot (a user retried it, or asked for a resync of a sent document);
- its row is blocked for a reason fixed in Autotask (missing lines, the company, bad data).

Rows already sent, being sent, or whose last attempt may have reached Xero keep their snapshot:
what is in Xero was built from it. Voided invoices drop their rows that were never sent; a row
whose invoice changed sign (invoice <-> credit note) before it was sent is dropped for the new
kind's row.

Rows are created with organisation '' (not routed yet); ``prepare`` routes them, and a row keeps
its organisation key from then on (``Outbox.route``), so later polls find it whatever its org.
A split invoice (``agent.sync.split``) has a row per organisation, all found here: when one of its
rows not sent yet needs a new snapshot, every row not sent yet takes it (the invoice is read once),
so its parts are always cut from the same Autotask invoice; no row is created while any exists.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from agent.autotask import AutotaskClient
from agent.autotask.records import Invoice
from agent.store import OutboxKind, OutboxRow, OutboxState, Store, StoreError
from agent.sync.backoff import RetryStrategy
from agent.sync.discover import SnapshotBuilder, invoice_fields
from agent.sync.prepare import ALL, label
from agent.sync.report import CycleReport

log = logging.getLogger("atx.sync")
S = OutboxState
DOCUMENT_KINDS = (OutboxKind.INVOICE, OutboxKind.CREDIT_NOTE)
UNROUTED = ""
# Block reasons a change in Autotask can fix (mapping.document.BlockReason codes).
AUTOTASK_SIDE = frozenset({"items", "company", "data"})
SENT_OR_SENDING = frozenset({S.POSTING, S.POSTED, S.DONE, S.VOIDED})


def kind_of(invoice: Invoice) -> OutboxKind:
    total = invoice.invoiceTotal
    return OutboxKind.CREDIT_NOTE if total is not None and total < 0 else OutboxKind.INVOICE


def never_sent(row: OutboxRow) -> bool:
    return row.state not in SENT_OR_SENDING and row.xero_id is None and not row.needs_lookup


def autotask_side(row: OutboxRow) -> bool:
    return any(reason.split(":", 1)[0] in AUTOTASK_SIDE for reason in row.block_reasons)


class Intake:
    def __init__(
        self,
        store: Store,
        autotask: AutotaskClient,
        report: CycleReport,
        retry: RetryStrategy,
    ) -> None:
        self.store = store
        self.builder = SnapshotBuilder(autotask)
        self.report = report
        self.retry = retry

    def waiting_for_snapshot(self, polled: set[int]) -> list[int]:
        """Invoices of rows that wait for a snapshot but are not in the poll (resyncs of sent
        invoices, rows retried after their invoice left the days-back window)."""
        found = set()
        for row in self.store.outbox.list_rows(states=[S.PENDING], limit=ALL):
            if (
                row.kind in DOCUMENT_KINDS
                and row.payload_json is None
                and row.autotask_id.isdigit()
                and int(row.autotask_id) not in polled
            ):
                found.add(int(row.autotask_id))
        return sorted(found)

    def run(self, invoices: Sequence[Invoice], *, explicit: bool = False) -> set[int]:
        """Upsert the rows of ``invoices``; returns the ids of rows created or changed.
        ``explicit``: the user named these invoices, so unsent rows are read again anyway."""
        existing: dict[str, list[OutboxRow]] = {}
        for row in self.store.outbox.for_autotask_ids(
            [i.id for i in invoices], kinds=DOCUMENT_KINDS
        ):
            existing.setdefault(row.autotask_id, []).append(row)
        wanted: list[tuple[Invoice, OutboxKind, list[OutboxRow | None]]] = []
        for invoice in invoices:
            rows = existing.get(str(invoice.id), [])
            if invoice.isVoided:
                for row in rows:
                    if never_sent(row) and row.state is not S.SKIPPED:
                        self._skip(row, "the invoice was voided in Autotask")
                        self.report.add("voided")
                continue
            kind = kind_of(invoice)
            if not self._other_kind_settled(invoice, kind, rows):
                continue
            mine = [r for r in rows if r.kind is kind]
            if not mine:
                wanted.append((invoice, kind, [None]))
                continue
            due: list[OutboxRow] = [r for r in mine if self._needs_snapshot(r, invoice, explicit)]
            if due and len(mine) > 1:
                # The parts of a split invoice: every part not sent yet takes the new snapshot.
                due += [
                    r for r in mine if r not in due and never_sent(r) and r.state is not S.SKIPPED
                ]
            if due:
                wanted.append((invoice, kind, [*sorted(due, key=lambda r: r.id)]))
        changed: set[int] = set()
        snapshots = self.builder.build([invoice for invoice, _, _ in wanted])
        for (invoice, kind, befores), snapshot in zip(wanted, snapshots, strict=True):
            self.report.add("snapshots")
            data = snapshot.to_dict()
            for before in befores:
                new = self.store.outbox.upsert_discovered(
                    kind,
                    invoice.id,
                    before.org if before is not None else UNROUTED,
                    data,
                    max_attempts=self.retry.max_attempts,
                )
                if before is None:
                    self.report.add("new_rows")
                    changed.add(new.id)
                elif new.snapshot_hash != before.snapshot_hash:
                    self.report.add("changed_rows")
                    changed.add(new.id)
                    log.info("%s: the invoice changed in Autotask; mapping it again", label(new))
        return changed

    def _other_kind_settled(
        self, invoice: Invoice, kind: OutboxKind, rows: list[OutboxRow]
    ) -> bool:
        """False when a row of the other kind was (maybe) sent already: leave it to a person."""
        for row in rows:
            if row.kind is kind or row.state is S.SKIPPED:
                continue
            if never_sent(row):
                self._skip(row, f"the invoice total changed sign: it is now a {kind.value}")
                continue
            log.warning(
                "%s was sent to Xero, but Autotask's invoice total has changed sign since; "
                "not sending it again as a %s: check it in Xero",
                label(row),
                kind.value,
            )
            return False
        return True

    def _needs_snapshot(self, row: OutboxRow | None, invoice: Invoice, explicit: bool) -> bool:
        if row is None:
            return True
        if row.state in SENT_OR_SENDING or row.state is S.SKIPPED or row.needs_lookup:
            return False
        waiting = row.state is S.PENDING and row.payload_json is None
        if row.xero_id is not None:
            return waiting  # only a resync reads a sent invoice again
        if waiting or explicit or invoice_fields(invoice) != row.snapshot.get("invoice"):
            return True
        return row.state is S.BLOCKED and autotask_side(row)

    def _skip(self, row: OutboxRow, why: str) -> None:
        try:
            self.store.outbox.skip(row.id, reason=why)
        except StoreError as exc:
            log.info("%s left as it is: %s", label(row), exc)
            return
        log.info("skipped %s: %s", label(row), why)
