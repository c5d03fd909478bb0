"""Mapping inputs: the snapshot's JSON round trip, tables from store entries, the catalog, text."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from test_mapping_support import Line, au_catalog, product, snapshot

from agent.autotask.refdata import InvoiceTemplate
from agent.mapping import InvoiceSnapshot, MappingTables, OrgCatalog
from agent.mapping.text import DESCRIPTION_LIMIT, clean, cut, name_key, utf16_length
from agent.store.mappings import MappingEntry


def Entry(org: str, mapping_type: str, source_key: str, target: str) -> MappingEntry:
    """A store entry as ``agent.store.mappings`` returns it."""
    return MappingEntry(org, mapping_type, source_key, target, {}, datetime(2026, 5, 1, tzinfo=UTC))


def full_snapshot() -> InvoiceSnapshot:
    return snapshot(
        [Line("2.6667", "33.1234"), Line("-1", "0.1", description="Café ☕ – naïve")],  # noqa: RUF001
        template=InvoiceTemplate(id=1, name="Standard Invoice", paymentTerms=3),
        products={410_000: product("HW-LAT5440")},
    )


def test_snapshot_round_trips_through_json() -> None:
    original = full_snapshot()
    assert InvoiceSnapshot.from_json(original.to_json()) == original


def test_snapshot_json_is_canonical_and_keeps_exact_decimals() -> None:
    text = full_snapshot().to_json()
    assert text == full_snapshot().to_json()
    data = json.loads(text)
    assert data["items"][0]["quantity"] == "2.6667" and data["items"][0]["rate"] == "33.1234"
    assert "Café ☕ – naïve" in text  # noqa: RUF001


def test_snapshot_of_an_unknown_version_is_refused() -> None:
    data = full_snapshot().to_dict() | {"version": 99}
    with pytest.raises(ValueError, match="version"):
        InvoiceSnapshot.from_dict(data)


def test_tables_from_entries_prefer_the_organisations_own_entry() -> None:
    tables = MappingTables.from_entries(
        [
            Entry("", "account", "101", "200"),
            Entry("org-au", "account", "101", "260"),
            Entry("org-uk", "account", "101", "999"),
            Entry("", "account", "102", "493"),
        ],
        "org-au",
    )
    assert tables.accounts == {101: "260", 102: "493"}


def test_tables_from_entries_parse_every_key_shape() -> None:
    tables = MappingTables.from_entries(
        [
            Entry("", "tax", "1:2", "EXEMPTOUTPUT"),
            Entry("", "currency", "7", "usd"),
            Entry("", "branding_theme", "3", "theme-id"),
            Entry("", "contact", "174000", "contact-id"),
            Entry("", "item", "9001", "HW-1"),
            Entry("", "routing", "x", "ignored"),
        ],
        "org",
    )
    assert tables.tax == {(1, 2): "EXEMPTOUTPUT"}
    assert tables.currencies == {7: "usd"}
    assert tables.branding_themes == {3: "theme-id"}
    assert tables.contacts == {174000: "contact-id"}
    assert tables.items == {9001: "HW-1"}


def test_tables_from_entries_skip_malformed_keys_and_blank_targets() -> None:
    tables = MappingTables.from_entries(
        [
            Entry("", "tax", "UK VAT:Standard", "OUTPUT2"),
            Entry("", "account", "abc", "200"),
            Entry("", "account", "5", "  "),
        ],
        "org",
    )
    assert tables == MappingTables()


def test_catalog_from_cached_records_tolerates_missing_catalogs_and_odd_records() -> None:
    catalog = OrgCatalog.from_cached(
        name="X",
        base_currency="nzd",
        catalogs={"accounts": [{"Code": 200}, "junk"], "tax_rates": None},  # type: ignore[list-item]
    )
    assert catalog.account("200") == {"Code": 200}
    assert catalog.tax_rate("OUTPUT") is None
    assert catalog.currency_enabled("NZD")


def test_catalog_prefers_an_active_record_over_an_archived_one_with_the_same_code() -> None:
    catalog = OrgCatalog.from_cached(
        name="X",
        base_currency="AUD",
        catalogs={
            "accounts": [
                {"Code": "200", "Status": "ARCHIVED"},
                {"Code": "200", "Status": "ACTIVE", "Name": "Sales"},
            ]
        },
    )
    assert catalog.account("200") == {"Code": "200", "Status": "ACTIVE", "Name": "Sales"}


def test_catalog_finds_the_rounding_account_by_system_account() -> None:
    rounding = au_catalog().rounding_account()
    assert rounding is not None and rounding["Code"] == "860"


# --- text ----------------------------------------------------------------------------------------


def test_cut_counts_astral_characters_as_two_units() -> None:
    text = "😀" * 2500  # 5,000 UTF-16 units
    result = cut(text, DESCRIPTION_LIMIT)
    assert utf16_length(result) <= DESCRIPTION_LIMIT and result.endswith("…")
    assert result[:-1] == "😀" * 1999


def test_cut_never_splits_a_zero_width_joiner_sequence() -> None:
    family = "👩\u200d👩\u200d👧"
    text = "a" * 3996 + family + "tail"
    result = cut(text, DESCRIPTION_LIMIT)
    assert result == "a" * 3996 + "…"


def test_text_that_fits_is_unchanged() -> None:
    assert cut("x" * 4000, 4000) == "x" * 4000


def test_clean_drops_control_characters_and_lone_surrogates_but_keeps_lines() -> None:
    assert clean("a\x00b\r\nc\td\ud800e\x1b") == "ab\nc\tde"


def test_name_key_folds_case_and_whitespace() -> None:
    assert name_key("  Straße \t Müller\nLTD ") == name_key("strasse müller ltd")


def test_money_strings_stay_exact_in_the_snapshot() -> None:
    snap = snapshot([Line("1", "0.1")])
    again = InvoiceSnapshot.from_json(snap.to_json())
    assert again.items[0].rate == Decimal("0.1")
