"""Secrets entered in the UI (Xero client secret, Autotask API secret), encrypted at rest."""

from __future__ import annotations

from agent.store.clock import to_db
from agent.store.db import StoreDB
from agent.store.secrets import SecretBox


class SecretSettings:
    def __init__(self, store_db: StoreDB, box: SecretBox) -> None:
        self._db = store_db
        self._box = box

    def set(self, name: str, value: str) -> None:
        """Store a secret; ``SecretKeyMissing`` without ATX_SECRET_KEY (unless plaintext is
        explicitly allowed)."""
        if not name:
            raise ValueError("a secret needs a name")
        sealed = self._box.seal(value)
        with self._db.write():
            self._db.execute(
                "INSERT INTO secret_settings (name, value, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                (name, sealed, to_db(self._db.now())),
            )

    def get(self, name: str) -> str | None:
        found = self._db.query_one("SELECT value FROM secret_settings WHERE name = ?", (name,))
        return None if found is None else self._box.open(found["value"])

    def delete(self, name: str) -> bool:
        with self._db.write():
            return bool(
                self._db.execute(
                    "DELETE FROM secret_settings WHERE name = ? RETURNING name", (name,)
                )
            )

    def names(self) -> list[str]:
        """Which secrets are stored (never their values)."""
        return [r["name"] for r in self._db.query("SELECT name FROM secret_settings ORDER BY name")]
