"""The tax guard, the rounding line and the completeness checks (issue 3 §3; xero-api §13;
autotask-api §13 pitfalls 6-7)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from test_mapping_support import (
    Line,
    account,
    au_catalog,
    billing_items,
    money,
    options,
    snapshot,
    tables,
    tax_rate,
)

from agent.mapping import Blocked, MappedDocument, map_invoice
from agent.mapping import invoice as invoice_module
from agent.mapping.totals import line_amount, line_tax, xero_totals

# Three lines of 0.15 at 10%: Xero taxes each (0.015 -> 0.02) and sums 0.06; a PSA taxing the
# invoice total (0.45 x 10% = 0.045 -> 0.05) says 0.50 where Xero says 0.51.
CENTS = [Line("1", "0.15"), Line("1", "0.15"), Line("1", "0.15")]


def whole_invoice_taxed(lines: list[Line]) -> Any:
    """A snapshot whose Autotask total taxes the invoice as a whole (one rounding)."""
    items = billing_items(lines)
    subtotal = sum((i.extendedPrice or Decimal(0) for i in items), Decimal(0))
    total = subtotal + money(subtotal * Decimal("0.1"))
    # Keep the items consistent with that total, as Autotask would (tax spread over lines).
    last = items[-1]
    spread = total - sum((i.totalAmount or Decimal(0) for i in items), Decimal(0))
    items[-1] = last.model_copy(
        update={
            "taxDollars": (last.taxDollars or Decimal(0)) + spread,
            "totalAmount": (last.totalAmount or Decimal(0)) + spread,
        }
    )
    return snapshot(items=items, total=total)


def test_xero_rounds_tax_per_line_then_sums() -> None:
    totals = xero_totals([(Decimal("0.15"), Decimal(10))] * 3)
    assert (totals.subtotal, totals.tax, totals.total) == (
        Decimal("0.45"),
        Decimal("0.06"),
        Decimal("0.51"),
    )


def test_line_arithmetic_rounds_half_away_from_zero() -> None:
    assert line_amount(Decimal("1"), Decimal("0.125")) == Decimal("0.13")
    assert line_amount(Decimal("1"), Decimal("-0.125")) == Decimal("-0.13")
    assert line_tax(Decimal("-0.15"), Decimal(10)) == Decimal("-0.02")


def test_totals_equal_to_the_cent_pass_the_guard() -> None:
    doc = map_invoice(snapshot(CENTS), tables(), au_catalog(), options())
    assert isinstance(doc, MappedDocument)
    assert doc.expected_total == doc.autotask_total == Decimal("0.51")


def test_totals_differing_by_a_cent_block_with_both_figures() -> None:
    result = map_invoice(whole_invoice_taxed(CENTS), tables(), au_catalog(), options())
    assert isinstance(result, Blocked)
    (reason,) = result.reasons
    assert reason.code == "totals"
    assert reason.message.startswith(
        "Xero would total AUD 0.51 but Autotask says 0.50 (difference 0.01); lines taxed "
        "differently: billing item 410002: Autotask tax 0.01, Xero OUTPUT at 10% gives 0.02"
    )
    assert "turn on the rounding line" in reason.message


def test_rounding_line_makes_totals_match() -> None:
    doc = map_invoice(
        whole_invoice_taxed(CENTS), tables(), au_catalog(), options(rounding_line=True)
    )
    assert isinstance(doc, MappedDocument)
    rounding = doc.payload["LineItems"][-1]
    assert rounding == {
        "Description": "Rounding adjustment",
        "Quantity": 1.0,
        "UnitAmount": -0.01,
        "LineAmount": -0.01,
        "AccountCode": "860",
        "TaxType": "BASEXCLUDED",
    }
    assert doc.expected_total == doc.autotask_total == Decimal("0.50")
    assert doc.provenance[-1].billing_item_id is None
    assert "rounding line" in doc.provenance[-1].account


def test_rounding_line_is_not_used_beyond_its_limit() -> None:
    snap = snapshot([Line("1", "100", tax="12")])  # Autotask 112.00, Xero at 10%: 110.00
    result = map_invoice(
        snap, tables(), au_catalog(), options(rounding_line=True, rounding_limit=Decimal("1.00"))
    )
    assert isinstance(result, Blocked)
    assert [r.code for r in result.reasons] == ["totals"]
    assert "difference 2.00" in result.reasons[0].message


def test_rounding_line_without_a_rounding_account_blocks() -> None:
    catalog = au_catalog(accounts=(account("200", "Sales"),))
    result = map_invoice(whole_invoice_taxed(CENTS), tables(), catalog, options(rounding_line=True))
    assert isinstance(result, Blocked)
    assert "ROUNDING system account, which is missing" in result.reasons[0].message


def test_rounding_line_without_a_zero_tax_rate_for_it_blocks() -> None:
    catalog = au_catalog(tax_rates=(tax_rate("OUTPUT", "10", True, False),))
    result = map_invoice(whole_invoice_taxed(CENTS), tables(), catalog, options(rounding_line=True))
    assert isinstance(result, Blocked)
    assert "needs an active 0% tax rate" in result.reasons[0].message


def test_rounding_line_prefers_the_named_rounding_account() -> None:
    doc = map_invoice(
        whole_invoice_taxed(CENTS),
        tables(),
        au_catalog(),
        options(rounding_line=True, rounding_account_code="260"),
    )
    assert isinstance(doc, MappedDocument)
    assert doc.payload["LineItems"][-1]["AccountCode"] == "260"
    assert doc.payload["LineItems"][-1]["TaxType"] == "BASEXCLUDED"


def test_difference_below_a_wider_tolerance_passes_with_a_warning() -> None:
    doc = map_invoice(
        whole_invoice_taxed(CENTS), tables(), au_catalog(), options(tolerance=Decimal("0.05"))
    )
    assert isinstance(doc, MappedDocument)
    assert doc.expected_total - doc.autotask_total == Decimal("0.01")
    assert any("within the tolerance" in w for w in doc.warnings)


def test_credit_note_is_guarded_on_absolute_totals() -> None:
    doc = map_invoice(snapshot([Line("-1", "0.15")] * 3), tables(), au_catalog(), options())
    assert isinstance(doc, MappedDocument)
    assert doc.kind == "credit_note" and doc.autotask_total == doc.expected_total == Decimal("0.51")


def test_invoice_with_no_billing_items_blocks_naming_lob_permissions() -> None:
    result = map_invoice(
        snapshot(items=[], total=Decimal("100")), tables(), au_catalog(), options()
    )
    assert isinstance(result, Blocked)
    assert result.messages == [
        "items: the invoice has no billing items visible to the API user: check its "
        "line-of-business permissions"
    ]


def test_billing_items_not_adding_up_to_the_invoice_total_block_with_both_figures() -> None:
    result = map_invoice(
        snapshot([Line("2", "165")], total=Decimal("1452.00")), tables(), au_catalog(), options()
    )
    assert isinstance(result, Blocked)
    assert result.reasons[0].code == "items"
    assert "add up to 363.00 but the invoice total is 1,452.00" in result.reasons[0].message


def test_invoice_without_a_total_blocks() -> None:
    result = map_invoice(
        snapshot(invoice={"invoiceTotal": None}), tables(), au_catalog(), options()
    )
    assert isinstance(result, Blocked) and result.reasons[0].code == "data"


def test_billing_item_of_another_invoice_blocks() -> None:
    items = billing_items([Line("1", "10")], invoice_id=99)
    result = map_invoice(snapshot(items=items), tables(), au_catalog(), options())
    assert isinstance(result, Blocked) and "another invoice" in result.reasons[0].message


def test_figures_beyond_the_postable_range_block() -> None:
    result = map_invoice(snapshot([Line("1", "1e11")]), tables(), au_catalog(), options())
    assert isinstance(result, Blocked)
    assert {r.code for r in result.reasons} == {"data"}


def test_unexpected_exception_becomes_an_internal_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(invoice_module, "choose_contact", broken)
    result = map_invoice(snapshot(), tables(), au_catalog(), options())
    assert isinstance(result, Blocked)
    assert (
        result.reasons[0].code == "internal" and "RuntimeError: boom" in result.reasons[0].message
    )
