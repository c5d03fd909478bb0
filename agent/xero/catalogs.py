"""Xero catalogs (accounts, tax rates, currencies, branding themes, contacts, items), cached in
the store and fetched again only on an explicit refresh (or when never fetched).

Records are stored in Xero's wire form (PascalCase keys, JSON numbers), exactly as Xero sent
them. An ARCHIVED or DELETED account or tax rate is kept in the cache (the mapping screen can
say why a code no longer works) but the helpers below treat it as absent: a document is never
built with it (reference §11, §15 #6).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from agent.store import CATALOGS, Store
from agent.xero.gateway import XeroGateway

INACTIVE = frozenset({"ARCHIVED", "DELETED"})
CONTACT_PAGE_SIZE = 1000  # the most Xero pages at once (reference §10)

# catalog -> (AccountingApi method, collection in the answer, extra arguments)
_FETCH: dict[str, tuple[str, str, dict[str, Any]]] = {
    "accounts": ("get_accounts", "Accounts", {}),
    "tax_rates": ("get_tax_rates", "TaxRates", {}),
    "currencies": ("get_currencies", "Currencies", {}),
    "branding_themes": ("get_branding_themes", "BrandingThemes", {}),
    "items": ("get_items", "Items", {"unitdp": 4}),
}

Record = dict[str, Any]


@dataclass(frozen=True)
class Organisation:
    tenant_id: str
    name: str
    base_currency: str
    country_code: str
    short_code: str | None
    period_lock_date: str | None  # Xero's wire date text, e.g. "/Date(1700000000000+0000)/"
    end_of_year_lock_date: str | None
    record: Record = field(repr=False, default_factory=dict)


def plain(value: Any) -> Any:
    """Decimals (how answers are parsed) back to JSON numbers, for storage."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def fetch_catalog(gateway: XeroGateway, tenant_id: str, catalog: str) -> list[Record]:
    if catalog == "contacts":
        return _fetch_contacts(gateway, tenant_id)
    if catalog not in _FETCH:
        raise ValueError(f"unknown Xero catalog {catalog!r}; expected one of {', '.join(CATALOGS)}")
    operation, collection, extra = _FETCH[catalog]
    reply = gateway.call(tenant_id, operation, **extra)
    return _records(reply.body, collection)


def _fetch_contacts(gateway: XeroGateway, tenant_id: str) -> list[Record]:
    # Archived contacts too: the mapping must see that a matching contact exists but is archived.
    found: list[Record] = []
    page = 1
    while True:
        reply = gateway.call(
            tenant_id,
            "get_contacts",
            page=page,
            page_size=CONTACT_PAGE_SIZE,
            include_archived="true",
        )
        batch = _records(reply.body, "Contacts")
        found.extend(batch)
        pagination = reply.body.get("pagination") if isinstance(reply.body, dict) else None
        pages = pagination.get("pageCount") if isinstance(pagination, dict) else None
        if (
            not batch
            or (isinstance(pages, int) and page >= pages)
            or len(batch) < CONTACT_PAGE_SIZE
        ):
            return found
        page += 1


def _records(body: Any, collection: str) -> list[Record]:
    items = body.get(collection) if isinstance(body, dict) else None
    return [plain(r) for r in items or [] if isinstance(r, dict)]


def refresh_catalogs(
    gateway: XeroGateway, store: Store, tenant_id: str, catalogs: Iterable[str] = CATALOGS
) -> dict[str, list[Record]]:
    """Fetch each catalog and replace its cached copy; returns what was stored."""
    fetched: dict[str, list[Record]] = {}
    for catalog in catalogs:
        records = fetch_catalog(gateway, tenant_id, catalog)
        store.catalogs.replace_catalog(tenant_id, catalog, records)
        fetched[catalog] = records
    return fetched


def cached_catalog(
    gateway: XeroGateway, store: Store, tenant_id: str, catalog: str
) -> list[Record]:
    """The cached catalog; fetched (and cached) only when it was never fetched."""
    cached = store.catalogs.get_catalog(tenant_id, catalog)
    if cached is not None:
        return cached.records
    return refresh_catalogs(gateway, store, tenant_id, [catalog])[catalog]


def fetch_organisation(gateway: XeroGateway, tenant_id: str) -> Organisation:
    reply = gateway.call(tenant_id, "get_organisations")
    records = _records(reply.body, "Organisations")
    if not records:
        raise ValueError(f"Xero listed no organisation for tenant {tenant_id}")
    org = records[0]
    return Organisation(
        tenant_id=tenant_id,
        name=str(org.get("Name") or ""),
        base_currency=str(org.get("BaseCurrency") or ""),
        country_code=str(org.get("CountryCode") or ""),
        short_code=org.get("ShortCode"),
        period_lock_date=org.get("PeriodLockDate"),
        end_of_year_lock_date=org.get("EndOfYearLockDate"),
        record=org,
    )


# -- what counts as present -------------------------------------------------------------------


def is_active(record: Mapping[str, Any], status_field: str = "Status") -> bool:
    """No status means active (Xero omits it on some records)."""
    return str(record.get(status_field) or "ACTIVE").upper() not in INACTIVE


def active_accounts(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in records if is_active(r)]


def active_tax_rates(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in records if is_active(r)]


def active_contacts(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in records if str(r.get("ContactStatus") or "ACTIVE").upper() == "ACTIVE"]


def find_account(records: Iterable[Mapping[str, Any]], code: str) -> Mapping[str, Any] | None:
    """The active account with ``code`` (case-insensitive); None if missing or archived."""
    wanted = code.strip().lower()
    return next(
        (r for r in active_accounts(records) if str(r.get("Code") or "").lower() == wanted), None
    )


def find_tax_rate(records: Iterable[Mapping[str, Any]], tax_type: str) -> Mapping[str, Any] | None:
    """The active tax rate whose ``TaxType`` code is ``tax_type``; None if missing or archived."""
    wanted = tax_type.strip().upper()
    return next(
        (r for r in active_tax_rates(records) if str(r.get("TaxType") or "").upper() == wanted),
        None,
    )
