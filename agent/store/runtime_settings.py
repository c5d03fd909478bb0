"""Settings edited from the UI at run time: a key -> JSON value table."""

from __future__ import annotations

import json
from typing import Any

from agent.store.canonical import canonical_json
from agent.store.clock import to_db
from agent.store.db import StoreDB


class RuntimeSettings:
    def __init__(self, store_db: StoreDB) -> None:
        self._db = store_db

    def get(self, key: str, default: Any = None) -> Any:
        found = self._db.query_one("SELECT value_json FROM runtime_settings WHERE key = ?", (key,))
        return default if found is None else json.loads(found["value_json"])

    def set(self, key: str, value: Any) -> None:
        if not key:
            raise ValueError("a setting needs a key")
        with self._db.write():
            self._db.execute(
                "INSERT INTO runtime_settings (key, value_json, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value_json = excluded.value_json,"
                " updated_at = excluded.updated_at",
                (key, canonical_json(value), to_db(self._db.now())),
            )

    def delete(self, key: str) -> bool:
        with self._db.write():
            return bool(
                self._db.execute("DELETE FROM runtime_settings WHERE key = ? RETURNING key", (key,))
            )

    def all(self) -> dict[str, Any]:
        rows = self._db.query("SELECT key, value_json FROM runtime_settings ORDER BY key")
        return {r["key"]: json.loads(r["value_json"]) for r in rows}
