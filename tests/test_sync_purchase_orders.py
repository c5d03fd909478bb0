"""Autotask purchase orders as Xero purchase orders or bills (issue 5 §2), against the sandbox.

``sync_purchase_orders`` off (the default) asks Autotask nothing about them; on, each order at
the trigger status becomes one document in the default organisation, once; a change in Autotask
updates a draft and is held for the user once the document is approved.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_sync_kit import Rig, money, rig, seeded_world

from agent.control.service import AgentService
from agent.mapping.purchase_orders import describe_change, total_of
from agent.store import OutboxKind, OutboxState, Store
from agent.sync.maintenance import request_resync
from sandbox.faults import Fault
from sandbox.world import World

S = OutboxState
INVOICES = 60  # the seed makes max(INVOICES // 10, 3) purchase orders
TRIGGERED = (2, 3, 4)  # Submitted, Partially Received, Received Full


def world_with_untriggered() -> World:
    """The seeded world plus a New order (never submitted) and a Cancelled one: never sent."""
    world = seeded_world(INVOICES)
    source = world.autotask["PurchaseOrders"][0]
    lines = [i for i in world.autotask["PurchaseOrderItems"] if i["orderID"] == source["id"]]
    for offset, status in ((900, 1), (901, 5)):
        order = copy.deepcopy(source)
        order.update(id=7_000 + offset, purchaseOrderNumber=f"PO-{7_000 + offset}", status=status)
        if status == 1:
            order["submitDateTime"] = None
        world.autotask["PurchaseOrders"].append(order)
        for index, line in enumerate(lines):
            item = copy.deepcopy(line)
            item.update(id=99_000 + offset * 10 + index, orderID=order["id"])
            world.autotask["PurchaseOrderItems"].append(item)
    return world


@pytest.fixture
def made(tmp_path: Path) -> Iterator[Rig]:
    with rig(tmp_path, world_with_untriggered()) as made:
        yield made


def switch_on(store: Store, **settings: Any) -> None:
    store.settings.set("sync_purchase_orders", True)
    store.settings.set("po_cogs_account", "310")
    store.settings.set("po_freight_account", "425")
    for key, value in settings.items():
        store.settings.set(key, value)


def orders(made: Rig, *statuses: int) -> list[dict[str, Any]]:
    wanted = statuses or TRIGGERED
    return [o for o in made.sandbox.autotask.records("PurchaseOrders") if o["status"] in wanted]


def items_of(made: Rig, order_id: int) -> list[dict[str, Any]]:
    found = [i for i in made.sandbox.autotask.records("PurchaseOrderItems")
             if i["orderID"] == order_id]  # fmt: skip
    return sorted(found, key=lambda i: int(i["id"]))


def xero_orders(made: Rig, tenant: str | None = None) -> dict[str, dict[str, Any]]:
    ledger = made.sandbox.xero.ledger(tenant or made.au)
    with made.sandbox.xero.lock:
        return {str(d["Reference"]): dict(d) for d in ledger.org.purchase_orders}


def xero_bills(made: Rig) -> dict[str, dict[str, Any]]:
    ledger = made.sandbox.xero.ledger(made.au)
    with made.sandbox.xero.lock:
        return {
            str(d.get("Reference")): dict(d)
            for d in ledger.org.invoices
            if d.get("Type") == "ACCPAY" and str(d.get("Reference") or "").startswith("PO-")
        }


def po_rows(store: Store, *states: OutboxState) -> list[Any]:
    return store.outbox.list_rows(
        states=states or None, kind=OutboxKind.PURCHASE_ORDER, limit=100_000
    )


def po_calls(engine: Any) -> dict[str, int]:
    return {e: n for e, n in engine.autotask.calls_made.items() if "PurchaseOrder" in e}


def expected_total(made: Rig, order: dict[str, Any]) -> Decimal:
    lines = sum(
        (Decimal(str(i["quantity"])) * Decimal(str(i["internalCurrencyUnitCost"]))).quantize(
            Decimal("0.01")
        )
        for i in items_of(made, int(order["id"]))
    )
    return money(lines + Decimal(str(order["internalCurrencyFreight"] or 0)))


def set_xero_status(made: Rig, reference: str, status: str) -> None:
    ledger = made.sandbox.xero.ledger(made.au)
    with made.sandbox.xero.lock:
        for document in ledger.org.purchase_orders:
            if document["Reference"] == reference:
                document["Status"] = status


def cycle(made: Rig, store: Store) -> Any:
    engine = made.engine(store)
    report = engine.run_cycle()
    assert report.ok, report.errors
    return report, engine


def test_off_by_default_asks_nothing(made: Rig) -> None:
    store = made.store()
    report, engine = cycle(made, store)
    assert po_calls(engine) == {}
    assert xero_orders(made) == xero_orders(made, made.uk) == {}
    assert po_rows(store) == [] and report.po_created == 0


def test_each_triggered_order_becomes_one_xero_purchase_order(made: Rig) -> None:
    store = made.store()
    switch_on(store)
    report, engine = cycle(made, store)
    wanted = orders(made)
    assert len(wanted) >= 3 and len(orders(made, 1, 5)) >= 2
    found = xero_orders(made)
    assert xero_orders(made, made.uk) == {}  # the default organisation only
    assert report.po_created == len(wanted) == len(found)
    assert sorted(found) == sorted(o["purchaseOrderNumber"] for o in wanted)
    assert sum(po_calls(engine).values()) == 2  # the orders, then their items
    for order in wanted:
        document = found[order["purchaseOrderNumber"]]
        items = items_of(made, int(order["id"]))
        freight = Decimal(str(order["internalCurrencyFreight"] or 0))
        assert document["Status"] == "DRAFT"
        assert document["LineAmountTypes"] == "Exclusive"
        assert document["CurrencyCode"] == "AUD"
        assert len(document["LineItems"]) == len(items) + (1 if freight else 0)
        for line, item in zip(document["LineItems"], items, strict=False):
            assert Decimal(str(line["Quantity"])) == Decimal(str(item["quantity"]))
            assert money(line["UnitAmount"]) == money(item["internalCurrencyUnitCost"])
            assert line["AccountCode"] == "310"
            assert line["Description"] == item["memo"]
        if freight:
            assert document["LineItems"][-1]["Description"] == "Freight"
            assert document["LineItems"][-1]["AccountCode"] == "425"
        assert money(document["SubTotal"]) == expected_total(made, order)
        assert document["Date"].isoformat() == order["submitDateTime"][:10]
    assert any(line.get("ItemCode") for d in found.values() for line in d["LineItems"])
    assert len(po_rows(store, S.DONE)) == len(wanted)

    again, engine = cycle(made, store)
    assert again.po_created == again.po_updated == 0
    assert sum(po_calls(engine).values()) == 2
    assert "Products" not in engine.autotask.calls_made  # nothing changed: no vendor or product
    assert len(xero_orders(made)) == len(wanted)


def test_trigger_status_received_sends_only_fully_received_orders(made: Rig) -> None:
    store = made.store()
    switch_on(store, po_trigger_status="received")
    report, _ = cycle(made, store)
    received = orders(made, 4)
    assert report.po_created == len(received) == len(xero_orders(made))
    assert sorted(xero_orders(made)) == sorted(o["purchaseOrderNumber"] for o in received)


def test_bills_with_vendor_invoice_number_due_date_and_status(made: Rig) -> None:
    store = made.store()
    switch_on(store, po_document="bill", po_status="AUTHORISED", po_trigger_status="received")
    report, _ = cycle(made, store)
    bills = xero_bills(made)
    received = orders(made, 4)
    assert xero_orders(made) == {}
    assert report.po_created == len(received) == len(bills) > 0
    for order in received:
        bill = bills[order["purchaseOrderNumber"]]
        assert bill["Status"] == "AUTHORISED" and bill["Type"] == "ACCPAY"
        assert bill["InvoiceNumber"] == order["vendorInvoiceNumber"]
        submitted = date.fromisoformat(order["submitDateTime"][:10])
        assert bill["DueDate"] == submitted + timedelta(days=30)  # payment term 4: Net 30
        assert money(bill["SubTotal"]) == expected_total(made, order)


def test_a_products_purchase_account_wins_over_cogs(made: Rig) -> None:
    store = made.store()
    switch_on(store)
    order = orders(made)[0]
    product = items_of(made, int(order["id"]))[0]["productID"]
    store.mappings.set("", "purchase_account", f"product:{product}", "429")
    cycle(made, store)
    document = xero_orders(made)[order["purchaseOrderNumber"]]
    pairs = zip(document["LineItems"], items_of(made, int(order["id"])), strict=False)
    accounts = {
        line["Description"]: line["AccountCode"] for line, item in pairs
        if item["productID"] == product
    }  # fmt: skip
    assert accounts and set(accounts.values()) == {"429"}


def test_missing_accounts_block_with_the_fix_until_set(made: Rig) -> None:
    store = made.store()
    switch_on(store)
    store.settings.set("po_cogs_account", None)
    store.settings.set("po_freight_account", None)
    report, _ = cycle(made, store)
    blocked = po_rows(store, S.BLOCKED)
    assert len(blocked) == len(orders(made)) and report.po_created == 0
    assert all("po_cogs_account" in " ".join(r.block_reasons) for r in blocked)
    freighted = [o for o in orders(made) if o["internalCurrencyFreight"]]
    assert freighted
    by_id = {r.autotask_id: r for r in blocked}
    for order in freighted:
        assert "po_freight_account" in " ".join(by_id[str(order["id"])].block_reasons)
    assert xero_orders(made) == {}

    store.settings.set("po_cogs_account", "310")
    store.settings.set("po_freight_account", "425")
    later, _ = cycle(made, store)  # blocked orders are mapped again each cycle
    assert later.po_created == len(orders(made)) == len(xero_orders(made))


def test_a_change_while_draft_updates_the_same_document(made: Rig) -> None:
    store = made.store()
    switch_on(store)
    cycle(made, store)
    order = orders(made)[0]
    number = order["purchaseOrderNumber"]
    before = xero_orders(made)[number]
    item = items_of(made, int(order["id"]))[0]
    made.sandbox.autotask.update("PurchaseOrderItems", item["id"], quantity=item["quantity"] + 2)
    report, _ = cycle(made, store)
    assert report.po_changed == 1 and report.po_updated == 1 and report.po_created == 0
    after = xero_orders(made)
    assert len(after) == len(orders(made))
    assert after[number]["PurchaseOrderID"] == before["PurchaseOrderID"]
    assert after[number]["LineItems"][0]["Quantity"] == item["quantity"] + 2
    assert money(after[number]["SubTotal"]) == expected_total(made, order)
    (row,) = [r for r in po_rows(store) if r.autotask_id == str(order["id"])]
    assert row.state is S.DONE
    third, _ = cycle(made, store)
    assert third.po_updated == 0  # the update is now what was sent


def change_after_approval(made: Rig, store: Store, **fields: Any) -> tuple[Any, ...]:
    """Orders sent; the first approved in Xero, then its first item changed in Autotask (by
    ``fields``, else one more of it) and a cycle run: (order, its number, the item as it was,
    the cycle's report, the order's row)."""
    switch_on(store)
    cycle(made, store)
    order = orders(made)[0]
    number = order["purchaseOrderNumber"]
    set_xero_status(made, number, "AUTHORISED")
    item = items_of(made, int(order["id"]))[0]
    change = fields or {"quantity": item["quantity"] + 1}
    made.sandbox.autotask.update("PurchaseOrderItems", item["id"], **change)
    report, _ = cycle(made, store)
    (row,) = [r for r in po_rows(store) if r.autotask_id == str(order["id"])]
    return order, number, item, report, row


def test_a_change_after_approval_is_held_for_the_user(made: Rig) -> None:
    store = made.store()
    _, number, item, report, row = change_after_approval(made, store)
    old = item["quantity"]
    assert report.po_updated == 0
    assert row.state is S.BLOCKED
    reason = row.block_reasons[0]
    assert f"{number} changed in Autotask after its Xero purchase order was authorised" in reason
    assert f"quantity {float(old)} → {float(old + 1)}" in reason
    assert "retry to apply" in reason and "skip to keep" in reason
    assert xero_orders(made)[number]["LineItems"][0]["Quantity"] == old  # untouched

    quiet, _ = cycle(made, store)  # nothing new: the row keeps waiting untouched
    assert quiet.po_updated == 0
    assert store.outbox.get(row.id) == row

    # The user decides to apply it (the control API's retry: read again, then send).
    store.outbox.retry(row.id)
    store.outbox.update(row.id, payload=None, detail="retried: read again from Autotask")
    applied, _ = cycle(made, store)
    assert applied.po_updated == 1
    document = xero_orders(made)[number]
    assert document["LineItems"][0]["Quantity"] == old + 1
    assert document["Status"] == "AUTHORISED"
    assert store.outbox.get(row.id).state is S.DONE  # type: ignore[union-attr]


def test_skip_keeps_xeros_version(made: Rig) -> None:
    store = made.store()
    _, number, _, _, row = change_after_approval(
        made, store, unitCost=1.0, internalCurrencyUnitCost=1.0
    )
    assert "unit cost" in row.block_reasons[0]
    store.outbox.skip(row.id, reason="keep Xero's")
    before = xero_orders(made)[number]
    report, _ = cycle(made, store)
    assert report.po_updated == 0
    assert xero_orders(made)[number] == before
    assert store.outbox.get(row.id).state is S.SKIPPED  # type: ignore[union-attr]


def test_a_change_that_does_not_alter_the_document_calls_no_one(made: Rig) -> None:
    store = made.store()
    switch_on(store)
    cycle(made, store)
    order = orders(made)[0]
    made.sandbox.autotask.update("PurchaseOrders", order["id"], taxRegionID=999)
    report, engine = cycle(made, store)
    assert report.po_updated == report.po_changed == report.blocked == 0
    assert engine.xero.statuses()[made.au].calls_made <= 2  # the payments poll only
    (row,) = [r for r in po_rows(store) if r.autotask_id == str(order["id"])]
    assert row.state is S.DONE and row.snapshot["order"]["taxRegionID"] == 999


def test_unknown_outcome_finds_the_order_instead_of_creating_again(made: Rig) -> None:
    store = made.store()
    switch_on(store)
    cycle(made, store)
    first = xero_orders(made)
    row = po_rows(store, S.DONE)[0]
    # As if the create had been sent but its answer lost: due again, to look up first.
    request_resync(store, row.id)
    store.outbox._db.execute(  # type: ignore[attr-defined]
        "UPDATE outbox SET needs_lookup = 1, xero_id = NULL WHERE id = ?", (row.id,)
    )
    report, _ = cycle(made, store)
    assert report.adopted == 1 and report.po_created == 0
    assert sorted(xero_orders(made)) == sorted(first)
    assert {k: d["PurchaseOrderID"] for k, d in xero_orders(made).items()} == {
        k: d["PurchaseOrderID"] for k, d in first.items()
    }


def test_a_draft_found_after_an_unknown_outcome_takes_the_order_as_it_is_now(made: Rig) -> None:
    """Created, the answer lost, then the order changed in Autotask before the next run: the
    draft found by its Reference is updated to the order as it is now, not adopted as is."""
    store = made.store()
    switch_on(store)
    cycle(made, store)
    row = po_rows(store, S.DONE)[0]
    order = made.sandbox.autotask.get("PurchaseOrders", int(row.autotask_id)) or {}
    request_resync(store, row.id)
    store.outbox._db.execute(  # type: ignore[attr-defined]
        "UPDATE outbox SET needs_lookup = 1, xero_id = NULL WHERE id = ?", (row.id,)
    )
    item = items_of(made, int(order["id"]))[0]
    made.sandbox.autotask.update("PurchaseOrderItems", item["id"], quantity=item["quantity"] + 7)
    before = len(xero_orders(made))
    report, _ = cycle(made, store)
    assert report.adopted == 1 and report.po_created == 0
    assert len(xero_orders(made)) == before
    document = xero_orders(made)[order["purchaseOrderNumber"]]
    assert document["LineItems"][0]["Quantity"] == item["quantity"] + 7
    after = store.outbox.get(row.id)
    assert after is not None and after.state is S.DONE
    assert after.xero_id == document["PurchaseOrderID"]


def test_a_vendor_without_a_xero_contact_gets_one_once(made: Rig) -> None:
    order = orders(made)[0]
    vendor = made.sandbox.autotask.get("Companies", order["vendorID"])
    assert vendor is not None
    made.sandbox.autotask.update("Companies", vendor["id"], companyName="Brand New Supplies Pty")
    store = made.store()
    switch_on(store)
    report, _ = cycle(made, store)
    assert report.contacts_created >= 1
    mapping = store.mappings.get(made.au, "contact", str(vendor["id"]))
    assert mapping is not None
    same_vendor = [o for o in orders(made) if o["vendorID"] == vendor["id"]]
    found = xero_orders(made)
    assert {found[o["purchaseOrderNumber"]]["Contact"]["ContactID"] for o in same_vendor} == {
        mapping.target
    }
    ledger = made.sandbox.xero.ledger(made.au)
    with made.sandbox.xero.lock:
        named = [c for c in ledger.org.contacts if c["Name"] == "Brand New Supplies Pty"]
    assert len(named) == 1 and named[0]["ContactNumber"] == str(vendor["id"])


def test_describe_change_names_what_differs() -> None:
    before = {
        "Contact": {"ContactID": "c"},
        "Date": "2026-11-01",
        "LineItems": [
            {"Description": "Laptop", "Quantity": 2, "UnitAmount": 1000.0, "AccountCode": "310"},
            {"Description": "Freight", "Quantity": 1, "UnitAmount": 25.0, "AccountCode": "425"},
        ],
    }
    after = {
        "Contact": {"ContactID": "c"},
        "Date": "2026-11-02",
        "LineItems": [
            {"Description": "Laptop", "Quantity": 3, "UnitAmount": 1000.0, "AccountCode": "310"},
        ],
    }
    assert total_of(before) == Decimal("2025.00")
    assert describe_change(before, after) == [
        "total (ex tax) 2,025.00 → 3,000.00",
        "line 1: quantity 2 → 3",
        "line 2 removed: 1 x 25.0 Freight",
        "Date 2026-11-01 → 2026-11-02",
    ]
    assert describe_change(before, before) == []


def test_the_queue_shows_orders_and_the_decision_to_take(made: Rig) -> None:
    store = made.store()
    switch_on(store)
    cycle(made, store)
    order = orders(made)[0]
    number = order["purchaseOrderNumber"]
    (row,) = [r for r in po_rows(store) if r.autotask_id == str(order["id"])]
    service = AgentService(made.settings(), store)
    detail = service.queue_detail(row.id)
    vendor = made.sandbox.autotask.get("Companies", order["vendorID"]) or {}
    assert detail["kind"] == "purchase_order" and detail["number"] == number
    assert detail["customer"] == vendor["companyName"] and detail["currency"] == "AUD"
    assert money(detail["total"]) == expected_total(made, order)
    assert detail["actions"] == ["resync"]
    assert detail["provenance"][0]["account"] == "310 ← po_cogs_account"
    assert detail["provenance"][0]["description"] == items_of(made, int(order["id"]))[0]["memo"]

    set_xero_status(made, number, "AUTHORISED")
    item = items_of(made, int(order["id"]))[0]
    made.sandbox.autotask.update("PurchaseOrderItems", item["id"], quantity=item["quantity"] + 5)
    cycle(made, store)
    detail = service.queue_detail(row.id)
    assert detail["state"] == "blocked" and detail["actions"] == ["retry", "skip"]
    assert "retry to apply the change" in detail["fix"]
    assert any("changed in Autotask after" in (h["detail"] or "") for h in detail["history"])
    found = service.queue(states=None, kinds=["purchase_order"], org=None, text=None,
                          cursor=None, limit=100)  # fmt: skip
    assert {i["number"] for i in found["items"]} == {o["purchaseOrderNumber"] for o in orders(made)}

    service.retry_row(row.id)  # the user applies the change
    cycle(made, store)
    assert xero_orders(made)[number]["LineItems"][0]["Quantity"] == item["quantity"] + 5


def test_xero_failing_to_answer_for_a_changed_order_leaves_the_rest_of_the_cycle(
    made: Rig,
) -> None:
    """The status of a changed order's document cannot be read: the cycle reports it and goes
    on (payments back still run); the next cycle updates the draft."""
    store = made.store()
    switch_on(store)
    cycle(made, store)
    order = orders(made)[0]
    item = items_of(made, int(order["id"]))[0]
    made.sandbox.autotask.update("PurchaseOrderItems", item["id"], quantity=item["quantity"] + 3)
    fault = made.sandbox.xero_faults.add(
        Fault(kind="error", status=503, path_contains="/PurchaseOrders/", method="GET", times=20)
    )
    engine = made.engine(store)
    operations: list[str] = []
    call = engine.xero.gateway.call

    def counting(tenant_id: str, operation: str, **kwargs: Any) -> Any:
        operations.append(operation)
        return call(tenant_id, operation, **kwargs)

    engine.xero.gateway.call = counting  # type: ignore[method-assign]
    report = engine.run_cycle()
    assert any("purchase order sync: Xero: " in e for e in report.errors)
    assert report.po_updated == 0
    assert operations.count("get_payments") == 2  # payments back still ran, for both books
    made.sandbox.xero_faults.clear()
    assert fault.times is not None and fault.times < 20
    later, _ = cycle(made, store)
    assert later.po_updated == 1
    updated = xero_orders(made)[order["purchaseOrderNumber"]]
    assert updated["LineItems"][0]["Quantity"] == item["quantity"] + 3


# -- orders cancelled in Autotask -------------------------------------------------------------


def cancel(made: Rig, order: dict[str, Any]) -> None:
    made.sandbox.autotask.update(
        "PurchaseOrders", order["id"], status=5, cancelDateTime=made.now().isoformat()
    )


def test_a_cancelled_draft_is_deleted_in_xero(made: Rig) -> None:
    store = made.store()
    switch_on(store)
    cycle(made, store)
    order = orders(made)[0]
    number = order["purchaseOrderNumber"]
    cancel(made, order)
    report, _ = cycle(made, store)
    assert report.po_cancelled == 1
    assert xero_orders(made)[number]["Status"] == "DELETED"
    (row,) = [r for r in po_rows(store) if r.autotask_id == str(order["id"])]
    assert row.state is S.VOIDED and row.snapshot["order"]["status"] == 5
    again, _ = cycle(made, store)
    assert again.po_cancelled == 0 and again.xero_writes == 0


def test_a_cancelled_approved_order_waits_for_the_user(made: Rig) -> None:
    store = made.store()
    switch_on(store)
    cycle(made, store)
    order = orders(made)[0]
    number = order["purchaseOrderNumber"]
    set_xero_status(made, number, "AUTHORISED")
    cancel(made, order)
    cycle(made, store)
    (row,) = [r for r in po_rows(store) if r.autotask_id == str(order["id"])]
    assert row.state is S.BLOCKED
    assert row.block_reasons == (
        f"purchase order {number} was cancelled in Autotask after its Xero purchase order was"
        " authorised: retry to delete it in Xero, or skip to keep it",
    )
    service = AgentService(made.settings(), store)
    assert "retry to delete" in service.queue_detail(row.id)["fix"]
    attention = {i["kind"]: i for i in service.attention()}
    assert attention["decision"]["count"] == 1
    assert "after approval in Xero" in attention["decision"]["message"]
    assert (
        attention.get("blocked", {}).get("count", 0)
        == store.outbox.counts_by_state().get("blocked", 0) - 1
    )
    quiet, _ = cycle(made, store)
    assert xero_orders(made)[number]["Status"] == "AUTHORISED"
    assert quiet.po_cancelled == 0 and store.outbox.get(row.id) == row
    service.retry_row(row.id)  # the user's go-ahead
    done, _ = cycle(made, store)
    assert done.po_cancelled == 1
    assert xero_orders(made)[number]["Status"] == "DELETED"
    assert store.outbox.get(row.id).state is S.VOIDED  # type: ignore[union-attr]


def test_an_order_cancelled_before_it_was_sent_is_skipped(made: Rig) -> None:
    store = made.store()
    switch_on(store)
    store.settings.set("po_cogs_account", None)  # every order blocks: nothing sent
    cycle(made, store)
    order = orders(made)[0]
    cancel(made, order)
    store.settings.set("po_cogs_account", "310")
    report, _ = cycle(made, store)
    (row,) = [r for r in po_rows(store) if r.autotask_id == str(order["id"])]
    assert row.state is S.SKIPPED and row.xero_id is None
    assert order["purchaseOrderNumber"] not in xero_orders(made)
    assert report.po_created == len(orders(made))  # the others went


def test_a_cancelled_bill_is_voided_on_the_users_word_and_a_paid_one_is_held(made: Rig) -> None:
    store = made.store()
    switch_on(store, po_document="bill", po_status="AUTHORISED")
    cycle(made, store)
    first, second = orders(made)[:2]
    bills = xero_bills(made)
    paid = bills[second["purchaseOrderNumber"]]
    made.sandbox.xero.record_payment(made.au, paid["InvoiceID"], "10.00", made.now().date())
    cancel(made, first)
    cancel(made, second)
    cycle(made, store)
    rows = {r.autotask_id: r for r in po_rows(store)}
    held, blocked = rows[str(first["id"])], rows[str(second["id"])]
    assert held.state is S.BLOCKED and "retry to void it" in held.block_reasons[0]
    assert blocked.state is S.BLOCKED and "is paid or credited" in blocked.block_reasons[0]
    AgentService(made.settings(), store).retry_row(held.id)
    report, _ = cycle(made, store)
    assert report.po_cancelled == 1
    after = xero_bills(made)
    assert after[first["purchaseOrderNumber"]]["Status"] == "VOIDED"
    assert after[second["purchaseOrderNumber"]]["Status"] == "AUTHORISED"


def test_a_tax_region_mapped_to_a_tax_rate_taxes_its_orders_lines(made: Rig) -> None:
    """An order from an overseas vendor (the UK tax region here) to a rate without GST; the others
    keep no TaxType (the account's default rate); a rate Xero does not have blocks."""
    from sandbox import seed_catalog as cat

    made.sandbox.autotask.update("PurchaseOrders", orders(made)[1]["id"], taxRegionID=cat.TR_UK)
    store = made.store()
    switch_on(store)
    store.mappings.set(made.au, "purchase_tax", str(cat.TR_UK), "BASEXCLUDED")
    cycle(made, store)
    found = xero_orders(made)
    overseas = [o for o in orders(made) if o["taxRegionID"] == cat.TR_UK]
    local = [o for o in orders(made) if o["taxRegionID"] != cat.TR_UK]
    assert overseas and local
    for order in overseas:
        lines = found[order["purchaseOrderNumber"]]["LineItems"]
        assert {line.get("TaxType") for line in lines} == {"BASEXCLUDED"}
        assert money(found[order["purchaseOrderNumber"]]["TotalTax"]) == 0
    for order in local:
        lines = found[order["purchaseOrderNumber"]]["LineItems"]
        assert {line.get("TaxType") for line in lines} == {"INPUT"}  # the accounts' default
    row = next(r for r in po_rows(store) if r.autotask_id == str(overseas[0]["id"]))
    assert row.payload is not None
    assert row.payload["provenance"][0]["tax"] == (
        f"BASEXCLUDED ← purchase_tax mapping of tax region {cat.TR_UK}"
    )


def test_a_purchase_tax_xero_does_not_have_blocks_with_the_fix(made: Rig) -> None:
    from sandbox import seed_catalog as cat

    made.sandbox.autotask.update("PurchaseOrders", orders(made)[0]["id"], taxRegionID=cat.TR_UK)
    store = made.store()
    switch_on(store)
    store.mappings.set("", "purchase_tax", str(cat.TR_UK), "NOSUCHRATE")
    cycle(made, store)
    overseas = {str(o["id"]) for o in orders(made) if o["taxRegionID"] == cat.TR_UK}
    blocked = [r for r in po_rows(store, S.BLOCKED) if r.autotask_id in overseas]
    assert overseas and len(blocked) == len(overseas)
    assert all(
        "purchase_tax: there is no tax rate NOSUCHRATE in Xero; map another" in r.block_reasons[0]
        for r in blocked
    )


# -- several organisations ------------------------------------------------------------------------


def test_orders_are_routed_by_vendor_customer_or_currency_else_the_default(made: Rig) -> None:
    """The routing mappings invoices use (global): the vendor as a company, the customer the
    order is for, the vendor's currency; then the default organisation."""
    first, second, third, *rest = orders(made)
    made.sandbox.autotask.update("PurchaseOrders", second["id"], purchaseForCompanyID=29_999)
    usd = next(c["id"] for c in made.sandbox.autotask.records("Currencies") if c["name"] == "USD")
    vendor = dict(made.sandbox.autotask.get("Companies", third["vendorID"]) or {})
    made.sandbox.autotask.add("Companies", vendor | {"id": 61_500, "currencyID": usd})
    made.sandbox.autotask.update("PurchaseOrders", third["id"], vendorID=61_500)
    for order in rest:  # the others: a vendor nothing routes
        made.sandbox.autotask.update("PurchaseOrders", order["id"], vendorID=61_600)
    made.sandbox.autotask.add("Companies", vendor | {"id": 61_600, "companyName": "Plain Vendor"})
    with made.sandbox.xero.lock:  # the UK books take AUD documents (multi-currency)
        made.sandbox.xero.ledger(made.uk).org.currencies.append(
            {"Code": "AUD", "Description": "Australian Dollar"}
        )
    store = made.store()
    switch_on(store)
    store.mappings.set("", "routing_company", str(first["vendorID"]), made.uk)
    store.mappings.set("", "routing_company", "29999", made.uk)
    store.mappings.set("", "routing_currency", "USD", made.uk)
    cycle(made, store)
    uk, au = xero_orders(made, made.uk), xero_orders(made, made.au)
    assert {first["purchaseOrderNumber"], second["purchaseOrderNumber"]} <= set(uk)
    assert third["purchaseOrderNumber"] in uk
    assert {o["purchaseOrderNumber"] for o in rest} <= set(au)
    assert not set(uk) & set(au)
    rows = {r.autotask_id: r for r in po_rows(store)}
    assert rows[str(first["id"])].org == made.uk and rows[str(rest[0]["id"])].org == made.au
    routed = (rows[str(third["id"])].payload or {}).get("routing", "")
    assert routed.startswith("vendor currency USD routed to")
    assert (rows[str(second["id"])].payload or {})["routing"].startswith("customer 29999")


def test_with_no_rule_and_no_default_orders_are_held_until_one_is_set(made: Rig) -> None:
    store = made.store()
    switch_on(store)
    store.settings.delete("default_org")
    cycle(made, store)
    held = po_rows(store, S.BLOCKED)
    assert len(held) == len(orders(made)) and {r.org for r in held} == {""}
    assert held[0].block_reasons[0].startswith("routing: no rule routes purchase order")
    assert xero_orders(made) == xero_orders(made, made.uk) == {}
    store.settings.set("default_org", made.au)
    later, _ = cycle(made, store)
    assert later.po_created == len(orders(made)) == len(xero_orders(made))
    assert {r.org for r in po_rows(store)} == {made.au}


def test_books_without_the_internal_currency_refuse_with_xeros_reason(made: Rig) -> None:
    """Amounts go in Autotask's internal currency (AUD here): an organisation that has not
    enabled it says so, and the order waits with that reason (no guessed conversion)."""
    first = orders(made)[0]
    store = made.store()
    switch_on(store)
    store.mappings.set("", "routing_company", str(first["vendorID"]), made.uk)
    cycle(made, store)
    rows = [r for r in po_rows(store) if r.org == made.uk]
    assert rows and all(r.state is S.BLOCKED for r in rows)
    assert "Organisation is not subscribed to currency AUD" in rows[0].block_reasons[0]
    assert xero_orders(made, made.uk) == {}
