"""The seeded MSP: deterministic, consistent to the cent, and full of the cases the agent meets."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from sandbox.seed import RESTRICTED_AUTOTASK_USERNAME, generate
from sandbox.world import (
    SANDBOX_AUTOTASK_USERNAME,
    SANDBOX_XERO_CODE_CLIENT_ID,
    SANDBOX_XERO_CUSTOM_CLIENT_ID,
    SANDBOX_XERO_PKCE_CLIENT_ID,
    World,
    XeroOrg,
)

TODAY = date(2026, 11, 20)


@pytest.fixture(scope="module")
def small() -> World:
    return generate(10, seed=7, today=TODAY)


@pytest.fixture(scope="module")
def medium() -> World:
    return generate(400, seed=7, today=TODAY)


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


def decimals(value: Any) -> int:
    exponent = dec(value).as_tuple().exponent
    return -exponent if isinstance(exponent, int) else 0


def items_by_invoice(world: World) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for item in world.autotask["BillingItems"]:
        found[item["invoiceID"]].append(item)
    return found


def org_of_association(world: World) -> dict[int, XeroOrg]:
    """OrganizationalLevelAssociation id -> the Xero org of its level-1 region."""
    level1 = {r["id"]: r["name"] for r in world.autotask["OrganizationalLevel1s"]}
    org_for = {"Australia": world.xero_orgs[0], "United Kingdom": world.xero_orgs[1]}
    return {
        a["id"]: org_for[level1[a["organizationalLevel1ID"]]]
        for a in world.autotask["OrganizationalLevelAssociations"]
    }


def normalised(name: str) -> str:
    text = re.sub(r"[^a-z0-9]", "", name.casefold())
    return text.replace("limited", "ltd")


# --- determinism and size --------------------------------------------------------------------


def test_same_seed_and_day_give_the_same_world() -> None:
    assert generate(30, seed=5, today=TODAY) == generate(30, seed=5, today=TODAY)


def test_another_seed_gives_another_world() -> None:
    first, second = generate(30, seed=5, today=TODAY), generate(30, seed=6, today=TODAY)

    assert first.autotask["BillingItems"] != second.autotask["BillingItems"]
    assert first.xero_orgs[0].tenant_id != second.xero_orgs[0].tenant_id


def test_sizes_outside_10_to_20000_are_refused() -> None:
    with pytest.raises(ValueError, match="between 10 and 20000"):
        generate(9, today=TODAY)
    with pytest.raises(ValueError, match="between 10 and 20000"):
        generate(20_001, today=TODAY)


def test_smallest_world_has_ten_invoices_and_five_customers(small: World) -> None:
    companies = small.autotask["Companies"]

    assert len(small.autotask["Invoices"]) == 10
    assert sum(1 for c in companies if c["companyType"] == 1) == 5
    assert all(1 <= len(v) <= 9 for v in items_by_invoice(small).values())


def test_every_customer_has_an_invoice(medium: World) -> None:
    customers = {c["id"] for c in medium.autotask["Companies"] if c["companyType"] == 1}

    assert customers == {i["companyID"] for i in medium.autotask["Invoices"]}


# --- dates ---------------------------------------------------------------------------------------


def test_invoice_dates_fall_in_the_last_30_days(medium: World) -> None:
    days = {
        datetime.fromisoformat(i["invoiceDateTime"]).date() for i in medium.autotask["Invoices"]
    }

    assert min(days) >= TODAY - timedelta(days=29)
    assert max(days) <= TODAY


def test_invoice_ids_grow_with_invoice_dates(medium: World) -> None:
    invoices = medium.autotask["Invoices"]

    assert [i["invoiceDateTime"] for i in invoices] == sorted(
        i["invoiceDateTime"] for i in invoices
    )
    assert [i["id"] for i in invoices] == sorted(i["id"] for i in invoices)


def test_autotask_times_carry_no_zone_designator(small: World) -> None:
    stamps = [i["createDateTime"] for i in small.autotask["Invoices"]]

    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?", s) for s in stamps)


# --- money -----------------------------------------------------------------------------------


def test_invoice_totals_equal_the_sum_of_their_billing_items(medium: World) -> None:
    lines = items_by_invoice(medium)
    for invoice in medium.autotask["Invoices"]:
        items = lines[invoice["id"]]
        assert dec(invoice["invoiceTotal"]) == sum(dec(i["totalAmount"]) for i in items)
        assert dec(invoice["totalTaxValue"]) == sum(dec(i["taxDollars"]) for i in items)


def test_billing_item_amounts_are_rounded_line_by_line(medium: World) -> None:
    cent = Decimal("0.01")
    for item in medium.autotask["BillingItems"]:
        extended = (dec(item["quantity"]) * dec(item["rate"])).quantize(cent, ROUND_HALF_UP)
        assert dec(item["extendedPrice"]) == extended
        assert dec(item["totalAmount"]) == extended + dec(item["taxDollars"])


def test_tax_exempt_customers_are_charged_no_tax(medium: World) -> None:
    exempt = {c["id"] for c in medium.autotask["Companies"] if c.get("isTaxExempt")}
    items = [i for i in medium.autotask["BillingItems"] if i["companyID"] in exempt]

    assert items
    assert all(i["taxDollars"] == 0 for i in items)


def test_some_rates_and_quantities_carry_four_decimals(medium: World) -> None:
    items = medium.autotask["BillingItems"]

    assert any(decimals(i["rate"]) == 4 for i in items)
    assert any(decimals(i["quantity"]) >= 2 for i in items)


# --- the cases the agent must handle (present even in the smallest world) --------------------


def test_negative_invoices_have_only_negative_lines(small: World) -> None:
    lines = items_by_invoice(small)
    credits = [i for i in small.autotask["Invoices"] if i["invoiceTotal"] < 0]

    assert credits
    assert all(item["extendedPrice"] < 0 for c in credits for item in lines[c["id"]])


def test_a_positive_invoice_has_a_negative_quantity_line(small: World) -> None:
    lines = items_by_invoice(small)

    assert any(
        invoice["invoiceTotal"] > 0 and any(item["quantity"] < 0 for item in lines[invoice["id"]])
        for invoice in small.autotask["Invoices"]
    )


def test_there_is_a_zero_total_invoice(small: World) -> None:
    assert any(i["invoiceTotal"] == 0 for i in small.autotask["Invoices"])


def test_voided_and_already_sent_invoices_exist(small: World) -> None:
    invoices = small.autotask["Invoices"]

    assert any(i["isVoided"] and i["voidedDate"] for i in invoices)
    assert any(i["webServiceDate"] for i in invoices)
    assert sum(1 for i in invoices if i["webServiceDate"] is None) >= len(invoices) // 2


def test_tax_exempt_customers_exist(small: World) -> None:
    assert any(c.get("isTaxExempt") for c in small.autotask["Companies"] if c["companyType"] == 1)


def test_customers_are_billed_in_several_currencies(small: World) -> None:
    currency = {c["id"]: c["name"] for c in small.autotask["Currencies"]}
    used = {currency[c["currencyID"]] for c in small.autotask["Companies"] if c["companyType"] == 1}

    assert {"AUD", "GBP", "NZD"} <= used
    assert [c["name"] for c in small.autotask["Currencies"] if c["isInternalCurrency"]] == ["AUD"]


def test_some_invoice_is_in_a_currency_its_xero_org_has_not_enabled(small: World) -> None:
    currency = {c["id"]: c["name"] for c in small.autotask["Currencies"]}
    company_currency = {c["id"]: currency[c["currencyID"]] for c in small.autotask["Companies"]}
    org_of = org_of_association(small)
    blocked = []
    for invoice_id, items in items_by_invoice(small).items():
        orgs = {
            org_of[i["organizationalLevelAssociationID"]].name
            for i in items
            if i["organizationalLevelAssociationID"]
        }
        code = company_currency[items[0]["companyID"]]
        for org in small.xero_orgs:
            if orgs == {org.name} and code not in {c["Code"] for c in org.currencies}:
                blocked.append(invoice_id)

    assert blocked


def test_some_invoice_mixes_lines_routed_to_both_xero_orgs(small: World) -> None:
    org_of = org_of_association(small)

    assert any(
        len(
            {
                org_of[i["organizationalLevelAssociationID"]].name
                for i in items
                if i["organizationalLevelAssociationID"]
            }
        )
        == 2
        for items in items_by_invoice(small).values()
    )


def test_invoices_mix_lines_of_business_within_one_region(medium: World) -> None:
    associations = {
        a["id"]: a["organizationalLevel2ID"]
        for a in medium.autotask["OrganizationalLevelAssociations"]
    }

    assert any(
        len(
            {
                associations[i["organizationalLevelAssociationID"]]
                for i in items
                if i["organizationalLevelAssociationID"]
            }
        )
        == 3
        for items in items_by_invoice(medium).values()
    )


def test_product_lines_lead_to_charges_that_name_the_product(medium: World) -> None:
    products = {p["id"] for p in medium.autotask["Products"]}
    charges = {
        (entity, c["id"]): c
        for entity in ("ProjectCharges", "TicketCharges", "ContractCharges")
        for c in medium.autotask[entity]
    }
    linked = 0
    for item in medium.autotask["BillingItems"]:
        for field, entity in (
            ("projectChargeID", "ProjectCharges"),
            ("ticketChargeID", "TicketCharges"),
            ("contractChargeID", "ContractCharges"),
        ):
            if item.get(field):
                charge = charges[(entity, item[field])]
                assert charge["productID"] is None or charge["productID"] in products
                linked += 1
    assert linked > 50
    assert any(c["productID"] is None for c in charges.values())  # ad-hoc charges exist too


def test_expense_lines_lead_to_expense_items_in_reports(medium: World) -> None:
    reports = {r["id"] for r in medium.autotask["ExpenseReports"]}
    expenses = {e["id"]: e for e in medium.autotask["ExpenseItems"]}
    items = [i for i in medium.autotask["BillingItems"] if i.get("expenseItemID")]

    assert items
    assert all(expenses[i["expenseItemID"]]["expenseReportID"] in reports for i in items)


def test_descriptions_include_unicode_and_text_over_4000_characters(small: World) -> None:
    descriptions = [i["description"] for i in small.autotask["BillingItems"]]

    assert any(not d.isascii() for d in descriptions)
    assert any(len(d) > 4000 for d in descriptions)


def test_a_purchase_order_carries_freight(small: World) -> None:
    orders = small.autotask["PurchaseOrders"]
    order_ids = {o["id"] for o in orders}

    assert any(o["freight"] > 0 for o in orders)
    assert all(i["orderID"] in order_ids for i in small.autotask["PurchaseOrderItems"])
    vendors = {c["id"] for c in small.autotask["Companies"] if c["companyType"] == 7}
    assert {o["vendorID"] for o in orders} <= vendors


def test_billing_codes_map_to_xero_accounts_mostly(small: World) -> None:
    codes = small.autotask["BillingCodes"]
    accounts = {a["Code"]: a for a in small.xero_orgs[0].accounts}

    assert any(c["externalNumber"] is None for c in codes)
    assert any(accounts.get(c["externalNumber"], {}).get("Status") == "ARCHIVED" for c in codes)
    assert sum(1 for c in codes if c["externalNumber"] in accounts) >= len(codes) // 2


# --- API users ---------------------------------------------------------------------------------


def test_restricted_api_user_cannot_see_every_billing_item(small: World) -> None:
    users = {u.username: u for u in small.autotask_users}
    full, limited = users[SANDBOX_AUTOTASK_USERNAME], users[RESTRICTED_AUTOTASK_USERNAME]
    visible = limited.visible_lob_association_ids
    assert full.visible_lob_association_ids is None
    assert visible

    incomplete = [
        invoice_id
        for invoice_id, items in items_by_invoice(small).items()
        if any(i["organizationalLevelAssociationID"] not in visible | {None} for i in items)
        and any(i["organizationalLevelAssociationID"] in visible for i in items)
    ]
    assert incomplete  # the "silently incomplete invoice" trap


# --- Xero ----------------------------------------------------------------------------------------


def test_two_xero_orgs_in_aud_and_gbp(small: World) -> None:
    au, uk = small.xero_orgs

    assert (au.country_code, au.base_currency, uk.country_code, uk.base_currency) == (
        "AU",
        "AUD",
        "GB",
        "GBP",
    )
    assert uuid.UUID(au.tenant_id).version == 4
    assert au.tenant_id != uk.tenant_id


@pytest.mark.parametrize("index", [0, 1])
def test_each_org_has_a_rounding_account_and_an_archived_one(small: World, index: int) -> None:
    accounts = small.xero_orgs[index].accounts
    system = {a.get("SystemAccount") for a in accounts}

    assert {"ROUNDING", "DEBTORS", "CREDITORS"} <= system
    assert any(a["Status"] == "ARCHIVED" for a in accounts)
    assert {"200", "260", "310", "425", "610", "800"} <= {a["Code"] for a in accounts}


@pytest.mark.parametrize("index", [0, 1])
def test_each_org_has_a_deleted_tax_rate(small: World, index: int) -> None:
    statuses = {r["Status"] for r in small.xero_orgs[index].tax_rates}

    assert {"ACTIVE", "DELETED", "ARCHIVED"} <= statuses


def test_orgs_enable_different_currencies(small: World) -> None:
    au, uk = ({c["Code"] for c in org.currencies} for org in small.xero_orgs)

    assert au == {"AUD", "NZD", "USD"}
    assert uk == {"GBP", "USD", "EUR"}


def test_default_branding_theme_has_sort_order_zero(small: World) -> None:
    for org in small.xero_orgs:
        default = min(org.branding_themes, key=lambda t: t["SortOrder"])
        assert (default["Name"], default["SortOrder"]) == ("Standard", 0)


def test_xero_has_near_duplicates_of_autotask_customers(medium: World) -> None:
    customers = {
        normalised(c["companyName"]): c
        for c in medium.autotask["Companies"]
        if c["companyType"] == 1
    }
    contacts = [c for org in medium.xero_orgs for c in org.contacts]
    near = [
        c for c in contacts
        if normalised(c["Name"]) in customers
        and c["Name"] != customers[normalised(c["Name"])]["companyName"]
    ]  # fmt: skip

    assert len(near) >= 0.15 * len(customers)


def test_existing_xero_contacts_are_keyed_three_ways(medium: World) -> None:
    companies = {str(c["id"]): c for c in medium.autotask["Companies"]}
    numbers = {c.get("companyNumber") for c in medium.autotask["Companies"]} - {None}
    contacts = [c for org in medium.xero_orgs for c in org.contacts if c.get("IsCustomer")]

    assert any(c.get("ContactNumber") in companies for c in contacts)
    assert any(c.get("AccountNumber") in numbers for c in contacts)
    assert any("ContactNumber" not in c and "AccountNumber" not in c for c in contacts)
    assert any(c["ContactStatus"] == "ARCHIVED" for c in contacts)


def test_active_xero_contact_names_are_unique_per_org(medium: World) -> None:
    for org in medium.xero_orgs:
        names = [
            c["Name"].strip().casefold() for c in org.contacts if c["ContactStatus"] == "ACTIVE"
        ]
        assert len(names) == len(set(names))


def test_xero_items_use_product_skus_as_codes(medium: World) -> None:
    skus = {p["sku"] for p in medium.autotask["Products"]}

    for org in medium.xero_orgs:
        assert org.items
        assert {i["Code"] for i in org.items} <= skus


def test_xero_apps_cover_pkce_code_and_custom_connection(small: World) -> None:
    apps = {a.kind: a for a in small.xero_apps}

    assert apps["pkce"].client_id == SANDBOX_XERO_PKCE_CLIENT_ID
    assert apps["pkce"].client_secret is None
    assert apps["code"].client_id == SANDBOX_XERO_CODE_CLIENT_ID
    assert apps["code"].client_secret
    assert "http://localhost:8742/callback" in apps["code"].redirect_uris
    assert "http://127.0.0.1:8742/callback" in apps["pkce"].redirect_uris
    assert apps["custom"].client_id == SANDBOX_XERO_CUSTOM_CLIENT_ID
    assert apps["custom"].custom_tenant_id == small.xero_orgs[0].tenant_id
