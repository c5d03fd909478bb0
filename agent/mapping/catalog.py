"""One Xero organisation's catalogs as mapping sees them: the store's cached PascalCase records.

Records are read defensively (a field may be missing or of an odd type in a cached copy): every
accessor returns ``""`` / ``None`` rather than raising. Lookups are indexed once per catalog.

Usable means what Xero will accept on a sales line (reference xero-api §11): an account that is
ACTIVE, not a bank account and not a system account; a tax rate that is ACTIVE and allowed for
the account's class (``CanApplyToRevenue`` for a REVENUE account, and so on).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any

from agent.mapping.text import name_key

Record = Mapping[str, Any]

# Account Class -> the TaxRate flag Xero checks ("The TaxType code … cannot be used with account
# code …", Xero-Java#336, reference §11).
CLASS_TAX_FLAG = {
    "REVENUE": "CanApplyToRevenue",
    "EXPENSE": "CanApplyToExpenses",
    "ASSET": "CanApplyToAssets",
    "LIABILITY": "CanApplyToLiabilities",
    "EQUITY": "CanApplyToEquity",
}


def text(record: Record | None, key: str) -> str:
    """A field as stripped text; "" when missing or not text-like."""
    if record is None:
        return ""
    value = record.get(key)
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    return ""


def decimal_field(record: Record | None, key: str) -> Decimal | None:
    """A numeric field as a finite Decimal (floats via their shortest repr), else None."""
    value = None if record is None else record.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        found = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return found if found.is_finite() else None


def is_active(record: Record) -> bool:
    """ACTIVE, or no Status at all (hand-made catalogs); ARCHIVED/DELETED/... are not."""
    status = text(record, "Status") or text(record, "ContactStatus")
    return status in ("", "ACTIVE")


@dataclass(frozen=True)
class OrgCatalog:
    name: str
    base_currency: str
    country_code: str = ""
    accounts: Sequence[Record] = ()
    tax_rates: Sequence[Record] = ()
    currencies: Sequence[Record] = ()
    branding_themes: Sequence[Record] = ()
    contacts: Sequence[Record] = ()
    items: Sequence[Record] = ()

    @classmethod
    def from_cached(
        cls,
        *,
        name: str,
        base_currency: str,
        country_code: str = "",
        catalogs: Mapping[str, Sequence[Record] | None],
    ) -> OrgCatalog:
        """From ``agent.store.catalogs`` records by catalog name; a missing catalog is empty."""
        return cls(
            name=name,
            base_currency=base_currency.strip().upper(),
            country_code=country_code,
            **{
                key: tuple(r for r in catalogs.get(key) or () if isinstance(r, Mapping))
                for key in (
                    "accounts",
                    "tax_rates",
                    "currencies",
                    "branding_themes",
                    "contacts",
                    "items",
                )
            },
        )

    # -- indexes ---------------------------------------------------------------------------

    @cached_property
    def _accounts(self) -> dict[str, Record]:
        return _index(self.accounts, "Code")

    @cached_property
    def _tax_rates(self) -> dict[str, Record]:
        return _index(self.tax_rates, "TaxType")

    @cached_property
    def _currencies(self) -> set[str]:
        return {text(c, "Code").upper() for c in self.currencies} | {self.base_currency}

    @cached_property
    def _themes(self) -> dict[str, Record]:
        return _index(self.branding_themes, "BrandingThemeID", fold=True)

    @cached_property
    def _contacts(self) -> dict[str, Record]:
        return _index(self.contacts, "ContactID", fold=True)

    @cached_property
    def _items(self) -> dict[str, Record]:
        return _index(self.items, "Code")

    # Contact matching runs once per invoice against every contact: these group the contacts
    # (in catalog order) by each key a rule compares, so a match is one dict lookup.

    @cached_property
    def _contacts_by_number(self) -> dict[str, list[Record]]:
        return _group(self.contacts, lambda c: text(c, "ContactNumber"))

    @cached_property
    def _contacts_by_account_number(self) -> dict[str, list[Record]]:
        return _group(self.contacts, lambda c: text(c, "AccountNumber").casefold())

    @cached_property
    def _active_contacts_by_name(self) -> dict[str, list[Record]]:
        active = [c for c in self.contacts if is_active(c)]
        return _group(active, lambda c: name_key(text(c, "Name")))

    # -- lookups ---------------------------------------------------------------------------

    def account(self, code: str) -> Record | None:
        return self._accounts.get(code.strip())

    def tax_rate(self, tax_type: str) -> Record | None:
        return self._tax_rates.get(tax_type.strip())

    def currency_enabled(self, code: str) -> bool:
        return code.strip().upper() in self._currencies

    def branding_theme(self, theme_id: str) -> Record | None:
        return self._themes.get(theme_id.strip().casefold())

    def contact(self, contact_id: str) -> Record | None:
        return self._contacts.get(contact_id.strip().casefold())

    def item(self, code: str) -> Record | None:
        return self._items.get(code.strip())

    def contacts_numbered(self, number: str) -> list[Record]:
        """Every contact (archived too) whose ContactNumber is ``number``, in catalog order."""
        return list(self._contacts_by_number.get(number, ()))

    def contacts_with_account_number(self, account_number: str) -> list[Record]:
        """Every contact (archived too) whose AccountNumber is ``account_number``, ignoring
        case, in catalog order."""
        return list(self._contacts_by_account_number.get(account_number.casefold(), ()))

    def active_contacts_named(self, key: str) -> list[Record]:
        """Active contacts whose ``name_key`` is ``key``, in catalog order."""
        return list(self._active_contacts_by_name.get(key, ()))

    def rounding_account(self) -> Record | None:
        """The account Xero keeps for rounding: found by SystemAccount, never by code (§11)."""
        return next((a for a in self.accounts if text(a, "SystemAccount") == "ROUNDING"), None)


def _index(records: Sequence[Record], key: str, *, fold: bool = False) -> dict[str, Record]:
    found: dict[str, Record] = {}
    for record in records:
        value = text(record, key)
        if value:
            # An active record wins over an archived one with the same key.
            slot = value.casefold() if fold else value
            if slot not in found or (is_active(record) and not is_active(found[slot])):
                found[slot] = record
    return found


def _group(records: Sequence[Record], key: Callable[[Record], str]) -> dict[str, list[Record]]:
    found: dict[str, list[Record]] = {}
    for record in records:
        value = key(record)
        if value:
            found.setdefault(value, []).append(record)
    return found


def account_problem(account: Record | None, code: str) -> str | None:
    """Why ``code`` cannot take a sales line, or None when it can."""
    if account is None:
        return f"there is no account {code} in Xero"
    status = text(account, "Status")
    if status and status != "ACTIVE":
        return f"account {describe_account(account)} is {status.lower()} in Xero"
    if text(account, "Type") == "BANK":
        return f"account {describe_account(account)} is a bank account"
    if text(account, "SystemAccount"):
        return (
            f"account {describe_account(account)} is a system account "
            f"({text(account, 'SystemAccount')})"
        )
    return None


def describe_account(account: Record) -> str:
    name = text(account, "Name")
    return f'{text(account, "Code")} "{name}"' if name else text(account, "Code")


def tax_rate_problem(rate: Record | None, tax_type: str, account: Record | None) -> str | None:
    """Why ``tax_type`` cannot be sent (on ``account``, when given), or None when it can."""
    if rate is None:
        return f"there is no tax rate {tax_type} in Xero"
    status = text(rate, "Status")
    if status and status != "ACTIVE":
        return f'tax rate {tax_type} "{text(rate, "Name")}" is {status.lower()} in Xero'
    effective = decimal_field(rate, "EffectiveRate")
    if effective is None or not Decimal(0) <= effective <= Decimal(100):
        return f"tax rate {tax_type} has no usable EffectiveRate in the cached catalog"
    if account is not None:
        flag = CLASS_TAX_FLAG.get(text(account, "Class"))
        if flag and rate.get(flag) is False:
            return (
                f"Xero does not allow tax rate {tax_type} on account "
                f"{describe_account(account)} ({text(account, 'Class').lower()})"
            )
    return None
