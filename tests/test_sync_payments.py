"""Payments back to Autotask (issue 5 §1), end to end against the sandbox.

A payment entered in Xero on an invoice the agent posted sets Autotask's ``paidDate`` (the day of
the payment that completed it), confirmed by a re-read and written once; part payments are
recorded and shown by the control API; a deleted payment that reopens the invoice clears the
date; nothing changed costs one Xero call per organisation.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from test_sync_kit import START, Rig, rig, seeded_world

from agent.autotask.invoice_update import InvoiceUpdate
from agent.control.service import AgentService
from agent.store import OutboxKind, OutboxRow, OutboxState, Store
from agent.sync import SyncEngine, status
from agent.sync.payments import PAYMENTS_STREAM, PaymentCursor, balance_of
from agent.xero.payments import xero_date

S = OutboxState
DAY1 = date(2026, 3, 4)
DAY2 = date(2026, 3, 9)


@dataclass
class Books:
    """The seeded MSP after one cycle: invoices in Xero, each test takes its own."""

    rig: Rig
    store: Store
    used: set[int] = field(default_factory=set)

    def take(self, tenant: str | None = None) -> OutboxRow:
        """A posted invoice of ``tenant`` (default Australia) no other test has touched."""
        tenant = tenant or self.rig.au
        for row in self.store.outbox.list_rows(states=[S.DONE], limit=10_000):
            if row.kind is not OutboxKind.INVOICE or row.org != tenant or row.id in self.used:
                continue
            doc = self.xero(row)
            if doc["Status"] == "AUTHORISED" and doc["AmountDue"] >= Decimal("20"):
                self.used.add(row.id)
                return row
        raise AssertionError("no unused posted invoice left")

    def xero(self, row: OutboxRow) -> dict[str, Any]:
        found = self.rig.sandbox.xero.invoice(row.org, str(row.xero_id))
        assert found is not None
        return dict(found)

    def pay(self, row: OutboxRow, amount: Decimal, on: date) -> dict[str, Any]:
        """A payment entered in Xero, as the accountant would (the sandbox's Xero API)."""
        return self.rig.sandbox.xero.record_payment(row.org, str(row.xero_id), amount, on)

    def paid_date(self, row: OutboxRow) -> str | None:
        value = self.rig.autotask_invoice(int(row.autotask_id)).get("paidDate")
        return None if value is None else str(value)[:10]

    def engine(self, **options: Any) -> SyncEngine:
        return self.rig.engine(self.store, **options)


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Books]:
    def approved(made: Rig, store: Store) -> None:
        # Payments need approved invoices: the accountant posts them AUTHORISED.
        store.settings.set("invoice_status", "AUTHORISED")

    with rig(tmp_path_factory.mktemp("payments"), seeded_world(60), setup=approved) as made:
        store = made.store()
        first = made.engine(store).run_cycle()
        assert first.ok and first.posted > 10, first.errors
        yield Books(made, store)


def paid_patches(engine: SyncEngine) -> list[tuple[int, Any]]:
    """Records the paidDate PATCHes the engine's Autotask client sends."""
    sent: list[tuple[int, Any]] = []
    original = engine.autotask.patch_invoice

    def patch(invoice_id: int, **kwargs: Any) -> InvoiceUpdate:
        if "paid_date" in kwargs:
            sent.append((invoice_id, kwargs["paid_date"]))
        return original(invoice_id, **kwargs)

    engine.autotask.patch_invoice = patch  # type: ignore[method-assign]
    return sent


def xero_calls(engine: SyncEngine) -> Counter[tuple[str, str]]:
    """Counts the engine's Accounting API calls by (organisation, operation)."""
    counted: Counter[tuple[str, str]] = Counter()
    gateway = engine.xero.gateway
    original = gateway.call

    def call(tenant_id: str, operation: str, **kwargs: Any) -> Any:
        counted[(tenant_id, operation)] += 1
        return original(tenant_id, operation, **kwargs)

    gateway.call = call  # type: ignore[method-assign]
    return counted


# -- the pure parts ---------------------------------------------------------------------------


def _payment(pid: str, moment: datetime, status: str = "AUTHORISED") -> dict[str, Any]:
    return {"PaymentID": pid, "UpdatedDateUTC": moment.isoformat(), "Status": status}


def test_the_cursor_keeps_its_last_second_and_drops_those_changes_when_they_come_back() -> None:
    t0 = datetime(2026, 3, 2, 12, 0, 0, 250_000, tzinfo=UTC)
    cursor = PaymentCursor(t0 - timedelta(days=1))
    first = [_payment("a", t0), _payment("b", t0 + timedelta(milliseconds=500))]
    moved = cursor.advanced(cursor.fresh(first))
    assert moved.since == t0 + timedelta(milliseconds=500)
    assert len(moved.edge) == 2
    # The header is read to the second: both come back, unchanged, and are not news.
    assert moved.fresh(first) == []
    later = _payment("a", t0 + timedelta(seconds=3), status="DELETED")
    assert moved.fresh([*first, later]) == [later]
    again = moved.advanced([later])
    assert again.since == t0 + timedelta(seconds=3) and len(again.edge) == 1
    assert PaymentCursor.load(again.dump()) == again
    assert PaymentCursor.load("not json") is None


def test_the_balance_counts_credit_notes_and_takes_xero_fully_paid_day() -> None:
    invoice = {
        "InvoiceID": "i-1",
        "Status": "PAID",
        "Total": 110.0,
        "AmountPaid": 60.0,
        "AmountCredited": 50.0,
        "AmountDue": 0.0,
        "FullyPaidOnDate": "/Date(1772582400000+0000)/",
    }
    balance = balance_of(invoice)
    assert (balance.amount_paid, balance.amount_credited, balance.amount_due) == (
        Decimal("60.00"),
        Decimal("50.00"),
        Decimal("0.00"),
    )
    assert balance.paid_on == xero_date("/Date(1772582400000+0000)/") == date(2026, 3, 4)
    part = balance_of(invoice | {"Status": "AUTHORISED", "AmountDue": 10.0, "AmountPaid": 50.0})
    assert part.paid_on is None and part.amount_due == Decimal("10.00")
    # Without FullyPaidOnDate: the latest of its payments and allocations.
    undated = invoice | {
        "FullyPaidOnDate": None,
        "Payments": [{"Date": "2026-03-02T00:00:00"}],
        "CreditNotes": [{"Date": "/Date(1772582400000+0000)/"}],
    }
    assert balance_of(undated).paid_on == date(2026, 3, 4)


# -- against the sandbox ----------------------------------------------------------------------


def test_a_full_payment_sets_paid_date_in_autotask_once(books: Books) -> None:
    row = books.take()
    due = books.xero(row)["AmountDue"]
    books.pay(row, due, DAY1)
    engine = books.engine()
    sent = paid_patches(engine)
    report = engine.run_cycle()
    assert report.ok, report.errors
    assert report.paid_dates_set >= 1 and report.payments_seen >= 1
    assert (int(row.autotask_id), DAY1) in sent
    assert books.paid_date(row) == DAY1.isoformat()
    record = books.store.payments.get(row.id)
    assert record is not None and record.paid_date_set == DAY1 and record.paid_on == DAY1
    assert record.amount_due == Decimal("0.00") and record.amount_paid == due.quantize(
        Decimal("0.01")
    )
    history = [e.detail or "" for e in books.store.outbox.events(row.id)]
    assert any("paidDate 2026-03-04" in d for d in history), history
    # The next cycle writes nothing: what was written is recorded.
    again = books.engine()
    sent_again = paid_patches(again)
    assert again.run_cycle().ok
    assert [s for s in sent_again if s[0] == int(row.autotask_id)] == []
    assert "paid dates set in Autotask" in report.summary()


def test_a_part_payment_is_recorded_and_shown_without_a_paid_date(books: Books) -> None:
    row = books.take()
    total = books.xero(row)["Total"]
    books.pay(row, Decimal("10.00"), DAY1)
    report = books.engine().run_cycle()
    assert report.ok, report.errors
    assert report.part_paid >= 1
    assert books.paid_date(row) is None
    record = books.store.payments.get(row.id)
    assert record is not None and record.paid_on is None and record.paid_date_set is None
    assert record.amount_paid == Decimal("10.00")
    assert record.amount_due == (total - Decimal("10")).quantize(Decimal("0.01"))
    service = AgentService(books.rig.settings(), books.store, now=books.rig.now)
    detail = service.queue_detail(row.id)
    assert detail["amount_paid"] == "10.00"
    assert detail["amount_due"] == str(record.amount_due)
    assert detail["paid_date"] is None and detail["payment_problem"] is None
    assert any("part paid in Xero" in (h["detail"] or "") for h in detail["history"])
    assert books.store.payments.counts()["part_paid"] >= 1
    # `atx status --json` shows them too.
    shown = status.collect(books.store, books.rig.now())
    assert shown["payments"]["part_paid"] >= 1
    assert any(line.startswith("Payments from Xero:") for line in status.render(shown))


def test_two_part_payments_completing_it_set_the_date_of_the_second(books: Books) -> None:
    row = books.take()
    due = books.xero(row)["AmountDue"]
    books.pay(row, Decimal("5.00"), DAY1)
    assert books.engine().run_cycle().ok
    assert books.paid_date(row) is None
    books.pay(row, due - Decimal("5.00"), DAY2)
    report = books.engine().run_cycle()
    assert report.ok, report.errors
    assert books.paid_date(row) == DAY2.isoformat()
    record = books.store.payments.get(row.id)
    assert record is not None and record.paid_date_set == DAY2


def credit(books: Books, row: OutboxRow, amount: Decimal, on: date, key: str) -> Decimal:
    """A credit note for ``amount`` (tax included) entered in Xero and allocated to the row's
    invoice, through the Xero API as an accountant's tool would; returns the amount allocated."""
    doc = books.xero(row)
    engine = books.engine()
    line = dict(doc["LineItems"][0])
    note = {
        "Type": "ACCRECCREDIT",
        "Contact": {"ContactID": doc["Contact"]["ContactID"]},
        "Date": on.isoformat(),
        "Status": "AUTHORISED",
        "CurrencyCode": doc["CurrencyCode"],
        "LineAmountTypes": "Inclusive",
        "LineItems": [
            {
                "Description": "Goodwill credit",
                "Quantity": 1,
                "UnitAmount": amount,
                "AccountCode": line["AccountCode"],
                "TaxType": line["TaxType"],
            }
        ],
    }
    [made] = engine.xero.post_documents(row.org, "credit_note", [note], [key])
    assert made.ok, made
    total = books.rig.sandbox.xero.ledger(row.org).credit_note(str(made.xero_id))["Total"]
    engine.xero.gateway.call(
        row.org,
        "create_credit_note_allocation",
        write=True,
        credit_note_id=made.xero_id,
        allocations={
            "Allocations": [
                {"Invoice": {"InvoiceID": row.xero_id}, "Amount": total, "Date": on.isoformat()}
            ]
        },
    )
    return Decimal(total)


def test_a_credit_note_allocation_counts_as_paid(books: Books) -> None:
    row = books.take()
    amount = credit(books, row, Decimal("5.50"), DAY1, "test-credit-note-1")
    assert amount == Decimal("5.50")
    books.pay(row, books.xero(row)["AmountDue"], DAY2)
    report = books.engine().run_cycle()
    assert report.ok, report.errors
    record = books.store.payments.get(row.id)
    assert record is not None
    assert record.amount_credited == Decimal("5.50")
    assert record.amount_due == Decimal("0.00") and record.paid_date_set == DAY2
    assert books.paid_date(row) == DAY2.isoformat()


def test_a_credit_note_allocation_completing_it_is_seen_within_the_hour(books: Books) -> None:
    row = books.take()
    books.pay(row, Decimal("7.00"), DAY1)
    assert books.engine().run_cycle().ok
    due = books.xero(row)["AmountDue"]
    credit(books, row, due, DAY2, "test-credit-note-2")
    assert books.xero(row)["Status"] == "PAID"
    # No payment changed: credit notes are read at most once an hour.
    books.rig.sandbox.clock.advance(61 * 60)
    report = books.engine().run_cycle()
    assert report.ok, report.errors
    record = books.store.payments.get(row.id)
    assert record is not None and record.amount_credited == due.quantize(Decimal("0.01"))
    assert record.paid_date_set == DAY2
    assert books.paid_date(row) == DAY2.isoformat()


def test_a_deleted_payment_that_reopens_the_invoice_clears_paid_date(books: Books) -> None:
    row = books.take()
    payment = books.pay(row, books.xero(row)["AmountDue"], DAY1)
    assert books.engine().run_cycle().ok
    assert books.paid_date(row) == DAY1.isoformat()
    books.rig.sandbox.xero.delete_payment(row.org, payment["PaymentID"])
    engine = books.engine()
    sent = paid_patches(engine)
    report = engine.run_cycle()
    assert report.ok, report.errors
    assert report.paid_dates_cleared >= 1
    assert (int(row.autotask_id), None) in sent
    assert books.paid_date(row) is None
    record = books.store.payments.get(row.id)
    assert record is not None and record.paid_date_set is None and record.amount_due > 0
    details = [e.detail or "" for e in books.store.outbox.events(row.id)]
    assert any("paidDate cleared" in d for d in details), details


def test_a_clear_autotask_ignores_is_flagged_for_the_user(books: Books) -> None:
    row = books.take()
    payment = books.pay(row, books.xero(row)["AmountDue"], DAY1)
    assert books.engine().run_cycle().ok
    books.rig.sandbox.xero.delete_payment(row.org, payment["PaymentID"])
    engine = books.engine()

    def ignored(invoice_id: int, **kwargs: Any) -> InvoiceUpdate:
        # Autotask answers 200 and keeps the field (reference §13 #2): nothing is sent here.
        return InvoiceUpdate(invoice_id, paid_date=kwargs.get("paid_date"))

    engine.autotask.patch_invoice = ignored  # type: ignore[method-assign]
    report = engine.run_cycle()
    assert not report.ok and report.payment_write_failed == 1
    assert books.paid_date(row) == DAY1.isoformat()
    record = books.store.payments.get(row.id)
    assert record is not None and record.problem and "clear Paid Date" in record.problem
    service = AgentService(books.rig.settings(), books.store, now=books.rig.now)
    assert service.queue_detail(row.id)["payment_problem"] == record.problem
    assert any(a["kind"] == "payment" for a in service.attention())
    # Not tried again every cycle while Xero says the same.
    later = books.engine()
    sent = paid_patches(later)
    assert later.run_cycle().payment_write_failed == 0
    assert [s for s in sent if s[0] == int(row.autotask_id)] == []


def test_a_crash_after_the_patch_then_a_rerun_writes_paid_date_once(books: Books) -> None:
    row = books.take()
    books.pay(row, books.xero(row)["AmountDue"], DAY2)
    engine = books.engine()
    original = engine.autotask.patch_invoice
    sent: list[int] = []

    def crash_after(invoice_id: int, **kwargs: Any) -> InvoiceUpdate:
        update = original(invoice_id, **kwargs)
        if "paid_date" in kwargs:
            sent.append(invoice_id)
            raise RuntimeError("the process died after the PATCH")
        return update

    engine.autotask.patch_invoice = crash_after  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="died after the PATCH"):
        engine.run_cycle()
    assert sent == [int(row.autotask_id)]
    assert books.paid_date(row) == DAY2.isoformat()
    record = books.store.payments.get(row.id)
    assert record is not None and record.paid_on == DAY2 and record.paid_date_set is None
    # A new process: Autotask is read first, what it shows is recorded, nothing is PATCHed.
    rerun = books.engine()
    again = paid_patches(rerun)
    report = rerun.run_cycle()
    assert report.ok, report.errors
    assert [s for s in again if s[0] == int(row.autotask_id)] == []
    record = books.store.payments.get(row.id)
    assert record is not None and record.paid_date_set == DAY2 and record.problem is None
    assert books.paid_date(row) == DAY2.isoformat()
    assert books.store.payments.to_write() == []


def test_nothing_changed_costs_one_xero_call_per_organisation(books: Books) -> None:
    settle = books.engine()
    assert settle.run_cycle().ok
    engine = books.engine()
    calls = xero_calls(engine)
    sent = paid_patches(engine)
    report = engine.run_cycle()
    assert report.ok and report.payments_seen == 0
    tenants = {books.rig.au, books.rig.uk}
    payments = {t: calls[(t, "get_payments")] for t in tenants}
    assert payments == {t: 1 for t in tenants}
    assert not any(op == "get_invoices" for _, op in calls)
    assert sent == []
    for tenant in tenants:
        stored = books.store.cursors.get(PAYMENTS_STREAM, tenant)
        assert stored is not None and json.loads(stored)["since"]
    print(
        f"payments: Xero calls per cycle with nothing to do: {sum(payments.values())}"
        f" for {len(tenants)} organisations; whole cycle {report.xero_calls}"
    )


def test_a_new_installation_polls_from_a_day_before_its_first_posting(books: Books) -> None:
    first = books.store.payments.first_posted_at(books.rig.au)
    assert first is not None and first <= START + timedelta(days=1)
