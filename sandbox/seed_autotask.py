"""Autotask side of the seeded MSP: set-up, customers, vendors, catalogue and purchase orders.

Invoices and their billing items are in ``sandbox.seed_billing``. Records use the Swagger's
camelCase field names exactly (the tests check every record with ``sandbox.conformance``).
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any

from sandbox import seed_catalog as cat

Record = dict[str, Any]
CENT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def at(day: date, hour: int = 0, minute: int = 0, second: int = 0, ms: int = 0) -> str:
    """Autotask's wire form of a UTC time: no zone designator, milliseconds when not midnight."""
    if hour == minute == second == ms == 0:
        return _midnight(day)
    return f"{_iso(day)}T{hour:02d}:{minute:02d}:{second:02d}.{ms:03d}"


@cache
def _iso(day: date) -> str:
    return day.isoformat()


@cache
def _midnight(day: date) -> str:
    return f"{day.isoformat()}T00:00:00"


def random_at(rng: random.Random, day: date) -> str:
    """A time during office hours (07:00-19:00) on ``day``; one draw, as this runs ~10^5 times."""
    ms = int(rng.random() * 43_200_000)
    seconds, ms = divmod(ms, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return at(day, 7 + hour, minute, second, ms or 1)


def below(rng: random.Random, n: int) -> int:
    """``rng.randrange(n)`` for hot loops: one float draw instead of rejection sampling."""
    return int(rng.random() * n)


def ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())[:30] or "customer"


@dataclass
class Customer:
    """What the billing and Xero generators need to know about an Autotask customer."""

    id: int
    name: str
    number: str | None
    region: str  # "AU" or "UK": the OrganizationalLevel1, hence the Xero org
    currency: str
    currency_id: int
    exchange_rate: Decimal  # units of the customer's currency per 1 AUD
    tax_region_id: int
    tax_exempt: bool
    template_id: int
    payment_term_id: int
    email: str
    first_name: str
    last_name: str
    street: str
    city: str
    state: str
    postcode: str
    weight: float = 1.0  # how much it buys, relative to others


# --- reference data ---------------------------------------------------------------------------


RESOURCE_EMAIL_DOMAIN = "acme-it.example"


def resources(anchor: date) -> list[Record]:
    """The MSP's employees (``Resources``): every resource id another seeded record names."""
    found: list[Record] = []
    for n, spec in enumerate(cat.RESOURCES):
        login = f"{ascii_slug(spec.first_name)}.{ascii_slug(spec.last_name)}"
        user = ascii_slug(f"{spec.first_name[0]}{spec.last_name}")
        found.append(
            {
                "id": spec.id,
                "firstName": spec.first_name,
                "lastName": spec.last_name,
                "initials": f"{spec.first_name[0]}{spec.last_name[0]}",
                "title": spec.title,
                "email": f"{login}@{RESOURCE_EMAIL_DOMAIN}",
                "emailTypeCode": "PrimaryEmail",
                "userName": user,
                "isActive": spec.active,
                "resourceType": spec.resource_type,
                "hireDate": at(anchor - timedelta(days=400 + 97 * n)),
                "officePhone": f"+61 2 9000 {4100 + n:04d}",
                "accountingReferenceID": f"EMP{100 + n}",
                "payrollIdentifier": f"P-{spec.id % 10_000:04d}",
                "internalCost": 55.0 + 5 * n,
                "dateFormat": "dd/MM/yyyy",
                "timeFormat": "h:mm a",
                "numberFormat": "X,XXX.XX",
            }
        )
    return found


def reference_data(anchor: date) -> dict[str, list[Record]]:
    """Currencies, tax, payment terms, templates, organisation structure, billing codes and the
    resources (employees)."""
    modified = at(anchor - timedelta(days=200), 9, 30)
    currencies = [
        {
            "id": cid,
            "name": code,
            "description": description,
            "exchangeRate": rate,
            "isInternalCurrency": internal,
            "isActive": True,
            "currencyPositiveFormat": "$X",
            "currencyNegativeFormat": "-$X",
            "displaySymbol": 1,
            "lastModifiedDateTime": modified,
        }
        for cid, code, description, rate, internal in cat.AUTOTASK_CURRENCIES
    ]
    taxes: list[Record] = []
    for region_id, _ in cat.TAX_REGIONS:
        for category_id, category, _ in cat.TAX_CATEGORIES:
            name, rate = cat.STANDARD_RATES.get(region_id, ("Exempt", 0.0))
            if category_id != cat.TC_STANDARD:
                name, rate = f"{name} {category.lower()}", 0.0
            taxes.append(
                {
                    "id": 300 + region_id * 10 + category_id,
                    "taxRegionID": region_id,
                    "taxCategoryID": category_id,
                    "taxName": name,
                    "taxRate": rate,
                    "isCompounded": False,
                }
            )
    return {
        "Currencies": currencies,
        "TaxRegions": [{"id": i, "name": n, "isActive": True} for i, n in cat.TAX_REGIONS],
        "TaxCategories": [
            {"id": i, "name": n, "description": d, "isActive": True}
            for i, n, d in cat.TAX_CATEGORIES
        ],
        "Taxes": taxes,
        "PaymentTerms": [
            {
                "id": i,
                "name": n,
                "description": f"Payment due {days} days after the invoice date" if days else n,
                "paymentDueInDays": days,
                "isActive": True,
            }
            for i, n, days in cat.PAYMENT_TERMS
        ],
        "InvoiceTemplates": [
            {
                "id": i,
                "name": n,
                "paymentTerms": term,
                "currencyPositiveFormat": "$X",
                "currencyNegativeFormat": "($X)",
                "displayTaxCategory": True,
                "displaySeparateLineItemForEachTax": False,
                "itemizeServicesAndBundles": i == 2,
                "showGridHeader": True,
                "groupBy": 1,
                "sortBy": 1,
            }
            for i, n, term in cat.INVOICE_TEMPLATES
        ],
        "OrganizationalLevel1s": [
            {"id": i, "name": n, "description": f"{n} region", "isActive": True}
            for i, n in cat.ORG_LEVEL1
        ],
        "OrganizationalLevel2s": [
            {"id": i, "name": n, "description": f"{n} line of business", "isActive": True}
            for i, n in cat.ORG_LEVEL2
        ],
        "OrganizationalLevelAssociations": [
            {
                "id": aid,
                "organizationalLevel1ID": l1,
                "organizationalLevel2ID": l2,
                "isActive": True,
            }
            for aid, (l1, l2) in cat.ORG_ASSOCIATIONS.items()
        ],
        "BillingCodes": [
            {
                "id": spec.id,
                "name": spec.name,
                "description": f"{cat.BILLING_CODE_USE_TYPES[spec.use_type]}: {spec.name}",
                "useType": spec.use_type,
                "billingCodeType": spec.use_type,
                "externalNumber": spec.external_number,
                "taxCategoryID": spec.tax_category,
                "unitPrice": spec.unit_price,
                "isActive": spec.active,
                "isExcludedFromNewContracts": not spec.active,
            }
            for spec in cat.BILLING_CODES
        ],
        "Resources": resources(anchor),
    }


# --- customers, vendors, contacts, locations -----------------------------------------------------

_CURRENCY_IDS = {code: cid for cid, code, _, _, _ in cat.AUTOTASK_CURRENCIES}
_RATES = {code: Decimal(str(rate)) for _, code, _, rate, _ in cat.AUTOTASK_CURRENCIES}

# The first customers are fixed archetypes, so even the smallest world (5 customers) has every
# case the agent must handle: (region, currency, tax exempt, name or None for a generated one).
_ARCHETYPES: tuple[tuple[str, str, bool, str | None], ...] = (
    ("AU", "AUD", False, None),
    ("UK", "GBP", False, None),
    ("AU", "NZD", False, "Ōtautahi Design Ltd"),  # an export customer, unicode name
    ("AU", "AUD", True, None),  # a tax-exempt charity
    ("AU", "GBP", False, None),  # GBP is not enabled in the AU Xero org
    ("UK", "NZD", False, None),  # NZD is not enabled in the GB Xero org
)


def _customer_profile(rng: random.Random) -> tuple[str, str, bool]:
    exempt = rng.random() < 0.05
    if rng.random() < 0.7:
        return "AU", rng.choices(("AUD", "NZD", "USD", "GBP"), (86, 7, 5, 2))[0], exempt
    return "UK", rng.choices(("GBP", "USD", "NZD"), (88, 8, 4))[0], exempt


def _tax_region(region: str, currency: str) -> int:
    if region == "AU":
        return cat.TR_AU if currency == "AUD" else cat.TR_EXPORT
    return cat.TR_UK if currency == "GBP" else cat.TR_EXPORT


class _Names:
    """Unique, plausible company names."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()
        self.unicode = {
            region: [n for n, r in cat.UNICODE_NAMES if r == region] for region in ("AU", "UK")
        }

    def take(self, region: str, fixed: str | None = None) -> str:
        if fixed and fixed.casefold() not in self.used:
            self.used.add(fixed.casefold())
            return fixed
        pool = self.unicode[region]
        if pool and self.rng.random() < 0.02:
            name = pool.pop(0)
            self.used.add(name.casefold())
            return name
        places = cat.NAME_PLACES_AU if region == "AU" else cat.NAME_PLACES_UK
        suffixes = cat.SUFFIXES_AU if region == "AU" else cat.SUFFIXES_UK
        for attempt in range(1000):
            parts = [self.rng.choice(places), self.rng.choice(cat.NAME_TRADES)]
            if attempt > 50:  # the plain combinations are running out
                parts.append(str(attempt))
            suffix = self.rng.choice(suffixes)
            name = " ".join([*parts, suffix]) if suffix else " ".join(parts)
            if name.casefold() not in self.used:
                self.used.add(name.casefold())
                return name
        raise RuntimeError("ran out of company names")


def customers(rng: random.Random, count: int, anchor: date) -> list[Customer]:
    names = _Names(rng)
    found: list[Customer] = []
    for index in range(count):
        fixed: str | None = None
        if index < len(_ARCHETYPES):
            region, currency, exempt, fixed = _ARCHETYPES[index]
        else:
            region, currency, exempt = _customer_profile(rng)
        city, state, postcode = rng.choice(cat.CITIES[region])
        name = names.take(region, fixed)
        found.append(
            Customer(
                id=174_000 + index * 3,
                name=name,
                number=None if rng.random() < 0.1 else f"C{10_000 + index:05d}",
                region=region,
                currency=currency,
                currency_id=_CURRENCY_IDS[currency],
                exchange_rate=_RATES[currency],
                tax_region_id=_tax_region(region, currency),
                tax_exempt=exempt,
                template_id=3 if region == "UK" else rng.choice((1, 1, 1, 2)),
                payment_term_id=rng.choices((1, 2, 3, 4), (5, 20, 45, 30))[0],
                email=f"accounts@{ascii_slug(name)}.{'com.au' if region == 'AU' else 'co.uk'}",
                first_name=rng.choice(cat.FIRST_NAMES),
                last_name=rng.choice(cat.LAST_NAMES),
                street=f"{rng.randint(1, 420)} {rng.choice(cat.STREETS)}",
                city=city,
                state=state,
                postcode=postcode,
                # A few big customers buy most, as in any MSP (Pareto-like weights).
                weight=rng.paretovariate(1.5),
            )
        )
    return found


def company_records(
    rng: random.Random, found: list[Customer], anchor: date
) -> tuple[list[Record], list[Record], list[Record]]:
    """Companies (customers then vendors), their billing contacts and primary locations."""
    companies: list[Record] = []
    contacts: list[Record] = []
    locations: list[Record] = []
    for customer in found:
        country = cat.COUNTRY_IDS["AU" if customer.region == "AU" else "GB"]
        created = anchor - timedelta(days=rng.randint(90, 2500))
        location_id = 500_000 + customer.id
        companies.append(
            {
                "id": customer.id,
                "companyName": customer.name,
                "companyNumber": customer.number,
                "companyType": cat.COMPANY_TYPE_CUSTOMER,
                "isActive": True,
                "phone": _phone(rng, customer.region),
                "address1": customer.street,
                "city": customer.city,
                "state": customer.state,
                "postalCode": customer.postcode,
                "countryID": country,
                "billingAddress1": customer.street,
                "billToCity": customer.city,
                "billToState": customer.state,
                "billToZipCode": customer.postcode,
                "billToCountryID": country,
                "billToAttention": "Accounts Payable",
                "billToAddressToUse": 1,
                "billToCompanyLocationID": location_id,
                "taxRegionID": customer.tax_region_id,
                "isTaxExempt": customer.tax_exempt,
                "taxID": _tax_id(rng, customer.region),
                "currencyID": customer.currency_id,
                "invoiceTemplateID": customer.template_id,
                "invoiceMethod": 1,
                "invoiceNonContractItemsToParentCompany": False,
                "parentCompanyID": None,
                "ownerResourceID": cat.CREATOR_RESOURCE_ID,
                "createDate": random_at(rng, created),
                "createdByResourceID": cat.CREATOR_RESOURCE_ID,
                "lastActivityDate": random_at(rng, anchor - timedelta(days=rng.randint(0, 60))),
                "lastTrackedModifiedDateTime": random_at(rng, created + timedelta(days=30)),
                "webAddress": f"https://www.{customer.email.split('@', 1)[1]}",
            }
        )
        contacts.append(
            {
                "id": 30_682_000 + customer.id,
                "companyID": customer.id,
                "firstName": customer.first_name,
                "lastName": customer.last_name,
                "title": "Accounts Payable",
                "emailAddress": customer.email,
                "phone": _phone(rng, customer.region),
                "isActive": 1,
                "billingContact": True,
                "primaryContact": True,
                "companyLocationID": location_id,
                "createDate": random_at(rng, created),
                "lastModifiedDate": random_at(rng, created + timedelta(days=10)),
            }
        )
        locations.append(
            {
                "id": location_id,
                "companyID": customer.id,
                "name": "Head Office",
                "isPrimary": True,
                "isActive": True,
                "address1": customer.street,
                "city": customer.city,
                "state": customer.state,
                "postalCode": customer.postcode,
                "countryID": country,
                "isTaxExempt": customer.tax_exempt,
                "overrideCompanyTaxSettings": False,
                "taxRegionID": customer.tax_region_id,
            }
        )
    # One subsidiary whose non-contract items are invoiced to its parent, when there is room.
    if len(companies) >= 8:
        companies[7]["parentCompanyID"] = companies[0]["id"]
        companies[7]["invoiceNonContractItemsToParentCompany"] = True
    for index, (name, region, currency) in enumerate(cat.VENDORS):
        city, state, postcode = cat.CITIES[region][0]
        companies.append(
            {
                "id": vendor_id(index),
                "companyName": name,
                "companyType": cat.COMPANY_TYPE_VENDOR,
                "isActive": True,
                "address1": f"{10 + index} Distribution Drive",
                "city": city,
                "state": state,
                "postalCode": postcode,
                "countryID": cat.COUNTRY_IDS[
                    "US" if currency == "USD" else "AU" if region == "AU" else "GB"
                ],
                "currencyID": _CURRENCY_IDS[currency],
                "taxRegionID": cat.TR_AU if region == "AU" else cat.TR_UK,
                "isTaxExempt": False,
                "createDate": at(anchor - timedelta(days=1500), 10, 0, 0, 1),
                "createdByResourceID": cat.CREATOR_RESOURCE_ID,
            }
        )
    return companies, contacts, locations


def vendor_id(index: int) -> int:
    return 170_000 + index


def _phone(rng: random.Random, region: str) -> str:
    if region == "AU":
        return f"+61 2 {rng.randint(8000, 9999)} {rng.randint(1000, 9999)}"
    return f"+44 20 {rng.randint(7000, 8999)} {rng.randint(1000, 9999)}"


def _tax_id(rng: random.Random, region: str) -> str:
    if region == "AU":
        digits = f"{rng.randint(10, 99)}{rng.randint(100_000_000, 999_999_999)}"
        return f"{digits[:2]} {digits[2:5]} {digits[5:8]} {digits[8:]}"
    return f"GB{rng.randint(100_000_000, 999_999_999)}"


# --- catalogue ----------------------------------------------------------------------------------


def catalogue(rng: random.Random, anchor: date) -> dict[str, list[Record]]:
    created = at(anchor - timedelta(days=400), 11, 15, 0, 250)
    products = []
    for index, (sku, name, maker, cost, code) in enumerate(cat.PRODUCTS):
        markup = Decimal(str(rng.choice((1.15, 1.2, 1.25, 1.3, 1.35))))
        products.append(
            {
                "id": 29_690_000 + index,
                "name": name,
                "description": f"{maker} {name}",
                "sku": sku,
                "manufacturerName": maker,
                "manufacturerProductName": name,
                "unitCost": cost,
                "unitPrice": float(money(Decimal(str(cost)) * markup)),
                "msrp": float(money(Decimal(str(cost)) * Decimal("1.4"))),
                "productBillingCodeID": cat.BC[code],
                "defaultVendorID": vendor_id(index % 4),
                "externalProductID": None if index % 3 else f"EXT-{sku}",
                "isActive": index != len(cat.PRODUCTS) - 1,  # one discontinued product
                "isSerialized": sku.startswith("HW-") and cost > 500,
                "createdTime": created,
                "createdByResourceID": cat.CREATOR_RESOURCE_ID,
                "periodType": None,
                "billingType": None,
            }
        )
    services = [
        {
            "id": 29_691_000 + index,
            "name": name,
            "description": description,
            "invoiceDescription": description,
            "billingCodeID": cat.BC[code],
            "unitPrice": price,
            "unitCost": cost,
            "periodType": 1,  # monthly
            "isActive": True,
            "sku": f"SVC-{index + 1:03d}",
            "createDate": created,
            "creatorResourceID": cat.CREATOR_RESOURCE_ID,
            "lastModifiedDate": at(anchor - timedelta(days=30 + index), 14, 5, 0, 10),
        }
        for index, (name, description, code, price, cost) in enumerate(cat.SERVICES)
    ]
    service_price = {s["name"]: Decimal(str(s["unitPrice"])) for s in services}
    bundles = []
    for index, (name, description, members, discount) in enumerate(cat.SERVICE_BUNDLES):
        total = sum((service_price[m] for m in members), Decimal(0))
        bundles.append(
            {
                "id": 29_692_000 + index,
                "name": name,
                "description": description,
                "invoiceDescription": f"{name}: {description}",
                "billingCodeID": cat.BC["Managed Services Agreement"],
                "unitPrice": float(money(total * (1 - Decimal(str(discount)) / 100))),
                "percentageDiscount": discount,
                "periodType": 1,
                "isActive": True,
                "createDate": created,
                "creatorResourceID": cat.CREATOR_RESOURCE_ID,
                "lastModifiedDate": at(anchor - timedelta(days=45 + index), 9, 0, 0, 5),
            }
        )
    return {"Products": products, "Services": services, "ServiceBundles": bundles}


# --- purchase orders ----------------------------------------------------------------------------


def purchase_orders(
    rng: random.Random,
    count: int,
    today: date,
    products: list[Record],
    found: list[Customer],
) -> dict[str, list[Record]]:
    orders: list[Record] = []
    items: list[Record] = []
    receiving: list[Record] = []
    statuses = (cat.PO_NEW, cat.PO_SUBMITTED, cat.PO_PARTIAL, cat.PO_RECEIVED, cat.PO_CANCELLED)
    hardware = [p for p in products if p["isActive"] and str(p["sku"]).startswith(("HW-", "SW-"))]
    for index in range(count):
        po_id = 7_000 + index
        vendor_index = rng.choices(range(len(cat.VENDORS)), (30, 25, 15, 10, 10, 7, 3))[0]
        _, region, _ = cat.VENDORS[vendor_index]
        status = rng.choices(statuses, (10, 35, 15, 35, 5))[0]
        created = today - timedelta(days=rng.randint(0, 29))
        submitted = created + timedelta(days=rng.randint(0, 1)) if status != cat.PO_NEW else None
        if submitted and submitted > today:
            submitted = today
        # The first order always has freight, so even the smallest world shows a freight line.
        freight = (
            Decimal(rng.choice(("25.00", "49.50", "85.00", "120.00", "310.75")))
            if index == 0 or rng.random() < 0.3
            else Decimal(0)
        )
        received = status in (cat.PO_PARTIAL, cat.PO_RECEIVED)
        vendor_invoice = f"INV-{rng.randint(100_000, 999_999)}" if received else None
        customer = rng.choice(found) if rng.random() < 0.6 else None
        orders.append(
            {
                "id": po_id,
                "purchaseOrderNumber": f"PO-{po_id}",
                "vendorID": vendor_id(vendor_index),
                "status": status,
                "createDateTime": random_at(rng, created),
                "creatorResourceID": cat.CREATOR_RESOURCE_ID,
                "submitDateTime": random_at(rng, submitted) if submitted else None,
                "cancelDateTime": random_at(rng, today) if status == cat.PO_CANCELLED else None,
                "freight": float(freight),
                "internalCurrencyFreight": float(freight),
                "paymentTerm": 4,
                "taxRegionID": cat.TR_AU if region == "AU" else cat.TR_UK,
                "purchaseForCompanyID": customer.id if customer else None,
                "vendorInvoiceNumber": vendor_invoice,
                "shipToName": "Acme IT" + (" Pty Ltd" if region == "AU" else " UK Ltd"),
                "shipToAddress1": "Level 4, 100 George Street"
                if region == "AU"
                else "12 Old Street",
                "shipToCity": "Sydney" if region == "AU" else "London",
                "shipToState": "NSW" if region == "AU" else "Greater London",
                "shipToPostalCode": "2000" if region == "AU" else "EC1V 9BD",
                "latestEstimatedArrivalDate": at(created + timedelta(days=7)),
                "generalMemo": f"For {customer.name}" if customer else "Stock replenishment",
                "showTaxCategory": True,
                "showEachTaxInGroup": False,
            }
        )
        for line in range(rng.randint(1, 5)):
            product = rng.choice(hardware)
            quantity = rng.choice((1, 1, 2, 3, 5, 10)) if product["unitCost"] > 20 else 50
            item_id = 90_000 + po_id * 8 + line
            items.append(
                {
                    "id": item_id,
                    "orderID": po_id,
                    "productID": product["id"],
                    "quantity": quantity,
                    "unitCost": product["unitCost"],
                    "internalCurrencyUnitCost": product["unitCost"],
                    "memo": str(product["name"]),
                    "estimatedArrivalDate": at(created + timedelta(days=5)),
                }
            )
            if received:
                got = quantity if status == cat.PO_RECEIVED else max(quantity // 2, 1)
                receiving.append(
                    {
                        "id": 95_000 + len(receiving),
                        "purchaseOrderItemID": item_id,
                        "quantityNowReceiving": got,
                        "quantityPreviouslyReceived": 0,
                        "quantityBackOrdered": quantity - got,
                        "receiveDate": at(min(today, created + timedelta(days=3))),
                        "receivedByResourceID": cat.CREATOR_RESOURCE_ID,
                        "vendorInvoiceNumber": vendor_invoice,
                    }
                )
    return {
        "PurchaseOrders": orders,
        "PurchaseOrderItems": items,
        "PurchaseOrderItemReceiving": receiving,
    }
