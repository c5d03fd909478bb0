"""Builders shared by the mapping tests (no tests here): a small hand-made Xero organisation,
Autotask invoices priced the way Autotask prices them, and snapshots of the seeded world."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from agent.autotask.records import BillingItem, Invoice
from agent.autotask.refdata import (
    BillingCode,
    Company,
    Contact,
    Currency,
    PaymentTerm,
    Product,
    Tax,
    TaxCategory,
    TaxRegion,
)
from agent.mapping import InvoiceSnapshot, MappingOptions, MappingTables, OrgCatalog, by_id
from sandbox.demo import ACCOUNTANT_ACCOUNTS, ACCOUNTANT_TAX

TODAY = date(2026, 5, 20)
INVOICE_DAY = datetime(2026, 5, 14, tzinfo=UTC)
CENT = Decimal("0.01")

# Autotask side: regions, categories, billing codes.
TR_AU, TR_UK = 1, 3
TC_STANDARD, TC_EXEMPT = 1, 2
BC_REMOTE, BC_TRAVEL, BC_LEGACY, BC_M365, BC_NOTE = 101, 102, 103, 104, 105
COMPANY_ID = 174_000


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def account(code: str, name: str, klass: str = "REVENUE", **extra: Any) -> dict[str, Any]:
    kind = {"REVENUE": "REVENUE", "EXPENSE": "EXPENSE", "LIABILITY": "CURRLIAB"}.get(klass, klass)
    found = {"Code": code, "Name": name, "Type": kind, "Class": klass, "Status": "ACTIVE"}
    found["TaxType"] = {"REVENUE": "OUTPUT", "EXPENSE": "INPUT"}.get(klass, "BASEXCLUDED")
    return found | extra


def tax_rate(tax_type: str, rate: str, revenue: bool, other: bool, **extra: Any) -> dict[str, Any]:
    return {
        "TaxType": tax_type,
        "Name": tax_type.title(),
        "Status": "ACTIVE",
        "EffectiveRate": float(rate),
        "CanApplyToRevenue": revenue,
        "CanApplyToExpenses": other,
        "CanApplyToLiabilities": other,
        "CanApplyToAssets": other,
        "CanApplyToEquity": other,
    } | extra


THEME_STANDARD = "5d5b6f0e-1f0a-4c5e-9a57-2f6f7d0c1a01"
THEME_PROJECTS = "5d5b6f0e-1f0a-4c5e-9a57-2f6f7d0c1a02"


def au_catalog(**changes: Any) -> OrgCatalog:
    """An Australian organisation in the shape of the store's cached catalogs."""
    catalog = OrgCatalog.from_cached(
        name="Acme IT Pty Ltd",
        base_currency="AUD",
        country_code="AU",
        catalogs={
            "accounts": [
                account("090", "Business Bank Account", "ASSET", Type="BANK"),
                account("200", "Sales"),
                account("215", "Legacy Hardware Sales", Status="ARCHIVED"),
                account("260", "Other Revenue"),
                account("493", "Travel - National", "EXPENSE"),
                account("610", "Accounts Receivable", "ASSET", SystemAccount="DEBTORS"),
                account("860", "Rounding", "LIABILITY", SystemAccount="ROUNDING"),
            ],
            "tax_rates": [
                tax_rate("OUTPUT", "10", True, False),
                tax_rate("INPUT", "10", False, True),
                tax_rate("EXEMPTOUTPUT", "0", True, False),
                tax_rate("BASEXCLUDED", "0", True, True),
                tax_rate("RROUTPUT", "12.5", True, False),
                tax_rate("TAX002", "33", True, False, Status="ARCHIVED"),
            ],
            "currencies": [{"Code": "AUD"}, {"Code": "NZD"}, {"Code": "USD"}],
            "branding_themes": [
                {"BrandingThemeID": THEME_STANDARD, "Name": "Standard", "SortOrder": 0},
                {"BrandingThemeID": THEME_PROJECTS, "Name": "Special Projects", "SortOrder": 1},
            ],
            "contacts": [],
            "items": [{"Code": "HW-LAT5440", "Name": "Latitude 5440", "IsSold": True}],
        },
    )
    return replace(catalog, **changes)


def contact(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "ContactID": f"{zlib.crc32(name.encode()):08x}-0000-4000-8000-000000000000",
        "Name": name,
        "ContactStatus": "ACTIVE",
    } | extra


@dataclass(frozen=True)
class Line:
    """One Autotask billing item: quantity x rate, taxed at ``tax`` percent per line."""

    quantity: str
    rate: str
    tax: str = "10"
    code: int = BC_REMOTE
    category: int | None = TC_STANDARD
    description: str | None = "Remote support"
    name: str | None = "Remote Support"


def billing_items(lines: Sequence[Line], invoice_id: int = 28_310) -> list[BillingItem]:
    """Items priced as Autotask prices them: amount and tax each rounded per line."""
    items = []
    for index, line in enumerate(lines):
        extended = money(Decimal(line.quantity) * Decimal(line.rate))
        tax = money(extended * Decimal(line.tax) / 100)
        items.append(
            BillingItem(
                id=410_000 + index,
                invoiceID=invoice_id,
                companyID=COMPANY_ID,
                itemName=line.name,
                description=line.description,
                quantity=Decimal(line.quantity),
                rate=Decimal(line.rate),
                extendedPrice=extended,
                taxDollars=tax,
                totalAmount=extended + tax,
                billingCodeID=line.code,
                taxCategoryID=line.category,
            )
        )
    return items


def company(**extra: Any) -> Company:
    fields: dict[str, Any] = {
        "id": COMPANY_ID,
        "companyName": "Harbour View Dental Pty Ltd",
        "companyNumber": "C10000",
        "taxRegionID": TR_AU,
        "currencyID": 1,
        "isTaxExempt": False,
        "billingAddress1": "12 George Street",
        "billToCity": "Sydney",
        "billToState": "NSW",
        "billToZipCode": "2000",
        "phone": "02 9000 1234",
    }
    return Company.model_validate(fields | extra)


def snapshot(
    lines: Sequence[Line] = (Line("2", "165"),),
    *,
    total: Decimal | None = None,
    items: Iterable[BillingItem] | None = None,
    invoice: dict[str, Any] | None = None,
    **changes: Any,
) -> InvoiceSnapshot:
    """A snapshot of invoice 28310 of company 174000 (AUD, region "Australia GST")."""
    built = list(items) if items is not None else billing_items(lines)
    computed = sum((i.totalAmount or Decimal(0) for i in built), Decimal(0))
    invoice_fields: dict[str, Any] = {
        "id": 28_310,
        "companyID": COMPANY_ID,
        "invoiceNumber": "1001",
        "invoiceDateTime": INVOICE_DAY,
        "invoiceTotal": computed if total is None else total,
        "taxRegionName": "Australia GST",
        "paymentTerm": 4,
        "invoiceEditorTemplateID": 1,
    }
    base = InvoiceSnapshot(
        invoice=Invoice.model_validate(invoice_fields | (invoice or {})),
        items=tuple(built),
        company=company(),
        billing_contact=Contact(
            id=30_000,
            companyID=COMPANY_ID,
            firstName="Olivia",
            lastName="Smith",
            emailAddress="accounts@harbourviewdental.com.au",
            billingContact=True,
        ),
        billing_codes=by_id(
            [
                BillingCode(id=BC_REMOTE, name="Remote Support", externalNumber="200"),
                BillingCode(id=BC_TRAVEL, name="Travel", externalNumber="493"),
                BillingCode(id=BC_LEGACY, name="Legacy Hardware Sales", externalNumber="215"),
                BillingCode(id=BC_M365, name="Microsoft 365 Licences", taxCategoryID=1),
                BillingCode(id=BC_NOTE, name="Consulting", externalNumber="GL-CONSULT"),
            ]
        ),
        tax_regions=by_id(
            [TaxRegion(id=TR_AU, name="Australia GST"), TaxRegion(id=TR_UK, name="UK VAT")]
        ),
        tax_categories=by_id(
            [TaxCategory(id=TC_STANDARD, name="Standard"), TaxCategory(id=TC_EXEMPT, name="Exempt")]
        ),
        taxes=(
            Tax(id=311, taxRegionID=TR_AU, taxCategoryID=TC_STANDARD, taxRate=Decimal(10)),
            Tax(id=312, taxRegionID=TR_AU, taxCategoryID=TC_EXEMPT, taxRate=Decimal(0)),
        ),
        currency=Currency(id=1, name="AUD", isInternalCurrency=True),
        payment_term=PaymentTerm(id=4, name="Net 30", paymentDueInDays=30),
        products={},
    )
    return replace(base, **changes)


def tables(**changes: Any) -> MappingTables:
    base = MappingTables(
        tax={(TR_AU, TC_STANDARD): "OUTPUT", (TR_AU, TC_EXEMPT): "EXEMPTOUTPUT"},
    )
    return replace(base, **changes)


def options(**changes: Any) -> MappingOptions:
    defaults: dict[str, Any] = {"today": TODAY, "exempt_tax_type": "EXEMPTOUTPUT"}
    return MappingOptions(**(defaults | changes))


def product(sku: str) -> Product:
    return Product(id=9_001, name="Dell Latitude 5440 Laptop", sku=sku)


# --- the seeded world ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SeededCase:
    snapshot: InvoiceSnapshot
    org_index: int  # 0 = the AU organisation, 1 = the UK one


def seeded_cases(world: Any) -> list[SeededCase]:
    """A snapshot per seeded invoice, as the sync would build it, routed by line of business."""
    at = world.autotask
    companies = by_id(Company.model_validate(r) for r in at["Companies"])
    contacts = [Contact.model_validate(r) for r in at["Contacts"]]
    billing_contact = {c.companyID: c for c in contacts if c.billingContact}
    codes = by_id(BillingCode.model_validate(r) for r in at["BillingCodes"])
    regions = by_id(TaxRegion.model_validate(r) for r in at["TaxRegions"])
    categories = by_id(TaxCategory.model_validate(r) for r in at["TaxCategories"])
    taxes = tuple(Tax.model_validate(r) for r in at["Taxes"])
    currencies = by_id(Currency.model_validate(r) for r in at["Currencies"])
    terms = by_id(PaymentTerm.model_validate(r) for r in at["PaymentTerms"])
    products = by_id(Product.model_validate(r) for r in at["Products"])
    charge_product = {
        (entity, r["id"]): r.get("productID")
        for entity in ("ProjectCharges", "TicketCharges", "ContractCharges")
        for r in at[entity]
    }
    level1 = {r["id"]: r["organizationalLevel1ID"] for r in at["OrganizationalLevelAssociations"]}
    items_of: dict[int, list[BillingItem]] = {}
    for raw in at["BillingItems"]:
        item = BillingItem.model_validate(raw)
        items_of.setdefault(item.invoiceID or 0, []).append(item)

    cases = []
    for raw in at["Invoices"]:
        invoice = Invoice.model_validate(raw)
        items = items_of.get(invoice.id, [])
        owner = companies.get(invoice.companyID or 0)
        by_item: dict[int, Product] = {}
        for item in items:
            for field, entity in (
                ("projectChargeID", "ProjectCharges"),
                ("ticketChargeID", "TicketCharges"),
                ("contractChargeID", "ContractCharges"),
            ):
                charge = getattr(item, field)
                product_id = charge_product.get((entity, charge)) if charge else None
                if product_id in products:
                    by_item[item.id] = products[product_id]
        lobs = [
            level1.get(i.organizationalLevelAssociationID or 0)
            for i in items
            if i.organizationalLevelAssociationID
        ]
        cases.append(
            SeededCase(
                InvoiceSnapshot(
                    invoice=invoice,
                    items=tuple(items),
                    company=owner,
                    billing_contact=billing_contact.get(invoice.companyID),
                    billing_codes=codes,
                    tax_regions=regions,
                    tax_categories=categories,
                    taxes=taxes,
                    currency=currencies.get(owner.currencyID or 1) if owner else None,
                    payment_term=terms.get(invoice.paymentTerm or 0),
                    products=by_item,
                ),
                1 if lobs and lobs[0] == 2 else 0,
            )
        )
    return cases


def seeded_catalog(org: Any) -> OrgCatalog:
    return OrgCatalog.from_cached(
        name=org.name,
        base_currency=org.base_currency,
        country_code=org.country_code,
        catalogs={
            "accounts": org.accounts,
            "tax_rates": org.tax_rates,
            "currencies": org.currencies,
            "branding_themes": org.branding_themes,
            "contacts": org.contacts,
            "items": org.items,
        },
    )


# What an accountant would map for the seeded MSP (one definition, shared with `atx demo`).
SEEDED_TAX = ACCOUNTANT_TAX
SEEDED_ACCOUNTS = ACCOUNTANT_ACCOUNTS


def seeded_tables(org_index: int) -> MappingTables:
    return MappingTables(accounts=SEEDED_ACCOUNTS, tax=SEEDED_TAX[org_index])


def seeded_options(org_index: int, **changes: Any) -> MappingOptions:
    return MappingOptions(
        today=TODAY,
        number_prefix="AT-",
        default_sales_account="200",
        exempt_tax_type="EXEMPTOUTPUT",
        **changes,
    )
