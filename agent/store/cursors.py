"""Sync cursors (bookmarks): (stream, key) -> text value, e.g. the last-modified time polled.

Callers advance a cursor only after the outbox rows of that page are committed.
"""

from __future__ import annotations

from agent.store.clock import to_db
from agent.store.db import StoreDB


class Cursors:
    def __init__(self, store_db: StoreDB) -> None:
        self._db = store_db

    def get(self, stream: str, key: str = "") -> str | None:
        found = self._db.query_one(
            "SELECT value FROM sync_cursors WHERE stream = ? AND key = ?", (stream, key)
        )
        return None if found is None else str(found["value"])

    def set(self, stream: str, value: str, key: str = "") -> None:
        with self._db.write():
            self._db.execute(
                "INSERT INTO sync_cursors (stream, key, value, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (stream, key) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                (stream, key, value, to_db(self._db.now())),
            )

    def delete(self, stream: str, key: str = "") -> bool:
        with self._db.write():
            return bool(
                self._db.execute(
                    "DELETE FROM sync_cursors WHERE stream = ? AND key = ? RETURNING stream",
                    (stream, key),
                )
            )

    def all(self, stream: str) -> dict[str, str]:
        rows = self._db.query(
            "SELECT key, value FROM sync_cursors WHERE stream = ? ORDER BY key", (stream,)
        )
        return {r["key"]: r["value"] for r in rows}
