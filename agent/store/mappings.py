"""Mappings from Autotask values to Xero values, per organisation or for all of them.

``org = ''`` applies to every organisation; an organisation's own entry overrides it in
``resolve``. ``mapping_type`` is e.g. account, tax, currency, branding_theme, item, contact,
and the routing rules (always ``org = ''``): routing (line of business), routing_company,
routing_udf, routing_currency.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.store.canonical import canonical_json
from agent.store.clock import from_db, to_db
from agent.store.db import StoreDB

ALL_ORGS = ""
KNOWN_MAPPING_TYPES: tuple[str, ...] = (
    "account",
    "tax",
    "currency",
    "branding_theme",
    "item",
    "contact",
    "routing",
    "routing_company",
    "routing_udf",
    "routing_currency",
    "expense_contact",
    "expense_account",
    "purchase_account",
    "purchase_tax",
)
_TYPE_PATTERN = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True, slots=True)
class MappingEntry:
    org: str
    mapping_type: str
    source_key: str
    target: str
    metadata: dict[str, Any]
    updated_at: datetime

    @property
    def is_global(self) -> bool:
        return self.org == ALL_ORGS

    @classmethod
    def from_db(cls, row: Mapping[str, Any]) -> MappingEntry:
        return cls(
            org=row["org"],
            mapping_type=row["mapping_type"],
            source_key=row["source_key"],
            target=row["target"],
            metadata=json.loads(row["metadata_json"]),
            updated_at=from_db(row["updated_at"]),
        )


def _checked_type(mapping_type: str) -> str:
    if not _TYPE_PATTERN.fullmatch(mapping_type):
        raise ValueError(f"mapping type {mapping_type!r} must be lower_snake_case")
    return mapping_type


_SELECT = "SELECT * FROM mappings WHERE org = ? AND mapping_type = ? AND source_key = ?"


class Mappings:
    def __init__(self, store_db: StoreDB) -> None:
        self._db = store_db

    def get(self, org: str, mapping_type: str, source_key: str) -> MappingEntry | None:
        """Exactly the entry for ``org`` (no fallback; see ``resolve``)."""
        found = self._db.query_one(_SELECT, (org, _checked_type(mapping_type), source_key))
        return None if found is None else MappingEntry.from_db(found)

    def set(
        self,
        org: str,
        mapping_type: str,
        source_key: str,
        target: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> MappingEntry:
        with self._db.write():
            saved = self._db.execute(
                "INSERT INTO mappings (org, mapping_type, source_key, target, metadata_json,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (org, mapping_type, source_key) DO UPDATE SET"
                " target = excluded.target, metadata_json = excluded.metadata_json,"
                " updated_at = excluded.updated_at RETURNING *",
                (
                    org,
                    _checked_type(mapping_type),
                    source_key,
                    target,
                    canonical_json(dict(metadata or {})),
                    to_db(self._db.now()),
                ),
            )
        return MappingEntry.from_db(saved[0])

    def delete(self, org: str, mapping_type: str, source_key: str) -> bool:
        with self._db.write():
            return bool(
                self._db.execute(
                    "DELETE FROM mappings WHERE org = ? AND mapping_type = ? AND source_key = ?"
                    " RETURNING id",
                    (org, _checked_type(mapping_type), source_key),
                )
            )

    def list_all(
        self, *, org: str | None = None, mapping_type: str | None = None
    ) -> list[MappingEntry]:
        """Entries filtered by exact org ('' = only the global ones) and/or type."""
        clauses, params = ["1 = 1"], []
        if org is not None:
            clauses.append("org = ?")
            params.append(org)
        if mapping_type is not None:
            clauses.append("mapping_type = ?")
            params.append(_checked_type(mapping_type))
        rows = self._db.query(
            f"SELECT * FROM mappings WHERE {' AND '.join(clauses)}"
            " ORDER BY mapping_type, source_key, org",
            params,
        )
        return [MappingEntry.from_db(r) for r in rows]

    def resolve_all(self, org: str, mapping_type: str) -> dict[str, str]:
        """Source key -> target of a whole mapping type for ``org``, as ``resolve`` decides each
        key: the organisation's own entries over those for all organisations."""
        found: dict[str, str] = {}
        for entry in self.list_all(mapping_type=mapping_type):  # ordered: '' before an org
            if entry.org in (ALL_ORGS, org) and (entry.org == org or entry.source_key not in found):
                found[entry.source_key] = entry.target
        return found

    def resolve(self, org: str, mapping_type: str, source_key: str) -> MappingEntry | None:
        """The organisation's own entry if there is one, else the entry for all organisations."""
        found = self._db.query_one(
            "SELECT * FROM mappings WHERE org IN (?, ?) AND mapping_type = ? AND source_key = ?"
            " ORDER BY org = ? DESC LIMIT 1",
            (org, ALL_ORGS, _checked_type(mapping_type), source_key, org),
        )
        return None if found is None else MappingEntry.from_db(found)
