"""Autotask products, services and bundles as Xero items (issue 5 §3), against the sandbox.

``item_sync`` off (the default) asks nothing of Autotask's catalogue and writes no item; ``create``
creates the missing ones once (existing ones matched by Code are left alone), ``create_update``
also updates the items whose Autotask record changed; invoice lines then carry the ItemCode.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_sync_kit import Rig, rig, seeded_world

from agent.mapping import BlockReason, MappingOptions, MappingTables, OrgCatalog
from agent.mapping.items import ItemDraft, ItemSource, assign_codes, build_item, stable_code
from agent.store import OutboxKind, OutboxState, Store
from agent.sync import CycleReport, SyncEngine
from agent.sync import items as items_module
from sandbox.world import World

S = OutboxState
INVOICES = 30
ITEM_OPERATIONS = ("get_items", "create_items", "update_or_create_items")
CATALOGUE = ("Products", "Services", "ServiceBundles")


def xero_items(made: Rig, tenant: str) -> list[dict[str, Any]]:
    ledger = made.sandbox.xero.ledger(tenant)
    with made.sandbox.xero.lock:
        return [dict(i) for i in ledger.org.items]


def by_code(made: Rig, tenant: str) -> dict[str, dict[str, Any]]:
    found = xero_items(made, tenant)
    codes = Counter(str(i["Code"]) for i in found)
    assert all(n == 1 for n in codes.values()), "an item code twice"
    return {str(i["Code"]): i for i in found}


def expected_code(kind: str, record: dict[str, Any]) -> str:
    sku = str(record.get("sku") or "")
    return sku if sku and len(sku) <= 30 else stable_code(kind, int(record["id"]))


def catalogue(world: World) -> list[tuple[str, dict[str, Any]]]:
    kinds = {"Products": "product", "Services": "service", "ServiceBundles": "bundle"}
    return [(kinds[e], r) for e in CATALOGUE for r in world.autotask[e]]


@dataclass
class Spy:
    """Xero operations per name, counted at the gateway (every Accounting call goes there)."""

    calls: Counter[str]

    def item_calls(self) -> int:
        return sum(self.calls[o] for o in ITEM_OPERATIONS)


def spy_on(engine: SyncEngine) -> Spy:
    spy = Spy(Counter())
    gateway = engine.xero.gateway
    original = gateway.call

    def call(tenant_id: str, operation: str, *args: Any, **kwargs: Any) -> Any:
        spy.calls[operation] += 1
        return original(tenant_id, operation, *args, **kwargs)

    gateway.call = call  # type: ignore[method-assign]
    return spy


def catalogue_queries(engine: SyncEngine) -> int:
    made = engine.autotask.calls_made
    return sum(n for endpoint, n in made.items() if any(e in endpoint for e in CATALOGUE))


def item_rows(store: Store, *states: OutboxState) -> list[Any]:
    return store.outbox.list_rows(states=states or None, kind=OutboxKind.ITEM, limit=100_000)


# -- off ------------------------------------------------------------------------------------------


def test_off_by_default_asks_nothing_and_writes_no_item(tmp_path: Path) -> None:
    with rig(tmp_path, seeded_world(INVOICES)) as made:
        before = {t: xero_items(made, t) for t in (made.au, made.uk)}
        store = made.store()
        engine = made.engine(store)
        spy = spy_on(engine)
        report = engine.run_cycle()
        assert report.ok, report.errors
        calls = engine.autotask.calls_made
        assert not [e for e in calls if "Services" in e or "ServiceBundles" in e], calls
        # Products are read only by id, for the product lines of the invoices snapshotted.
        assert sum(n for e, n in calls.items() if "Products" in e) <= 1
        # The items catalog is read with the others (mapping reads it); nothing is written.
        assert spy.calls["create_items"] == spy.calls["update_or_create_items"] == 0
        assert report.items_created == report.items_updated == 0
        assert item_rows(store) == []
        assert {t: xero_items(made, t) for t in (made.au, made.uk)} == before


# -- create ---------------------------------------------------------------------------------------


@dataclass
class Created:
    rig: Rig
    store: Store
    before: dict[str, dict[str, dict[str, Any]]]
    first: CycleReport
    second: CycleReport
    spy_second: Spy
    catalogue_second: int


@pytest.fixture(scope="module")
def created(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Created]:
    world = seeded_world(INVOICES)
    # A product whose SKU is too long for an item Code (30 characters at most).
    world.autotask["Products"][1]["sku"] = "LONG-SKU-" + "X" * 31
    with rig(tmp_path_factory.mktemp("items"), world) as made:
        before = {t: by_code(made, t) for t in (made.au, made.uk)}
        store = made.store()
        store.settings.set("item_sync", "create")
        engine = made.engine(store)
        first = engine.run_cycle()
        spy = spy_on(engine)
        queries_before = catalogue_queries(engine)
        second = engine.run_cycle()
        yield Created(made, store, before, first, second, spy,
                      catalogue_queries(engine) - queries_before)  # fmt: skip


def test_create_makes_every_missing_item_with_its_values(created: Created) -> None:
    made, first = created.rig, created.first
    assert first.ok, first.errors
    world = made.world
    active = [(k, r) for k, r in catalogue(world) if r.get("isActive") is not False]
    codes = {t: by_code(made, t) for t in (made.au, made.uk)}
    new = 0
    for tenant in (made.au, made.uk):
        for kind, record in active:
            code = expected_code(kind, record)
            item = codes[tenant].get(code)
            assert item is not None, f"{kind} {record['id']} ({code}) has no item"
            if code in created.before[tenant]:
                # Matched by Code: left exactly as it was.
                assert item == created.before[tenant][code]
                continue
            new += 1
            assert item["Name"] == str(record["name"])[:50]
            sales = item["SalesDetails"]
            assert sales["AccountCode"]
            if tenant == made.au:
                # Autotask's prices are in its internal currency, AUD: the Australian books'.
                assert Decimal(str(sales["UnitPrice"])) == Decimal(str(record["unitPrice"]))
                if record.get("unitCost") is not None:
                    purchase = item["PurchaseDetails"]
                    cost = Decimal(str(purchase["UnitPrice"]))
                    assert cost == Decimal(str(record["unitCost"]))
            else:
                # The UK books are in GBP: no price rather than an AUD figure taken for pounds.
                assert "UnitPrice" not in sales and "PurchaseDetails" not in item
            assert item["IsTrackedAsInventory"] is False
    assert first.items_created == new > 0
    assert "items created" in first.summary()
    rows = item_rows(created.store)
    assert {r.state for r in rows} == {S.DONE}
    assert len(rows) == 2 * len(active)


def test_the_sales_account_and_tax_follow_the_billing_code(created: Created) -> None:
    made = created.rig
    world = made.world
    codes = {c["id"]: c for c in world.autotask["BillingCodes"]}
    items = by_code(made, made.au)
    ledger = made.sandbox.xero.ledger(made.au)
    checked = 0
    for kind, record in catalogue(world):
        code = expected_code(kind, record)
        if code in created.before[made.au] or record.get("isActive") is False:
            continue
        billing = codes[record.get("productBillingCodeID") or record.get("billingCodeID")]
        external = billing.get("externalNumber")
        sales = items[code]["SalesDetails"]
        account = ledger.account(code=sales["AccountCode"])
        assert account is not None
        if external and ledger.account(code=str(external)) is not None:
            assert sales["AccountCode"] == external
        if account.get("TaxType"):
            assert sales.get("TaxType") == account["TaxType"]
        checked += 1
    assert checked > 0


def test_inactive_products_are_not_created(created: Created) -> None:
    made = created.rig
    inactive = [r for r in made.world.autotask["Products"] if r.get("isActive") is False]
    assert inactive
    for tenant in (made.au, made.uk):
        items = by_code(made, tenant)
        for record in inactive:
            code = expected_code("product", record)
            assert code not in items or code in created.before[tenant]
    keys = {r.autotask_id for r in item_rows(created.store)}
    assert not {f"product:{r['id']}" for r in inactive} & keys


def test_a_sku_longer_than_30_gets_the_stable_code(created: Created) -> None:
    made = created.rig
    record = made.world.autotask["Products"][1]
    assert len(record["sku"]) > 30
    for tenant in (made.au, made.uk):
        assert f"AT-P-{record['id']}" in by_code(made, tenant)


def test_invoice_lines_carry_the_item_code_with_provenance(created: Created) -> None:
    made, store = created.rig, created.store
    world = made.world
    services = {r["id"]: expected_code("service", r) for r in world.autotask["Services"]}
    bundles = {r["id"]: expected_code("bundle", r) for r in world.autotask["ServiceBundles"]}
    billing = {i["id"]: i for i in world.autotask["BillingItems"]}
    checked = 0
    for row in store.outbox.list_rows(states=[S.DONE], kind=OutboxKind.INVOICE, limit=10_000):
        payload = row.payload or {}
        lines = payload["payload"]["LineItems"]
        for line, how in zip(lines, payload["provenance"], strict=False):
            item = billing.get(how.get("billing_item_id"))
            if item is None:
                continue
            if item.get("serviceBundleID"):
                wanted = bundles[item["serviceBundleID"]]
            elif item.get("serviceID"):
                wanted = services[item["serviceID"]]
            else:
                continue
            assert line.get("ItemCode") == wanted, how
            assert "(item sync)" in how["item"]
            checked += 1
    assert checked > 0
    # And in Xero itself.
    assert any(
        line.get("ItemCode") in set(services.values()) | set(bundles.values())
        for doc in made.xero_documents(made.au)
        for line in doc.get("LineItems", [])
    )


def test_a_cycle_with_nothing_changed_costs_three_queries_and_no_item_call(
    created: Created,
) -> None:
    second = created.second
    assert second.ok, second.errors
    assert second.items_created == second.items_updated == 0
    # One paged query per entity (each has fewer than 500 records), nothing else for items.
    assert created.catalogue_second == 3
    assert created.spy_second.item_calls() == 0
    assert second.xero_writes == 0
    # The invoice cycle's own cost (tests/test_sync_cycle.py) plus the three queries.
    assert second.autotask_calls <= 3 + 3


# -- create_update --------------------------------------------------------------------------------


def test_create_update_sends_only_the_changed_item(tmp_path: Path) -> None:
    with rig(tmp_path, seeded_world(10)) as made:
        store = made.store()
        store.settings.set("item_sync", "create_update")
        engine = made.engine(store)
        assert engine.run_cycle().items_created > 0
        service = made.world.autotask["Services"][0]
        code = expected_code("service", service)
        made.sandbox.autotask.update("Services", service["id"], unitPrice=123.45)
        before = {t: by_code(made, t) for t in (made.au, made.uk)}
        spy = spy_on(engine)
        report = engine.run_cycle()
        assert report.ok, report.errors
        # The Australian item takes the new price; the UK one has no price (GBP books), so its
        # item is the same as before and is not sent.
        assert report.items_updated == 1 and report.items_created == 0
        assert spy.calls["update_or_create_items"] == 1 and spy.calls["create_items"] == 0
        after = by_code(made, made.au)
        assert Decimal(str(after[code]["SalesDetails"]["UnitPrice"])) == Decimal("123.45")
        assert after[code]["ItemID"] == before[made.au][code]["ItemID"]
        unchanged = {c: i for c, i in after.items() if c != code}
        assert unchanged == {c: i for c, i in before[made.au].items() if c != code}
        assert by_code(made, made.uk) == before[made.uk]
        # Nothing changed since: nothing sent.
        spy.calls.clear()
        again = engine.run_cycle()
        assert again.items_updated == 0 and spy.item_calls() == 0


def test_create_update_follows_a_changed_account_mapping(tmp_path: Path) -> None:
    """Nothing changed in Autotask, but the sales account of a billing code was mapped anew:
    its items in Xero take the new account, once; the others are not sent."""
    with rig(tmp_path, seeded_world(10)) as made:
        store = made.store()
        store.settings.set("item_sync", "create_update")
        engine = made.engine(store)
        assert engine.run_cycle().items_created > 0
        engine.run_cycle()  # the created items are now part of the context: nothing to send
        service = made.world.autotask["Services"][0]
        code = expected_code("service", service)
        billing = str(service["billingCodeID"])
        same = [
            expected_code(kind, r)
            for kind, r in catalogue(made.world)
            if str(r.get("productBillingCodeID") or r.get("billingCodeID")) == billing
            and r.get("isActive") is not False
        ]
        before = by_code(made, made.au)
        assert before[code]["SalesDetails"]["AccountCode"] != "260"
        store.mappings.set(made.au, "account", billing, "260")
        spy = spy_on(engine)
        report = engine.run_cycle()
        assert report.ok, report.errors
        after = by_code(made, made.au)
        assert after[code]["SalesDetails"]["AccountCode"] == "260"
        assert after[code]["ItemID"] == before[code]["ItemID"]
        assert report.items_updated == len([c for c in same if c in after]) >= 1
        assert {c: i for c, i in after.items() if c not in same} == {
            c: i for c, i in before.items() if c not in same
        }
        assert spy.calls["create_items"] == 0
        spy.calls.clear()
        again = engine.run_cycle()
        assert again.items_updated == 0 and spy.item_calls() == 0


def test_create_leaves_a_changed_item_alone(tmp_path: Path) -> None:
    with rig(tmp_path, seeded_world(10)) as made:
        store = made.store()
        store.settings.set("item_sync", "create")
        engine = made.engine(store)
        engine.run_cycle()
        service = made.world.autotask["Services"][0]
        code, was = expected_code("service", service), Decimal(str(service["unitPrice"]))
        made.sandbox.autotask.update("Services", service["id"], unitPrice=99.0)
        report = engine.run_cycle()
        assert report.ok and report.items_updated == 0
        price = by_code(made, made.au)[code]["SalesDetails"]["UnitPrice"]
        assert Decimal(str(price)) == was


# -- exactly once ---------------------------------------------------------------------------------


def test_a_crash_after_the_create_then_a_rerun_makes_one_item(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with rig(tmp_path, seeded_world(10)) as made:
        store = made.store()
        store.settings.set("item_sync", "create")
        engine = made.engine(store)
        original = items_module.ItemSync._done

        def crash(self: Any, row: Any, item: Any, how: str, ctx: Any) -> bool:
            if how == "created in Xero":
                raise RuntimeError("killed right after Xero created the items")
            return original(self, row, item, how, ctx)

        monkeypatch.setattr(items_module.ItemSync, "_done", crash)
        with pytest.raises(RuntimeError):
            engine.run_cycle()
        stuck = item_rows(store, S.POSTING)
        assert stuck, "the crash left rows mid-post"
        created_once = {t: by_code(made, t) for t in (made.au, made.uk)}
        monkeypatch.setattr(items_module.ItemSync, "_done", original)
        spy = spy_on(engine)
        report = engine.run_cycle()
        assert report.ok, report.errors
        crashed = {r.org for r in stuck}
        assert len(crashed) == 1  # the first organisation; the other one was not reached
        (org,) = crashed
        other = made.uk if org == made.au else made.au
        # The crashed organisation's items are found by Code (its catalog read again), not
        # created again; the other organisation's are created now.
        assert by_code(made, org).keys() == created_once[org].keys()
        assert report.items_created == len(by_code(made, other)) - len(created_once[other]) > 0
        assert spy.calls["create_items"] == 1 and spy.calls["get_items"] >= 1
        assert {r.state for r in item_rows(store) if r.org == org} <= {S.DONE, S.BLOCKED}
        assert not item_rows(store, S.POSTING, S.PENDING, S.FAILED)


# -- the user's item mapping wins -----------------------------------------------------------------


def test_a_user_item_mapping_wins_over_the_synced_item(tmp_path: Path) -> None:
    with rig(tmp_path, seeded_world(INVOICES)) as made:
        store = made.store()
        store.settings.set("item_sync", "create")
        service = made.world.autotask["Services"][0]
        # An item that exists in both organisations: a seeded product item's Code.
        au_codes = {i["Code"] for i in xero_items(made, made.au)}
        uk_codes = {i["Code"] for i in xero_items(made, made.uk)}
        target = sorted(au_codes & uk_codes)[0]
        store.mappings.set("", "item", f"service:{service['id']}", target)
        engine = made.engine(store)
        report = engine.run_cycle()
        assert report.ok, report.errors
        billing = {i["id"]: i for i in made.world.autotask["BillingItems"]}
        checked = 0
        for row in store.outbox.list_rows(states=[S.DONE], kind=OutboxKind.INVOICE, limit=10_000):
            payload = row.payload or {}
            for line, how in zip(payload["payload"]["LineItems"], payload["provenance"],
                                 strict=False):  # fmt: skip
                item = billing.get(how.get("billing_item_id"))
                if item is None or item.get("serviceID") != service["id"]:
                    continue
                if item.get("serviceBundleID"):
                    continue
                assert line["ItemCode"] == target
                assert how["item"].startswith("item mapping for service id")
                checked += 1
        assert checked > 0


# -- the pure rules (agent/mapping/items.py) ------------------------------------------------------


def _source(kind: str, ident: int, sku: str = "", **extra: Any) -> ItemSource:
    values: dict[str, Any] = {
        "kind": kind,
        "id": ident,
        "name": extra.get("name", f"thing {ident}"),
        "description": "",
        "sku": sku,
        "alt_sku": extra.get("alt_sku", ""),
        "unit_price": "10",
        "unit_cost": None,
        "billing_code_id": None,
        "active": True,
    }
    return ItemSource.from_dict(values)


def test_codes_sku_else_stable_never_cut_and_never_shared() -> None:
    sources = [
        _source("product", 7, "HW-1"),
        _source("product", 5, "HW-1"),  # the same SKU: the lowest id keeps it
        _source("product", 9, "S" * 31),  # too long: not cut
        _source("service", 3, "", alt_sku="MSP-42"),
        _source("bundle", 4),
    ]
    codes = assign_codes(sources)
    assert codes == {
        "product:5": "HW-1",
        "product:7": "AT-P-7",
        "product:9": "AT-P-9",
        "service:3": "MSP-42",
        "bundle:4": "AT-B-4",
    }
    assert all(len(c) <= 30 for c in codes.values())


def test_the_item_names_are_cut_to_50_and_blocks_without_an_account() -> None:
    catalog = OrgCatalog.from_cached(
        name="Books",
        base_currency="AUD",
        country_code="AU",
        catalogs={"accounts": [{"Code": "200", "Status": "ACTIVE", "Type": "REVENUE",
                                "Class": "REVENUE", "TaxType": "OUTPUT"}],
                  "tax_rates": [{"TaxType": "OUTPUT", "Status": "ACTIVE", "EffectiveRate": 10,
                                 "CanApplyToRevenue": True}]},
    )  # fmt: skip
    source = _source("service", 1, "SVC", name="N" * 80)
    options = MappingOptions(today=date(2026, 3, 2), default_sales_account="200")
    draft = build_item(source, "SVC", None, MappingTables(), catalog, options)
    assert isinstance(draft, ItemDraft)
    assert len(draft.document["Name"]) == 50
    assert draft.document["SalesDetails"] == {
        "AccountCode": "200",
        "UnitPrice": 10.0,
        "TaxType": "OUTPUT",
    }
    # Prices in another currency than the organisation's: none rather than wrong ones.
    pounds = build_item(source, "SVC", None, MappingTables(), catalog, options, "GBP")
    assert isinstance(pounds, ItemDraft) and "UnitPrice" not in pounds.document["SalesDetails"]
    assert any(r.startswith("no prices") for r in pounds.rules)
    no_default = MappingOptions(today=date(2026, 3, 2))
    blocked = build_item(source, "SVC", None, MappingTables(), catalog, no_default)
    assert isinstance(blocked, BlockReason) and "no Xero account" in blocked.message


def test_item_mappings_for_services_and_bundles_are_read() -> None:
    @dataclass
    class Entry:
        org: str
        mapping_type: str
        source_key: str
        target: str

    tables = MappingTables.from_entries(
        [
            Entry("", "item", "12", "P12"),
            Entry("", "item", "service:7", "S7"),
            Entry("", "item", "bundle:8", "B8"),
            Entry("", "item", "product:13", "P13"),
            Entry("", "item", "nonsense:1", "X"),
        ],
        "org",
    )
    assert tables.items == {12: "P12", 13: "P13"}
    assert tables.service_items == {7: "S7"} and tables.bundle_items == {8: "B8"}
