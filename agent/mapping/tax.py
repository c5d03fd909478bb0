"""The Xero TaxType of one line (issue 3 §3; autotask-api §8 Taxes; xero-api §11 TaxRate).

1. A customer marked tax-exempt in Autotask (``Companies.isTaxExempt``) gets the exempt tax type
   from the settings on every line. With tax mapping on and no exempt type set, it blocks.
2. With tax mapping on: the (tax region, tax category) pair → the user's tax mapping. The category
   is the billing item's, else its billing code's. An unmapped pair blocks with both names (an
   unmapped region stops the invoice by design, product-and-patterns A2 #5).
3. With tax mapping off: the account's default TaxType.

Whatever the rule, a tax type Xero will not take blocks: missing, archived or deleted ("Tax Rate
Must be Active", A2 #3), or not allowed on the line's account (xero-api §11).

The invoice's tax region: Invoices have no ``taxRegionID``, only ``taxRegionName``, the region
Autotask actually taxed the invoice with (a company location can override the company's region,
autotask-api §8). So that name, when it names exactly one region, comes first; else the
company's ``taxRegionID``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from agent.autotask.records import BillingItem
from agent.autotask.refdata import BillingCode, TaxRegion
from agent.mapping.accounts import code_label
from agent.mapping.catalog import OrgCatalog, Record, decimal_field, tax_rate_problem, text
from agent.mapping.document import BlockReason
from agent.mapping.inputs import InvoiceSnapshot, MappingOptions, MappingTables, tax_key
from agent.mapping.text import name_key, single_line

_MAP = "map it in Mappings → Tax"


@dataclass(frozen=True, slots=True)
class TaxChoice:
    tax_type: str
    rate: Decimal  # EffectiveRate, percent
    rule: str


@dataclass(frozen=True, slots=True)
class RegionChoice:
    region_id: int | None
    rule: str


def invoice_region(snapshot: InvoiceSnapshot) -> RegionChoice:
    wanted = name_key(snapshot.invoice.taxRegionName)
    if wanted:
        named = [r for r in snapshot.tax_regions.values() if name_key(r.name) == wanted]
        if len(named) == 1:
            return RegionChoice(named[0].id, f'invoice tax region "{named[0].name}"')
    company = snapshot.company
    if company is not None and company.taxRegionID is not None:
        return RegionChoice(company.taxRegionID, "the company's tax region")
    return RegionChoice(None, "no tax region")


def region_label(snapshot: InvoiceSnapshot, region_id: int) -> str:
    region: TaxRegion | None = snapshot.tax_regions.get(region_id)
    name = single_line(region.name if region else None, 120)
    return f'"{name}"' if name else f"id {region_id}"


def category_label(snapshot: InvoiceSnapshot, category_id: int) -> str:
    category = snapshot.tax_categories.get(category_id)
    name = single_line(category.name if category else None, 120)
    return f'"{name}"' if name else f"id {category_id}"


def autotask_rate(snapshot: InvoiceSnapshot, region_id: int, category_id: int) -> Decimal | None:
    """Autotask's rate for the pair: the sum of its taxes (compounding ignored; display only)."""
    rates = [
        t.taxRate
        for t in snapshot.taxes
        if t.taxRegionID == region_id and t.taxCategoryID == category_id and t.taxRate is not None
    ]
    return sum(rates, Decimal(0)) if rates else None


def choose_tax(
    snapshot: InvoiceSnapshot,
    item: BillingItem,
    code: BillingCode | None,
    account: Record | None,
    region: RegionChoice,
    tables: MappingTables,
    catalog: OrgCatalog,
    options: MappingOptions,
) -> TaxChoice | BlockReason:
    """The line's tax type; ``account`` is the line's account (None when it did not resolve)."""
    check = _Checker(catalog, account, item, code)
    company = snapshot.company
    exempt_type = (options.exempt_tax_type or "").strip()
    if company is not None and company.isTaxExempt:
        if exempt_type:
            return check(exempt_type, "tax-exempt customer", "the exempt tax type", _SETTINGS, None)
        if options.tax_mapping_enabled:
            return BlockReason(
                "tax",
                f"the customer (company id {company.id}) is tax-exempt in Autotask but no exempt"
                f" tax type is set; {_SETTINGS}",
            )

    if not options.tax_mapping_enabled:
        if account is None:  # the account already blocked the line; nothing to add
            return TaxChoice("", Decimal(0), "no account")
        label = f"account {text(account, 'Code')}"
        default = text(account, "TaxType")
        if not default:
            return BlockReason(
                "tax",
                f"{label} has no default tax type in {catalog.name}; set one in Xero or turn tax "
                "mapping on",
            )
        return check(default, f"{label} default", f"the default tax type of {label}", _XERO, None)

    category_id = item.taxCategoryID
    if category_id is None and code is not None:
        category_id = code.taxCategoryID
    if region.region_id is None:
        return BlockReason(
            "tax",
            f"the invoice has no tax region (taxRegionName {snapshot.invoice.taxRegionName!r}) "
            "and neither has its company; set the company's tax region in Autotask",
        )
    if category_id is None:
        return BlockReason(
            "tax",
            f'billing item {item.id} ("{single_line(item.itemName, 80)}") has no tax category, '
            "nor has its billing code; set one on the billing code in Autotask",
        )
    pair = (
        f"tax region {region_label(snapshot, region.region_id)} × category "  # noqa: RUF001
        f"{category_label(snapshot, category_id)}"
    )
    key = tax_key(region.region_id, category_id)
    mapped = tables.tax.get((region.region_id, category_id), "").strip()
    if not mapped:
        return BlockReason("tax", f"no Xero tax type mapped for {pair}; {_MAP}", "tax", key)
    at_rate = autotask_rate(snapshot, region.region_id, category_id)
    shown_rate = "" if at_rate is None else f" (Autotask {at_rate.normalize():f}%)"
    return check(
        mapped, f"tax mapping for {pair}{shown_rate}", f"the tax mapping for {pair}", _MAP, key
    )


_SETTINGS = "choose the exempt tax type in Settings → Tax"
_XERO = "change it in Xero"


@dataclass(frozen=True, slots=True)
class _Checker:
    """Checks a chosen tax type: usable at all, then allowed on the line's account."""

    catalog: OrgCatalog
    account: Record | None
    item: BillingItem
    code: BillingCode | None

    def __call__(
        self, tax_type: str, rule: str, origin: str, fix: str, key: str | None
    ) -> TaxChoice | BlockReason:
        catalog = self.catalog
        rate = catalog.tax_rate(tax_type)
        problem = tax_rate_problem(rate, tax_type, None)
        effective = decimal_field(rate, "EffectiveRate")
        if problem is not None or effective is None:
            return BlockReason(
                "tax", f"{origin}: {problem} ({catalog.name}); {fix}", "tax" if key else None, key
            )
        clash = tax_rate_problem(rate, tax_type, self.account)
        if clash is not None:
            code_id = self.item.billingCodeID
            return BlockReason(
                "account",
                f"{code_label(self.code, self.item)}: {clash} ({catalog.name}); map the billing "
                f"code to another account in Mappings → Accounts, or change {origin}",
                None if code_id is None else "account",
                None if code_id is None else str(code_id),
            )
        return TaxChoice(tax_type, effective, f"{rule} → {tax_type} ({effective.normalize():f}%)")
