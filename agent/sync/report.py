"""``CycleReport``: what one sync cycle did, for the command line, the log and ``atx status``."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class CycleReport:
    started_at: datetime
    finished_at: datetime | None = None
    scope: str = "cycle"  # "cycle", or "invoice <id>" for `atx sync --invoice`
    # Autotask side
    invoices_seen: int = 0  # returned by the poll (or named)
    snapshots: int = 0  # invoices whose lines and references were read
    new_rows: int = 0
    changed_rows: int = 0
    voided: int = 0  # unsent rows dropped because the invoice was voided
    # the outbox
    leases_released: int = 0
    retries_due: int = 0
    mapped: int = 0
    blocked: int = 0
    unblocked: int = 0
    # Xero
    contacts_created: int = 0
    items_created: int = 0  # Xero items created from Autotask products/services (item_sync)
    items_updated: int = 0  # Xero items updated (item_sync = create_update)
    bills_created: int = 0  # Xero bills from approved Autotask expense reports (sync_expenses)
    # Purchase orders (agent/sync/purchase_orders.py), as Xero purchase orders or bills
    po_created: int = 0
    po_updated: int = 0  # changed in Autotask while still a draft in Xero, or the user's choice
    po_changed: int = 0  # changes found on draft documents (each is then updated)
    po_cancelled: int = 0  # documents deleted or voided because the order was cancelled
    posted: int = 0  # created (or, for a resync, updated) in Xero
    adopted: int = 0  # found in Xero by a lookup after an unknown outcome
    released: int = 0  # claimed rows given back untried (pause, stop)
    failed: int = 0
    dead: int = 0
    # Autotask write-back
    marked: int = 0
    mark_failed: int = 0
    # Payments back (agent/sync/payments.py)
    payments_seen: int = 0  # payments changed in Xero (new, edited or deleted) since the cursor
    part_paid: int = 0  # our invoices whose new balance is part paid
    paid_dates_set: int = 0  # paidDate written to Autotask (or found there) and confirmed
    paid_dates_cleared: int = 0  # paidDate cleared after a deleted payment reopened the invoice
    payment_write_failed: int = 0
    # Voids and changes (agent/sync/voids.py): documents whose Autotask invoice was voided
    voided_in_xero: int = 0  # AUTHORISED documents voided in Xero
    deleted_in_xero: int = 0  # DRAFT or SUBMITTED documents deleted in Xero
    void_blocked: int = 0  # not voided: payments or credit applied (or Xero refused)
    updated: int = 0  # documents updated in Xero (a resync of a draft)
    update_refused: int = 0  # not updated: approved in Xero (the row keeps the reason)
    paused: dict[str, str] = field(default_factory=dict)  # tenant -> until (UTC, ISO)
    deferred: list[str] = field(default_factory=list)  # work left for later, with why
    errors: list[str] = field(default_factory=list)
    autotask_calls: int = 0
    xero_calls: int = 0
    xero_writes: int = 0  # PUT/POST requests (documents and contacts)
    budgets: dict[str, Any] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    stopped: bool = False
    # Rows posted (or found) in this cycle: the write-back PATCHes them without reading first.
    posted_ids: set[int] = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, count: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + count)

    def pause(self, tenant_id: str, until: datetime) -> None:
        with self._lock:
            self.paused[tenant_id] = until.isoformat(timespec="seconds")

    def error(self, message: str) -> None:
        with self._lock:
            if message not in self.errors:
                self.errors.append(message)

    def defer(self, message: str) -> None:
        with self._lock:
            if message not in self.deferred:
                self.deferred.append(message)

    @property
    def ok(self) -> bool:
        """Nothing failed: no row failed or died and no step of the cycle broke."""
        return not (
            self.failed or self.dead or self.mark_failed or self.payment_write_failed or self.errors
        )

    @property
    def complete(self) -> bool:
        """Nothing was left for later (a paused organisation, a spent Autotask budget, a stop)."""
        return not (self.paused or self.deferred or self.stopped)

    @property
    def seconds(self) -> float:
        end = self.finished_at or self.started_at
        return (end - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        data = {
            k: v for k, v in self.__dict__.items() if not k.startswith("_") and k != "posted_ids"
        }
        data["started_at"] = self.started_at.isoformat(timespec="seconds")
        data["finished_at"] = (
            self.finished_at.isoformat(timespec="seconds") if self.finished_at else None
        )
        data["seconds"] = round(self.seconds, 3)
        data["ok"] = self.ok
        data["complete"] = self.complete
        return data

    def summary(self) -> str:
        """One line: the counts that are not zero, then the calls made."""
        parts = [f"{self.invoices_seen} invoices seen"]
        for name, text in (
            ("new_rows", "new"),
            ("posted", "posted"),
            ("adopted", "found in Xero"),
            ("contacts_created", "contacts created"),
            ("items_created", "items created"),
            ("items_updated", "items updated"),
            ("bills_created", "expense bills created"),
            ("marked", "marked in Autotask"),
            ("blocked", "blocked"),
            ("unblocked", "unblocked"),
            ("failed", "failed"),
            ("dead", "dead"),
            ("mark_failed", "write-backs failed"),
            ("voided", "voided"),
            ("payments_seen", "payments changed in Xero"),
            ("part_paid", "part paid"),
            ("paid_dates_set", "paid dates set in Autotask"),
            ("paid_dates_cleared", "paid dates cleared"),
            ("payment_write_failed", "paid-date writes failed"),
            ("deleted_in_xero", "deleted in Xero (voided in Autotask)"),
            ("voided_in_xero", "voided in Xero"),
            ("void_blocked", "voids blocked"),
            ("updated", "updated in Xero"),
            ("update_refused", "not updated (approved in Xero)"),
        ):
            value = getattr(self, name)
            if value:
                parts.append(f"{value} {text}")
        line = ", ".join(parts)
        line += (
            f"; calls: Autotask {self.autotask_calls}, Xero {self.xero_calls}"
            f" ({self.xero_writes} writes); {self.seconds:.1f}s"
        )
        if self.paused:
            line += "; paused: " + ", ".join(f"{t} until {u}" for t, u in self.paused.items())
        if self.stopped:
            line += "; stopped early"
        return line
