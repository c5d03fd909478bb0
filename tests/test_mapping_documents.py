"""map_invoice: document kind, signs, header fields and descriptions (issue 3 §3)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from test_mapping_support import (
    BC_REMOTE,
    THEME_PROJECTS,
    THEME_STANDARD,
    Line,
    au_catalog,
    billing_items,
    options,
    snapshot,
    tables,
)

from agent.autotask.refdata import InvoiceTemplate
from agent.mapping import (
    Blocked,
    InvoiceSnapshot,
    MappedDocument,
    MappingOptions,
    MappingTables,
    OrgCatalog,
    map_invoice,
)
from sandbox import conformance


def mapped(
    snap: InvoiceSnapshot | None = None,
    tabs: MappingTables | None = None,
    cat: OrgCatalog | None = None,
    opts: MappingOptions | None = None,
) -> MappedDocument:
    result = map_invoice(
        snap or snapshot(), tabs or tables(), cat or au_catalog(), opts or options()
    )
    assert isinstance(result, MappedDocument), result
    return result


def blocked(
    snap: InvoiceSnapshot | None = None,
    tabs: MappingTables | None = None,
    cat: OrgCatalog | None = None,
    opts: MappingOptions | None = None,
) -> Blocked:
    result = map_invoice(
        snap or snapshot(), tabs or tables(), cat or au_catalog(), opts or options()
    )
    assert isinstance(result, Blocked), result
    return result


def test_positive_invoice_becomes_accrec_invoice_with_autotask_figures() -> None:
    doc = mapped(snapshot([Line("2", "165"), Line("0.25", "185.5")]))
    assert doc.kind == "invoice" and doc.collection == "Invoices"
    assert doc.payload["Type"] == "ACCREC"
    assert doc.payload["LineAmountTypes"] == "Exclusive"
    assert [
        (li["Quantity"], li["UnitAmount"], li["LineAmount"]) for li in doc.payload["LineItems"]
    ] == [
        (2.0, 165.0, 330.0),
        (0.25, 185.5, 46.38),
    ]
    assert doc.expected_total == doc.autotask_total == Decimal("414.02")


def test_negative_invoice_becomes_credit_note_with_positive_amounts() -> None:
    doc = mapped(snapshot([Line("-2", "165"), Line("1", "-250")]))
    assert doc.kind == "credit_note" and doc.payload["Type"] == "ACCRECCREDIT"
    lines = doc.payload["LineItems"]
    assert [(li["Quantity"], li["UnitAmount"], li["LineAmount"]) for li in lines] == [
        (2.0, 165.0, 330.0),
        (1.0, 250.0, 250.0),
    ]
    assert doc.autotask_total == doc.expected_total == Decimal("638.00")


def test_credit_note_number_goes_in_credit_note_number_with_its_own_prefix() -> None:
    doc = mapped(
        snapshot([Line("-1", "100")]),
        opts=options(number_prefix="AT-", credit_note_prefix="ATC-"),
    )
    assert doc.payload["CreditNoteNumber"] == "ATC-1001" and "InvoiceNumber" not in doc.payload


def test_positive_line_on_a_credit_note_becomes_a_negative_unit_amount() -> None:
    doc = mapped(snapshot([Line("-3", "100"), Line("1", "50")]))
    assert doc.kind == "credit_note"
    assert [(li["Quantity"], li["UnitAmount"]) for li in doc.payload["LineItems"]] == [
        (3.0, 100.0),
        (1.0, -50.0),
    ]
    assert doc.expected_total == Decimal("275.00")


def test_negative_quantity_line_on_an_invoice_keeps_quantity_positive() -> None:
    doc = mapped(snapshot([Line("5", "65"), Line("-1", "50")]))
    assert doc.kind == "invoice"
    discount = doc.payload["LineItems"][1]
    assert (discount["Quantity"], discount["UnitAmount"], discount["LineAmount"]) == (
        1.0,
        -50.0,
        -50.0,
    )
    assert "sign moved" in doc.provenance[1].amounts


def test_zero_total_invoice_is_an_invoice() -> None:
    doc = mapped(snapshot([Line("1", "0")]))
    assert doc.kind == "invoice" and doc.expected_total == 0


def test_quantities_and_prices_are_kept_to_four_decimals() -> None:
    doc = mapped(snapshot([Line("2.6667", "33.1234")]))
    line = doc.payload["LineItems"][0]
    assert (line["Quantity"], line["UnitAmount"], line["LineAmount"]) == (2.6667, 33.1234, 88.33)


def test_rate_beyond_four_decimals_is_sent_as_one_times_autotask_amount() -> None:
    # Autotask: 300 x 0.33335 = 100.01; at 4 decimals Xero would make 300 x 0.3334 = 100.02.
    doc = mapped(snapshot([Line("300", "0.33335")]))
    line = doc.payload["LineItems"][0]
    assert (line["Quantity"], line["UnitAmount"], line["LineAmount"]) == (1.0, 100.01, 100.01)
    assert "sent as 1 x 100.01" in doc.provenance[0].amounts


def test_autotask_numbering_sends_the_prefixed_number() -> None:
    doc = mapped(opts=options(number_prefix="AT-"))
    assert doc.payload["InvoiceNumber"] == "AT-1001" and doc.number == "AT-1001"


def test_blank_autotask_number_falls_back_to_the_invoice_id() -> None:
    doc = mapped(snapshot(invoice={"invoiceNumber": "  "}))
    assert doc.payload["InvoiceNumber"] == "28310"


def test_xero_numbering_omits_the_number() -> None:
    doc = mapped(opts=options(numbering="xero"))
    assert "InvoiceNumber" not in doc.payload and doc.number is None


def test_status_setting_is_sent() -> None:
    assert mapped(opts=options(status="AUTHORISED")).payload["Status"] == "AUTHORISED"


def test_reference_is_the_autotask_order_number() -> None:
    doc = mapped(snapshot(invoice={"orderNumber": " PO 4411 "}))
    assert doc.payload["Reference"] == "PO 4411"


def test_no_order_number_means_no_reference() -> None:
    assert "Reference" not in mapped().payload


def test_date_is_the_invoice_date_as_plain_yyyy_mm_dd() -> None:
    assert mapped().payload["Date"] == "2026-05-14"


def test_due_date_comes_from_autotask_when_set() -> None:
    doc = mapped(snapshot(invoice={"dueDate": datetime(2026, 5, 28, tzinfo=UTC)}))
    assert doc.payload["DueDate"] == "2026-05-28"


def test_due_date_is_invoice_date_plus_payment_term_days_without_one() -> None:
    assert mapped().payload["DueDate"] == "2026-06-13"  # 14 May + Net 30


def test_due_date_is_left_to_xero_without_due_date_or_term() -> None:
    assert "DueDate" not in mapped(snapshot(payment_term=None)).payload


def test_missing_invoice_date_uses_today_with_a_warning() -> None:
    doc = mapped(snapshot(invoice={"invoiceDateTime": None}))
    assert doc.payload["Date"] == "2026-05-20"
    assert any("today" in w for w in doc.warnings)


def test_branding_theme_comes_from_the_template_mapping() -> None:
    snap = snapshot(template=InvoiceTemplate(id=1, name="Standard Invoice"))
    doc = mapped(snap, tables(branding_themes={1: THEME_PROJECTS}))
    assert doc.payload["BrandingThemeID"] == THEME_PROJECTS


def test_branding_theme_falls_back_to_the_default() -> None:
    doc = mapped(opts=options(default_branding_theme_id=THEME_STANDARD))
    assert doc.payload["BrandingThemeID"] == THEME_STANDARD


def test_no_branding_theme_mapping_or_default_omits_it() -> None:
    assert "BrandingThemeID" not in mapped().payload


def test_branding_theme_missing_from_xero_blocks() -> None:
    result = blocked(tabs=tables(branding_themes={1: "0000-not-a-theme"}))
    assert [r.code for r in result.reasons] == ["branding_theme"]
    assert result.reasons[0].source_key == "1"


def test_description_keeps_full_unicode() -> None:
    text = "Ōtautahi site: Wi-Fi survey — 5 GHz ≥ −67 dBm ✔ 👩‍💻"  # noqa: RUF001
    doc = mapped(snapshot([Line("1", "10", description=text)]))
    assert doc.payload["LineItems"][0]["Description"] == text


def test_description_over_4000_chars_is_cut_on_a_character_boundary() -> None:
    text = "e\u0301" * 3000  # "é" as e + combining accent: 6,000 characters
    doc = mapped(snapshot([Line("1", "10", description=text)]))
    sent = doc.payload["LineItems"][0]["Description"]
    assert len(sent) <= 4000 and sent.endswith("…")
    assert text.startswith(sent[:-1]) and sent[-2] == "\u0301"
    assert "cut" in doc.provenance[0].notes[0]


def test_blank_description_falls_back_to_the_item_name() -> None:
    doc = mapped(snapshot([Line("1", "10", description=" \n ", name="Onsite Support")]))
    assert doc.payload["LineItems"][0]["Description"] == "Onsite Support"


def test_no_description_or_item_name_sends_item() -> None:
    doc = mapped(snapshot([Line("1", "10", description=None, name=None)]))
    assert doc.payload["LineItems"][0]["Description"] == "Item"


def test_lines_follow_billing_item_ids() -> None:
    items = billing_items(
        [Line("1", "10", description="first"), Line("1", "20", description="second")]
    )
    doc = mapped(snapshot(items=list(reversed(items))))
    assert [li["Description"] for li in doc.payload["LineItems"]] == ["first", "second"]


def test_item_code_comes_from_the_product_sku_when_xero_has_the_item() -> None:
    from test_mapping_support import product

    doc = mapped(snapshot(products={410_000: product("HW-LAT5440")}))
    assert doc.payload["LineItems"][0]["ItemCode"] == "HW-LAT5440"


def test_item_mapping_to_an_unknown_item_blocks() -> None:
    from test_mapping_support import product

    result = blocked(
        snapshot(products={410_000: product("HW-LAT5440")}), tables(items={9_001: "NOPE"})
    )
    assert [(r.code, r.mapping_type, r.source_key) for r in result.reasons] == [
        ("item", "item", "9001")
    ]


def test_unknown_product_sku_sends_no_item_code() -> None:
    from test_mapping_support import product

    doc = mapped(snapshot(products={410_000: product("HW-UNKNOWN")}))
    assert "ItemCode" not in doc.payload["LineItems"][0]


def test_payload_conforms_to_xeros_invoice_schema() -> None:
    doc = mapped(opts=options(default_branding_theme_id=THEME_STANDARD))
    assert conformance.request_errors("xero", "Invoices", {"Invoices": [doc.payload]}) == []
    assert conformance.request_errors("xero", "Contacts", {"Contacts": [doc.new_contact]}) == []


def test_credit_note_payload_conforms_to_xeros_credit_note_schema() -> None:
    doc = mapped(snapshot([Line("-1", "100")]))
    assert conformance.request_errors("xero", "CreditNotes", {"CreditNotes": [doc.payload]}) == []


def test_provenance_names_the_rule_for_each_line() -> None:
    doc = mapped(snapshot([Line("1", "10", code=BC_REMOTE)]))
    line = doc.provenance[0]
    assert line.billing_item_id == 410_000
    assert 'billing code "Remote Support" (id 101) external number 200' in line.account
    assert 'tax region "Australia GST" × category "Standard"' in line.tax  # noqa: RUF001
    assert doc.header["due_date"] == 'payment term "Net 30": 30 days'


def test_voided_invoice_blocks() -> None:
    result = blocked(snapshot(invoice={"isVoided": True}))
    assert [r.code for r in result.reasons] == ["voided"]


def test_missing_company_blocks() -> None:
    result = blocked(replace(snapshot(), company=None))
    assert [r.code for r in result.reasons] == ["company"]


def test_number_prefix_is_kept_as_typed() -> None:
    assert mapped(opts=options(number_prefix="INV ")).payload["InvoiceNumber"] == "INV 1001"
