"""Catalogs cached in the store with an explicit refresh; archived or deleted accounts and tax
rates count as absent (reference §11, §15 #6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_xero_client_kit import AU, GB, serving

from agent.store import CATALOGS
from agent.xero import catalogs, find_account, find_tax_rate


def test_refresh_stores_every_catalog_in_xero_wire_form(tmp_path: Path) -> None:
    with serving(tmp_path) as served, served.client() as client:
        served.connect(client)
        fetched = client.refresh_catalogs(AU)
        assert set(fetched) == set(CATALOGS)
        for name in CATALOGS:
            cached = client.store.catalogs.get_catalog(AU, name)
            assert cached is not None and cached.records == fetched[name], name
        sales = next(a for a in fetched["accounts"] if a["Code"] == "200")
        assert sales["Name"] == "Sales" and sales["AccountID"]
        gst = next(t for t in fetched["tax_rates"] if t["TaxType"] == "OUTPUT")
        assert gst["EffectiveRate"] == 10 and isinstance(gst["EffectiveRate"], int)
        assert [c["Code"] for c in fetched["currencies"]] == ["AUD", "USD"]
        assert fetched["branding_themes"][0]["Name"] == "Standard"
        assert {c["Name"] for c in fetched["contacts"]} == {"Acme Corp", "Globex", "Initech"}
        assert fetched["items"][0]["SalesDetails"]["UnitPrice"] == 150
        # Organisation + six catalogs, one call each.
        assert client.status(AU).calls_made == 7


def test_cached_catalogs_are_read_without_calling_xero(tmp_path: Path) -> None:
    with serving(tmp_path) as served, served.client() as client:
        served.connect(client)
        first = client.catalog(GB, "accounts")  # never fetched: fetched once
        assert client.status(GB).calls_made == 1
        assert client.catalog(GB, "accounts") == first
        assert client.active_accounts(GB) == first
        assert client.status(GB).calls_made == 1


def test_archived_account_and_deleted_tax_rate_are_treated_as_unmapped(tmp_path: Path) -> None:
    with serving(tmp_path) as served, served.client() as client:
        served.connect(client)
        client.refresh_catalogs(AU)
        accounts = client.catalog(AU, "accounts")
        assert any(a["Code"] == "260" for a in accounts)  # kept in the cache...
        assert "260" not in {a["Code"] for a in client.active_accounts(AU)}  # ...not usable
        assert find_account(accounts, "260") is None
        assert find_account(accounts, " 200 ") is not None
        rates = client.catalog(AU, "tax_rates")
        assert find_tax_rate(rates, "OLDGST") is None
        assert find_tax_rate(rates, "output") is not None
        assert "OLDGST" not in {t["TaxType"] for t in client.active_tax_rates(AU)}
        contacts = catalogs.active_contacts(client.catalog(AU, "contacts"))
        assert "Initech" not in {c["Name"] for c in contacts}


def test_an_account_archived_in_xero_is_unmapped_after_an_explicit_refresh(
    tmp_path: Path,
) -> None:
    with serving(tmp_path) as served, served.client() as client:
        served.connect(client)
        client.refresh_catalogs(AU, ["accounts"])
        served.sandbox.xero.set_record_status(AU, "accounts", "200", "ARCHIVED")
        assert find_account(client.catalog(AU, "accounts"), "200") is not None  # cache
        client.refresh_catalogs(AU, ["accounts"])
        assert find_account(client.catalog(AU, "accounts"), "200") is None


def test_organisation_gives_base_currency_and_country(tmp_path: Path) -> None:
    with serving(tmp_path) as served, served.client() as client:
        served.connect(client)
        org = client.organisation(GB)
        assert (org.name, org.base_currency, org.country_code) == (
            "Sandbox Services Ltd",
            "GBP",
            "GB",
        )
        assert client.organisation(GB) is org  # cached in the process
        assert client.status(GB).calls_made == 1


def test_contacts_are_read_page_by_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalogs, "CONTACT_PAGE_SIZE", 2)
    with serving(tmp_path) as served, served.client() as client:
        served.connect(client)
        contacts = client.refresh_catalogs(AU, ["contacts"])["contacts"]
        assert len(contacts) == 3
        assert client.status(AU).calls_made == 1 + 2  # organisation, then two pages
