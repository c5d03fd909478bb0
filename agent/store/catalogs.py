"""Cached Xero catalogs per organisation (accounts, tax rates, ...), replaced whole on refresh."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from agent.store.canonical import canonical_json
from agent.store.clock import from_db, to_db
from agent.store.db import StoreDB

CATALOGS: tuple[str, ...] = (
    "accounts",
    "tax_rates",
    "currencies",
    "branding_themes",
    "contacts",
    "items",
)


class CachedCatalog(NamedTuple):
    records: list[dict[str, Any]]
    fetched_at: datetime


def _checked(catalog: str) -> str:
    if catalog not in CATALOGS:
        raise ValueError(f"unknown Xero catalog {catalog!r}; expected one of {', '.join(CATALOGS)}")
    return catalog


class Catalogs:
    def __init__(self, store_db: StoreDB) -> None:
        self._db = store_db

    def replace_catalog(
        self, org: str, catalog: str, records: Sequence[Mapping[str, Any]]
    ) -> datetime:
        """Store ``records`` as the whole catalog, fetched now. Returns the fetch time."""
        fetched_at = self._db.now()
        with self._db.write():
            self._db.execute(
                "INSERT INTO xero_catalogs (org, catalog, records_json, fetched_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (org, catalog) DO UPDATE SET"
                " records_json = excluded.records_json, fetched_at = excluded.fetched_at",
                (org, _checked(catalog), canonical_json(list(records)), to_db(fetched_at)),
            )
        return fetched_at

    def get_catalog(self, org: str, catalog: str) -> CachedCatalog | None:
        found = self._db.query_one(
            "SELECT records_json, fetched_at FROM xero_catalogs WHERE org = ? AND catalog = ?",
            (org, _checked(catalog)),
        )
        if found is None:
            return None
        return CachedCatalog(json.loads(found["records_json"]), from_db(found["fetched_at"]))

    def forget(self, org: str) -> int:
        """Drop every cached catalog of one organisation (e.g. when it is disconnected)."""
        with self._db.write():
            return len(
                self._db.execute("DELETE FROM xero_catalogs WHERE org = ? RETURNING org", (org,))
            )
