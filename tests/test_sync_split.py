"""Split invoices (issue 5 §4, setting ``mixed_invoice`` = ``split``), end to end against the
sandbox: an Autotask invoice whose lines of business are routed to the Australian (AUD) and the
British (GBP) organisation becomes one Xero document per organisation, each with only its lines,
its own contact, tax and totals; Autotask is marked by one PATCH once every part is posted (a
failure or a crash between parts does not mark it); ``paidDate`` is set when every part is paid;
a void voids every part; ``block`` still holds the invoice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_control_kit import service_options
from test_mapping_support import snapshot
from test_sync_kit import START, Rig, money, rig, seeded_world

from agent.autotask.invoice_update import InvoiceUpdate
from agent.autotask.records import BillingItem
from agent.control.service import AgentService
from agent.mapping import InvoiceSnapshot
from agent.store import MappingEntry, OutboxRow, OutboxState, Store, TenantInfo
from agent.sync import SyncEngine
from agent.sync.dryrun import dry_run
from agent.sync.intake import DOCUMENT_KINDS
from agent.sync.routing import RoutingTable, Split, Unroutable
from sandbox.faults import Fault
from sandbox.world import World

S = OutboxState
INVOICES = 40
# Seed 3, 40 invoices: invoice 28323 of a British customer (GBP, UK VAT) has eight lines of the
# British lines of business (201-203) and one of the Australian one (101), billing item 410065.
MIXED = 28_323
AU_LINE = 410_065
DAY1, DAY2 = date(2026, 3, 4), date(2026, 3, 9)


def split_world() -> World:
    """The seeded MSP; the mixed invoice's Australian line is zero rated (a British customer's
    export: no VAT, mapped to a 0% tax type in the Australian books), and the Australian
    organisation takes GBP, the customer's currency."""
    world = seeded_world(INVOICES)
    invoice = next(i for i in world.autotask["Invoices"] if i["id"] == MIXED)
    items = [b for b in world.autotask["BillingItems"] if b["invoiceID"] == MIXED]
    lobs = {b["id"]: b["organizationalLevelAssociationID"] for b in items}
    assert lobs[AU_LINE] == 101 and {a for i, a in lobs.items() if i != AU_LINE} <= {201, 202, 203}
    for item in items:
        if item["id"] == AU_LINE:
            item.update(
                taxCategoryID=3,
                taxDollars=0.0,
                totalAmount=item["extendedPrice"],
                internalCurrencyTaxDollars=0.0,
                internalCurrencyTotalAmount=item["internalCurrencyExtendedPrice"],
            )
    invoice["invoiceTotal"] = float(sum(money(b["totalAmount"]) for b in items))
    invoice["totalTaxValue"] = float(sum(money(b["taxDollars"]) for b in items))
    world.xero_orgs[0].currencies.append({"Code": "GBP", "Description": "Pound Sterling"})
    return world


def splitting(status: str = "DRAFT", *, mixed: str = "split") -> Any:
    def setup(made: Rig, store: Store) -> None:
        store.settings.set("mixed_invoice", mixed)
        store.settings.set("invoice_status", status)
        store.mappings.set(made.au, "tax", "3:3", "EXEMPTEXPORT")

    return setup


@pytest.fixture
def made(tmp_path: Path) -> Iterator[Rig]:
    with rig(tmp_path, split_world(), setup=splitting()) as found:
        yield found


def parts(store: Store) -> list[OutboxRow]:
    return store.outbox.for_autotask_ids([MIXED], kinds=DOCUMENT_KINDS)


def by_org(store: Store) -> dict[str, OutboxRow]:
    rows = [r for r in parts(store) if r.state is not S.SKIPPED]
    found = {r.org: r for r in rows}
    assert len(found) == len(rows), rows
    return found


def document(made: Rig, row: OutboxRow) -> dict[str, Any]:
    found = made.sandbox.xero.invoice(row.org, str(row.xero_id))
    assert found is not None
    return dict(found)


def autotask_items() -> dict[int, dict[str, Any]]:
    return {b["id"]: b for b in split_world().autotask["BillingItems"] if b["invoiceID"] == MIXED}


def marks(made: Rig) -> int:
    """webServiceDate PATCHes of the mixed invoice (the sandbox's write log)."""
    return made.sandbox.autotask.write_counts("Invoices", "webServiceDate")[MIXED]


def history(store: Store, row: OutboxRow) -> str:
    return " | ".join(e.detail or "" for e in store.outbox.events(row.id))


def cycle(made: Rig, store: Store, **options: Any) -> SyncEngine:
    engine = made.engine(store, **options)
    report = engine.run_cycle()
    assert report.ok, report.errors
    return engine


# -- the decision (pure) -----------------------------------------------------------------------


def table(default: str | None = "tenant-au", **extra: str) -> RoutingTable:
    entries = [
        MappingEntry("", "routing", "101", "tenant-au", {}, START),
        MappingEntry("", "routing", "201", "tenant-uk", {}, START),
        *(MappingEntry("", "routing_company", k, v, {}, START) for k, v in extra.items()),
    ]
    tenants = [TenantInfo("tenant-au", "Acme AU"), TenantInfo("tenant-uk", "Acme UK")]
    tenants.append(TenantInfo("tenant-nz", "Acme NZ"))
    return RoutingTable.build(entries, tenants, default, mixed="split")


def invoice_of(*associations: int | None) -> InvoiceSnapshot:
    items = tuple(
        BillingItem(id=i + 1, invoiceID=28_310, organizationalLevelAssociationID=a)
        for i, a in enumerate(associations)
    )
    return replace(snapshot(invoice={"companyID": 174_001}), items=items)


def test_split_names_one_part_per_organisation_and_places_every_line() -> None:
    decided = table().route(invoice_of(201, 101, None, 201))
    assert isinstance(decided, Split)
    first, second = decided.parts
    # Parts in the order of their first line; the line without a line of business goes where
    # the invoice-wide rules send it (the default organisation here), joining its part.
    assert (first.org, first.items, first.lines_of_business) == ("tenant-uk", (1, 4), (201,))
    assert (second.org, second.items, second.lines_of_business) == ("tenant-au", (2, 3), (101,))
    assert first.title == "part 1 of 2" and second.title == "part 2 of 2"
    assert "billing item(s) 3 without a routed line of business" in second.rule
    assert "the default organisation Acme AU" in second.rule
    # The loose line makes a third part when its organisation has no line of business here.
    three = table(None, **{"174000": "tenant-nz"}).route(invoice_of(101, 201, None))
    assert isinstance(three, Split)
    assert [(p.org, p.items, p.count) for p in three.parts] == [
        ("tenant-au", (1,), 3),
        ("tenant-uk", (2,), 3),
        ("tenant-nz", (3,), 3),
    ]
    assert "(Autotask company 174000) routed to Acme NZ" in three.parts[2].rule
    gone = table(None, **{"174000": "tenant-gone"}).route(invoice_of(101, 201, None))
    assert isinstance(gone, Unroutable) and "not connected" in str(gone)


def test_split_holds_lines_no_rule_places_and_unconnected_organisations() -> None:
    held = table(None).route(invoice_of(101, 201, None))
    assert isinstance(held, Unroutable)
    assert "billing items 3 have no routed line of business" in str(held)
    assert "mixed_invoice = split" in str(held)
    # Block stays what it was.
    blocked = replace(table(), mixed="block").route(invoice_of(101, 201))
    assert isinstance(blocked, Unroutable) and "mixed_invoice = block" in str(blocked)


# -- the split ----------------------------------------------------------------------------------


def test_a_mixed_invoice_becomes_one_complete_document_per_organisation(made: Rig) -> None:
    store = made.store()
    cycle(made, store)
    rows = by_org(store)
    assert set(rows) == {made.au, made.uk}
    assert all(r.state is S.DONE for r in rows.values()), rows
    items = autotask_items()
    total = money(made.autotask_invoice(MIXED)["invoiceTotal"])
    docs = {org: document(made, row) for org, row in rows.items()}
    # Each organisation has its own lines only, in the customer's currency, its own contact.
    seen: list[int] = []
    for org, row in rows.items():
        doc = docs[org]
        payload = row.payload or {}
        carried = [p["billing_item_id"] for p in payload["provenance"]]
        seen += carried
        assert payload["split"]["billing_items"] == sorted(carried)
        assert len(doc["LineItems"]) == len(carried)
        wanted = sum(money(items[i]["totalAmount"]) for i in carried)
        assert money(doc["Total"]) == wanted  # its totals from its own lines
        assert doc["CurrencyCode"] == "GBP"
        assert doc["Contact"]["ContactID"]
        assert doc["InvoiceNumber"] == "AT-1014"  # the same number, unique per organisation
        assert payload["split"]["parts"] == 2 and payload["split"]["total"] == str(wanted)
    assert [p["billing_item_id"] for p in (rows[made.au].payload or {})["provenance"]] == [AU_LINE]
    assert sorted(seen) == sorted(items)  # every line once, in one organisation
    assert docs[made.au]["Contact"]["ContactID"] != docs[made.uk]["Contact"]["ContactID"]
    assert docs[made.au]["LineItems"][0]["TaxType"] == "EXEMPTEXPORT"  # its own tax mapping
    assert {line["TaxType"] for line in docs[made.uk]["LineItems"]} <= {
        "OUTPUT2",
        "ZERORATEDOUTPUT",
    }
    # The parts add up to Autotask's invoice, to the cent.
    assert sum(money(d["Total"]) for d in docs.values()) == total
    assert sum(money(d["TotalTax"]) for d in docs.values()) == money(
        made.autotask_invoice(MIXED)["totalTaxValue"]
    )
    # One PATCH marks the invoice, once both parts are in Xero.
    assert marks(made) == 1
    assert made.autotask_invoice(MIXED)["webServiceDate"] is not None
    # The history says which part, which lines and lines of business.
    au, uk = history(store, rows[made.au]), history(store, rows[made.uk])
    assert "line(s) of business 101" in au and "billing item 410065" in au
    assert "line(s) of business 201, 202, 203" in uk
    assert all("of 2" in h and "once all 2 parts were in Xero" in h for h in (au, uk)), (au, uk)
    assert "part 1 of 2" in uk + au and "part 2 of 2" in uk + au
    detail = AgentService(made.settings(), store, now=made.now).queue_detail(rows[made.au].id)
    assert any(
        "part " in (h["detail"] or "") and "410065" in (h["detail"] or "")
        for h in detail["history"]
    )
    assert [p["billing_item_id"] for p in detail["provenance"]] == [AU_LINE]
    # Another cycle: nothing new, nothing twice.
    before = {org: len(made.xero_documents(org)) for org in rows}
    cycle(made, store)
    assert by_org(store) == {org: store.outbox.get(r.id) for org, r in rows.items()}
    assert len(parts(store)) == 2
    assert {org: len(made.xero_documents(org)) for org in rows} == before
    assert marks(made) == 1


def test_block_still_holds_the_invoice_and_split_then_releases_it(tmp_path: Path) -> None:
    with rig(tmp_path, split_world(), setup=splitting(mixed="block")) as made:
        store = made.store()
        cycle(made, store)
        (row,) = parts(store)
        assert row.org == "" and row.state is S.BLOCKED
        (reason,) = row.block_reasons
        assert "mixes lines of business" in reason and "mixed_invoice = block" in reason
        assert marks(made) == 0
        # Switching to split: the held invoice is split at the next cycle, no person retrying.
        store.settings.set("mixed_invoice", "split")
        cycle(made, store)
        rows = by_org(store)
        assert set(rows) == {made.au, made.uk} and row.id in {r.id for r in rows.values()}
        assert all(r.state is S.DONE for r in rows.values())
        assert marks(made) == 1


def test_one_invoice_named_is_split_posted_and_marked_at_once(made: Rig) -> None:
    """``atx sync --invoice``: the parts created while mapping it are posted in the same run."""
    store = made.store()
    report = made.engine(store).run_invoice(MIXED)
    assert report.ok, report.errors
    rows = by_org(store)
    assert set(rows) == {made.au, made.uk}
    assert all(r.state is S.DONE for r in rows.values()), rows
    assert marks(made) == 1
    assert len(made.sandbox.autotask.writes("Invoices")) == 1  # only this invoice, once


def test_the_dry_run_shows_the_parts(made: Rig) -> None:
    store = made.store()
    preview = dry_run(made.engine(store), MIXED).to_dict()
    assert preview["would_post"] is True and preview["split"] is True
    shown = {p["organisation"]["tenant_id"]: p for p in preview["parts"]}
    assert set(shown) == {made.au, made.uk}
    assert shown[made.au]["billing_items"] == [AU_LINE]
    assert shown[made.au]["lines_of_business"] == [101]
    assert len(shown[made.uk]["document"]["payload"]["LineItems"]) == 8
    assert all("part" in p["routing"] for p in shown.values())
    assert parts(store) == []  # nothing written
    assert marks(made) == 0
    # The control API's sync-invoice (the setup wizard's test invoice) previews both.
    service = AgentService(made.settings(), store, now=made.now, **service_options(made))
    answer = service.sync_invoice(MIXED, True)
    assert answer["outcome"] == "previewed" and len(answer["parts"]) == 2
    assert "(part 1 of 2)" in answer["message"] and "(part 2 of 2)" in answer["message"]
    sent = service.sync_invoice(MIXED, False)
    assert sent["outcome"] == "posted" and len(sent["parts"]) == 2, sent
    assert " and " in sent["message"] and marks(made) == 1


# -- marking: once, after every part --------------------------------------------------------


def test_a_part_that_fails_holds_the_mark_until_the_next_cycle_posts_it(made: Rig) -> None:
    store = made.store()
    # Xero fails the first batch of invoices, retries included (one organisation's batch).
    made.sandbox.xero_faults.add(
        Fault(kind="error", status=503, path_contains="/Invoices", method="PUT", times=4)
    )
    engine = made.engine(store)
    engine.run_cycle()
    rows = by_org(store)
    states = {r.state for r in rows.values()}
    assert S.POSTED in states and states & {S.FAILED, S.PENDING}, rows
    assert marks(made) == 0
    assert made.autotask_invoice(MIXED)["webServiceDate"] is None
    waiting = next(r for r in rows.values() if r.state is S.POSTED)
    assert "marked as sent once every part is" in history(store, waiting)
    made.sandbox.xero_faults.clear()
    made.sandbox.clock.advance(3600)
    cycle(made, store)
    rows = by_org(store)
    assert all(r.state is S.DONE for r in rows.values()), rows
    assert marks(made) == 1
    for org in rows:
        numbers = [d for d in made.xero_documents(org) if d.get("InvoiceNumber") == "AT-1014"]
        assert len(numbers) == 1, org


def test_a_crash_between_parts_does_not_mark_and_the_restart_marks_once(made: Rig) -> None:
    store = made.store()
    engine = made.engine(store, lease_seconds=60)
    original = engine.xero.post_documents
    first: list[str] = []

    def killed(tenant: str, *args: Any, **kwargs: Any) -> Any:
        if first and tenant != first[0]:
            raise RuntimeError("killed between the parts")
        first.append(tenant)
        return original(tenant, *args, **kwargs)

    engine.xero.post_documents = killed  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="killed"):
        engine.run_cycle()
    rows = by_org(store)
    assert rows[first[0]].state in (S.POSTED, S.DONE) and rows[first[0]].xero_id
    other = next(r for org, r in rows.items() if org != first[0])
    assert other.state is S.POSTING and other.xero_id is None
    assert marks(made) == 0
    # The restart (a new engine, the lease run out): the missing part, then one PATCH.
    made.sandbox.clock.advance(120)
    cycle(made, store)
    rows = by_org(store)
    assert all(r.state is S.DONE for r in rows.values()), rows
    assert marks(made) == 1
    for org in rows:
        assert (
            len([d for d in made.xero_documents(org) if d.get("InvoiceNumber") == "AT-1014"]) == 1
        )


def test_xero_numbering_writes_no_number_back_for_a_split_invoice(tmp_path: Path) -> None:
    def numbering(made: Rig, store: Store) -> None:
        splitting()(made, store)
        store.settings.set("invoice_numbering", "xero")

    with rig(tmp_path, split_world(), setup=numbering) as made:
        store = made.store()
        number = made.autotask_invoice(MIXED)["invoiceNumber"]
        cycle(made, store)
        rows = by_org(store)
        assert all(r.state is S.DONE and r.xero_number for r in rows.values())
        assert marks(made) == 1
        assert made.sandbox.autotask.write_counts("Invoices", "invoiceNumber")[MIXED] == 0
        assert made.autotask_invoice(MIXED)["invoiceNumber"] == number
        assert all("invoiceNumber not written" in history(store, r) for r in rows.values())


# -- a changed invoice, changed routing -------------------------------------------------------


def test_lines_routed_away_from_a_sent_part_hold_the_rest_unmarked(tmp_path: Path) -> None:
    def held(made: Rig, store: Store) -> None:
        splitting()(made, store)
        store.mappings.delete(made.uk, "tax", "3:1")  # the British part cannot map yet

    with rig(tmp_path, split_world(), setup=held) as made:
        store = made.store()
        cycle(made, store)
        rows = by_org(store)
        assert rows[made.au].state is S.POSTED and rows[made.uk].state is S.BLOCKED
        assert marks(made) == 0
        # The Australian line of business is routed to the British books now; the Australian
        # part is in Xero already: the sync does not change it, the British part is held.
        store.mappings.set("", "routing", "101", made.uk)
        cycle(made, store)
        uk = store.outbox.get(rows[made.uk].id)
        assert uk is not None and uk.state is S.BLOCKED
        assert "is in Xero already" in uk.block_reasons[0]
        assert marks(made) == 0


def test_unsent_parts_follow_the_routing_and_a_dropped_part_is_not_recreated(
    tmp_path: Path,
) -> None:
    def held(made: Rig, store: Store) -> None:
        splitting()(made, store)
        store.mappings.delete(made.uk, "tax", "3:1")
        store.mappings.delete(made.au, "tax", "3:3")

    with rig(tmp_path, split_world(), setup=held) as made:
        store = made.store()
        cycle(made, store)
        rows = by_org(store)
        assert {r.state for r in rows.values()} == {S.BLOCKED}
        # The invoice changes in Autotask: every unsent part takes the new snapshot, no new row.
        made.sandbox.autotask.update("Invoices", MIXED, orderNumber="PO-SPLIT-1")
        cycle(made, store)
        assert len(parts(store)) == 2
        for row in parts(store):
            assert row.snapshot["invoice"]["orderNumber"] == "PO-SPLIT-1"
        # All lines go to the British books now: the Australian part is dropped.
        store.mappings.set("", "routing", "101", made.uk)
        store.mappings.set(made.uk, "tax", "3:1", "OUTPUT2")
        store.mappings.set(made.uk, "tax", "3:3", "ZERORATEDOUTPUT")
        cycle(made, store)
        cycle(made, store)
        au = store.outbox.get(rows[made.au].id)
        uk = store.outbox.get(rows[made.uk].id)
        assert (
            au is not None and au.state is S.SKIPPED and (au.last_error or "").startswith("split: ")
        )
        assert uk is not None and uk.state is S.DONE
        assert "split" not in (uk.payload or {})
        assert len((uk.payload or {})["provenance"]) == 9  # the whole invoice
        assert len(parts(store)) == 2 and marks(made) == 1
        assert [
            d for d in made.xero_documents(made.au) if d.get("InvoiceNumber") == "AT-1014"
        ] == []
        assert (uk.payload or {})["payload"]["Reference"].startswith("PO-SPLIT-1")


def test_a_dropped_part_comes_back_when_its_lines_do(tmp_path: Path) -> None:
    def held(made: Rig, store: Store) -> None:
        splitting()(made, store)
        store.mappings.delete(made.uk, "tax", "3:1")
        store.mappings.delete(made.au, "tax", "3:3")

    with rig(tmp_path, split_world(), setup=held) as made:
        store = made.store()
        cycle(made, store)
        rows = by_org(store)
        store.mappings.set("", "routing", "101", made.uk)
        cycle(made, store)
        au = store.outbox.get(rows[made.au].id)
        assert au is not None and au.state is S.SKIPPED
        # Routed back before anything was sent: the same row comes back, mapped as its part.
        store.mappings.set("", "routing", "101", made.au)
        cycle(made, store)
        au = store.outbox.get(rows[made.au].id)
        assert au is not None and au.state is S.BLOCKED and au.block_reasons[0].startswith("tax")
        assert "lines for this organisation again" in history(store, au)
        store.mappings.set(made.au, "tax", "3:3", "EXEMPTEXPORT")
        store.mappings.set(made.uk, "tax", "3:1", "OUTPUT2")
        cycle(made, store)
        assert {r.id for r in by_org(store).values()} == {r.id for r in rows.values()}
        assert all(r.state is S.DONE for r in by_org(store).values())
        assert len(parts(store)) == 2 and marks(made) == 1


# -- payments back, voids ---------------------------------------------------------------------


def paid_patches(engine: SyncEngine) -> list[tuple[int, Any]]:
    sent: list[tuple[int, Any]] = []
    original = engine.autotask.patch_invoice

    def patch(invoice_id: int, **kwargs: Any) -> InvoiceUpdate:
        if "paid_date" in kwargs:
            sent.append((invoice_id, kwargs["paid_date"]))
        return original(invoice_id, **kwargs)

    engine.autotask.patch_invoice = patch  # type: ignore[method-assign]
    return sent


def paid_date(made: Rig) -> str | None:
    value = made.autotask_invoice(MIXED).get("paidDate")
    return None if value is None else str(value)[:10]


def pay(made: Rig, row: OutboxRow, on: date) -> dict[str, Any]:
    due = document(made, row)["AmountDue"]
    return made.sandbox.xero.record_payment(row.org, str(row.xero_id), Decimal(str(due)), on)


def test_paid_date_waits_for_every_part_and_takes_the_latest_day(tmp_path: Path) -> None:
    with rig(tmp_path, split_world(), setup=splitting("AUTHORISED")) as made:
        store = made.store()
        cycle(made, store)
        rows = by_org(store)
        assert all(r.state is S.DONE for r in rows.values())
        # The Australian part paid first, on the later day: not the whole invoice yet.
        pay(made, rows[made.au], DAY2)
        engine = made.engine(store)
        sent = paid_patches(engine)
        assert engine.run_cycle().ok
        assert sent == [] and paid_date(made) is None
        record = store.payments.get(rows[made.au].id)
        assert record is not None and record.paid_on == DAY2 and record.paid_date_set is None
        # The British part paid (on an earlier day): paid in full, on the latest day.
        payment = pay(made, rows[made.uk], DAY1)
        engine = made.engine(store)
        sent = paid_patches(engine)
        assert engine.run_cycle().ok
        assert sent == [(MIXED, DAY2)]
        assert paid_date(made) == DAY2.isoformat()
        for row in rows.values():
            found = store.payments.get(row.id)
            assert found is not None and found.paid_date_set == DAY2
            assert "all 2 parts paid" in history(store, row)
        # Nothing changed: nothing written.
        engine = made.engine(store)
        sent = paid_patches(engine)
        assert engine.run_cycle().ok and sent == []
        # A deleted payment reopens the British part: the date is cleared.
        made.sandbox.xero.delete_payment(made.uk, payment["PaymentID"])
        engine = made.engine(store)
        sent = paid_patches(engine)
        report = engine.run_cycle()
        assert report.ok and report.paid_dates_cleared == 1
        assert sent == [(MIXED, None)] and paid_date(made) is None
        # Paid again: set again, to the latest day.
        pay(made, rows[made.uk], DAY2 + timedelta(days=1))
        engine = made.engine(store)
        sent = paid_patches(engine)
        assert engine.run_cycle().ok
        assert sent == [(MIXED, DAY2 + timedelta(days=1))]


def test_a_void_in_autotask_voids_every_part(tmp_path: Path) -> None:
    with rig(tmp_path, split_world(), setup=splitting("AUTHORISED")) as made:
        store = made.store()
        engine = cycle(made, store)
        rows = by_org(store)
        made.sandbox.autotask.void_invoice(MIXED)
        report = engine.run_cycle()
        assert report.ok, report.errors
        assert report.voided_in_xero == 2
        for row in rows.values():
            after = store.outbox.get(row.id)
            assert after is not None and after.state is S.VOIDED
            assert document(made, row)["Status"] == "VOIDED"


def test_a_void_leaves_a_paid_part_blocked_with_the_reason(tmp_path: Path) -> None:
    with rig(tmp_path, split_world(), setup=splitting("AUTHORISED")) as made:
        store = made.store()
        engine = cycle(made, store)
        rows = by_org(store)
        made.sandbox.xero.record_payment(made.uk, str(rows[made.uk].xero_id), 5, DAY1)
        made.sandbox.autotask.void_invoice(MIXED)
        report = engine.run_cycle()
        assert report.voided_in_xero == 1 and report.void_blocked == 1
        assert document(made, rows[made.au])["Status"] == "VOIDED"
        assert document(made, rows[made.uk])["Status"] == "AUTHORISED"
        uk = store.outbox.get(rows[made.uk].id)
        assert uk is not None and uk.state is S.DONE and "5.00 paid" in (uk.last_error or "")
