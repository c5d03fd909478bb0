"""Property tests (issue 3 §6): for generated invoices, mapping never raises (nor reaches its
last-resort ``internal`` reason), and a mapped document totals exactly what Autotask says."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_mapping_support import (
    COMPANY_ID,
    TR_AU,
    au_catalog,
    company,
    snapshot,
    tax_rate,
)

from agent.autotask.records import BillingItem
from agent.autotask.refdata import BillingCode, Currency, TaxCategory
from agent.mapping import (
    Blocked,
    InvoiceSnapshot,
    MappedDocument,
    MappingOptions,
    MappingTables,
    OrgCatalog,
    by_id,
    map_invoice,
)
from agent.mapping.text import DESCRIPTION_LIMIT, utf16_length

CENT = Decimal("0.01")
PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def four_dp(low: str, high: str) -> st.SearchStrategy[Decimal]:
    return st.decimals(Decimal(low), Decimal(high), places=4, allow_nan=False, allow_infinity=False)


# Texts around Xero's 4,000-character limit, built from a short drawn piece (drawing 4,000
# characters one by one would make the test slow).
long_texts = st.builds(
    lambda piece, size: (piece * (4200 // len(piece) + 1))[:size],
    st.text(min_size=1, max_size=8),
    st.integers(3990, 4100),
)
tax_rates = st.lists(
    st.one_of(
        st.sampled_from([Decimal(0), Decimal(10), Decimal(15), Decimal(20), Decimal("12.5")]),
        st.decimals(Decimal(0), Decimal(30), places=3),
    ),
    min_size=1,
    max_size=4,
)
line = st.tuples(
    four_dp("-500", "500"),  # quantity
    st.one_of(four_dp("-20000", "20000"), st.decimals(Decimal(-50), Decimal(50), places=6)),
    st.integers(0, 3),  # which tax category (and so which rate)
    st.one_of(st.none(), st.text(max_size=60), long_texts),
)


@st.composite
def autotask_invoices(draw: st.DrawFn) -> tuple[InvoiceSnapshot, OrgCatalog, MappingTables, bool]:
    """An invoice priced as Autotask prices it, its org, and whether Autotask taxed the invoice
    as a whole (one rounding per rate) rather than per line like Xero."""
    rates = draw(tax_rates)
    lines = draw(st.lists(line, min_size=1, max_size=12))
    whole_invoice = draw(st.booleans())
    exempt = draw(st.booleans()) and draw(st.booleans())
    items = []
    by_rate: dict[int, Decimal] = {}
    for index, (quantity, rate, category, text) in enumerate(lines):
        category %= len(rates)
        percent = Decimal(0) if exempt else rates[category]
        extended = money(quantity * rate)
        tax = money(extended * percent / 100)
        by_rate[category] = by_rate.get(category, Decimal(0)) + extended
        items.append(
            BillingItem(
                id=410_000 + index,
                invoiceID=28_310,
                quantity=quantity,
                rate=rate,
                extendedPrice=extended,
                taxDollars=tax,
                totalAmount=extended + tax,
                billingCodeID=101,
                taxCategoryID=category + 1,
                description=text,
                itemName="Item name",
            )
        )
    total = sum((i.totalAmount or Decimal(0) for i in items), Decimal(0))
    if whole_invoice and not exempt:
        # Tax on each rate's subtotal, rounded once: the sum can be cents away from Xero's.
        tax = sum((money(amount * rates[c] / 100) for c, amount in by_rate.items()), Decimal(0))
        subtotal = sum((i.extendedPrice or Decimal(0) for i in items), Decimal(0))
        spread = subtotal + tax - total
        last = items[-1]
        items[-1] = last.model_copy(
            update={
                "taxDollars": (last.taxDollars or Decimal(0)) + spread,
                "totalAmount": (last.totalAmount or Decimal(0)) + spread,
            }
        )
        total = subtotal + tax
    snap = snapshot(
        items=items,
        total=total,
        company=company(isTaxExempt=exempt),
        tax_categories=by_id(TaxCategory(id=c + 1, name=f"Cat {c}") for c in range(len(rates))),
        billing_codes=by_id([BillingCode(id=101, name="Work", externalNumber="200")]),
    )
    catalog = au_catalog(
        tax_rates=(
            *(tax_rate(f"T{c}", str(r), True, True) for c, r in enumerate(rates)),
            tax_rate("BASEXCLUDED", "0", True, True),
            tax_rate("EXEMPTOUTPUT", "0", True, False),
        )
    )
    tables = MappingTables(tax={(TR_AU, c + 1): f"T{c}" for c in range(len(rates))})
    return snap, catalog, tables, whole_invoice


def _options(rounding: bool) -> MappingOptions:
    from test_mapping_support import options

    return options(rounding_line=rounding, rounding_limit=Decimal("1.00"))


@PROPERTY_SETTINGS
@given(autotask_invoices())
def test_autotask_priced_invoices_map_to_documents_totalling_autotasks_to_the_cent(
    case: tuple[InvoiceSnapshot, OrgCatalog, MappingTables, bool],
) -> None:
    snap, catalog, tables, whole_invoice = case
    result = map_invoice(snap, tables, catalog, _options(rounding=whole_invoice))
    assert isinstance(result, MappedDocument), result
    assert result.expected_total == result.autotask_total
    assert result.autotask_total == abs(money(snap.invoice.invoiceTotal or Decimal(0)))
    # The wire form carries exactly those figures: re-do Xero's sum from the payload itself.
    rates = {r["TaxType"]: Decimal(str(r["EffectiveRate"])) for r in catalog.tax_rates}
    subtotal = tax = Decimal(0)
    for wire in result.payload["LineItems"]:
        quantity, unit = Decimal(str(wire["Quantity"])), Decimal(str(wire["UnitAmount"]))
        amount = money(quantity * unit)
        assert quantity >= 0 and amount == Decimal(str(wire["LineAmount"]))
        assert 0 < utf16_length(wire["Description"]) <= DESCRIPTION_LIMIT
        subtotal += amount
        tax += money(amount * rates[wire["TaxType"]] / 100)
    assert subtotal + tax == result.autotask_total


@PROPERTY_SETTINGS
@given(autotask_invoices())
def test_per_line_taxed_invoices_need_no_rounding_line(
    case: tuple[InvoiceSnapshot, OrgCatalog, MappingTables, bool],
) -> None:
    snap, catalog, tables, whole_invoice = case
    result = map_invoice(snap, tables, catalog, _options(rounding=False))
    if not whole_invoice:
        assert isinstance(result, MappedDocument), result
        assert len(result.payload["LineItems"]) == len(snap.items)
    else:
        assert isinstance(result, MappedDocument | Blocked)
        assert not isinstance(result, Blocked) or [r.code for r in result.reasons] == ["totals"]


# --- anything at all -----------------------------------------------------------------------------
# Autotask-priced invoices again, then damaged at random: fields dropped or odd, references
# missing, catalogs with junk and archived records, odd mappings and settings.

odd_decimals = st.one_of(
    st.none(),
    four_dp("-1000", "1000"),
    st.decimals(allow_nan=False, allow_infinity=False),
)
odd_text = st.one_of(
    st.none(), st.text(max_size=30), st.sampled_from(["AUD", "NZD", "200", "OUTPUT", "T0", " "])
)
small_ids = st.one_of(st.none(), st.integers(0, 5))
json_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10), st.just([])
)


def records(keys: list[str]) -> st.SearchStrategy[list[dict[str, Any]]]:
    values = st.one_of(json_values, st.sampled_from(["ACTIVE", "ARCHIVED", "200", "0", "10"]))
    return st.lists(st.fixed_dictionaries({}, optional=dict.fromkeys(keys, values)), max_size=4)


def maybe(draw: st.DrawFn, value: Any, other: st.SearchStrategy[Any]) -> Any:
    """``value`` most of the time, else something drawn from ``other``."""
    return draw(other) if draw(st.integers(0, 5)) == 0 else value


@st.composite
def damaged_items(draw: st.DrawFn, items: Sequence[BillingItem]) -> list[BillingItem]:
    damaged = []
    for item in items:
        changes: dict[str, Any] = {
            name: draw(odd_decimals)
            for name in ("quantity", "rate", "extendedPrice", "taxDollars", "totalAmount")
            if draw(st.integers(0, 9)) == 0
        }
        for name, values in (
            ("billingCodeID", small_ids),
            ("taxCategoryID", small_ids),
            ("invoiceID", small_ids),
            ("description", st.one_of(st.none(), st.text(max_size=200))),
            ("itemName", odd_text),
        ):
            if draw(st.integers(0, 9)) == 0:
                changes[name] = draw(values)
        damaged.append(item.model_copy(update=changes))
    return draw(st.one_of(st.just(damaged), st.lists(st.sampled_from(damaged), max_size=3)))


@st.composite
def anything(draw: st.DrawFn) -> tuple[InvoiceSnapshot, MappingTables, OrgCatalog, MappingOptions]:
    snap, catalog, tables, _ = draw(autotask_invoices())
    invoice = snap.invoice.model_copy(
        update={
            "invoiceTotal": maybe(draw, snap.invoice.invoiceTotal, odd_decimals),
            "companyID": maybe(draw, snap.invoice.companyID, small_ids),
            "invoiceNumber": maybe(draw, snap.invoice.invoiceNumber, odd_text),
            "invoiceDateTime": maybe(
                draw, snap.invoice.invoiceDateTime, st.none() | st.datetimes(timezones=st.just(UTC))
            ),
            "dueDate": maybe(draw, None, st.datetimes(timezones=st.just(UTC))),
            "isVoided": maybe(draw, None, st.booleans()),
            "orderNumber": maybe(draw, None, odd_text),
            "taxRegionName": maybe(draw, snap.invoice.taxRegionName, odd_text),
            "invoiceEditorTemplateID": maybe(draw, 1, small_ids),
        }
    )
    owner = snap.company
    assert owner is not None
    owner = owner.model_copy(
        update={
            "companyName": maybe(draw, owner.companyName, odd_text),
            "companyNumber": maybe(draw, owner.companyNumber, odd_text),
            "taxRegionID": maybe(draw, owner.taxRegionID, small_ids),
            "isTaxExempt": maybe(draw, owner.isTaxExempt, st.none() | st.booleans()),
            "billingAddress1": maybe(draw, owner.billingAddress1, odd_text),
        }
    )
    snap = replace(
        snap,
        invoice=invoice,
        items=tuple(draw(damaged_items(snap.items))),
        company=maybe(draw, owner, st.none()),
        currency=maybe(
            draw,
            snap.currency,
            st.none() | st.builds(Currency, id=st.integers(0, 5), name=odd_text),
        ),
        billing_codes=maybe(
            draw,
            snap.billing_codes,
            st.builds(
                lambda ext, cat: by_id(
                    [BillingCode(id=101, externalNumber=ext, taxCategoryID=cat)]
                ),
                odd_text,
                small_ids,
            ),
        ),
        tax_regions=maybe(draw, snap.tax_regions, st.just({})),
    )
    ids = st.integers(0, 5)
    text_targets = odd_text.map(str)
    tables = maybe(
        draw,
        tables,
        st.builds(
            MappingTables,
            accounts=st.dictionaries(st.just(101) | ids, text_targets),
            tax=st.dictionaries(st.tuples(ids, ids), text_targets),
            currencies=st.dictionaries(ids, text_targets),
            branding_themes=st.dictionaries(ids, text_targets),
            contacts=st.dictionaries(st.just(COMPANY_ID) | ids, text_targets),
            items=st.dictionaries(ids, text_targets),
        ),
    )
    junk = {
        "accounts": draw(records(["Code", "Status", "Type", "Class", "TaxType", "SystemAccount"])),
        "tax_rates": draw(records(["TaxType", "Status", "EffectiveRate", "CanApplyToRevenue"])),
        "currencies": draw(records(["Code"])),
        "branding_themes": draw(records(["BrandingThemeID", "Name"])),
        "contacts": draw(
            records(["ContactID", "Name", "ContactNumber", "AccountNumber", "ContactStatus"])
        ),
        "items": draw(records(["Code", "IsSold"])),
    }
    catalog = OrgCatalog.from_cached(
        name="Org",
        base_currency=draw(st.sampled_from(["AUD", "", "gbp"])),
        catalogs={
            key: [*junk[key], *getattr(catalog, key)][:: draw(st.sampled_from([1, -1]))]
            for key in junk
        },
    )
    opts = MappingOptions(
        today=draw(st.dates()),
        status=draw(st.sampled_from(["DRAFT", "AUTHORISED", "SUBMITTED", "bogus"])),
        numbering=draw(st.sampled_from(["autotask", "xero"])),
        number_prefix=draw(st.text(max_size=5)),
        credit_note_prefix=draw(st.none() | st.text(max_size=5)),
        default_sales_account=draw(odd_text),
        default_branding_theme_id=draw(odd_text),
        tax_mapping_enabled=draw(st.booleans()),
        exempt_tax_type=draw(odd_text),
        rounding_line=draw(st.booleans()),
        rounding_account_code=draw(odd_text),
        rounding_limit=draw(st.decimals(Decimal(0), Decimal(2), places=2)),
        tolerance=draw(st.decimals(Decimal(0), Decimal(1), places=2)),
    )
    return snap, tables, catalog, opts


@PROPERTY_SETTINGS
@given(anything())
def test_mapping_never_raises_nor_reaches_its_internal_error_branch(
    case: tuple[InvoiceSnapshot, MappingTables, OrgCatalog, MappingOptions],
) -> None:
    result = map_invoice(*case)
    assert isinstance(result, MappedDocument | Blocked)
    if isinstance(result, Blocked):
        assert result.reasons, "a blocked invoice always says why"
        assert "internal" not in [r.code for r in result.reasons], result.messages
    else:
        assert result.payload["LineItems"]
        assert abs(result.expected_total - result.autotask_total) < case[3].tolerance or (
            result.expected_total == result.autotask_total
        )
