"""Approved Autotask expense reports as Xero bills (issue 5 §6), against the sandbox.

``sync_expenses`` off (the default) asks nothing about expenses and writes no bill; on, each
approved report becomes one ACCPAY bill in the default organisation, once.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_sync_kit import Rig, money, rig, seeded_world

from agent.store import OutboxKind, OutboxState, Store
from agent.sync.expenses import build_bill
from sandbox.world import World

S = OutboxState
INVOICES = 20
UNAPPROVED_ID = 1_299


def world_with_unapproved() -> World:
    """The seeded world plus a submitted, not yet approved, report with one item."""
    world = seeded_world(INVOICES)
    reports = world.autotask["ExpenseReports"]
    assert reports, "the seed has no expense reports"
    draft = copy.deepcopy(reports[0])
    draft.update(id=UNAPPROVED_ID, name="Not approved yet", status=2)
    reports.append(draft)
    item = copy.deepcopy(world.autotask["ExpenseItems"][0])
    item.update(id=12_999, expenseReportID=UNAPPROVED_ID, description="Unapproved taxi")
    world.autotask["ExpenseItems"].append(item)
    return world


def bills(made: Rig, tenant: str) -> list[dict[str, Any]]:
    ledger = made.sandbox.xero.ledger(tenant)
    with made.sandbox.xero.lock:
        return [dict(d) for d in ledger.org.invoices if d.get("Type") == "ACCPAY"]


def expense_bills(made: Rig, tenant: str) -> list[dict[str, Any]]:
    return [b for b in bills(made, tenant) if str(b.get("Reference") or "").startswith("Expense")]


def expense_rows(store: Store, *states: OutboxState) -> list[Any]:
    return store.outbox.list_rows(states=states or None, kind=OutboxKind.EXPENSE, limit=100_000)


def a_contact(made: Rig) -> str:
    ledger = made.sandbox.xero.ledger(made.au)
    with made.sandbox.xero.lock:
        return str(ledger.org.contacts[0]["ContactID"])


def approved(made: Rig) -> list[dict[str, Any]]:
    return [r for r in made.world.autotask["ExpenseReports"] if r["status"] == 4]


def items_of(made: Rig, report_id: int) -> list[dict[str, Any]]:
    return [i for i in made.world.autotask["ExpenseItems"] if i["expenseReportID"] == report_id]


def expense_calls(engine: Any) -> dict[str, int]:
    return {e: n for e, n in engine.autotask.calls_made.items() if "Expense" in e}


@pytest.fixture
def made(tmp_path: Path) -> Iterator[Rig]:
    with rig(tmp_path, world_with_unapproved()) as made:
        yield made


def switch_on(made: Rig, store: Store, *, contact: bool = True) -> None:
    store.settings.set("sync_expenses", True)
    store.settings.set("po_cogs_account", "429")
    if contact:
        resource = str(approved(made)[0]["submitterID"])
        store.mappings.set("", "expense_contact", resource, a_contact(made))


def test_off_by_default_asks_nothing_and_writes_no_bill(made: Rig) -> None:
    store = made.store()
    engine = made.engine(store)
    report = engine.run_cycle()
    assert report.ok, report.errors
    assert expense_calls(engine) == {}
    assert expense_bills(made, made.au) == expense_bills(made, made.uk) == []
    assert expense_rows(store) == []
    assert report.bills_created == 0


def test_on_posts_one_bill_per_approved_report_once(made: Rig) -> None:
    store = made.store()
    switch_on(made, store)
    category = str(items_of(made, int(approved(made)[0]["id"]))[0]["expenseCategory"])
    store.mappings.set("", "expense_account", category, "453")
    engine = made.engine(store)
    report = engine.run_cycle()
    assert report.ok, report.errors
    calls = expense_calls(engine)
    assert sum(calls.values()) == 2, calls  # the approved reports, then their items
    found = {b["Reference"]: b for b in expense_bills(made, made.au)}
    assert expense_bills(made, made.uk) == []
    wanted = approved(made)
    assert report.bills_created == len(wanted) == len(found)
    assert "Expense report Not approved yet" not in found
    for record in wanted:
        bill = found[f"Expense report {record['name']}"]
        items = items_of(made, int(record["id"]))
        assert bill["Contact"]["ContactID"] == a_contact(made)
        assert bill["LineAmountTypes"] == "Inclusive"
        assert len(bill["LineItems"]) == len(items)
        assert money(bill["Total"]) == money(
            sum(Decimal(str(i["expenseCurrencyExpenseAmount"])) for i in items)
        )
        for line, item in zip(bill["LineItems"], items, strict=True):
            assert line["Description"] == item["description"]
            mapped = str(item["expenseCategory"]) == category
            assert line["AccountCode"] == ("453" if mapped else "429")
    assert len(expense_rows(store, S.DONE)) == len(wanted)

    again = made.engine(store)
    second = again.run_cycle()
    assert second.ok, second.errors
    assert second.bills_created == 0
    assert sum(expense_calls(again).values()) == 1  # the reports only: all are done
    assert len(expense_bills(made, made.au)) == len(wanted)


def test_unmapped_resource_blocks_until_mapped(made: Rig) -> None:
    store = made.store()
    switch_on(made, store, contact=False)
    report = made.engine(store).run_cycle()
    resource = str(approved(made)[0]["submitterID"])
    blocked = expense_rows(store, S.BLOCKED)
    assert len(blocked) == len(approved(made))
    assert report.blocked >= len(blocked)  # invoices of the seed block too
    assert all(any(resource in r for r in row.block_reasons) for row in blocked)
    assert expense_bills(made, made.au) == []

    store.mappings.set("", "expense_contact", resource, a_contact(made))
    for row in blocked:
        store.outbox.retry(row.id, detail="mapped")
    later = made.engine(store).run_cycle()
    assert later.ok, later.errors
    assert later.bills_created == len(approved(made))
    assert len(expense_bills(made, made.au)) == len(approved(made))


def test_unknown_outcome_finds_the_bill_instead_of_creating_again(made: Rig) -> None:
    store = made.store()
    switch_on(made, store)
    made.engine(store).run_cycle()
    first = expense_bills(made, made.au)
    row = expense_rows(store, S.DONE)[0]
    # As if the create had been sent but its answer lost: the row is due again, to look up.
    store.outbox.resync(row.id, detail="test")
    store.outbox._db.execute(  # type: ignore[attr-defined]
        "UPDATE outbox SET needs_lookup = 1 WHERE id = ?", (row.id,)
    )
    report = made.engine(store).run_cycle()
    assert report.ok, report.errors
    assert report.adopted == 1 and report.bills_created == 0
    assert len(expense_bills(made, made.au)) == len(first)


def test_build_bill_blocks_without_an_account() -> None:
    snapshot = {
        "report": {"id": 7, "name": "", "submitterID": 3, "weekEnding": "2026-03-01T00:00:00"},
        "items": [{"id": 1, "expenseCategory": 9, "description": "Taxi",
                   "expenseCurrencyExpenseAmount": 12.5}],
    }  # fmt: skip
    reasons = build_bill(snapshot, {"3": "c-1"}, {}, None)
    assert isinstance(reasons, list) and "expense category 9" in reasons[0]
    bill = build_bill(snapshot, {"3": "c-1"}, {}, "429")
    assert isinstance(bill, dict)
    assert bill["Reference"] == "Expense report 7" and bill["Date"] == "2026-03-01"
    assert bill["Type"] == "ACCPAY" and bill["LineItems"][0]["UnitAmount"] == 12.5


def test_the_bill_is_what_the_employee_is_owed_in_the_internal_currency() -> None:
    """An item spent in another currency at the amount Autotask reimburses (converted), items
    paid by the company or rejected left off, the bill in the internal currency."""
    snapshot = {
        "report": {"id": 8, "name": "Trip", "submitterID": 3, "weekEnding": "2026-03-01"},
        "items": [
            {"id": 1, "expenseCategory": 9, "description": "Hotel in New York",
             "expenseCurrencyID": 2, "expenseCurrencyExpenseAmount": 200.0,
             "internalCurrencyExpenseAmount": 305.4,
             "internalCurrencyReimbursementAmount": 305.4, "isReimbursable": True},
            {"id": 2, "expenseCategory": 9, "description": "Flight on the company card",
             "expenseCurrencyExpenseAmount": 900.0, "internalCurrencyExpenseAmount": 900.0,
             "isReimbursable": False},
            {"id": 3, "expenseCategory": 9, "description": "Minibar",
             "expenseCurrencyExpenseAmount": 40.0, "internalCurrencyExpenseAmount": 40.0,
             "internalCurrencyReimbursementAmount": 40.0, "isRejected": True},
        ],
        "currency": "AUD",
    }  # fmt: skip
    bill = build_bill(snapshot, {"3": "c-1"}, {}, "429")
    assert isinstance(bill, dict)
    assert bill["CurrencyCode"] == "AUD"
    assert [(line["Description"], line["UnitAmount"]) for line in bill["LineItems"]] == [
        ("Hotel in New York", 305.4)
    ]
    nothing = {**snapshot, "items": snapshot["items"][1:]}
    reasons = build_bill(nothing, {"3": "c-1"}, {}, "429")
    assert isinstance(reasons, list) and "nothing to reimburse" in reasons[0]


def test_bills_carry_the_internal_currency(made: Rig) -> None:
    store = made.store()
    switch_on(made, store)
    report = made.engine(store).run_cycle()
    assert report.ok, report.errors
    bills_made = expense_bills(made, made.au)
    assert bills_made and {b["CurrencyCode"] for b in bills_made} == {"AUD"}


def test_reports_approved_before_the_window_are_left_alone(made: Rig) -> None:
    """As invoices are polled: the reports approved within days_back, not every one ever."""
    old = approved(made)[0]
    made.sandbox.autotask.update("ExpenseReports", old["id"], approvedDate="2024-01-05T10:00:00")
    store = made.store()
    switch_on(made, store)
    engine = made.engine(store)
    report = engine.run_cycle()
    assert report.ok, report.errors
    assert expense_calls(engine) == {"ExpenseReports": 1}  # asked, and nothing came back
    references = {b["Reference"] for b in expense_bills(made, made.au)}
    assert f"Expense report {old['name']}" not in references
    assert str(old["id"]) not in {r.autotask_id for r in expense_rows(store)}
