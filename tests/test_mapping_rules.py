"""Accounts, tax and currency rules of map_invoice (issue 3 §3)."""

from __future__ import annotations

from typing import Any

from test_mapping_support import (
    BC_LEGACY,
    BC_M365,
    BC_NOTE,
    BC_REMOTE,
    BC_TRAVEL,
    TC_EXEMPT,
    TC_STANDARD,
    TR_AU,
    TR_UK,
    Line,
    au_catalog,
    company,
    options,
    snapshot,
    tables,
    tax_rate,
)

from agent.autotask.refdata import Currency
from agent.mapping import Blocked, MappedDocument, MappingOptions, MappingTables, map_invoice
from agent.mapping.catalog import OrgCatalog
from agent.mapping.inputs import InvoiceSnapshot


def run(
    snap: InvoiceSnapshot | None = None,
    tabs: MappingTables | None = None,
    cat: OrgCatalog | None = None,
    opts: MappingOptions | None = None,
) -> Any:
    return map_invoice(snap or snapshot(), tabs or tables(), cat or au_catalog(), opts or options())


def line_of(doc: Any, index: int = 0) -> dict[str, Any]:
    assert isinstance(doc, MappedDocument), doc
    return dict(doc.payload["LineItems"][index])


def only_reason(result: Any) -> tuple[str, str, str | None, str | None]:
    assert isinstance(result, Blocked), result
    assert len(result.reasons) == 1, result.reasons
    reason = result.reasons[0]
    return reason.code, reason.message, reason.mapping_type, reason.source_key


# --- accounts ------------------------------------------------------------------------------------


def test_account_from_billing_code_external_number() -> None:
    assert line_of(run(snapshot([Line("1", "10", code=BC_REMOTE)])))["AccountCode"] == "200"


def test_account_mapping_wins_over_external_number() -> None:
    doc = run(snapshot([Line("1", "10", code=BC_REMOTE)]), tables(accounts={BC_REMOTE: "260"}))
    assert line_of(doc)["AccountCode"] == "260"


def test_account_mapping_used_when_billing_code_has_no_external_number() -> None:
    doc = run(snapshot([Line("1", "10", code=BC_M365)]), tables(accounts={BC_M365: "260"}))
    assert line_of(doc)["AccountCode"] == "260"
    assert "account mapping for billing code" in doc.provenance[0].account


def test_default_sales_account_when_nothing_maps_the_billing_code() -> None:
    doc = run(snapshot([Line("1", "10", code=BC_M365)]), opts=options(default_sales_account="200"))
    assert line_of(doc)["AccountCode"] == "200"
    assert doc.provenance[0].account.startswith("default sales account")


def test_external_number_that_is_no_account_code_falls_through_to_the_default() -> None:
    doc = run(snapshot([Line("1", "10", code=BC_NOTE)]), opts=options(default_sales_account="260"))
    assert line_of(doc)["AccountCode"] == "260"
    assert "GL-CONSULT is not an account code" in doc.provenance[0].account


def test_unmapped_billing_code_without_default_blocks_naming_the_billing_code() -> None:
    code, message, kind, key = only_reason(run(snapshot([Line("1", "10", code=BC_M365)])))
    assert (code, kind, key) == ("account", "account", str(BC_M365))
    assert 'billing code "Microsoft 365 Licences"' in message and "Mappings → Accounts" in message


def test_external_number_of_an_archived_account_blocks_instead_of_using_the_default() -> None:
    result = run(
        snapshot([Line("1", "10", code=BC_LEGACY)]), opts=options(default_sales_account="200")
    )
    code, message, kind, key = only_reason(result)
    assert (code, kind, key) == ("account", "account", str(BC_LEGACY))
    assert "archived" in message and "Legacy Hardware Sales" in message


def test_account_mapping_to_an_archived_account_blocks() -> None:
    result = run(tabs=tables(accounts={BC_REMOTE: "215"}))
    code, message, _, _ = only_reason(result)
    assert code == "account" and "is archived in Xero" in message


def test_account_mapping_to_a_bank_account_blocks() -> None:
    code, message, _, _ = only_reason(run(tabs=tables(accounts={BC_REMOTE: "090"})))
    assert code == "account" and "bank account" in message


def test_default_sales_account_missing_from_xero_blocks() -> None:
    result = run(
        snapshot([Line("1", "10", code=BC_M365)]), opts=options(default_sales_account="999")
    )
    code, message, kind, _ = only_reason(result)
    assert code == "account" and "no account 999" in message and kind is None


def test_tax_type_not_allowed_on_the_account_blocks_naming_the_billing_code() -> None:
    code, message, kind, key = only_reason(run(snapshot([Line("1", "10", code=BC_TRAVEL)])))
    assert (code, kind, key) == ("account", "account", str(BC_TRAVEL))
    assert "does not allow tax rate OUTPUT" in message and 'billing code "Travel"' in message


# --- tax -----------------------------------------------------------------------------------------


def test_tax_type_from_region_and_category_mapping() -> None:
    doc = run(snapshot([Line("1", "10", category=TC_EXEMPT, tax="0")]))
    assert line_of(doc)["TaxType"] == "EXEMPTOUTPUT"


def test_tax_category_falls_back_to_the_billing_codes() -> None:
    doc = run(
        snapshot([Line("1", "10", code=BC_M365, category=None)]), tables(accounts={BC_M365: "200"})
    )
    assert line_of(doc)["TaxType"] == "OUTPUT"


def test_unmapped_tax_pair_blocks_with_region_and_category_named() -> None:
    result = run(tabs=tables(tax={}))
    code, message, kind, key = only_reason(result)
    assert message == (
        'no Xero tax type mapped for tax region "Australia GST" × category "Standard"; '  # noqa: RUF001
        "map it in Mappings → Tax"
    )
    assert (code, kind, key) == ("tax", "tax", f"{TR_AU}:{TC_STANDARD}")


def test_tax_region_comes_from_the_invoice_region_name_first() -> None:
    snap = snapshot(invoice={"taxRegionName": "uk  vat"})
    result = run(snap)
    assert only_reason(result)[3] == f"{TR_UK}:{TC_STANDARD}"


def test_tax_region_falls_back_to_the_companys() -> None:
    doc = run(snapshot(invoice={"taxRegionName": None}))
    assert line_of(doc)["TaxType"] == "OUTPUT"
    assert doc.header["tax_region"] == "the company's tax region"


def test_tax_exempt_customer_gets_the_exempt_tax_type() -> None:
    snap = snapshot([Line("1", "10", tax="0")], company=company(isTaxExempt=True))
    doc = run(snap, tables(tax={}))
    assert line_of(doc)["TaxType"] == "EXEMPTOUTPUT"
    assert doc.provenance[0].tax.startswith("tax-exempt customer")


def test_tax_exempt_customer_without_exempt_tax_type_blocks() -> None:
    snap = snapshot([Line("1", "10", tax="0")], company=company(isTaxExempt=True))
    code, message, _, _ = only_reason(run(snap, opts=options(exempt_tax_type=None)))
    assert code == "tax" and "Settings → Tax" in message


def test_tax_mapping_off_uses_the_accounts_default_tax_type() -> None:
    doc = run(tabs=tables(tax={}), opts=options(tax_mapping_enabled=False))
    assert line_of(doc)["TaxType"] == "OUTPUT"
    assert doc.provenance[0].tax.startswith("account 200 default")


def test_mapped_tax_type_archived_in_xero_blocks() -> None:
    result = run(
        snapshot([Line("1", "10", tax="33")]), tables(tax={(TR_AU, TC_STANDARD): "TAX002"})
    )
    code, message, kind, _ = only_reason(result)
    assert (code, kind) == ("tax", "tax") and "archived" in message


def test_mapped_tax_type_missing_from_xero_blocks() -> None:
    code, message, _, _ = only_reason(run(tabs=tables(tax={(TR_AU, TC_STANDARD): "GST"})))
    assert code == "tax" and "no tax rate GST" in message


def test_line_without_any_tax_category_blocks() -> None:
    code, message, _, _ = only_reason(run(snapshot([Line("1", "10", category=None)])))
    assert code == "tax" and "no tax category" in message


def test_same_unmapped_pair_on_many_lines_is_one_reason() -> None:
    result = run(snapshot([Line("1", "10"), Line("2", "20"), Line("3", "30")]), tables(tax={}))
    assert isinstance(result, Blocked) and len(result.reasons) == 1


def test_every_problem_is_reported_at_once() -> None:
    snap = snapshot(
        [Line("1", "10", code=BC_M365)],
        currency=Currency(id=3, name="GBP"),
    )
    result = run(snap, tables(tax={}))
    assert isinstance(result, Blocked)
    assert sorted(r.code for r in result.reasons) == ["account", "currency", "tax"]


# --- currency ------------------------------------------------------------------------------------


def test_currency_is_the_customers_iso_code() -> None:
    doc = run(snapshot(currency=Currency(id=2, name="nzd")))
    assert doc.payload["CurrencyCode"] == "NZD"


def test_currency_not_enabled_blocks() -> None:
    code, message, kind, key = only_reason(run(snapshot(currency=Currency(id=3, name="GBP"))))
    assert message == (
        "currency GBP is not enabled in Xero organisation Acme IT Pty Ltd; enable it in Xero "
        "Settings → Currencies, then refresh the catalogs"
    )
    assert (code, kind, key) == ("currency", "currency", "3")


def test_currency_mapping_overrides_the_autotask_name() -> None:
    snap = snapshot(currency=Currency(id=7, name="US Dollars"))
    doc = run(snap, tables(currencies={7: "USD"}))
    assert doc.payload["CurrencyCode"] == "USD"


def test_currency_name_that_is_no_iso_code_blocks() -> None:
    code, message, _, key = only_reason(run(snapshot(currency=Currency(id=7, name="US Dollars"))))
    assert code == "currency" and "not an ISO currency code" in message and key == "7"


def test_base_currency_is_enabled_even_when_not_listed() -> None:
    doc = run(cat=au_catalog(currencies=()))
    assert doc.payload["CurrencyCode"] == "AUD"


def test_unknown_currency_blocks() -> None:
    code, _, _, _ = only_reason(run(snapshot(currency=None)))
    assert code == "currency"


def test_effective_rate_is_what_xero_will_charge() -> None:
    cat = au_catalog(tax_rates=(tax_rate("OUTPUT", "12.5", True, False),))
    doc = run(snapshot([Line("1", "100", tax="12.5")]), cat=cat)
    assert isinstance(doc, MappedDocument) and doc.expected.tax == 12.5
