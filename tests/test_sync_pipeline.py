"""The cycle as a pipeline (agent/sync/pipeline.py): invoices in chunks, each document marked in
Autotask as soon as it is posted, and exactly once all the same when the cycle dies half way.

Chunks are shrunk here (a page of 40 invoices, first chunks of 10 and 20) so that a small world
goes through several of them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_sync_kit import Rig, rig, seeded_world

from agent.autotask import AutotaskClient
from agent.store import OutboxState
from agent.sync import pipeline
from agent.xero import XeroClient

S = OutboxState


@pytest.fixture
def made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    monkeypatch.setattr(pipeline, "BATCH", 40)
    monkeypatch.setattr(pipeline, "FIRST_CHUNKS", (10, 20))
    with rig(tmp_path, seeded_world(90, seed_value=7)) as found:
        yield found


def test_invoices_are_marked_while_later_ones_are_still_being_posted(
    made: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    lock = threading.Lock()
    post_documents = XeroClient.post_documents
    patch_invoice = AutotaskClient.patch_invoice

    def posting(self: XeroClient, tenant: str, kind: str, *args: Any, **kwargs: Any) -> Any:
        if kind != "contact":
            with lock:
                events.append("post")
        return post_documents(self, tenant, kind, *args, **kwargs)

    def patching(self: AutotaskClient, *args: Any, **kwargs: Any) -> Any:
        with lock:
            events.append("patch")
        return patch_invoice(self, *args, **kwargs)

    monkeypatch.setattr(XeroClient, "post_documents", posting)
    monkeypatch.setattr(AutotaskClient, "patch_invoice", patching)
    store = made.store()
    report = made.engine(store).run_cycle()

    assert report.ok and report.complete and report.posted > 40
    assert report.marked == report.posted == store.outbox.count(states=[S.DONE])
    last_post = len(events) - 1 - events[::-1].index("post")
    assert "patch" in events[:last_post], events  # the write-back did not wait for posting
    marks = made.sandbox.autotask.write_counts("Invoices", "webServiceDate")
    assert len(marks) == report.marked and set(marks.values()) == {1}


def test_a_cycle_that_dies_half_way_leaves_nothing_sent_twice(
    made: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    post_documents = XeroClient.post_documents
    calls = {"documents": 0}

    def post_then_die(self: XeroClient, tenant: str, kind: str, *args: Any, **kwargs: Any) -> Any:
        if kind != "contact":
            calls["documents"] += 1
            if calls["documents"] == 3:
                raise KeyboardInterrupt("killed while posting the third batch")
        return post_documents(self, tenant, kind, *args, **kwargs)

    store = made.store()
    with monkeypatch.context() as patch:
        patch.setattr(XeroClient, "post_documents", post_then_die)
        with pytest.raises(KeyboardInterrupt):
            made.engine(store).run_cycle()
    # Documents posted before the crash were marked in the background already, some of them.
    marked_before = len(made.sandbox.autotask.write_counts("Invoices", "webServiceDate"))

    report = made.engine().run_cycle()
    assert report.ok and report.complete
    done = made.store().outbox.list_rows(states=[S.DONE], limit=1000)
    documents = [d for tenant in (made.au, made.uk) for d in made.xero_documents(tenant)]
    ids = [d.get("InvoiceID") or d.get("CreditNoteID") for d in documents]
    assert len(ids) == len(done) and set(ids) == {r.xero_id for r in done}  # each once
    marks = made.sandbox.autotask.write_counts("Invoices", "webServiceDate")
    assert len(marks) == len(done) > marked_before > 0
    assert set(marks.values()) == {1}  # read back, never PATCHed a second time
