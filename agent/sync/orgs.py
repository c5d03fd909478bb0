"""One Xero organisation as a cycle sees it: fresh-enough catalogs, mappings and options.

Catalogs are fetched again when one is missing or older than ``catalog_max_age_hours`` (a day by
default), or on demand (``atx sync --refresh-catalogs``); a refresh is about seven calls. The
organisation's name, base currency and country are kept in the store beside them, so a new
process does not spend a call on them.

``fingerprint`` condenses everything mapping reads apart from the snapshot (mappings, options,
catalog fetch times): when it differs from the last cycle's, blocked rows are mapped again, which
is how a saved mapping unblocks invoices by itself.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from agent.config import Settings
from agent.mapping import MappingOptions, MappingTables, OrgCatalog
from agent.store import ALL_ORGS, CATALOGS, MappingEntry, OutboxKind, OutboxState, Store
from agent.store.canonical import canonical_json, content_hash
from agent.sync.options import RuntimeView, mapping_options
from agent.xero import XeroClient

ORG_STREAM = "xero.organisation"
CONTEXT_STREAM = "sync.context"


@dataclass(frozen=True)
class OrgInfo:
    tenant_id: str
    name: str
    base_currency: str
    country_code: str
    short_code: str = ""  # Xero's "!abc12" code (deep links); "" when unknown

    def to_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class OrgContext:
    info: OrgInfo
    catalog: OrgCatalog
    tables: MappingTables
    options: MappingOptions
    fingerprint: str

    @property
    def tenant_id(self) -> str:
        return self.info.tenant_id

    @property
    def name(self) -> str:
        return self.info.name or self.info.tenant_id


def oldest_catalog(store: Store, tenant_id: str) -> datetime | None:
    """When the stalest catalog was fetched; None if one was never fetched."""
    times = []
    for name in CATALOGS:
        cached = store.catalogs.get_catalog(tenant_id, name)
        if cached is None:
            return None
        times.append(cached.fetched_at)
    return min(times)


def ensure_catalogs(
    xero: XeroClient,
    store: Store,
    tenant_id: str,
    *,
    max_age: timedelta,
    now: datetime,
    force: bool = False,
) -> bool:
    """Refresh the organisation's catalogs when missing, stale or asked for; True if fetched."""
    oldest = oldest_catalog(store, tenant_id)
    if not force and oldest is not None and now - oldest <= max_age:
        return False
    xero.refresh_catalogs(tenant_id)
    _remember(store, xero, tenant_id)
    return True


def organisation_info(xero: XeroClient, store: Store, tenant_id: str) -> OrgInfo:
    """Name, base currency, country: kept in the store, fetched (1 call) when missing."""
    return stored_info(store, tenant_id) or _remember(store, xero, tenant_id)


def _remember(store: Store, xero: XeroClient, tenant_id: str) -> OrgInfo:
    org = xero.organisation(tenant_id)
    info = OrgInfo(tenant_id, org.name, org.base_currency, org.country_code, org.short_code or "")
    store.cursors.set(ORG_STREAM, canonical_json(info.to_dict()), tenant_id)
    return info


def stored_info(store: Store, tenant_id: str) -> OrgInfo | None:
    """The organisation facts kept by an earlier refresh, without any call (offline use)."""
    stored = store.cursors.get(ORG_STREAM, tenant_id)
    if not stored:
        return None
    try:
        return OrgInfo(**json.loads(stored))
    except (TypeError, ValueError):
        return None  # written by another version: fetched again


def build_context(
    store: Store,
    settings: Settings,
    runtime: RuntimeView,
    info: OrgInfo,
    entries: Sequence[MappingEntry],
    today: date,
) -> OrgContext:
    """Everything mapping needs for one organisation, from the store only (no calls)."""
    records: dict[str, list[dict[str, Any]]] = {}
    fetched: dict[str, str | None] = {}
    for name in CATALOGS:
        cached = store.catalogs.get_catalog(info.tenant_id, name)
        records[name] = cached.records if cached else []
        fetched[name] = cached.fetched_at.isoformat() if cached else None
    catalog = OrgCatalog.from_cached(
        name=info.name or info.tenant_id,
        base_currency=info.base_currency,
        country_code=info.country_code,
        catalogs=records,
    )
    own = [e for e in entries if e.org in (ALL_ORGS, info.tenant_id)]
    known = known_items(store, info.tenant_id)
    tables = dataclasses.replace(MappingTables.from_entries(own, info.tenant_id), known_items=known)
    options = mapping_options(settings, runtime, info.tenant_id, catalog, today)
    fingerprint = content_hash(
        {
            "mappings": sorted((e.org, e.mapping_type, e.source_key, e.target) for e in own),
            "options": {k: v for k, v in dataclasses.asdict(options).items() if k != "today"},
            "catalogs": fetched,
            "info": info.to_dict(),
            "known_items": sorted(known.items()),
        }
    )
    return OrgContext(info, catalog, tables, options, fingerprint)


def known_items(store: Store, tenant_id: str) -> dict[str, str]:
    """``"<product|service|bundle>:<id>"`` -> Item Code of the Xero items the item sync created
    or matched in the organisation (``agent.sync.items``): an input of mapping."""
    rows = store.outbox.list_rows(
        states=[OutboxState.POSTED, OutboxState.DONE],
        kind=OutboxKind.ITEM,
        org=tenant_id,
        limit=1_000_000,
    )
    return {r.autotask_id: r.xero_number for r in rows if r.xero_number}


def context_changed(store: Store, context: OrgContext) -> bool:
    return store.cursors.get(CONTEXT_STREAM, context.tenant_id) != context.fingerprint


def remember_context(store: Store, context: OrgContext) -> None:
    store.cursors.set(CONTEXT_STREAM, context.fingerprint, context.tenant_id)
