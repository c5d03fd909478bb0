"""Runtime settings, mappings with per-organisation overrides, sync cursors, Xero catalogs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from store_fixtures import START, FakeClock, open_store

from agent.store import Store


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    with open_store(tmp_path, clock) as opened:
        yield opened


def test_runtime_settings_keep_json_values(store: Store) -> None:
    store.settings.set("poll_minutes", 15)
    store.settings.set("kinds", ["invoice", "credit_note"])
    store.settings.set("poll_minutes", 5)

    assert store.settings.get("poll_minutes") == 5
    assert store.settings.get("missing", default="x") == "x"
    assert store.settings.all() == {"kinds": ["invoice", "credit_note"], "poll_minutes": 5}


def test_runtime_settings_can_be_deleted(store: Store) -> None:
    store.settings.set("dry_run", True)
    assert store.settings.delete("dry_run") is True
    assert store.settings.delete("dry_run") is False
    assert store.settings.get("dry_run") is None


def test_settings_survive_reopening(tmp_path: Path, clock: FakeClock) -> None:
    with open_store(tmp_path, clock) as first:
        first.settings.set("theme", "dark")
    with open_store(tmp_path, clock) as second:
        assert second.settings.get("theme") == "dark"


def test_a_mapping_is_saved_replaced_and_deleted(store: Store, clock: FakeClock) -> None:
    saved = store.mappings.set("org-a", "account", "Labour", "200", {"name": "Sales"})
    assert (saved.target, saved.metadata, saved.updated_at) == ("200", {"name": "Sales"}, START)

    clock.advance(60)
    store.mappings.set("org-a", "account", "Labour", "210")
    replaced = store.mappings.get("org-a", "account", "Labour")
    assert replaced is not None and (replaced.target, replaced.metadata) == ("210", {})
    assert len(store.mappings.list_all()) == 1

    assert store.mappings.delete("org-a", "account", "Labour") is True
    assert store.mappings.get("org-a", "account", "Labour") is None


def test_an_organisations_own_mapping_overrides_the_global_one(store: Store) -> None:
    store.mappings.set("", "tax", "GST", "OUTPUT2")
    store.mappings.set("org-b", "tax", "GST", "OUTPUT")

    org_a = store.mappings.resolve("org-a", "tax", "GST")
    org_b = store.mappings.resolve("org-b", "tax", "GST")

    assert org_a is not None and (org_a.target, org_a.is_global) == ("OUTPUT2", True)
    assert org_b is not None and (org_b.target, org_b.is_global) == ("OUTPUT", False)
    assert store.mappings.resolve("org-a", "tax", "VAT") is None
    assert store.mappings.get("org-a", "tax", "GST") is None  # get() does not fall back


def test_mappings_are_listed_by_organisation_and_type(store: Store) -> None:
    store.mappings.set("", "currency", "AUD", "AUD")
    store.mappings.set("org-a", "routing", "company:12", "org-a")
    store.mappings.set("org-a", "contact", "company:12", "contact-uuid")

    assert [m.mapping_type for m in store.mappings.list_all(org="org-a")] == ["contact", "routing"]
    assert [m.source_key for m in store.mappings.list_all(mapping_type="currency")] == ["AUD"]


def test_a_malformed_mapping_type_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="lower_snake_case"):
        store.mappings.set("", "Tax Rate", "GST", "OUTPUT")


def test_sync_cursors_are_kept_per_stream_and_key(store: Store) -> None:
    assert store.cursors.get("invoices") is None
    store.cursors.set("invoices", "2025-01-01T00:00:00Z")
    store.cursors.set("payments", "2025-01-02T00:00:00Z", key="org-a")
    store.cursors.set("invoices", "2025-01-03T00:00:00Z")

    assert store.cursors.get("invoices") == "2025-01-03T00:00:00Z"
    assert store.cursors.get("payments", key="org-a") == "2025-01-02T00:00:00Z"
    assert store.cursors.all("payments") == {"org-a": "2025-01-02T00:00:00Z"}
    assert store.cursors.delete("invoices") is True
    assert store.cursors.get("invoices") is None


def test_a_catalog_is_replaced_whole_with_its_fetch_time(store: Store, clock: FakeClock) -> None:
    assert store.catalogs.get_catalog("org-a", "tax_rates") is None
    store.catalogs.replace_catalog("org-a", "tax_rates", [{"TaxType": "OUTPUT"}, {"TaxType": "X"}])
    later = clock.advance(3600)
    store.catalogs.replace_catalog("org-a", "tax_rates", [{"TaxType": "OUTPUT2"}])

    cached = store.catalogs.get_catalog("org-a", "tax_rates")

    assert cached is not None
    records, fetched_at = cached
    assert records == [{"TaxType": "OUTPUT2"}]
    assert fetched_at == later
    assert store.catalogs.get_catalog("org-b", "tax_rates") is None


def test_catalogs_of_an_organisation_can_be_forgotten(store: Store) -> None:
    store.catalogs.replace_catalog("org-a", "accounts", [])
    store.catalogs.replace_catalog("org-a", "items", [])
    store.catalogs.replace_catalog("org-b", "items", [])

    assert store.catalogs.forget("org-a") == 2
    assert store.catalogs.get_catalog("org-b", "items") is not None


def test_an_unknown_catalog_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown Xero catalog"):
        store.catalogs.replace_catalog("org-a", "invoices", [])
