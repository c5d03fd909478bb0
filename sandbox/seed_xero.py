"""Xero side of the seeded MSP: two organisations with their books, and the OAuth apps.

Records use the PascalCase names of Xero's OpenAPI schemas exactly (``Account``, ``TaxRate``,
``Currency``, ``BrandingTheme``, ``Contact``, ``Item``), checked by the tests with
``sandbox.conformance``. Timestamps are in Xero's ``/Date(ms+0000)/`` form.

About 30% of the Autotask customers already exist in the Xero org of their region, under *nearly*
the same name (case, spacing, "Pty Ltd" vs "Pty. Ltd.", "Ltd" vs "Limited"), some keyed by
``ContactNumber`` = the Autotask company id, some by ``AccountNumber`` = the company number, some
by name only: the contact-matching cases the agent must get right.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from sandbox import seed_catalog as cat
from sandbox.seed_autotask import Customer, Record
from sandbox.world import (
    SANDBOX_XERO_CODE_CLIENT_ID,
    SANDBOX_XERO_CODE_CLIENT_SECRET,
    SANDBOX_XERO_CUSTOM_CLIENT_ID,
    SANDBOX_XERO_CUSTOM_CLIENT_SECRET,
    SANDBOX_XERO_PKCE_CLIENT_ID,
    XeroApp,
    XeroOrg,
)

REDIRECT_URIS = ["http://localhost:8742/callback", "http://127.0.0.1:8742/callback"]
EXISTING_CONTACT_SHARE = 0.3


def new_id(rng: random.Random) -> str:
    """A version-4 UUID drawn from the seeded generator (uuid4() would break determinism)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def ms_date(day: date, hour: int = 0, minute: int = 0) -> str:
    moment = datetime.combine(day, time(hour, minute), tzinfo=UTC)
    return f"/Date({int(moment.timestamp() * 1000)}+0000)/"


def _short_code(rng: random.Random) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789"
    return "!" + "".join(rng.choice(alphabet) for _ in range(5))


def organisations(
    rng: random.Random,
    today: date,
    customers: Sequence[Customer],
    products: Sequence[Record],
) -> list[XeroOrg]:
    orgs = []
    for spec in cat.XERO_ORGS:
        org = XeroOrg(
            tenant_id=new_id(rng),
            name=spec.name,
            short_code=_short_code(rng),
            country_code=spec.country_code,
            base_currency=spec.base_currency,
            tier="core",
        )
        updated = ms_date(today - timedelta(days=365), 9)
        org.accounts = _accounts(rng, spec, updated)
        org.tax_rates = _tax_rates(spec)
        org.currencies = [
            {"Code": code, "Description": cat.CURRENCY_DESCRIPTIONS[code]}
            for code in spec.currencies
        ]
        org.branding_themes = [
            {
                "BrandingThemeID": new_id(rng),
                "Name": name,
                "Type": "INVOICE",
                "SortOrder": order,
                "CreatedDateUTC": ms_date(today - timedelta(days=900 - order), 10),
            }
            for name, order in cat.BRANDING_THEMES
        ]
        regional = [c for c in customers if c.region == spec.region]
        org.contacts = _contacts(rng, spec, regional, today)
        org.items = _items(rng, spec, products, today)
        orgs.append(org)
    return orgs


def apps(custom_tenant_id: str) -> list[XeroApp]:
    return [
        XeroApp(SANDBOX_XERO_PKCE_CLIENT_ID, None, "pkce", list(REDIRECT_URIS)),
        XeroApp(
            SANDBOX_XERO_CODE_CLIENT_ID,
            SANDBOX_XERO_CODE_CLIENT_SECRET,
            "code",
            list(REDIRECT_URIS),
        ),
        # A custom connection has no browser step, hence no redirect URI, and one organisation.
        XeroApp(
            SANDBOX_XERO_CUSTOM_CLIENT_ID,
            SANDBOX_XERO_CUSTOM_CLIENT_SECRET,
            "custom",
            [],
            custom_tenant_id=custom_tenant_id,
        ),
    ]


def _accounts(rng: random.Random, spec: cat.XeroOrgSpec, updated: str) -> list[Record]:
    tax_for = {"sales": spec.sales_tax, "purchase": spec.purchase_tax, "none": spec.no_tax}
    accounts = []
    for code, name, kind, klass, tax, system, status in cat.CHART_OF_ACCOUNTS:
        if code == "820":
            name = "GST" if spec.country_code == "AU" else "VAT"
        account: Record = {
            "AccountID": new_id(rng),
            "Code": code,
            "Name": name,
            "Type": kind,
            "Status": status,
            "Class": klass,
            "TaxType": tax_for[tax],
            "EnablePaymentsToAccount": False,
            "ShowInExpenseClaims": kind in ("EXPENSE", "OVERHEADS") and tax == "purchase",
            "ReportingCode": klass[:3],
            "ReportingCodeName": klass.title(),
            "HasAttachments": False,
            "AddToWatchlist": False,
            "UpdatedDateUTC": updated,
        }
        if system:
            account["SystemAccount"] = system
        if kind == "BANK":
            account |= {
                "BankAccountNumber": "062000 12345678"
                if spec.country_code == "AU"
                else "20-00-00 43218765",
                "BankAccountType": "BANK",
                "CurrencyCode": spec.base_currency,
                "EnablePaymentsToAccount": True,
            }
        accounts.append(account)
    return accounts


def _tax_rates(spec: cat.XeroOrgSpec) -> list[Record]:
    rates = []
    for name, tax_type, report, rate, component, revenue, expenses, status in cat.XERO_TAX_RATES[
        spec.country_code
    ]:
        rates.append(
            {
                "Name": name,
                "TaxType": tax_type,
                "ReportTaxType": report,
                "Status": status,
                "TaxComponents": [
                    {
                        "Name": component,
                        "Rate": rate,
                        "IsCompound": False,
                        "IsNonRecoverable": False,
                    }
                ],
                "CanApplyToAssets": expenses,
                "CanApplyToEquity": expenses,
                "CanApplyToExpenses": expenses,
                "CanApplyToLiabilities": expenses,
                "CanApplyToRevenue": revenue,
                "DisplayTaxRate": rate,
                "EffectiveRate": rate,
            }
        )
    return rates


# --- contacts -------------------------------------------------------------------------------


def near_duplicate(rng: random.Random, name: str) -> str:
    """A name a bookkeeper might have typed for the same company in Xero."""
    variants = []
    if "Pty Ltd" in name:
        variants += [name.replace("Pty Ltd", "Pty. Ltd."), name.replace(" Pty Ltd", "")]
    if name.endswith(" Ltd"):
        variants.append(name[: -len("Ltd")] + "Limited")
    if name.endswith(" Limited"):
        variants.append(name[: -len("Limited")] + "Ltd")
    if " & " in name:
        variants.append(name.replace(" & ", " and "))
    variants += [name.upper(), name.lower(), name.replace(" ", "  ", 1), name + " ", name.title()]
    words = name.split(" ")
    if len(words) > 2:
        variants.append(words[0] + words[1] + " " + " ".join(words[2:]))  # a missing space
    different = [v for v in variants if v != name]
    return rng.choice(different) if different else name + " (AU)"


def _contacts(
    rng: random.Random, spec: cat.XeroOrgSpec, customers: Sequence[Customer], today: date
) -> list[Record]:
    contacts: list[Record] = []
    taken: set[str] = set()  # Xero: Name unique among ACTIVE contacts, case-insensitively

    def add(record: Record) -> None:
        if record["ContactStatus"] == "ACTIVE":
            key = record["Name"].strip().casefold()
            if key in taken:
                return
            taken.add(key)
        contacts.append(record)

    count = max(min(3, len(customers)), round(len(customers) * EXISTING_CONTACT_SHARE))
    for position, customer in enumerate(rng.sample(list(customers), count)):
        keyed_by = ("number", "account", "name")[position % 3]
        record = _contact(rng, customer, near_duplicate(rng, customer.name), spec, today)
        if keyed_by == "number":
            record["ContactNumber"] = str(customer.id)
        elif keyed_by == "account" and customer.number:
            record["AccountNumber"] = customer.number
        add(record)
        if position % 10 == 4:  # a second, archived record of the same company
            old = _contact(rng, customer, customer.name, spec, today)
            old["ContactStatus"] = "ARCHIVED"
            add(old)
        if position % 10 == 7:  # two live lookalikes: matching by name alone is ambiguous
            add(
                _contact(
                    rng,
                    customer,
                    customer.name.split(" ")[0] + " " + customer.name.split(" ")[-1],
                    spec,
                    today,
                )
            )
    for name, region, currency in cat.VENDORS:
        if region == spec.region:
            supplier = {
                "ContactID": new_id(rng),
                "Name": name,
                "ContactStatus": "ACTIVE",
                "EmailAddress": f"orders@{name.split(' ')[0].lower()}.example",
                "IsSupplier": True,
                "IsCustomer": False,
                "Addresses": [{"AddressType": "POBOX", "City": cat.CITIES[region][0][0]}],
                "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": "1300 000 000"}],
                "UpdatedDateUTC": ms_date(today - timedelta(days=400), 11),
                "HasAttachments": False,
                "HasValidationErrors": False,
            }
            if currency in spec.currencies:
                supplier["DefaultCurrency"] = currency
            add(supplier)
    return contacts


def _contact(
    rng: random.Random, customer: Customer, name: str, spec: cat.XeroOrgSpec, today: date
) -> Record:
    record: Record = {
        "ContactID": new_id(rng),
        "Name": name,
        "ContactStatus": "ACTIVE",
        "FirstName": customer.first_name,
        "LastName": customer.last_name,
        "EmailAddress": customer.email,
        "Addresses": [
            {
                "AddressType": "POBOX",
                "AddressLine1": customer.street,
                "City": customer.city,
                "Region": customer.state,
                "PostalCode": customer.postcode,
                "Country": "Australia" if customer.region == "AU" else "United Kingdom",
            },
            {"AddressType": "STREET"},
        ],
        "Phones": [
            {
                "PhoneType": "DEFAULT",
                "PhoneNumber": f"{rng.randint(8000, 9999)} {rng.randint(1000, 9999)}",
            }
        ],
        "IsSupplier": False,
        "IsCustomer": True,
        "UpdatedDateUTC": ms_date(today - timedelta(days=rng.randint(30, 700)), 10),
        "HasAttachments": False,
        "HasValidationErrors": False,
    }
    if customer.currency in spec.currencies:
        record["DefaultCurrency"] = customer.currency
    return record


# --- items ----------------------------------------------------------------------------------


def _items(
    rng: random.Random, spec: cat.XeroOrgSpec, products: Sequence[Record], today: date
) -> list[Record]:
    """Items for about 40% of the products (Code = sku), as if created by hand earlier."""
    rate = {"AUD": 1.0, "GBP": 0.5187}[spec.base_currency]
    items = []
    for product in products:
        if rng.random() > 0.4:
            continue
        price = round(float(product["unitPrice"]) * rate, 2)
        cost = round(float(product["unitCost"]) * rate, 2)
        items.append(
            {
                "ItemID": new_id(rng),
                "Code": str(product["sku"]),
                "Name": str(product["name"])[:50],  # Xero caps Item.Name at 50 characters
                "Description": str(product["description"]),
                "PurchaseDescription": str(product["description"]),
                "IsSold": True,
                "IsPurchased": True,
                "IsTrackedAsInventory": False,
                "SalesDetails": {
                    "UnitPrice": price,
                    "AccountCode": "200",
                    "TaxType": spec.sales_tax,
                },
                "PurchaseDetails": {
                    "UnitPrice": cost,
                    "AccountCode": "310",
                    "TaxType": spec.purchase_tax,
                },
                "UpdatedDateUTC": ms_date(today - timedelta(days=rng.randint(60, 600)), 15),
            }
        )
    return items
