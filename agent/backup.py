"""``atx backup FILE`` and ``atx restore FILE``.

Backup uses SQLite's online backup API (``sqlite3.Connection.backup``), which copies a consistent
snapshot while the agent keeps writing (WAL: readers never block the writer). The copy is written
next to FILE under a temporary name, checked (``PRAGMA quick_check``), switched out of WAL so it is
one self-contained file, and renamed into place: a half-written backup never carries FILE's name.

Restore refuses while anything else has the database open. The check is SQLite's own: a WAL
database can only leave WAL mode (``PRAGMA journal_mode=DELETE``) when its connection is the only
one, in any process, and the agent holds its connection for as long as it runs. The running
agent's control socket is asked first, for a clearer message. The file to restore must be an atx
database (the tables of schema version 1) of a version this atx knows (1 to the latest); an older
one is upgraded by the migrations the next time atx opens it. The current database is kept as
``atx.db.<UTC time>.bak``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agent.config import Settings
from agent.store.migrations import LATEST_VERSION

SQLITE_HEADER = b"SQLite format 3\x00"
# The tables every atx database has had since the first released schema (migration 1).
V1_TABLES = frozenset(
    {
        "outbox",
        "outbox_events",
        "runtime_settings",
        "mappings",
        "sync_cursors",
        "xero_grants",
        "xero_connections",
        "locks",
    }
)
BUSY_TIMEOUT_S = 5.0


class BackupError(Exception):
    """One line: what is wrong and what to do."""


@dataclass(frozen=True)
class DatabaseFacts:
    path: Path
    schema_version: int
    outbox_rows: int
    size_bytes: int

    def describe(self) -> str:
        return (
            f"schema version {self.schema_version}, {self.outbox_rows} outbox row(s), "
            f"{self.size_bytes / 1024:.0f} KiB"
        )


def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}?mode={'ro' if read_only else 'rw'}"
    return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)


def inspect_database(path: Path) -> DatabaseFacts:
    """Facts about an atx database file; BackupError when it is not one this atx can use."""
    if not path.is_file():
        raise BackupError(f"no such file: {path}")
    with path.open("rb") as handle:
        if handle.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise BackupError(f"{path} is not an SQLite database (an atx backup is one)")
    try:
        conn = _connect(path, read_only=True)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {path}: {exc}") from None
    try:
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(
                f"{path} is damaged (SQLite quick_check: {check}); use another backup"
            )
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        missing = V1_TABLES - tables
        if missing:
            raise BackupError(
                f"{path} is not an atx database (no {', '.join(sorted(missing))} table)"
            )
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version < 1:
            raise BackupError(f"{path} has no atx schema version; it is not an atx backup")
        if version > LATEST_VERSION:
            raise BackupError(
                f"{path} has schema version {version}, newer than this atx supports "
                f"({LATEST_VERSION}); restore it with the newer atx that made it"
            )
        rows = int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])
    except sqlite3.Error as exc:
        raise BackupError(f"cannot read {path}: {exc}") from None
    finally:
        conn.close()
    return DatabaseFacts(path, version, rows, path.stat().st_size)


def backup(settings: Settings, target: Path) -> DatabaseFacts:
    """Copy the live database to ``target`` (which must not exist) while the agent runs."""
    source = settings.database_path
    if not source.is_file():
        raise BackupError(f"no database at {source}: check ATX_DATA_DIR (nothing to back up)")
    if target.exists():
        raise BackupError(f"{target} exists already; choose a new file name")
    if not target.parent.is_dir():
        raise BackupError(f"no such folder: {target.parent}")
    partial = target.with_name(f".{target.name}.partial")
    try:
        src = _connect(source, read_only=True)
        try:
            dst = sqlite3.connect(str(partial), isolation_level=None)
            try:
                src.backup(dst)
                # One self-contained file (no -wal beside it), fit to copy anywhere.
                dst.execute("PRAGMA journal_mode = DELETE")
                check = dst.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                dst.close()
        finally:
            src.close()
        if check != "ok":
            raise BackupError(f"the copy failed its check ({check}); nothing was written")
        # Tokens are inside (encrypted with ATX_SECRET_KEY): only the owner may read the file.
        os.chmod(partial, 0o600)
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise BackupError(f"backup failed: {exc}") from None
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
    return inspect_database(target)


def _agent_answers(settings: Settings) -> bool:
    from agent.health import check_health

    return check_health(settings, timeout=2.0) is None


def _take_database(path: Path) -> None:
    """Leave WAL mode, which SQLite allows only when no other connection is open; the file is
    then complete without its -wal and -shm companions."""
    try:
        conn = _connect(path, read_only=False)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {path}: {exc}") from None
    try:
        conn.execute("PRAGMA busy_timeout = 0")
        conn.execute("PRAGMA journal_mode = DELETE")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise BackupError(
                f"another atx process has {path} open (the agent?); stop it first "
                "(docker compose stop agent), then restore"
            ) from None
        raise BackupError(f"cannot use {path}: {exc}") from None
    finally:
        conn.close()


def restore(settings: Settings, source: Path) -> tuple[DatabaseFacts, Path | None]:
    """Put ``source`` in place of the database; returns its facts and where the old one went."""
    facts = inspect_database(source)
    if _agent_answers(settings):
        raise BackupError(
            "the agent is running (it answers on its control socket); stop it first "
            "(docker compose stop agent), then restore"
        )
    target = settings.database_path
    if target.resolve() == source.resolve():
        raise BackupError(f"{source} is the live database itself; name a backup file")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    kept: Path | None = None
    if target.exists():
        _take_database(target)
    partial = target.with_name(f".{target.name}.restoring")
    try:
        src = _connect(source, read_only=True)
        try:
            dst = sqlite3.connect(str(partial), isolation_level=None)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode = DELETE")
            finally:
                dst.close()
        finally:
            src.close()
        os.chmod(partial, 0o600)
        if target.exists():
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            kept = target.with_name(f"{target.name}.{stamp}.bak")
            os.replace(target, kept)
            for companion in ("-wal", "-shm"):
                with contextlib.suppress(OSError):
                    target.with_name(target.name + companion).unlink()
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise BackupError(f"restore failed, the database is unchanged: {exc}") from None
    except OSError as exc:
        if kept is not None and not target.exists():
            # The old database was moved aside but the new one did not take its place.
            with contextlib.suppress(OSError):
                os.replace(kept, target)
        raise BackupError(
            f"restore failed, the database is unchanged: {exc.strerror or exc}"
        ) from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
    return facts, kept
