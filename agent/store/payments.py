"""Payments back to Autotask (issue 5 §1): what Xero shows of the invoices we posted, and the
``paidDate`` written to Autotask.

One ``invoice_payments`` row per outbox invoice row that has seen a payment in Xero: its balance
(total, paid, credited, due; decimals kept as text), ``paid_on`` (the day Xero shows it became
fully paid, null while anything is due), and ``paid_date_set``, the ``paidDate`` written to
Autotask and confirmed by a re-read (null when none is, or it was cleared). The row needs a write
while the two differ; ``refused_for`` holds the wanted value Autotask would not take (it is not
tried again until Xero changes it) and ``problem`` says what the user should do.

Every change that matters to a person (a new balance, a date written or cleared, a refusal) also
writes an ``outbox_events`` row for the invoice's outbox row (its state unchanged), in the same
transaction, so the queue history shows it and the control API's event stream sends it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from agent.store.clock import from_db, from_db_or_none, to_db
from agent.store.cursors import Cursors
from agent.store.db import StoreDB
from agent.store.events import record_event

POSTED_STATES = ("posted", "done")
_CHUNK = 500


@dataclass(frozen=True)
class InvoiceBalance:
    """An invoice as Xero shows it (the payments step reads it with ``GET Invoices?IDs=``)."""

    xero_id: str
    status: str
    total: Decimal
    amount_paid: Decimal
    amount_credited: Decimal
    amount_due: Decimal
    paid_on: date | None  # the day it became fully paid; None while anything is due


@dataclass(frozen=True)
class PostedInvoice:
    """An outbox invoice row we posted, as the payments step needs it."""

    outbox_id: int
    autotask_id: int
    state: str
    attempts: int
    xero_number: str | None


@dataclass(frozen=True)
class PaymentRecord:
    outbox_id: int
    org: str
    xero_id: str
    autotask_id: int
    status: str | None
    total: Decimal | None
    amount_paid: Decimal | None
    amount_credited: Decimal | None
    amount_due: Decimal | None
    paid_on: date | None
    paid_date_set: date | None
    refused_for: str | None
    problem: str | None
    updated_at: datetime

    @property
    def needs_write(self) -> bool:
        """Autotask's ``paidDate`` is not what Xero says, and Autotask has not refused it."""
        if self.paid_on == self.paid_date_set:
            return False
        return self.refused_for != _key(self.paid_on)

    @classmethod
    def from_db(cls, row: Mapping[str, Any]) -> PaymentRecord:
        return cls(
            outbox_id=int(row["outbox_id"]),
            org=str(row["org"]),
            xero_id=str(row["xero_id"]),
            autotask_id=int(row["autotask_id"]),
            status=row["status"],
            total=_decimal(row["total"]),
            amount_paid=_decimal(row["amount_paid"]),
            amount_credited=_decimal(row["amount_credited"]),
            amount_due=_decimal(row["amount_due"]),
            paid_on=_date(row["paid_on"]),
            paid_date_set=_date(row["paid_date_set"]),
            refused_for=row["refused_for"],
            problem=row["problem"],
            updated_at=from_db(row["updated_at"]),
        )


_SELECT = (
    "SELECT p.*, o.autotask_id AS autotask_id FROM invoice_payments p"
    " JOIN outbox o ON o.id = p.outbox_id"
)


class InvoicePayments:
    def __init__(self, store_db: StoreDB) -> None:
        self._db = store_db

    # -- reading -----------------------------------------------------------------------------

    def posted_invoices(self, org: str, xero_ids: Iterable[str]) -> dict[str, PostedInvoice]:
        """Our invoice rows in ``org`` (posted or done) among these Xero invoice ids: xero id ->
        row. Ids of documents we did not post are absent."""
        wanted = list(dict.fromkeys(x for x in xero_ids if x))
        found: dict[str, PostedInvoice] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            rows = self._db.query(
                "SELECT id, autotask_id, state, attempts, xero_id, xero_number FROM outbox"
                f" WHERE org = ? AND xero_id IN ({', '.join('?' for _ in chunk)})"
                " AND kind = 'invoice' AND state IN (?, ?)",
                [org, *chunk, *POSTED_STATES],
            )
            for r in rows:
                found[str(r["xero_id"])] = PostedInvoice(
                    int(r["id"]), int(r["autotask_id"]), str(r["state"]), int(r["attempts"]),
                    r["xero_number"],
                )  # fmt: skip
        # Xero ids are GUIDs: compare without case, answer in the caller's spelling.
        lower = {k.lower(): v for k, v in found.items()}
        return {x: lower[x.lower()] for x in wanted if x.lower() in lower}

    def first_posted_at(self, org: str) -> datetime | None:
        """When the oldest invoice row of ``org`` that reached Xero was created (None: none)."""
        row = self._db.query_one(
            "SELECT MIN(created_at) AS first FROM outbox WHERE org = ? AND kind = 'invoice'"
            " AND xero_id IS NOT NULL AND state IN (?, ?)",
            [org, *POSTED_STATES],
        )
        return from_db_or_none(row["first"] if row else None)

    def get(self, outbox_id: int) -> PaymentRecord | None:
        row = self._db.query_one(f"{_SELECT} WHERE p.outbox_id = ?", (outbox_id,))
        return None if row is None else PaymentRecord.from_db(row)

    def get_many(self, outbox_ids: Iterable[int]) -> dict[int, PaymentRecord]:
        ids = list(dict.fromkeys(int(i) for i in outbox_ids))
        found: dict[int, PaymentRecord] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = self._db.query(
                f"{_SELECT} WHERE p.outbox_id IN ({', '.join('?' for _ in chunk)})", chunk
            )
            found.update((int(r["outbox_id"]), PaymentRecord.from_db(r)) for r in rows)
        return found

    def to_write(self, org: str | None = None) -> list[PaymentRecord]:
        """Rows whose Autotask ``paidDate`` must change (oldest first), of one org or all."""
        where = (
            " WHERE COALESCE(p.paid_on, '') != COALESCE(p.paid_date_set, '')"
            " AND (p.refused_for IS NULL OR p.refused_for != COALESCE(p.paid_on, ''))"
        )
        params: list[Any] = []
        if org is not None:
            where += " AND p.org = ?"
            params.append(org)
        rows = self._db.query(f"{_SELECT}{where} ORDER BY p.outbox_id", params)
        return [PaymentRecord.from_db(r) for r in rows]

    def with_problems(self) -> list[PaymentRecord]:
        rows = self._db.query(f"{_SELECT} WHERE p.problem IS NOT NULL ORDER BY p.outbox_id")
        return [PaymentRecord.from_db(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """``part_paid`` (something paid, something due), ``paid`` (nothing due), ``paid_date_set``
        (Autotask shows the date), ``problems`` (waiting for the user)."""
        row = self._db.query_one(
            "SELECT"
            " SUM(CASE WHEN paid_on IS NULL AND CAST(amount_due AS REAL) > 0"
            "  AND (CAST(amount_paid AS REAL) > 0 OR CAST(amount_credited AS REAL) > 0)"
            "  THEN 1 ELSE 0 END) AS part_paid,"
            " SUM(CASE WHEN paid_on IS NOT NULL THEN 1 ELSE 0 END) AS paid,"
            " SUM(CASE WHEN paid_date_set IS NOT NULL THEN 1 ELSE 0 END) AS paid_date_set,"
            " SUM(CASE WHEN problem IS NOT NULL THEN 1 ELSE 0 END) AS problems"
            " FROM invoice_payments"
        )
        keys = ("part_paid", "paid", "paid_date_set", "problems")
        return {k: int((row or {}).get(k) or 0) for k in keys}

    # -- writing -----------------------------------------------------------------------------

    def record_balances(
        self,
        org: str,
        balances: Iterable[tuple[PostedInvoice, InvoiceBalance]],
        *,
        cursors: Iterable[tuple[str, str, str]] = (),
    ) -> int:
        """Store what Xero shows of these invoices and, in the same transaction, advance the
        poll's ``cursors`` (stream, key, value). Returns how many rows changed."""
        changed = 0
        with self._db.write():
            stamp = to_db(self._db.now())
            for posted, balance in balances:
                before = self.get(posted.outbox_id)
                values = {
                    "status": balance.status,
                    "total": str(balance.total),
                    "amount_paid": str(balance.amount_paid),
                    "amount_credited": str(balance.amount_credited),
                    "amount_due": str(balance.amount_due),
                    "paid_on": _text(balance.paid_on),
                }
                if before is not None and _same(before, values):
                    continue
                self._db.execute(
                    "INSERT INTO invoice_payments (outbox_id, org, xero_id, status, total,"
                    " amount_paid, amount_credited, amount_due, paid_on, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (outbox_id) DO UPDATE SET status = excluded.status,"
                    " total = excluded.total, amount_paid = excluded.amount_paid,"
                    " amount_credited = excluded.amount_credited,"
                    " amount_due = excluded.amount_due, paid_on = excluded.paid_on,"
                    " updated_at = excluded.updated_at",
                    (posted.outbox_id, org, balance.xero_id, *values.values(), stamp),
                )
                self._note(posted.outbox_id, stamp, _balance_text(balance))
                changed += 1
            for stream, key, value in cursors:
                Cursors(self._db).set(stream, value, key)
        return changed

    def record_written(self, outbox_id: int, value: date | None, detail: str) -> None:
        """Autotask shows ``paidDate`` = ``value`` (None: cleared), confirmed by a re-read."""
        with self._db.write():
            stamp = to_db(self._db.now())
            self._db.execute(
                "UPDATE invoice_payments SET paid_date_set = ?, refused_for = NULL,"
                " problem = NULL, updated_at = ? WHERE outbox_id = ?",
                (_text(value), stamp, outbox_id),
            )
            self._note(outbox_id, stamp, detail)

    def record_problem(
        self, outbox_id: int, problem: str, *, refused: bool, wanted: date | str | None = ""
    ) -> None:
        """The write did not happen. ``refused``: Autotask answered but would not take it (not
        tried again until Xero changes); else it failed on the way and is tried next cycle.
        ``wanted``: the value refused when it is not the row's own ``paid_on`` (the parts of a
        split invoice are refused the invoice's date)."""
        with self._db.write():
            stamp = to_db(self._db.now())
            current = self.get(outbox_id)
            if current is None:
                return
            value = current.paid_on if isinstance(wanted, str) else wanted
            refused_for = _key(value) if refused else None
            if current.problem == problem and current.refused_for == refused_for:
                return  # the same failure again: nothing new to tell
            self._db.execute(
                "UPDATE invoice_payments SET refused_for = ?, problem = ?, updated_at = ?"
                " WHERE outbox_id = ?",
                (refused_for, problem, stamp, outbox_id),
            )
            self._note(outbox_id, stamp, problem)

    def _note(self, outbox_id: int, stamp: str, detail: str) -> None:
        """An event on the invoice's outbox row (its state unchanged), and the row's
        ``updated_at`` moved, so the queue shows it changed."""
        updated = self._db.execute(
            "UPDATE outbox SET updated_at = ? WHERE id = ? RETURNING state, attempts",
            (stamp, outbox_id),
        )
        if not updated:
            return
        state = str(updated[0]["state"])
        record_event(
            self._db,
            outbox_id=outbox_id,
            at=stamp,
            from_state=state,
            to_state=state,
            detail=detail,
            attempt=int(updated[0]["attempts"]),
        )


def _key(value: date | None) -> str:
    return "" if value is None else value.isoformat()


def refused_key(value: date | None) -> str:
    """How ``refused_for`` records a refused value (None: a clear)."""
    return _key(value)


def _text(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _date(text: str | None) -> date | None:
    return None if not text else date.fromisoformat(text)


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _same(before: PaymentRecord, values: Mapping[str, str | None]) -> bool:
    now = (
        before.status,
        None if before.total is None else str(before.total),
        None if before.amount_paid is None else str(before.amount_paid),
        None if before.amount_credited is None else str(before.amount_credited),
        None if before.amount_due is None else str(before.amount_due),
        _text(before.paid_on),
    )
    return now == tuple(values.values())


def _balance_text(balance: InvoiceBalance) -> str:
    settled = balance.amount_paid + balance.amount_credited
    if balance.paid_on is not None:
        return f"fully paid in Xero on {balance.paid_on.isoformat()} ({settled} of {balance.total})"
    if settled > 0:
        return (
            f"part paid in Xero: {balance.amount_paid} paid, {balance.amount_credited} credited,"
            f" {balance.amount_due} due of {balance.total}"
        )
    return f"unpaid in Xero: {balance.amount_due} due of {balance.total}"
