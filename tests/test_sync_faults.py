"""The fault matrix (issue 3 §6, "fault tests"): the same sync under each kind of trouble the real
services make, ending exactly where a run without faults ends.

Each test runs the engine in this process against the sandbox over HTTP, with the faults on,
cycle after cycle (the sandbox clock moved past each backoff delay in between, as time passes
between the agent's cycles) until nothing is left to do; then every invoice must be in Xero once
and marked in Autotask by one PATCH (``test_sync_proof_kit.final_state``), and the outcome per
invoice must equal that of a clean run of the same world:

- 5 % server errors on every call to either service;
- connections dropped after the write was applied (Xero PUT and POST, Autotask PATCH);
- 429 storms: Xero's minute limit (with Retry-After) and Autotask's 429s;
- Autotask's thread-threshold error, while another integration holds the endpoints' threads;
- access tokens that expire mid-batch.

Faults with a probability draw from seeded generators; which request a draw falls on may vary
with thread timing (the mark step PATCHes 3 at a time), never the end state that is asserted.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from test_sync_kit import Rig, rig, seeded_world
from test_sync_proof_kit import Outcome, documents, final_state
from test_xero_client_kit import SandboxTime

from agent.store import OutboxState, Store
from agent.sync import CycleReport, SyncEngine
from agent.sync.maintenance import request_resync
from sandbox.core import SandboxOptions
from sandbox.faults import Fault

S = OutboxState
INVOICES = 120
WORLD_SEED = 8
MAX_CYCLES = 30
UNSETTLED = ("discovered", "pending", "posting", "posted", "failed")
COUNTED = 1_000_000  # as good as "until cleared", and what is left of it tells the hits


def hits(fault: Fault) -> int:
    return COUNTED - (fault.times or 0)


def xero_numbers_the_uk_books(made: Rig, store: Store) -> None:
    """Documents are found again by number in the Australian books and by the Reference marker
    in the UK ones (Xero numbers them)."""
    store.settings.set(f"invoice_numbering:{made.uk}", "xero")


def faulty_rig(
    tmp_path: Path, options: SandboxOptions | None = None
) -> AbstractContextManager[Rig]:
    return rig(
        tmp_path,
        seeded_world(INVOICES, seed_value=WORLD_SEED),
        options=options,
        setup=xero_numbers_the_uk_books,
    )


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    """What one cycle without faults leaves."""
    with faulty_rig(tmp_path_factory.mktemp("clean")) as made:
        store = made.store()
        report = made.engine(store).run_cycle()
        assert report.ok and report.complete
        outcome = final_state(made, store)
    assert len(outcome.posted) > INVOICES // 2
    return outcome


def settle(made: Rig, store: Store, engine: SyncEngine) -> list[CycleReport]:
    """Cycles until nothing is left to do; between two, the clock moves past the next retry."""
    reports: list[CycleReport] = []
    for _ in range(MAX_CYCLES):
        reports.append(engine.run_cycle())
        counts = store.outbox.counts_by_state()
        if not any(counts[s] for s in UNSETTLED):
            return reports
        due = [
            (r.next_attempt_at - made.now()).total_seconds()
            for r in store.outbox.list_rows(states=[S.FAILED], limit=10_000)
            if r.next_attempt_at is not None
        ]
        made.sandbox.clock.advance(max(min(due, default=0.0), 0.0) + 61)
    summaries = "\n".join(r.summary() + " " + "; ".join(r.errors) for r in reports)
    raise AssertionError(f"still not settled after {MAX_CYCLES} cycles: {counts}\n{summaries}")


def assert_same_as_clean(made: Rig, store: Store, clean: Outcome) -> Outcome:
    outcome = final_state(made, store)
    assert outcome == clean, {
        i: (outcome.rows.get(i), clean.rows.get(i))
        for i in set(outcome.rows) | set(clean.rows)
        if outcome.rows.get(i) != clean.rows.get(i)
    }
    return outcome


@pytest.fixture
def made(tmp_path: Path) -> Iterator[Rig]:
    with faulty_rig(tmp_path) as found:
        yield found


@pytest.mark.parametrize("seed", [31, 32, 33])
def test_five_percent_server_errors_on_every_call(made: Rig, clean: Outcome, seed: int) -> None:
    xero = made.sandbox.xero_faults.add(
        Fault(kind="error", status=503, times=COUNTED, probability=0.05, seed=seed)
    )
    autotask = made.sandbox.autotask_faults.add(
        Fault(kind="error", status=500, times=COUNTED, probability=0.05, seed=seed + 100)
    )
    store = made.store()
    reports = settle(made, store, made.engine(store))
    assert_same_as_clean(made, store, clean)
    assert hits(autotask) > 0  # (and on Xero, most likely: it gets about 25 calls)
    print(
        f"\n5 % errors: {hits(xero)} Xero 503s, {hits(autotask)} Autotask 500s",
        *(r.summary() for r in reports),
        sep="\n  ",
    )


def test_connections_dropped_after_the_write(made: Rig, clean: Outcome) -> None:
    plan = made.sandbox.xero_faults
    dropped = [
        plan.add(Fault(kind="drop_after_write", path_contains="/Contacts", method="PUT")),
        plan.add(Fault(kind="drop_after_write", path_contains="/Invoices", method="PUT", times=2)),
        plan.add(Fault(kind="drop_after_write", path_contains="/CreditNotes", method="PUT")),
    ]
    patches = made.sandbox.autotask_faults.add(
        Fault(kind="drop_after_write", method="PATCH", times=COUNTED, probability=0.1, seed=41)
    )
    store = made.store()
    reports = settle(made, store, made.engine(store))
    assert plan.pending() == [] and all(f.times == 0 for f in dropped)
    assert_same_as_clean(made, store, clean)
    # The dropped batches were found in Xero, not posted again; every invoice whose PATCH lost
    # its answer was read back, not patched again (final_state counts one PATCH each).
    assert sum(r.adopted for r in reports) > 50
    assert hits(patches) >= 3

    # A user's resync is a POST that updates the document Xero has: its answer is dropped too.
    row = next(r for r in store.outbox.list_rows(states=[S.DONE], org=made.au, limit=1000))
    made.sandbox.autotask.update("Invoices", int(row.autotask_id), orderNumber="PO-RESYNC-7")
    request_resync(store, row.id)
    plan.add(Fault(kind="drop_after_write", path_contains="/", method="POST"))
    before = len(documents(made))
    reports += settle(made, store, made.engine(store))
    assert plan.pending() == [] and len(documents(made)) == before
    after = store.outbox.get(row.id)
    assert after is not None and after.state is S.DONE and after.xero_id == row.xero_id
    document = made.sandbox.xero.invoice(made.au, str(row.xero_id)) or {}
    assert document.get("Reference") == "PO-RESYNC-7"
    # Marked again once (the resync is a second sending, by the user's choice), others untouched.
    marks = made.sandbox.autotask.write_counts("Invoices", "webServiceDate")
    assert marks[int(row.autotask_id)] == 2 and set(marks.values()) == {1, 2}
    print(
        f"\ndropped: 5 Xero writes, {hits(patches)} Autotask PATCHes",
        *(r.summary() for r in reports),
        sep="\n  ",
    )


def test_429_storms(tmp_path: Path, clean: Outcome) -> None:
    # Xero: a minute limit of 3 calls per organisation, so the agent's own pacing (60) keeps
    # running into the sandbox's 429s with Retry-After; plus 429s without Retry-After. Autotask:
    # a quarter of all requests refused with 429.
    options = SandboxOptions(xero_minute_limit=3)
    with faulty_rig(tmp_path, options) as made:
        xero = made.sandbox.xero_faults.add(
            Fault(kind="error", status=429, times=COUNTED, probability=0.25, seed=51)
        )
        autotask = made.sandbox.autotask_faults.add(
            Fault(kind="error", status=429, times=COUNTED, probability=0.25, seed=52)
        )
        store = made.store()
        engine = made.engine(store)
        reports = settle(made, store, engine)
        assert_same_as_clean(made, store, clean)
        limited = {t: s.rate_limited for t, s in engine.xero.statuses().items()}
        assert len(limited) == 2 and all(n > hits(xero) // 4 for n in limited.values()), limited
        assert sum(limited.values()) > hits(xero) > 0 and hits(autotask) >= 20
        print(
            f"\n429s: Xero {limited} (minute limit and {hits(xero)} without Retry-After),"
            f" Autotask {hits(autotask)}",
            *(r.summary() for r in reports),
            sep="\n  ",
        )


class Neighbour(SandboxTime):
    """Another integration of the same Autotask database, with the same API tracking identifier,
    busy in bursts: while it is busy it holds every thread of every endpoint, so the sandbox
    refuses the agent with the real thread-threshold error (Itgenatr005); each time the agent
    backs off, one of its requests finishes. After every 7th request the agent gets through it
    is busy again, for 1 to 7 of the agent's back-offs (seeded): now and then longer than the
    client retries, so a read or a PATCH fails and a later cycle does it."""

    def __init__(self, made: Rig) -> None:
        super().__init__(made.sandbox)
        self.draw = random.Random(61)
        self.busy_for = 0
        self.served = 0
        self.refused = 0
        threads = made.sandbox.autotask.threads
        real_acquire = threads.acquire

        def acquire(integration_code: str, endpoint: str) -> bool:
            if self.busy_for > 0:
                self.refused += 1
                return False
            got = real_acquire(integration_code, endpoint)
            self.served += got
            if got and self.served % 7 == 0:
                self.busy_for = self.draw.randint(1, 7)
            return got

        threads.acquire = acquire  # type: ignore[method-assign]

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        self.busy_for = max(0, self.busy_for - 1)


def test_thread_threshold_errors(made: Rig, clean: Outcome) -> None:
    neighbour = Neighbour(made)
    made.time = neighbour  # the clients built from here on back off through it
    store = made.store()
    reports = settle(made, store, made.engine(store))
    assert_same_as_clean(made, store, clean)
    assert neighbour.refused >= 20
    print(f"\nthreads: {neighbour.refused} requests refused (Itgenatr005)",
          *(r.summary() for r in reports), sep="\n  ")  # fmt: skip


def test_access_tokens_that_expire_mid_batch(made: Rig, clean: Outcome) -> None:
    store = made.store()
    engine = made.engine(store)
    tokens, api = engine.xero.tokens, engine.xero.gateway.api_client
    real_access_token, real_invoke = tokens.access_token, api.invoke
    real_renew = tokens.renew_after_rejection
    fetched, sent = [0], [0]
    late: list[str] = []
    rejections: list[str] = []

    def access_token(tenant_id: str) -> str:
        # Every fourth call, 31 minutes have passed since the last: the token the client holds
        # has expired and it renews it before sending.
        fetched[0] += 1
        if fetched[0] % 4 == 0:
            made.sandbox.clock.advance(31 * 60)
        return real_access_token(tenant_id)

    def invoke(method: Any, *args: Any, **kwargs: Any) -> Any:
        # Every third call, the 31 minutes pass after the client took the token (still valid)
        # and before the request reaches Xero, which answers 401: renewed, then sent again.
        sent[0] += 1
        if sent[0] % 3 == 0:
            late.append(method.__name__)
            made.sandbox.clock.advance(31 * 60)
        return real_invoke(method, *args, **kwargs)

    def renew_after_rejection(tenant_id: str, rejected: str) -> str:
        rejections.append(tenant_id)
        return real_renew(tenant_id, rejected)

    tokens.access_token = access_token  # type: ignore[method-assign]
    tokens.renew_after_rejection = renew_after_rejection  # type: ignore[method-assign]
    api.invoke = invoke  # type: ignore[method-assign]
    identity = made.sandbox.xero.identity
    real_token = identity.token
    refreshes = [0]

    def token(form: dict[str, str], basic: tuple[str, str] | None) -> dict[str, str | int]:
        refreshes[0] += form.get("grant_type") == "refresh_token"
        return real_token(form, basic)

    identity.token = token  # type: ignore[method-assign]

    reports = settle(made, store, engine)
    assert_same_as_clean(made, store, clean)
    # Xero refused each token that expired in flight, the writes of a batch among them ...
    assert len(rejections) == len(late) > 3
    assert {"create_invoices", "create_credit_notes"} & set(late)
    # ... and the client renewed those and the ones it found expired, and carried on.
    assert refreshes[0] > len(rejections)
    print(
        f"\ntokens: {len(late)} expired in flight ({', '.join(sorted(set(late)))}),"
        f" {refreshes[0]} refreshes in all",
        *(r.summary() for r in reports),
        sep="\n  ",
    )


# -- payments back (issue 5 §7: the fault tests extended to payments) -------------------------


def test_payments_back_under_errors_and_dropped_patches(tmp_path: Path) -> None:
    """Full and part payments entered in Xero, then cycles with 5 % errors on both services and
    30 % of Autotask PATCHes dropped after they were applied: every fully paid invoice ends with
    the payment's date as ``paidDate`` written by one PATCH, part-paid ones with none."""
    from datetime import date
    from decimal import Decimal

    def approved(made: Rig, store: Store) -> None:
        xero_numbers_the_uk_books(made, store)
        store.settings.set("invoice_status", "AUTHORISED")  # payments need approved invoices

    with rig(tmp_path, seeded_world(INVOICES, seed_value=WORLD_SEED), setup=approved) as made:
        store = made.store()
        engine = made.engine(store)
        assert engine.run_cycle().ok
        xero = made.sandbox.xero
        rows = [
            r
            for r in store.outbox.list_rows(states=[S.DONE], limit=10_000)
            if r.kind.value == "invoice"
        ]
        docs = {r.id: xero.invoice(r.org, str(r.xero_id)) for r in rows}
        payable = [
            r for r in rows
            if docs[r.id] and docs[r.id]["Status"] == "AUTHORISED"
            and Decimal(str(docs[r.id]["AmountDue"])) >= Decimal("10")
        ]  # fmt: skip
        assert len(payable) >= 20
        full, part = payable[:12], payable[12:20]
        day = date(2026, 3, 5)
        for row in full:
            xero.record_payment(row.org, str(row.xero_id), docs[row.id]["AmountDue"], day)
        for row in part:
            xero.record_payment(row.org, str(row.xero_id), Decimal("5"), day)
        before = made.sandbox.autotask.write_counts("Invoices", "paidDate")

        made.sandbox.xero_faults.add(
            Fault(kind="error", status=503, times=COUNTED, probability=0.05, seed=71)
        )
        made.sandbox.autotask_faults.add(
            Fault(kind="error", status=500, times=COUNTED, probability=0.05, seed=72)
        )
        dropped = made.sandbox.autotask_faults.add(
            Fault(kind="drop_after_write", method="PATCH", times=COUNTED, probability=0.3, seed=73)
        )
        for _ in range(MAX_CYCLES):
            made.sandbox.clock.advance(61)
            engine.run_cycle()
            if all(
                str(made.autotask_invoice(int(r.autotask_id)).get("paidDate") or "")[:10]
                == day.isoformat()
                for r in full
            ):
                break
        engine.run_cycle()  # one more: nothing may be written again

        writes = made.sandbox.autotask.write_counts("Invoices", "paidDate")
        for row in full:
            invoice = made.autotask_invoice(int(row.autotask_id))
            assert str(invoice.get("paidDate"))[:10] == day.isoformat(), row.autotask_id
            assert writes[int(row.autotask_id)] - before[int(row.autotask_id)] == 1
        for row in part:
            assert made.autotask_invoice(int(row.autotask_id)).get("paidDate") is None
            assert writes[int(row.autotask_id)] == before[int(row.autotask_id)]
        assert hits(dropped) > 0
        print(f"\npayments under faults: {hits(dropped)} PATCHes dropped after the write")


# -- purchase orders (issue 5 §7: the fault tests extended to purchase orders) ----------------


def test_purchase_orders_under_errors_and_dropped_writes(tmp_path: Path) -> None:
    """Purchase orders on, with 5 % errors on both services and the first creates and updates
    of purchase orders (and a new vendor's contact) applied by Xero but their answers dropped:
    every order ends in Xero once, with Autotask's lines, a change to a draft updating it."""

    def purchase_orders_on(made: Rig, store: Store) -> None:
        store.settings.set("sync_purchase_orders", True)
        store.settings.set("po_cogs_account", "310")
        store.settings.set("po_freight_account", "425")

    with rig(tmp_path, seeded_world(200, seed_value=WORLD_SEED), setup=purchase_orders_on) as made:
        autotask, xero = made.sandbox.autotask, made.sandbox.xero
        first = next(o for o in autotask.records("PurchaseOrders") if o["status"] == 2)
        vendor = dict(autotask.get("Companies", first["vendorID"]) or {})
        autotask.add("Companies", vendor | {"id": 61_000, "companyName": "Faulty Vendor Ltd"})
        autotask.update("PurchaseOrders", first["id"], vendorID=61_000)
        plan = made.sandbox.xero_faults
        dropped = [
            plan.add(Fault(kind="drop_after_write", path_contains="/Contacts", method="PUT")),
            plan.add(Fault(kind="drop_after_write", path_contains="/PurchaseOrders", method="PUT")),
        ]
        plan.add(Fault(kind="error", status=503, times=COUNTED, probability=0.05, seed=81))
        autotask_errors = made.sandbox.autotask_faults.add(
            Fault(kind="error", status=500, times=COUNTED, probability=0.05, seed=82)
        )
        store = made.store()
        engine = made.engine(store)
        reports = settle(made, store, engine)

        def orders_in_xero() -> dict[str, list[dict[str, Any]]]:
            found: dict[str, list[dict[str, Any]]] = {}
            with xero.lock:
                for document in xero.ledger(made.au).org.purchase_orders:
                    found.setdefault(str(document["Reference"]), []).append(dict(document))
            return found

        triggered = [o for o in autotask.records("PurchaseOrders") if o["status"] in (2, 3, 4)]
        assert sorted(orders_in_xero()) == sorted(o["purchaseOrderNumber"] for o in triggered)
        assert all(len(d) == 1 for d in orders_in_xero().values())
        assert [f.times for f in dropped] == [0, 0]
        assert sum(r.adopted for r in reports) >= 2

        # A change while the order is a draft: the update's answer is dropped too.
        item = next(
            i for i in autotask.records("PurchaseOrderItems") if i["orderID"] == first["id"]
        )
        autotask.update("PurchaseOrderItems", item["id"], quantity=item["quantity"] + 4)
        plan.add(Fault(kind="drop_after_write", path_contains="/PurchaseOrders", method="POST"))
        for _ in range(MAX_CYCLES):
            made.sandbox.clock.advance(61)
            report = engine.run_cycle()
            if report.ok and not store.outbox.list_rows(
                states=[S.PENDING, S.FAILED, S.POSTING], limit=10
            ):
                break
        (document,) = orders_in_xero()[first["purchaseOrderNumber"]]
        assert document["LineItems"][0]["Quantity"] == item["quantity"] + 4
        assert len(orders_in_xero()) == len(triggered)
        with xero.lock:
            faulty = [
                c for c in xero.ledger(made.au).org.contacts if c.get("ContactNumber") == "61000"
            ]
        assert len(faulty) == 1 and document["Contact"]["ContactID"] == faulty[0]["ContactID"]
        assert hits(autotask_errors) > 0
        print(
            f"\npurchase orders under faults: {len(triggered)} orders, "
            f"{hits(autotask_errors)} Autotask errors"
        )
