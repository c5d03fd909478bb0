"""``Store.open``: the agent's SQLite database (``<data_dir>/atx.db``) and its parts."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from types import TracebackType

from agent.store.catalogs import Catalogs
from agent.store.clock import Clock, utc_now
from agent.store.cursors import Cursors
from agent.store.db import StoreDB
from agent.store.locks import Locks
from agent.store.mappings import Mappings
from agent.store.migrations import LATEST_VERSION, migrate
from agent.store.outbox import Outbox
from agent.store.payments import InvoicePayments
from agent.store.runtime_settings import RuntimeSettings
from agent.store.secret_settings import SecretSettings
from agent.store.secrets import SecretBox
from agent.store.tokens import XeroConnections

DB_FILENAME = "atx.db"


class Store:
    """One open database. Thread-safe: share it between the agent's threads."""

    def __init__(self, store_db: StoreDB, box: SecretBox) -> None:
        self._db = store_db
        self.path = store_db.path
        self.outbox = Outbox(store_db)
        self.payments = InvoicePayments(store_db)
        self.settings = RuntimeSettings(store_db)
        self.secrets = SecretSettings(store_db, box)
        self.mappings = Mappings(store_db)
        self.cursors = Cursors(store_db)
        self.catalogs = Catalogs(store_db)
        self.locks = Locks(store_db)
        self.connections = XeroConnections(store_db, box, self.locks)

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        secret_key: str | None,
        allow_plaintext_secrets: bool = False,
        now: Clock = utc_now,
    ) -> Store:
        """Create the folder and database if needed and bring the schema up to date.

        ``SchemaTooNew`` if a newer atx wrote the database; it is left untouched.
        """
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / DB_FILENAME
        created = not path.exists()
        store_db = StoreDB(path, now)
        try:
            if created:
                # Tokens live here (encrypted or not): only the agent's user may read the file.
                with contextlib.suppress(OSError):
                    os.chmod(path, 0o600)
            migrate(store_db)
        except BaseException:
            store_db.close()
            raise
        return cls(store_db, SecretBox(secret_key, allow_plaintext=allow_plaintext_secrets))

    @property
    def schema_version(self) -> int:
        return self._db.user_version()

    @property
    def latest_schema_version(self) -> int:
        return LATEST_VERSION

    def sqlite_info(self) -> dict[str, object]:
        """Connection facts for diagnostics (``atx status``)."""
        info: dict[str, object] = {"sqlite_version": sqlite3.sqlite_version}
        for pragma in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout"):
            row = self._db.query_one(f"PRAGMA {pragma}")
            info[pragma] = None if row is None else next(iter(row.values()))
        info["schema_version"] = self.schema_version
        return info

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"
