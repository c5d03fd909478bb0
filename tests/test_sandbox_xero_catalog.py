"""Simulated Xero contacts, items, purchase orders and reference data (reference §11)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from test_sandbox_xero_support import (
    ACME,
    AU,
    GB,
    Env,
    bearer,
    pkce_login,
    running,
    sdk,
    unknown_fields,
)
from xero_python.accounting import Contact, Contacts, Item, Items, Purchase

from sandbox.world import SANDBOX_XERO_PKCE_CLIENT_ID


def _write(
    env: Env, token: dict[str, Any], method: str, path: str, body: Any, **params: str
) -> Any:
    return env.http.request(method, env.api + path, headers=bearer(token), json=body, params=params)


def test_contacts_put_refuses_duplicates_post_upserts() -> None:
    with running() as env:
        token = pkce_login(env)
        dup = _write(
            env,
            token,
            "PUT",
            "/Contacts",
            {
                "Contacts": [
                    {"Name": "acme corp"},
                    {"Name": "New", "ContactNumber": "AT-2"},
                    {"Name": "Fresh", "ContactNumber": "AT-5"},
                ]
            },
            summarizeErrors="false",
        ).json()["Contacts"]
        assert dup[0]["ValidationErrors"][0]["Message"].startswith(
            "The contact name acme corp is already assigned to another contact."
        )
        assert (
            "The contact number AT-2 is already assigned"
            in dup[1]["ValidationErrors"][0]["Message"]
        )
        assert dup[2]["StatusAttributeString"] == "OK"
        upsert = _write(
            env,
            token,
            "POST",
            "/Contacts",
            {"Contacts": [{"ContactNumber": "AT-5", "EmailAddress": "a@b.c"}]},
        )
        assert upsert.json()["Contacts"][0]["ContactID"] == dup[2]["ContactID"]
        by_number = env.http.get(env.api + "/Contacts/AT-5", headers=bearer(token)).json()
        assert by_number["Contacts"][0]["EmailAddress"] == "a@b.c"
        assert unknown_fields(by_number, "Contacts") == []


def test_contact_listing_search_archived_and_paging_via_sdk() -> None:
    with running() as env:
        client = sdk(env, pkce_login(env), SANDBOX_XERO_PKCE_CLIENT_ID)
        names = [c.name for c in client.api.get_contacts(AU).contacts]
        assert names == ["Acme Corp", "Globex"]
        archived = client.api.get_contacts(AU, include_archived=True).contacts
        assert len(archived) == 3
        assert [c.name for c in client.api.get_contacts(AU, search_term="glo").contacts] == [
            "Globex"
        ]
        found = client.api.get_contacts(AU, where='ContactNumber=="AT-1"').contacts
        assert [c.contact_id for c in found] == [ACME]
        page = client.api.get_contacts(AU, page=1, page_size=1)
        assert page.pagination.item_count == 2 and len(page.contacts) == 1
        created = client.api.create_contacts(
            AU, Contacts(contacts=[Contact(name="SDK Pty", contact_number="AT-77")])
        )
        assert created.contacts[0].contact_number == "AT-77"
        assert client.api.get_contact_by_contact_number(AU, "AT-77").contacts[0].name == "SDK Pty"


def test_items_upsert_by_code_and_validate() -> None:
    with running() as env:
        client = sdk(env, pkce_login(env), SANDBOX_XERO_PKCE_CLIENT_ID)
        item = Item(
            code="MON-1",
            name="Monitoring",
            is_sold=True,
            sales_details=Purchase(
                unit_price=Decimal("12.3456"), account_code="200", tax_type="OUTPUT"
            ),
        )
        created = client.api.update_or_create_items(AU, Items(items=[item]), unitdp=4)
        item.name = "Monitoring (24x7)"
        updated = client.api.update_or_create_items(AU, Items(items=[item]), unitdp=4)
        assert updated.items[0].item_id == created.items[0].item_id
        assert updated.items[0].sales_details.unit_price == Decimal("12.3456")
        rounded = client.api.get_items(AU, where='Code=="MON-1"').items[0]
        assert rounded.sales_details.unit_price == Decimal("12.35")
        token = client.store
        refused = _write(
            env,
            token,
            "PUT",
            "/Items",
            {"Items": [{"Code": "MON-1"}, {"Code": "BAD", "SalesDetails": {"AccountCode": "999"}}]},
            summarizeErrors="false",
        ).json()["Items"]
        assert [i["ValidationErrors"][0]["Message"] for i in refused] == [
            "Item code 'MON-1' already exists.",
            "Account code '999' is not a valid code for this item.",
        ]
        # A 31-character code breaks the schema's maxLength: strict mode refuses the request.
        too_long = _write(env, token, "PUT", "/Items", {"Items": [{"Code": "X" * 31}]})
        assert too_long.status_code == 400 and "Code" in too_long.text


def test_item_code_length_message_when_not_strict() -> None:
    with running(strict_requests=False) as env:
        token = pkce_login(env)
        refused = _write(env, token, "PUT", "/Items", {"Items": [{"Code": "X" * 31}]})
        assert refused.json()["Elements"][0]["ValidationErrors"][0]["Message"] == (
            "Price List Item Code must not be more than 30 characters long."
        )


def test_purchase_orders_number_and_read_by_number() -> None:
    with running() as env:
        client = sdk(env, pkce_login(env), SANDBOX_XERO_PKCE_CLIENT_ID)
        token = client.store
        order = {
            "Contact": {"ContactID": ACME},
            "Date": "2026-03-02",
            "DeliveryDate": "2026-03-09",
            "LineItems": [
                {
                    "Description": "Laptop",
                    "Quantity": 2,
                    "UnitAmount": 999.5,
                    "AccountCode": "400",
                    "TaxType": "INPUT",
                }
            ],
        }
        created = _write(env, token, "PUT", "/PurchaseOrders", {"PurchaseOrders": [order]})
        assert created.status_code == 200, created.text
        po = created.json()["PurchaseOrders"][0]
        assert po["PurchaseOrderNumber"] == "PO-0001" and po["Total"] == 2198.9
        assert unknown_fields(created.json(), "PurchaseOrders") == []
        dup = _write(
            env,
            token,
            "PUT",
            "/PurchaseOrders",
            {"PurchaseOrders": [order | {"PurchaseOrderNumber": "PO-0001"}]},
        )
        assert dup.status_code == 400
        read = client.api.get_purchase_order_by_number(AU, "PO-0001").purchase_orders[0]
        assert read.delivery_date == date(2026, 3, 9) and read.status == "DRAFT"
        listed = client.api.get_purchase_orders(AU, status="DRAFT", page=1)
        assert [p.purchase_order_number for p in listed.purchase_orders] == ["PO-0001"]
        # A purchase order needs an existing contact: no contact is created by name.
        unknown = _write(
            env,
            token,
            "PUT",
            "/PurchaseOrders",
            {"PurchaseOrders": [order | {"Contact": {"Name": "Nobody"}}]},
        )
        assert unknown.status_code == 400


def test_reference_data_through_the_sdk() -> None:
    with running() as env:
        client = sdk(env, pkce_login(env), SANDBOX_XERO_PKCE_CLIENT_ID)
        api = client.api
        active = api.get_accounts(AU, where='Status=="ACTIVE"').accounts
        assert "260" not in {a.code for a in active} and "200" in {a.code for a in active}
        rounding = [a for a in api.get_accounts(AU).accounts if a.system_account == "ROUNDING"]
        assert [a.code for a in rounding] == ["860"]
        rates = {r.tax_type: r for r in api.get_tax_rates(AU).tax_rates}
        assert (
            rates["OUTPUT"].effective_rate == Decimal("10") and rates["OLDGST"].status == "DELETED"
        )
        assert [c.code.value for c in api.get_currencies(AU).currencies] == ["AUD", "USD"]
        assert api.get_branding_themes(AU).branding_themes[0].name == "Standard"
        org = api.get_organisations(GB).organisations[0]
        assert (org.base_currency.value, org.country_code.value, org.short_code) == (
            "GBP",
            "GB",
            "!GB01",
        )
        actions = {a.name: a.status for a in api.get_organisation_actions(AU).actions}
        assert actions["UseMulticurrency"] == "ALLOWED"
        token = client.store
        for path, schema in (
            ("/Accounts", "Accounts"),
            ("/TaxRates", "TaxRates"),
            ("/Currencies", "Currencies"),
            ("/BrandingThemes", "BrandingThemes"),
            ("/Organisation", "Organisations"),
            ("/Items", "Items"),
        ):
            body = env.http.get(env.api + path, headers=bearer(token)).json()
            assert unknown_fields(body, schema) == [], path


def test_lock_date_refuses_approved_documents_on_or_before_it() -> None:
    with running() as env:
        token = pkce_login(env)
        env.sandbox.xero.set_lock_dates(AU, date(2026, 2, 28))
        body = {
            "Invoices": [
                {
                    "Type": "ACCREC",
                    "Contact": {"ContactID": ACME},
                    "Date": "2026-02-27",
                    "Status": "AUTHORISED",
                    "LineItems": [{"Description": "x", "UnitAmount": 1, "AccountCode": "200"}],
                }
            ]
        }
        refused = _write(env, token, "PUT", "/Invoices", body)
        assert refused.status_code == 400
        assert "period lock date" in refused.json()["Elements"][0]["ValidationErrors"][0]["Message"]
        body["Invoices"][0]["Status"] = "DRAFT"
        assert _write(env, token, "PUT", "/Invoices", body).status_code == 200
        org = env.http.get(env.api + "/Organisation", headers=bearer(token)).json()
        assert org["Organisations"][0]["PeriodLockDate"].startswith("/Date(")


def test_paths_are_case_insensitive_and_unknown_ones_404() -> None:
    with running() as env:
        token = pkce_login(env)
        assert env.http.get(env.api + "/invoices", headers=bearer(token)).status_code == 200
        missing = env.http.get(env.api + "/Nope", headers=bearer(token, GB))
        assert missing.status_code == 404
