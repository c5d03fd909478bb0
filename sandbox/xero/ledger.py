"""One organisation's books in the simulated Xero: reference data, documents, lookups, numbering.

The record lists are the ``XeroOrg`` lists of the world itself (so a test can look at
``world.xero_orgs[0].invoices``); seeded records are normalised in place on start-up: missing ids,
statuses and timestamps are filled in and values become Python types (``Decimal``, ``date``,
``datetime``). Wire formatting happens only in ``render``/``serialize``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sandbox.clock import SandboxClock
from sandbox.world import Record, XeroOrg
from sandbox.xero.serialize import parse_datetime, to_decimal

# Account Type -> Class, as Xero's chart groups them [spec `AccountType`, `Account.Class`].
ACCOUNT_CLASS = {
    "BANK": "ASSET",
    "CURRENT": "ASSET",
    "FIXED": "ASSET",
    "INVENTORY": "ASSET",
    "NONCURRENT": "ASSET",
    "PREPAYMENT": "ASSET",
    "CURRLIAB": "LIABILITY",
    "LIABILITY": "LIABILITY",
    "TERMLIAB": "LIABILITY",
    "PAYG": "LIABILITY",
    "DEPRECIATN": "EXPENSE",
    "DIRECTCOSTS": "EXPENSE",
    "EXPENSE": "EXPENSE",
    "OVERHEADS": "EXPENSE",
    "EQUITY": "EQUITY",
    "OTHERINCOME": "REVENUE",
    "REVENUE": "REVENUE",
    "SALES": "REVENUE",
}

# Account Class -> the TaxRate flag that allows a rate on it [spec `TaxRate.CanApplyTo*`].
CLASS_TAX_FLAG = {
    "REVENUE": "CanApplyToRevenue",
    "EXPENSE": "CanApplyToExpenses",
    "ASSET": "CanApplyToAssets",
    "LIABILITY": "CanApplyToLiabilities",
    "EQUITY": "CanApplyToEquity",
}

# Xero's default numbering prefixes (Invoice Settings; spec `Invoice.InvoiceNumber` etc.).
NUMBER_PREFIX = {"invoice": "INV-", "credit_note": "CN-", "purchase_order": "PO-"}


def stable_id(tenant_id: str, kind: str, natural_key: str) -> str:
    """Seeded records without an id get one derived from their natural key: stable across runs."""
    return str(
        uuid.uuid5(
            uuid.UUID(tenant_id) if _is_uuid(tenant_id) else uuid.NAMESPACE_URL,
            f"{kind}:{natural_key}",
        )
    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class Ledger:
    def __init__(self, org: XeroOrg, clock: SandboxClock) -> None:
        self.org = org
        self.clock = clock
        self.tenant_id = org.tenant_id
        # Not on XeroOrg: XeroService.set_lock_dates sets them [spec `Organisation.PeriodLockDate`].
        self.period_lock_date: date | None = None
        self.end_of_year_lock_date: date | None = None
        self.created = clock.now()
        self._counters: dict[str, int] = {}
        self._normalise_reference_data()

    # -- time -------------------------------------------------------------------------------------

    def now(self) -> datetime:
        """Sandbox time to the millisecond, the resolution of Xero's `/Date(ms)/` timestamps."""
        moment = self.clock.now().astimezone(UTC)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    # -- seeded reference data --------------------------------------------------------------------

    def _normalise_reference_data(self) -> None:
        org, now = self.org, self.now()
        for account in org.accounts:
            account.setdefault("AccountID", stable_id(self.tenant_id, "account", account["Code"]))
            account.setdefault("Status", "ACTIVE")
            account.setdefault("Class", ACCOUNT_CLASS.get(account.get("Type", ""), "EXPENSE"))
            account.setdefault("EnablePaymentsToAccount", False)
            account.setdefault("ShowInExpenseClaims", False)
            account.setdefault("HasAttachments", False)
            account["UpdatedDateUTC"] = parse_datetime(account.get("UpdatedDateUTC", now))
        for rate in org.tax_rates:
            rate.setdefault("Status", "ACTIVE")
            effective = to_decimal(rate.get("EffectiveRate", rate.get("DisplayTaxRate", 0)))
            rate["EffectiveRate"] = effective
            rate["DisplayTaxRate"] = to_decimal(rate.get("DisplayTaxRate", effective))
            rate.setdefault("Name", rate["TaxType"])
            rate.setdefault(
                "TaxComponents",
                [
                    {
                        "Name": rate["Name"],
                        "Rate": effective,
                        "IsCompound": False,
                        "IsNonRecoverable": False,
                    }
                ],
            )
            for flag in CLASS_TAX_FLAG.values():
                rate.setdefault(flag, True)
        codes = {c.get("Code") for c in org.currencies}
        if org.base_currency not in codes:
            org.currencies.insert(0, {"Code": org.base_currency, "Description": org.base_currency})
        for theme in org.branding_themes:
            theme.setdefault("BrandingThemeID", stable_id(self.tenant_id, "theme", theme["Name"]))
            theme.setdefault("Type", "INVOICE")
            theme.setdefault("SortOrder", 0)
            theme["CreatedDateUTC"] = parse_datetime(theme.get("CreatedDateUTC", now))
        for contact in org.contacts:
            key = contact.get("ContactNumber") or contact.get("Name", "")
            contact.setdefault("ContactID", stable_id(self.tenant_id, "contact", key))
            contact.setdefault("ContactStatus", "ACTIVE")
            contact["UpdatedDateUTC"] = parse_datetime(contact.get("UpdatedDateUTC", now))
        for item in org.items:
            item.setdefault("ItemID", stable_id(self.tenant_id, "item", item["Code"]))
            item.setdefault("IsSold", "SalesDetails" in item)
            item.setdefault("IsPurchased", "PurchaseDetails" in item)
            item.setdefault("IsTrackedAsInventory", False)
            for details in ("SalesDetails", "PurchaseDetails"):
                if "UnitPrice" in item.get(details, {}):
                    item[details]["UnitPrice"] = to_decimal(item[details]["UnitPrice"])
            item["UpdatedDateUTC"] = parse_datetime(item.get("UpdatedDateUTC", now))

    # -- lookups ----------------------------------------------------------------------------------

    def account(self, code: str | None = None, account_id: str | None = None) -> Record | None:
        for account in self.org.accounts:
            if code is not None and account.get("Code") == code:
                return account
            if account_id is not None and account["AccountID"].lower() == account_id.lower():
                return account
        return None

    def tax_rate(self, tax_type: str) -> Record | None:
        return next((r for r in self.org.tax_rates if r.get("TaxType") == tax_type), None)

    def currency_enabled(self, code: str) -> bool:
        return any(c.get("Code") == code for c in self.org.currencies)

    def branding_theme(self, theme_id: str) -> Record | None:
        return _by_id(self.org.branding_themes, "BrandingThemeID", theme_id)

    def contact(self, contact_id: str) -> Record | None:
        return _by_id(self.org.contacts, "ContactID", contact_id)

    def contact_by_number(self, number: str) -> Record | None:
        return next((c for c in self.org.contacts if c.get("ContactNumber") == number), None)

    def active_contact_by_name(self, name: str) -> Record | None:
        # Names are unique among active contacts, compared case-insensitively (reference §11).
        wanted = name.strip().lower()
        return next(
            (
                c
                for c in self.org.contacts
                if c.get("ContactStatus") == "ACTIVE" and str(c.get("Name", "")).lower() == wanted
            ),
            None,
        )

    def item(self, code: str | None = None, item_id: str | None = None) -> Record | None:
        if item_id:
            return _by_id(self.org.items, "ItemID", item_id)
        return next((i for i in self.org.items if i.get("Code") == code), None)

    def invoice(self, key: str) -> Record | None:
        """By InvoiceID or, as Xero also accepts in the path, by InvoiceNumber."""
        return _by_id(self.org.invoices, "InvoiceID", key) or next(
            (i for i in self.org.invoices if i.get("InvoiceNumber") == key), None
        )

    def credit_note(self, key: str) -> Record | None:
        return _by_id(self.org.credit_notes, "CreditNoteID", key) or next(
            (n for n in self.org.credit_notes if n.get("CreditNoteNumber") == key), None
        )

    def purchase_order(self, key: str) -> Record | None:
        return _by_id(self.org.purchase_orders, "PurchaseOrderID", key) or next(
            (p for p in self.org.purchase_orders if p.get("PurchaseOrderNumber") == key), None
        )

    def payment(self, payment_id: str) -> Record | None:
        return _by_id(self.org.payments, "PaymentID", payment_id)

    def bank_account(self) -> Record | None:
        """The account a payment lands in when none is named (the first active bank account)."""
        return next(
            (a for a in self.org.accounts if a.get("Type") == "BANK" and a["Status"] == "ACTIVE"),
            None,
        )

    # -- numbering --------------------------------------------------------------------------------

    def next_number(self, kind: str, taken: set[str]) -> str:
        """The next number of the organisation's sequence, skipping numbers already used."""
        prefix = NUMBER_PREFIX[kind]
        while True:
            self._counters[kind] = self._counters.get(kind, 0) + 1
            candidate = f"{prefix}{self._counters[kind]:04d}"
            if candidate not in taken:
                return candidate

    def numbers(self, kind: str) -> set[str]:
        field, records = {
            "invoice": ("InvoiceNumber", self.org.invoices),
            "credit_note": ("CreditNoteNumber", self.org.credit_notes),
            "purchase_order": ("PurchaseOrderNumber", self.org.purchase_orders),
        }[kind]
        return {str(r[field]) for r in records if r.get(field)}


@dataclass
class WriteOutcome:
    """One element of a write: the stored record, or the echo of a failed element and why."""

    record: Record | None
    echo: Record
    errors: list[str] = field(default_factory=list)


def _by_id(records: list[Record], field: str, value: str) -> Record | None:
    wanted = value.lower()
    return next((r for r in records if str(r.get(field, "")).lower() == wanted), None)


def decimal_or_none(value: Any) -> Decimal | None:
    return None if value is None else to_decimal(value)
