"""Several Xero organisations (issue 5 §4): routing rules in order (line of business, customer,
the customer's user-defined field, currency, then the default and the only organisation), mixed
invoices held, mappings per organisation, and the routing kinds in mapping files.

The pure decisions are tested on ``RoutingTable`` itself; the rest against the sandbox's seeded
MSP (an Australian and a British organisation) through real sync cycles.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from test_mapping_support import company, snapshot
from test_sync_kit import START, TEST_KEY, Rig, rig, seeded_world

from agent.autotask.records import BillingItem, UserDefinedField
from agent.autotask.refdata import Currency
from agent.mapping import MappingTables
from agent.store import MappingEntry, OutboxRow, OutboxState, Store, TenantInfo
from agent.store.mappings import KNOWN_MAPPING_TYPES
from agent.sync.dryrun import dry_run
from agent.sync.mappings_io import ImportProblems, export_mappings, parse, save
from agent.sync.options import RuntimeView, SyncOptions
from agent.sync.routing import ROUTING_KINDS, Routed, RoutingTable, Unroutable, routing_table

S = OutboxState
AU, UK = "tenant-au", "tenant-uk"
UDF = "Xero Books"


def entry(kind: str, key: str, target: str, org: str = "") -> MappingEntry:
    return MappingEntry(org, kind, key, target, {}, START)


def lines(*associations: int | None) -> tuple[BillingItem, ...]:
    return tuple(
        BillingItem(id=i + 1, invoiceID=28_310, organizationalLevelAssociationID=a)
        for i, a in enumerate(associations)
    )


def rules(*extra: MappingEntry, default: str | None = None, udf: str | None = UDF) -> RoutingTable:
    entries = [
        entry("routing", "101", AU),
        entry("routing", "201", UK),
        entry("routing_company", "174000", UK),
        entry("routing_udf", "united kingdom", UK),
        entry("routing_currency", "GBP", UK),
        entry("routing_currency", "nzd", AU),  # keys compared as ISO codes
        entry("currency", "7", "gbp"),  # Autotask currency 7 is GBP (global currency mapping)
        entry("routing_company", "174999", UK, org=AU),  # per-org routing means nothing
        *extra,
    ]
    tenants = [TenantInfo(AU, "Acme AU"), TenantInfo(UK, "Acme UK")]
    return RoutingTable.build(entries, tenants, default, udf_name=udf)


def customer(company_id: int = 174_001, udf: str | None = None, currency: int = 1) -> Any:
    """A snapshot of an AUD customer (no rule for it by default), optionally with the UDF."""
    fields: dict[str, Any] = {"id": company_id, "currencyID": currency}
    if udf is not None:
        fields["userDefinedFields"] = [
            UserDefinedField(name="Other", value="United Kingdom"),
            UserDefinedField(name=" xero books ", value=udf),
        ]
    names = {1: "AUD", 2: "NZD", 3: "GBP", 7: "Pound"}
    return snapshot(
        company=company(**fields),
        invoice={"companyID": company_id},
        currency=Currency(id=currency, name=names[currency]),
    )


# -- each rule, and their order ------------------------------------------------------------------


def test_line_of_business_comes_first() -> None:
    routed = rules().route(replace(customer(174_000, "United Kingdom", 3), items=lines(101, None)))
    assert routed == Routed(AU, "line of business [101] routed to Acme AU")


def test_then_the_customer() -> None:
    routed = rules().route(customer(174_000, udf="Australia", currency=2))
    assert routed == Routed(
        UK, 'customer "Harbour View Dental Pty Ltd" (Autotask company 174000) routed to Acme UK'
    )
    assert rules().route(replace(customer(174_000), company=None)) == Routed(
        UK, "Autotask company 174000 routed to Acme UK"
    )


def test_then_the_customers_user_defined_field() -> None:
    routed = rules().route(customer(udf="  UNITED kingdom ", currency=2))
    assert routed == Routed(UK, 'the customer\'s Xero Books "UNITED kingdom" routed to Acme UK')
    # Without the setting naming the UDF, the rule is off (currency decides: NZD -> AU).
    assert rules(udf=None).route(customer(udf="United Kingdom", currency=2)).org == AU


def test_then_the_currency() -> None:
    assert rules().route(customer(currency=3)) == Routed(
        UK, "the customer's currency GBP routed to Acme UK"
    )
    assert rules().route(customer(currency=2)) == Routed(
        AU, "the customer's currency NZD routed to Acme AU"
    )
    # The currency's code comes from the global currency mapping before its name.
    assert rules().route(customer(currency=7)).org == UK


def test_then_the_default_then_the_only_organisation() -> None:
    aud = customer(udf="Elsewhere")
    assert rules(default=UK).route(aud) == Routed(UK, "the default organisation Acme UK")
    alone = RoutingTable.build([], [TenantInfo(AU, "Acme AU")], None)
    assert alone.route(aud) == Routed(AU, "the only connected organisation, Acme AU")


def test_an_unroutable_invoice_says_what_to_map() -> None:
    held = rules().route(replace(customer(udf="Elsewhere"), items=lines(None, 150)))
    assert isinstance(held, Unroutable)
    reason = str(held)
    assert reason.startswith("routing: no routing rule matches the invoice")
    for named in (
        "its line(s) of business 150",
        '"Harbour View Dental Pty Ltd" (Autotask company 174001)',
        'Xero Books "Elsewhere"',
        "the currency AUD",
        "Mappings → Routing",
        "set the default organisation in Settings",
    ):
        assert named in reason, named
    nothing = RoutingTable.build([], [], None).route(customer())
    assert isinstance(nothing, Unroutable) and "no Xero organisation is connected" in str(nothing)


def test_a_rule_naming_a_disconnected_organisation_holds_the_invoice() -> None:
    gone = rules(entry("routing_currency", "AUD", "tenant-gone")).route(customer())
    assert isinstance(gone, Unroutable)
    assert "tenant-gone" in str(gone) and "not connected" in str(gone)
    assert "the customer's currency AUD" in str(gone)


def test_a_mixed_invoice_is_held_naming_both_organisations() -> None:
    mixed = rules(default=AU).route(replace(customer(174_000), items=lines(101, 201, None)))
    assert isinstance(mixed, Unroutable)
    assert '"Acme AU" and "Acme UK"' in str(mixed)
    assert '[101] to "Acme AU"; [201] to "Acme UK"' in str(mixed)
    assert "mixed_invoice = block" in str(mixed)


def test_the_fingerprint_follows_every_rule() -> None:
    base = rules().fingerprint()
    assert rules().fingerprint() == base
    for extra in (
        entry("routing_company", "1", AU),
        entry("routing_udf", "x", AU),
        entry("routing_currency", "USD", AU),
        entry("currency", "9", "USD"),
    ):
        assert rules(extra).fingerprint() != base
    assert rules(udf="Region").fingerprint() != base
    assert rules(default=AU).fingerprint() != base


def test_the_options_name_the_udf_and_take_block_or_split_for_mixed_invoices() -> None:
    from test_sync_units import settings

    options = SyncOptions.resolve(
        settings(), RuntimeView({"routing_udf_name": " Xero Books ", "mixed_invoice": "Split"})
    )
    assert options.routing_udf_name == "Xero Books"
    assert options.mixed_invoice == "split"
    other = SyncOptions.resolve(settings(), RuntimeView({"mixed_invoice": "halve"}))
    assert other.mixed_invoice == "block"  # an unknown value is ignored, with a warning
    table = routing_table([entry("routing_udf", "uk", UK)], [TenantInfo(AU, "A")], options)
    assert table.udf_name == "Xero Books" and table.udf_values == {"uk": UK}


# -- mappings per organisation -------------------------------------------------------------------


def test_an_organisations_own_mapping_wins_over_the_one_for_all() -> None:
    kinds = {
        "account": "1",
        "tax": "1:1",
        "currency": "3",
        "branding_theme": "1",
        "contact": "174000",
        "item": "9001",
    }
    entries = []
    for kind, key in kinds.items():
        entries += [entry(kind, key, "global"), entry(kind, key, "uk-own", org=UK)]
        entries.append(entry(kind, key, "au-own-only", org="tenant-other"))
    for org, wanted in ((UK, "uk-own"), (AU, "global")):
        tables = MappingTables.from_entries(entries, org)
        found = (
            tables.accounts[1],
            tables.tax[(1, 1)],
            tables.currencies[3],
            tables.branding_themes[1],
            tables.contacts[174_000],
            tables.items[9001],
        )
        assert set(found) == {wanted}, org


# -- against the sandbox -------------------------------------------------------------------------

INVOICES = 40
# In the seeded world of 40 invoices: company -> Autotask currency id (1 AUD, 2 NZD, 3 GBP).
BY_CUSTOMER, BY_UDF = 174_009, 174_018  # AUD customers
NZD_CUSTOMERS, GBP_CUSTOMERS = {174_006, 174_015}, {174_003, 174_012, 174_021}


def rows(store: Store) -> list[OutboxRow]:
    return store.outbox.list_rows(limit=10_000)


def company_of(row: OutboxRow) -> int:
    return int(row.snapshot["invoice"]["companyID"])


def without_line_of_business_routing(made: Rig, store: Store) -> None:
    for found in store.mappings.list_all(mapping_type="routing"):
        store.mappings.delete(found.org, found.mapping_type, found.source_key)
    store.settings.delete("default_org")


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Rig, Store]]:
    """No line-of-business routing and no default: customer, UDF and currency rules decide."""
    world = seeded_world(INVOICES)
    for record in world.autotask["Companies"]:
        if record["id"] == BY_UDF:
            record["userDefinedFields"] = [{"name": UDF, "value": "United Kingdom"}]
    tmp = tmp_path_factory.mktemp("routing")
    with rig(tmp, world, setup=without_line_of_business_routing) as made:
        store = made.store()
        store.mappings.set("", "routing_company", str(BY_CUSTOMER), made.uk)
        store.settings.set("routing_udf_name", UDF.lower())
        store.mappings.set("", "routing_udf", "united kingdom", made.uk)
        store.mappings.set("", "routing_currency", "GBP", made.uk)
        report = made.engine(store).run_cycle()
        assert report.ok, report.errors
        yield made, store


def test_a_cycle_routes_by_customer_udf_and_currency(routed: tuple[Rig, Store]) -> None:
    made, store = routed
    seen: dict[int, set[str]] = {}
    for row in rows(store):
        seen.setdefault(company_of(row), set()).add(row.org)
    assert seen[BY_CUSTOMER] == {made.uk}  # an AUD customer, by the customer rule
    assert seen[BY_UDF] == {made.uk}  # an AUD customer, by its UDF
    for gbp in GBP_CUSTOMERS & seen.keys():
        assert seen[gbp] == {made.uk}, gbp
    for nzd in NZD_CUSTOMERS & seen.keys():
        assert seen[nzd] == {""}, nzd  # no rule, no default: held, not routed
    # Provenance: the rule that matched, in the row's history ("routed: <rule>") and in the
    # payload of the rows that map (the AUD customers block in the British books: no AUD there).
    routed_by = {
        (company_of(r), str(e.detail))
        for r in rows(store)
        for e in store.outbox.events(r.id)
        if str(e.detail).startswith("routed: ")
    }
    assert any(c == BY_UDF and 'xero books "United Kingdom" routed to' in t for c, t in routed_by)
    assert any(
        c == BY_CUSTOMER and f"(Autotask company {BY_CUSTOMER}) routed to" in t
        for c, t in routed_by
    )
    in_payload = {
        (company_of(r), str(r.payload["routing"])) for r in rows(store) if r.payload is not None
    }
    assert any(c in GBP_CUSTOMERS and "currency GBP routed to" in t for c, t in in_payload)


def test_the_dry_run_names_the_rule_that_routed_the_invoice(routed: tuple[Rig, Store]) -> None:
    made, store = routed
    invoice = next(
        i["id"]
        for i in made.world.autotask["Invoices"]
        if i["companyID"] == BY_UDF and not i.get("isVoided")
    )
    preview = dry_run(made.engine(store), invoice).to_dict()
    assert preview["organisation"]["tenant_id"] == made.uk
    assert preview["routing"].startswith('the customer\'s xero books "United Kingdom" routed to')


def test_held_invoices_name_what_to_map_and_a_new_rule_releases_them(
    routed: tuple[Rig, Store],
) -> None:
    made, store = routed
    held = [r for r in rows(store) if company_of(r) in NZD_CUSTOMERS]
    assert held and all(r.state is S.BLOCKED and r.org == "" for r in held)
    reason = held[0].block_reasons[0]
    assert "no routing rule matches" in reason and "the currency NZD" in reason
    assert f"(Autotask company {company_of(held[0])})" in reason

    store.mappings.set("", "routing_currency", "NZD", made.au)
    report = made.engine(store).run_cycle()
    assert report.ok, report.errors
    after = [store.outbox.get(r.id) for r in held]
    assert all(r is not None and r.org == made.au and r.state is not S.BLOCKED for r in after)
    nz = [d for d in made.xero_documents(made.au) if d.get("CurrencyCode") == "NZD"]
    assert len(nz) == len(held)  # invoices and credit notes, each once


def test_mixed_invoices_are_held_and_the_rest_route_by_line_of_business(tmp_path: Path) -> None:
    with rig(tmp_path, seeded_world(INVOICES)) as made:
        store = made.store()
        report = made.engine(store).run_cycle()
        assert report.ok, report.errors
        mixed = [
            r
            for r in rows(store)
            if r.block_reasons and "mixes lines of business" in r.block_reasons[0]
        ]
        assert mixed, "the seeded MSP plants invoices mixing both regions"
        for row in mixed:
            assert row.org == "" and row.state is S.BLOCKED
            assert "mixed_invoice = block" in row.block_reasons[0]
            invoice = made.autotask_invoice(int(row.autotask_id))
            assert invoice.get("webServiceDate") is None  # nothing of it was sent or marked
        # A customer rule does not override the lines of business: still held.
        store.mappings.set("", "routing_company", str(company_of(mixed[0])), made.au)
        made.engine(store).run_cycle()
        again = store.outbox.get(mixed[0].id)
        assert again is not None and again.state is S.BLOCKED and again.org == ""


def test_each_organisation_maps_with_its_own_entries_over_the_shared_ones(tmp_path: Path) -> None:
    code = 29_682_831  # billing code used on both Australian and British invoices

    def accounts(made: Rig, store: Store) -> None:
        store.mappings.set("", "account", str(code), "270")
        store.mappings.set(made.uk, "account", str(code), "260")

    with rig(tmp_path, seeded_world(INVOICES), setup=accounts) as made:
        store = made.store()
        assert made.engine(store).run_cycle().ok
        used: dict[str, set[str]] = {}
        for row in rows(store):
            if row.payload is None or row.state is not S.DONE:
                continue
            items = {i["id"]: i for i in row.snapshot["items"]}
            lines_ = row.payload["payload"]["LineItems"]
            for line, origin in zip(lines_, row.payload["provenance"], strict=True):
                item = items.get(origin["billing_item_id"])
                if item is not None and item.get("billingCodeID") == code:
                    used.setdefault(row.org, set()).add(line["AccountCode"])
        assert used == {made.au: {"270"}, made.uk: {"260"}}


# -- mapping files and the API's kinds ----------------------------------------------------------


def test_the_routing_kinds_are_known_mapping_kinds() -> None:
    assert set(ROUTING_KINDS) <= set(KNOWN_MAPPING_TYPES)


def test_mapping_files_carry_the_new_routing_kinds(tmp_path: Path) -> None:
    store = Store.open(tmp_path, secret_key=TEST_KEY)
    try:
        text = json.dumps(
            [
                {"type": "routing_company", "source_key": 174009, "target": UK},
                {"type": "routing_udf", "source_key": "United Kingdom", "target": UK},
                {"type": "routing_currency", "source_key": "gbp", "target": UK},
                {"type": "routing", "source_key": "101", "target": AU},
            ]
        )
        entries, warnings = parse(text, source="f.json", connected={AU})
        assert [w.split(":")[0] for w in warnings] == ["mappings[0]", "mappings[1]", "mappings[2]"]
        assert save(store, entries) == 4
        exported = export_mappings(store.mappings.list_all())
        assert {(m["type"], m["source_key"]) for m in exported["mappings"]} == {
            ("routing_company", "174009"),
            ("routing_udf", "United Kingdom"),
            ("routing_currency", "GBP"),
            ("routing", "101"),
        }
        # The export imports back as it is.
        again, _ = parse(json.dumps(exported), source="x", connected={AU, UK})
        assert {(e.mapping_type, e.source_key, e.target) for e in again} == {
            (m["type"], m["source_key"], m["target"]) for m in exported["mappings"]
        }
    finally:
        store.close()
    for bad, why in (
        ({"type": "routing_currency", "source_key": "pounds", "target": UK}, "ISO currency"),
        ({"type": "routing_company", "source_key": "Acme", "target": UK}, "an Autotask id"),
        ({"type": "routing_udf", "org": UK, "source_key": "x", "target": UK}, 'use "org": ""'),
    ):
        with pytest.raises(ImportProblems) as problems:
            parse(json.dumps([bad]), source="f", connected={AU, UK})
        assert why in str(problems.value)
