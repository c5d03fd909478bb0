"""The one SQLite connection of a Store: pragmas, a thread lock, and write transactions.

The agent is the only writer of the database. Each Store owns one connection; every use of it
(reads too, so a reader never sees another thread's open transaction) happens under one
re-entrant lock. Writes run in ``BEGIN IMMEDIATE`` so two processes on the same file queue on
SQLite's write lock (``busy_timeout``) instead of failing half way.

SQLite 3.35+ is needed for ``UPDATE ... RETURNING`` (claiming outbox rows); ``open_database``
checks it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from agent.store.clock import Clock
from agent.store.errors import StoreError

BUSY_TIMEOUT_MS = 5000
MIN_SQLITE_VERSION = (3, 35, 0)

Params = Sequence[Any] | dict[str, Any]
Row = dict[str, Any]


def rows_of(cursor: sqlite3.Cursor) -> list[Row]:
    """Every row of ``cursor`` as a dict keyed by column name."""
    if cursor.description is None:
        return []
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


class StoreDB:
    """One connection, its lock, and the clock every part of the store reads time from."""

    def __init__(self, path: Path, now: Clock) -> None:
        if sqlite3.sqlite_version_info < MIN_SQLITE_VERSION:
            raise StoreError(f"SQLite {sqlite3.sqlite_version} is too old; atx needs 3.35 or newer")
        self.path = path
        self.now = now
        self.lock = threading.RLock()
        # isolation_level=None: no implicit transactions; the store opens them itself.
        conn = sqlite3.connect(
            str(path),
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        self.db = sqlite_utils.Database(conn, execute_plugins=False)
        try:
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.db.enable_wal()
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    @contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """A ``BEGIN IMMEDIATE`` transaction; nested uses join the outer one."""
        with self.lock:
            if self.conn.in_transaction:
                yield self.db
                return
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def execute(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one statement (inside ``write()`` for changes) and return its rows, if any."""
        with self.lock:
            return rows_of(self.conn.execute(sql, params))

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        """Rows of a read-only query, fully fetched while holding the lock."""
        with self.lock:
            return list(self.db.query(sql, params))

    def query_one(self, sql: str, params: Params = ()) -> Row | None:
        found = self.query(sql, params)
        return found[0] if found else None

    def user_version(self) -> int:
        with self.lock:
            return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self.lock:
            self.db.close()
