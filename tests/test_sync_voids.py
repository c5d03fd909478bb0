"""Voids and changes after posting (issue 5 §5), against the sandbox.

An Autotask invoice voided after it was posted: its Xero draft is deleted, an approved one
voided, one with a payment (or a credit note with an allocation) left alone with the reason on a
blocked void row; exactly once across a crash right after the Xero write; and the Autotask calls
an idle cycle spends on it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_sync_kit import Rig, rig, seeded_world

from agent.control.service import AgentService
from agent.store import OutboxKind, OutboxRow, OutboxState, Store
from agent.sync import SyncEngine
from agent.sync.maintenance import request_resync, requeue_unblocked
from agent.sync.voids import VoidSync
from sandbox.xero import settlements

S = OutboxState


@pytest.fixture
def made(tmp_path: Path) -> Iterator[Rig]:
    with rig(tmp_path, seeded_world(24, seed_value=11)) as found:
        yield found


def synced(made: Rig, status: str = "DRAFT") -> tuple[Store, SyncEngine]:
    store = made.store()
    store.settings.set("invoice_status", status)
    engine = made.engine(store)
    report = engine.run_cycle()
    assert report.ok, report.errors
    return store, engine


def done_rows(store: Store, kind: OutboxKind = OutboxKind.INVOICE) -> list[OutboxRow]:
    rows = store.outbox.list_rows(states=[S.DONE], kind=kind, limit=1000)
    return sorted(rows, key=lambda r: r.id)


def xero_doc(made: Rig, row: OutboxRow) -> dict[str, Any]:
    found = [
        d
        for d in made.xero_documents(row.org)
        if (d.get("InvoiceID") or d.get("CreditNoteID")) == row.xero_id
    ]
    assert len(found) == 1
    return found[0]


def void_row(store: Store, doc: OutboxRow) -> OutboxRow:
    found = store.outbox.find(OutboxKind.VOID, doc.autotask_id, doc.org)
    assert found is not None
    return found


def document_count(made: Rig) -> int:
    return sum(len(made.xero_documents(t)) for t in (made.au, made.uk))


def history(store: Store, row: OutboxRow) -> str:
    return " | ".join(e.detail or "" for e in store.outbox.events(row.id))


def test_a_draft_voided_in_autotask_is_deleted_in_xero_once(made: Rig) -> None:
    store, engine = synced(made)
    row = done_rows(store)[0]
    assert xero_doc(made, row)["Status"] == "DRAFT"
    count = document_count(made)
    made.sandbox.autotask.void_invoice(int(row.autotask_id))

    report = engine.run_cycle()
    assert report.ok, report.errors
    assert report.deleted_in_xero == 1 and report.voided_in_xero == 0
    assert xero_doc(made, row)["Status"] == "DELETED"
    assert document_count(made) == count  # deleted documents stay listed, none added
    after = store.outbox.get(row.id)
    assert after is not None and after.state is S.VOIDED
    assert "DELETED in Xero" in history(store, after) or "deleted in Xero" in history(store, after)
    work = void_row(store, row)
    assert work.state is S.DONE and work.attempts == 1
    assert "deleted in Xero (it was DRAFT)" in history(store, work)
    assert "1 deleted in Xero (voided in Autotask)" in report.summary()

    again = engine.run_cycle()
    assert again.ok and again.deleted_in_xero == again.voided_in_xero == 0
    assert again.xero_writes == 0


def test_an_approved_invoice_is_voided_and_one_with_a_payment_is_blocked(made: Rig) -> None:
    store, engine = synced(made, "AUTHORISED")
    plain, paid = done_rows(store)[:2]
    made.sandbox.xero.record_payment(paid.org, str(paid.xero_id), 5)
    before_paid = xero_doc(made, paid)
    for row in (plain, paid):
        made.sandbox.autotask.void_invoice(int(row.autotask_id))

    report = engine.run_cycle()
    assert report.voided_in_xero == 1 and report.void_blocked == 1
    assert xero_doc(made, plain)["Status"] == "VOIDED"
    after = store.outbox.get(plain.id)
    assert after is not None and after.state is S.VOIDED
    # The paid one: untouched in Xero, the void row blocked with what to do.
    assert xero_doc(made, paid) == before_paid
    blocked = void_row(store, paid)
    assert blocked.state is S.BLOCKED
    (reason,) = blocked.block_reasons
    assert "5.00 paid" in reason and "remove the payment" in reason and "retry" in reason
    assert "void it in Xero by hand" in reason
    doc = store.outbox.get(paid.id)
    assert doc is not None and doc.state is S.DONE and doc.last_error == reason
    # What the TUI's queue detail shows (control API), for both rows.
    service = AgentService(made.settings(), store)
    detail = service.queue_detail(blocked.id)
    assert detail["kind"] == "void" and detail["state"] == "blocked"
    assert detail["actions"] == ["retry", "skip"] and "remove that in Xero" in detail["fix"]
    assert detail["number"] == paid.snapshot["invoice"].get("invoiceNumber")
    assert any(h["detail"] == "blocked: " + reason for h in detail["history"])
    shown = service.queue_detail(paid.id)
    assert shown["last_error"] == reason
    assert any("voided in Autotask on" in (h["detail"] or "") for h in shown["history"])

    # Nothing is tried again by itself (saving a mapping maps blocked documents only)...
    requeue_unblocked(store, made.settings(), made.now().date())
    assert void_row(store, paid).block_reasons == (reason,)
    quiet = engine.run_cycle()
    assert quiet.void_blocked == 0 and quiet.xero_writes == 0
    # ...until the payment is removed in Xero and the user retries the row.
    payment = next(
        p for p in made.sandbox.xero.payments(paid.org) if p["_document_id"] == paid.xero_id
    )
    made.sandbox.xero.delete_payment(paid.org, payment["PaymentID"])
    store.outbox.retry(blocked.id)
    final = engine.run_cycle()
    assert final.voided_in_xero == 1
    assert xero_doc(made, paid)["Status"] == "VOIDED"
    doc = store.outbox.get(paid.id)
    assert doc is not None and doc.state is S.VOIDED and doc.last_error is None


def test_a_credit_note_with_an_allocation_is_blocked_then_voided_once_it_is_removed(
    made: Rig,
) -> None:
    store, engine = synced(made, "AUTHORISED")
    (note_row,) = done_rows(store, OutboxKind.CREDIT_NOTE)[:1]
    note = xero_doc(made, note_row)
    target = next(
        d
        for d in made.xero_documents(note_row.org)
        if d.get("Type") == "ACCREC"
        and d["Status"] == "AUTHORISED"
        and d["CurrencyCode"] == note["CurrencyCode"]
    )
    ledger = made.sandbox.xero.ledger(note_row.org)
    allocation = {"Invoice": {"InvoiceID": target["InvoiceID"]}, "Amount": "1.00"}
    with made.sandbox.xero.lock:
        stored = ledger.credit_note(str(note_row.xero_id))
        assert stored is not None
        outcome = settlements.allocate(ledger, stored, allocation | {"Date": "2026-03-02"})
        assert not outcome.errors, outcome.errors
    made.sandbox.autotask.void_invoice(int(note_row.autotask_id))

    report = engine.run_cycle()
    assert report.void_blocked == 1 and report.voided_in_xero == 0
    assert xero_doc(made, note_row)["Status"] == "AUTHORISED"
    work = void_row(store, note_row)
    (reason,) = work.block_reasons
    assert "credit note" in reason and "1.00 of it is allocated" in reason
    assert "remove the allocations" in reason

    with made.sandbox.xero.lock:  # the allocation removed in Xero
        stored = ledger.credit_note(str(note_row.xero_id))
        assert stored is not None
        stored["Allocations"] = []
        settlements.refresh_balance(ledger, stored)
        invoice = ledger.invoice(target["InvoiceID"])
        assert invoice is not None
        settlements.refresh_balance(ledger, invoice)
    store.outbox.retry(work.id)
    final = engine.run_cycle()
    assert final.voided_in_xero == 1
    assert xero_doc(made, note_row)["Status"] == "VOIDED"
    doc = store.outbox.get(note_row.id)
    assert doc is not None and doc.state is S.VOIDED


def test_a_crash_right_after_the_void_request_voids_once(
    made: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, engine = synced(made, "AUTHORISED")
    row = done_rows(store)[0]
    made.sandbox.autotask.void_invoice(int(row.autotask_id))
    real = engine.xero.post_documents
    sent: list[list[Any]] = []

    def crash_after(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        sent.append(list(args[2]))
        raise RuntimeError("crash right after the Xero write")

    monkeypatch.setattr(engine.xero, "post_documents", crash_after)
    with pytest.raises(RuntimeError, match="crash right after"):
        engine.run_cycle()
    assert len(sent) == 1 and xero_doc(made, row)["Status"] == "VOIDED"
    work = void_row(store, row)
    assert work.state is S.POSTING  # the outcome was never recorded

    monkeypatch.setattr(engine.xero, "post_documents", real)
    count = document_count(made)
    report = engine.run_cycle()  # the same process again: its lease is taken back at once
    assert report.ok, report.errors
    assert report.voided_in_xero == 1 and report.xero_writes == 0  # found, not sent again
    work = void_row(store, row)
    assert work.state is S.DONE
    assert "found VOIDED in Xero already" in history(store, work)
    doc = store.outbox.get(row.id)
    assert doc is not None and doc.state is S.VOIDED
    assert document_count(made) == count
    statuses = Counter(d["Status"] for d in made.xero_documents(row.org))
    assert statuses["VOIDED"] == 1


def test_voids_cost_one_autotask_query_per_cycle_when_nothing_was_voided(made: Rig) -> None:
    _store, engine = synced(made)
    before = dict(engine.autotask.calls_made)
    idle = engine.run_cycle()
    after = engine.autotask.calls_made
    spent = {k: after.get(k, 0) - before.get(k, 0) for k in after if after[k] != before.get(k)}
    # An idle cycle: the poll and the query for voided invoices, both on Invoices; nothing else
    # but, at most, a usage reading (ThresholdInformation).
    assert spent.get("Invoices") == 2, spent
    assert set(spent) <= {"Invoices", "ThresholdInformation"}, spent
    assert idle.autotask_calls == sum(spent.values()) <= 3

    # The detection alone: exactly one query when nothing was voided.
    before = dict(engine.autotask.calls_made)
    assert VoidSync(engine, idle, days_back=14).detect() == 0
    after = engine.autotask.calls_made
    assert {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k)} == {
        "Invoices": 1
    }


# -- changes after posting: the user's resync (no cheap detection exists, see voids.py) -------


def change_a_line(made: Rig, row: OutboxRow, text: str) -> None:
    items = [
        i
        for i in made.sandbox.autotask.records("BillingItems")
        if i.get("invoiceID") == int(row.autotask_id)
    ]
    assert items
    made.sandbox.autotask.update("BillingItems", items[0]["id"], description=text)


def descriptions(made: Rig, row: OutboxRow) -> list[str]:
    return [str(li.get("Description")) for li in xero_doc(made, row)["LineItems"]]


def test_a_changed_draft_is_updated_in_xero_not_posted_again(made: Rig) -> None:
    store, engine = synced(made)
    row = done_rows(store)[0]
    count = document_count(made)
    change_a_line(made, row, "Changed after posting")
    request_resync(store, row.id)

    report = engine.run_cycle()
    assert report.ok, report.errors
    assert report.updated == 1 and report.posted == 1 and report.update_refused == 0
    assert any("Changed after posting" in d for d in descriptions(made, row))
    assert document_count(made) == count  # the same document, no duplicate
    after = store.outbox.get(row.id)
    assert after is not None and after.state is S.DONE and after.xero_id == row.xero_id
    assert "updated in" in history(store, after)


def test_a_resync_of_an_approved_invoice_updates_it_and_one_with_a_payment_is_kept(
    made: Rig,
) -> None:
    """A resync is the user's decision: an approved invoice is updated in place; one with a
    payment is left as it is (Xero refuses the change) and the row says why."""
    store, engine = synced(made, "AUTHORISED")
    plain, paid = done_rows(store)[:2]
    count = document_count(made)
    made.sandbox.xero.record_payment(paid.org, str(paid.xero_id), 5)
    before_paid = xero_doc(made, paid)
    for row in (plain, paid):
        change_a_line(made, row, "Changed after approval")
        request_resync(store, row.id)

    report = engine.run_cycle()
    assert report.ok, report.errors
    assert report.updated == 1 and report.update_refused == 1
    assert any("Changed after approval" in d for d in descriptions(made, plain))
    assert xero_doc(made, plain)["Status"] == "AUTHORISED"
    assert document_count(made) == count  # updated in place, nothing new
    assert xero_doc(made, paid) == before_paid
    after = store.outbox.get(paid.id)
    assert after is not None and after.state is S.DONE
    reason = after.last_error or ""
    assert reason.startswith("not updated: invoice") and "payment or credit note" in reason
    assert "remove them in Xero and resync" in reason
    assert "not updated in Xero" in history(store, after)
