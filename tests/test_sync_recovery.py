"""Exactly once when things go wrong (issue 3 §4 "crash safety", DESIGN.md "the outbox").

A dropped answer after Xero wrote, a crash after Xero wrote but before the outcome was recorded,
a crash between posting and marking in Autotask, Xero's daily limit, server errors, and a user's
resync: every time, each invoice is in Xero once and marked once.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_sync_kit import Rig, rig, seeded_world

from agent.store import OutboxState, Store
from agent.sync.leases import holder_is_gone, new_owner
from agent.sync.maintenance import request_resync
from agent.sync.mark import Marker
from agent.xero import XeroClient
from sandbox.faults import Fault

S = OutboxState


def documents(made: Rig) -> list[dict[str, Any]]:
    return [d for tenant in (made.au, made.uk) for d in made.xero_documents(tenant)]


def assert_once(made: Rig, store: Store) -> None:
    """Each done row has its document, each document one row, every done invoice marked."""
    docs = documents(made)
    ids = Counter(d.get("InvoiceID") or d.get("CreditNoteID") for d in docs)
    assert all(n == 1 for n in ids.values())
    for tenant in (made.au, made.uk):  # numbers are unique per organisation
        numbers = Counter(
            (d["Type"], d.get("InvoiceNumber") or d.get("CreditNoteNumber"))
            for d in made.xero_documents(tenant)
        )
        assert all(n == 1 for n in numbers.values()), numbers.most_common(3)
    done = store.outbox.list_rows(states=[S.DONE], limit=10_000)
    assert {r.xero_id for r in done} == set(ids)
    for row in done:
        assert made.autotask_invoice(int(row.autotask_id))["webServiceDate"] is not None


@pytest.fixture
def made(tmp_path: Path) -> Iterator[Rig]:
    with rig(tmp_path, seeded_world(24, seed_value=11)) as found:
        yield found


@pytest.mark.parametrize("numbering", ["autotask", "xero"])
def test_a_dropped_answer_after_the_write_is_looked_up_not_posted_again(
    made: Rig, numbering: str
) -> None:
    store = made.store()
    engine = made.engine(store, made.settings(invoice_numbering=numbering))
    made.sandbox.xero_faults.add(
        Fault(kind="drop_after_write", path_contains="/Invoices", method="PUT")
    )
    first = engine.run_cycle()
    unknown = store.outbox.list_rows(states=[S.FAILED], limit=100)
    assert unknown and all(r.needs_lookup for r in unknown)
    assert first.failed == len(unknown) and not first.ok
    written = len(documents(made))  # the dropped batch was applied all the same

    made.sandbox.clock.advance(61)  # past the first retry delay (60 s, no jitter)
    second = engine.run_cycle()
    assert second.ok and second.adopted == len(unknown) and second.posted == 0
    assert len(documents(made)) == written
    assert_once(made, store)
    if numbering == "xero":
        for row in unknown:
            invoice = made.autotask_invoice(int(row.autotask_id))
            assert invoice["invoiceNumber"] == store.outbox.get(row.id).xero_number  # type: ignore[union-attr]


def test_a_crash_after_the_write_is_recovered_when_the_lease_expires(
    made: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = made.store()
    crashed = made.engine(store)
    real_post = XeroClient.post_documents

    def post_then_die(self: XeroClient, tenant: str, kind: str, *args: Any, **kwargs: Any) -> Any:
        answer = real_post(self, tenant, kind, *args, **kwargs)
        if kind == "contact":  # the contacts go first; they are found again too
            return answer
        raise KeyboardInterrupt("killed after Xero wrote, before the outcome was recorded")

    with monkeypatch.context() as patch:
        patch.setattr(XeroClient, "post_documents", post_then_die)
        with pytest.raises(KeyboardInterrupt):
            crashed.run_cycle()
    in_flight = store.outbox.list_rows(states=[S.POSTING], limit=100)
    assert in_flight
    written = len(documents(made))

    # A new process: until the lease expires the rows are left alone ...
    restarted = made.engine()
    early = restarted.run_cycle()
    assert early.adopted == 0
    still = restarted.store.outbox.list_rows(states=[S.POSTING], limit=100)
    assert {r.id for r in still} == {r.id for r in in_flight}
    # ... then they are looked up and adopted, not posted a second time.
    made.sandbox.clock.advance(restarted.lease_seconds + 1)
    late = restarted.run_cycle()
    # The batch Xero wrote before the crash is found; the rest of the chunk is posted now.
    assert late.ok and late.adopted == written > 0
    assert late.adopted + late.posted == len(in_flight)
    assert_once(made, restarted.store)


def test_a_restarted_process_takes_back_its_predecessors_leases_at_once(
    made: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = made.store()
    # The process before the restart: same host and pid (pid 1 in a container), another token.
    predecessor = f"{socket.gethostname()}:{os.getpid()}:0ldproc0:engine01"
    crashed = made.engine(store, owner=predecessor)
    real_post = XeroClient.post_documents

    def post_then_die(self: XeroClient, tenant: str, kind: str, *args: Any, **kwargs: Any) -> Any:
        answer = real_post(self, tenant, kind, *args, **kwargs)
        if kind == "contact":
            return answer
        raise KeyboardInterrupt("kill -9")

    with monkeypatch.context() as patch:
        patch.setattr(XeroClient, "post_documents", post_then_die)
        with pytest.raises(KeyboardInterrupt):
            crashed.run_cycle()
    written = len(documents(made))
    in_flight = store.outbox.list_rows(states=[S.POSTING], limit=100)
    assert written and in_flight

    restarted = made.engine()  # no clock advance: no waiting for the lease to expire
    report = restarted.run_cycle()
    assert report.ok and report.leases_released == len(in_flight)
    assert report.adopted == written
    assert_once(made, restarted.store)


def test_leases_are_taken_back_only_from_workers_that_are_surely_gone() -> None:
    me = new_owner()
    host, pid, process, _ = me.split(":")
    assert holder_is_gone(me, me)  # this engine's own cycle raised: nothing is in flight
    assert holder_is_gone(f"{host}:{pid}:older000:e", me)  # the process before a restart
    assert not holder_is_gone(f"{host}:{pid}:{process}:other", me)  # another engine, alive
    assert not holder_is_gone(f"other-host:{pid}:x:y", me)
    assert not holder_is_gone(f"{host}:1:x:y", me) or os.getpid() == 1  # pid 1 is alive
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert holder_is_gone(f"{host}:{gone.pid}:x:y", me)
    assert not holder_is_gone("not an owner", me) and not holder_is_gone(None, me)


def test_a_crash_between_posting_and_marking_marks_each_invoice_once(
    made: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = made.store()
    with monkeypatch.context() as patch:

        def die(self: Marker, *args: Any) -> None:
            raise KeyboardInterrupt("killed before the Autotask write-back")

        patch.setattr(Marker, "run", die)
        with pytest.raises(KeyboardInterrupt):
            made.engine(store).run_cycle()
    posted = store.outbox.list_rows(states=[S.POSTED], limit=100)
    assert posted
    written = len(documents(made))

    restarted = made.engine()
    report = restarted.run_cycle()
    assert report.ok and report.posted == 0 and report.xero_writes == 0
    assert report.marked == len(posted)
    assert len(documents(made)) == written
    assert_once(made, restarted.store)


def test_a_crash_after_the_patch_does_not_patch_again(
    made: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = made.store()
    with monkeypatch.context() as patch:

        def die(self: Marker, *args: Any) -> None:
            raise KeyboardInterrupt("killed after the PATCHes, before recording them")

        patch.setattr(Marker, "_done", die)
        with pytest.raises(KeyboardInterrupt):
            made.engine(store).run_cycle()
    posted = store.outbox.list_rows(states=[S.POSTED], limit=100)
    assert posted

    restarted = made.engine()
    report = restarted.run_cycle()
    assert report.ok and report.marked == len(posted)
    # The poll, the query for voided invoices (voids.py) and one read-back; not a single PATCH.
    assert restarted.autotask.calls_made.get("Invoices", 0) == 3
    assert_once(made, restarted.store)


def test_an_organisation_paused_by_its_day_limit_keeps_its_rows_pending(tmp_path: Path) -> None:
    with rig(tmp_path, seeded_world(16, seed_value=4), mode="client_credentials") as made:
        store = made.store()
        engine = made.engine(store)
        (tenant,) = [t.tenant_id for t in engine.xero.ensure_connected()]
        engine.xero.refresh_catalogs(tenant)
        # Every call left today was spent on the catalogs.
        made.sandbox.options.xero_day_limit = engine.xero.governor.calls_made(tenant)

        report = engine.run_cycle()
        assert tenant in report.paused and not report.complete and report.ok
        pending = store.outbox.list_rows(states=[S.PENDING], org=tenant, limit=100)
        assert pending and all(r.attempts == 0 and not r.needs_lookup for r in pending)
        assert documents(made) == [] and report.failed == 0

        # The next day: the pause lifts by itself and the rows go.
        made.sandbox.clock.advance(13 * 3600)
        made.sandbox.options.xero_day_limit = None
        later = engine.run_cycle()
        assert later.ok and later.complete and later.posted == len(pending)
        assert_once(made, store)


def test_server_errors_back_off_then_post_once(made: Rig) -> None:
    store = made.store()
    engine = made.engine(store)
    made.sandbox.xero_faults.add(
        Fault(kind="error", path_contains="/Invoices", method="PUT", status=503, times=None)
    )
    first = engine.run_cycle()
    failed = store.outbox.list_rows(states=[S.FAILED], limit=100)
    assert failed and first.failed == len(failed)
    assert {r.kind.value for r in failed} == {"invoice"}  # credit notes went through
    assert [d for d in documents(made) if d["Type"] == "ACCREC"] == []
    for row in failed:
        assert row.next_attempt_at is not None
        # The first retry is scheduled 60 s out, less up to 20 % jitter (RetryStrategy).
        wait = (row.next_attempt_at - made.now()).total_seconds()
        assert 60 * 0.8 - 1 <= wait <= 60 + 1

    made.sandbox.xero_faults.clear()
    not_yet = engine.run_cycle()  # the retry time has not come
    assert not_yet.posted == 0
    made.sandbox.clock.advance(61)
    second = engine.run_cycle()
    assert second.ok and second.posted == len(failed)
    for row in store.outbox.list_rows(states=[S.DONE], limit=100):
        assert row.attempts in (1, 2)
    assert_once(made, store)


def test_a_resync_updates_the_document_instead_of_adding_one(made: Rig) -> None:
    store = made.store()
    engine = made.engine(store)
    assert engine.run_cycle().ok
    row = next(
        r for r in store.outbox.list_rows(states=[S.DONE], limit=100) if r.kind.value == "invoice"
    )
    before = len(documents(made))
    made.sandbox.autotask.update("Invoices", int(row.autotask_id), orderNumber="PO-RESYNC-1")

    request_resync(store, row.id)
    report = engine.run_cycle()
    assert report.ok and report.posted == 1 and report.marked == 1
    after = store.outbox.get(row.id)
    assert after is not None and after.state is S.DONE and after.xero_id == row.xero_id
    assert len(documents(made)) == before
    document = made.sandbox.xero.invoice(row.org, str(row.xero_id))
    assert document is not None and document["Reference"] == "PO-RESYNC-1"
    assert_once(made, store)
