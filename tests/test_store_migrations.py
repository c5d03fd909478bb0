"""Opening the store: file, pragmas, and versioned migrations from every earlier schema."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlite_utils
from store_fixtures import START, TEST_KEY, FakeClock, open_store

from agent.store import OutboxState, SchemaTooNew, Store, StoreError
from agent.store.clock import to_db
from agent.store.db import StoreDB
from agent.store.errors import MigrationFailed
from agent.store.migrations import LATEST_VERSION, MIGRATIONS, migrate
from agent.store.secrets import SecretBox

AT = to_db(START)


def _seed_v1(conn: sqlite3.Connection) -> None:
    box = SecretBox(TEST_KEY)
    conn.execute(
        "INSERT INTO outbox (id, kind, autotask_id, org, state, snapshot_json, snapshot_hash,"
        " max_attempts, xero_id, created_at, updated_at)"
        " VALUES (7, 'invoice', '501', 'org-a', 'posted', '{\"id\":501}', 'h', 5, 'X-501', ?, ?)",
        (AT, AT),
    )
    conn.execute(
        "INSERT INTO outbox_events (outbox_id, at, from_state, to_state, detail, attempt)"
        " VALUES (7, ?, NULL, 'discovered', 'discovered', 0)",
        (AT,),
    )
    conn.execute(
        "INSERT INTO runtime_settings VALUES ('poll_minutes', '15', ?)",
        (AT,),
    )
    conn.execute(
        "INSERT INTO mappings (org, mapping_type, source_key, target, metadata_json, updated_at)"
        " VALUES ('', 'tax', 'GST', 'OUTPUT2', '{}', ?)",
        (AT,),
    )
    conn.execute(
        "INSERT INTO sync_cursors VALUES ('invoices', '', '2024-12-31T00:00:00Z', ?)", (AT,)
    )
    conn.execute(
        "INSERT INTO xero_grants (id, auth_mode, client_id, access_token, refresh_token,"
        " scope_json, expires_at, created_at, updated_at)"
        " VALUES (1, 'pkce', 'client-1', ?, ?, '[\"accounting.transactions\"]', ?, ?, ?)",
        (box.seal("access-v1"), box.seal("refresh-v1"), AT, AT, AT),
    )
    conn.execute(
        "INSERT INTO xero_connections VALUES ('tenant-a', 'Org A', 'conn-a', 1, 'active', ?, ?)",
        (AT, AT),
    )


def _check_v1(store: Store) -> None:
    row = store.outbox.get(7)
    assert row is not None
    assert (row.state, row.xero_id) == (OutboxState.POSTED, "X-501")
    assert [e.to_state for e in store.outbox.events(7)] == [OutboxState.DISCOVERED]
    assert store.settings.get("poll_minutes") == 15
    tax = store.mappings.resolve("org-a", "tax", "GST")
    assert tax is not None and tax.target == "OUTPUT2"
    assert store.cursors.get("invoices") == "2024-12-31T00:00:00Z"
    assert store.connections.tokens("tenant-a").refresh_token == "refresh-v1"


def _seed_v2(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO xero_catalogs VALUES ('tenant-a', 'accounts', '[{\"Code\":\"200\"}]', ?)",
        (AT,),
    )


def _check_v2(store: Store) -> None:
    cached = store.catalogs.get_catalog("tenant-a", "accounts")
    assert cached is not None and cached.records == [{"Code": "200"}]


def _seed_v3(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO secret_settings VALUES ('autotask_secret', ?, ?)",
        (SecretBox(TEST_KEY).seal("at-secret"), AT),
    )


def _check_v3(store: Store) -> None:
    assert store.secrets.get("autotask_secret") == "at-secret"


def _seed_v4(conn: sqlite3.Connection) -> None:
    pass  # indexes only (the queue view's order)


def _check_v4(store: Store) -> None:
    rows, total = store.outbox.page(limit=10)
    assert total == len(rows) and [r.updated_at for r in rows] == sorted(
        (r.updated_at for r in rows), reverse=True
    )


def _seed_v5(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO invoice_payments (outbox_id, org, xero_id, status, total, amount_paid,"
        " amount_credited, amount_due, paid_on, paid_date_set, updated_at)"
        " VALUES (7, 'org-a', 'X-501', 'PAID', '110.00', '60.00', '50.00', '0.00',"
        " '2026-03-04', '2026-03-04', ?)",
        (AT,),
    )


def _check_v5(store: Store) -> None:
    record = store.payments.get(7)
    assert record is not None and record.autotask_id == 501
    assert (record.amount_paid, record.amount_credited, record.amount_due) == (
        Decimal("60.00"),
        Decimal("50.00"),
        Decimal("0.00"),
    )
    assert record.paid_on == record.paid_date_set == date(2026, 3, 4)
    assert not record.needs_write and store.payments.to_write() == []
    assert set(store.payments.posted_invoices("org-a", ["X-501"])) == {"X-501"}


# Rows a database at each version can hold, and how to see them through today's API.
SEEDS: dict[int, tuple[Callable[[sqlite3.Connection], None], Callable[[Store], None]]] = {
    1: (_seed_v1, _check_v1),
    2: (_seed_v2, _check_v2),
    3: (_seed_v3, _check_v3),
    4: (_seed_v4, _check_v4),
    5: (_seed_v5, _check_v5),
}


def _build_database_at(path: Path, version: int) -> None:
    """Apply migrations one by one up to ``version``, seeding rows at each step."""
    store_db = StoreDB(path, FakeClock())
    try:
        for step in range(1, version + 1):
            migrate(store_db, target=step)
            seed, _ = SEEDS[step]
            with store_db.write():
                seed(store_db.conn)
        assert store_db.user_version() == version
    finally:
        store_db.close()


def test_open_creates_the_data_dir_and_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    with open_store(data_dir, FakeClock()) as store:
        assert store.path == data_dir / "atx.db"
        assert store.path.is_file()
        assert store.schema_version == LATEST_VERSION


def test_database_file_is_readable_only_by_its_owner(tmp_path: Path) -> None:
    with open_store(tmp_path, FakeClock()) as store:
        assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_connection_uses_wal_busy_timeout_foreign_keys_and_normal_sync(tmp_path: Path) -> None:
    with open_store(tmp_path, FakeClock()) as store:
        info = store.sqlite_info()
    assert info["journal_mode"] == "wal"
    assert info["busy_timeout"] == 5000
    assert info["foreign_keys"] == 1
    assert info["synchronous"] == 1  # NORMAL
    # UPDATE ... RETURNING (claims) needs SQLite 3.35+.
    assert sqlite3.sqlite_version_info >= (3, 35, 0)


def test_every_migration_has_representative_rows_in_these_tests() -> None:
    assert sorted(SEEDS) == list(range(1, LATEST_VERSION + 1))
    assert len(MIGRATIONS) >= 2


@pytest.mark.parametrize("version", range(LATEST_VERSION))
def test_migrates_from_every_earlier_version(tmp_path: Path, version: int) -> None:
    _build_database_at(tmp_path / "atx.db", version)

    with open_store(tmp_path, FakeClock(START + timedelta(days=1))) as store:
        assert store.schema_version == LATEST_VERSION
        for step in range(1, version + 1):
            _, check = SEEDS[step]
            check(store)


def test_reopening_keeps_every_row(tmp_path: Path) -> None:
    _build_database_at(tmp_path / "atx.db", LATEST_VERSION)
    for _ in range(2):
        with open_store(tmp_path, FakeClock()) as store:
            assert store.schema_version == LATEST_VERSION
            for _, check in SEEDS.values():
                check(store)


def test_refuses_a_database_written_by_a_newer_atx(tmp_path: Path) -> None:
    path = tmp_path / "atx.db"
    with sqlite_utils.Database(path) as db:
        db.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")

    with pytest.raises(SchemaTooNew) as refused:
        open_store(tmp_path, FakeClock())

    assert isinstance(refused.value, StoreError)
    message = str(refused.value)
    assert "upgrade atx" in message and "\n" not in message
    with sqlite_utils.Database(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION + 1
        assert db.table_names() == []


def test_a_failing_migration_leaves_the_database_at_its_previous_version(tmp_path: Path) -> None:
    def broken(db: sqlite_utils.Database) -> None:
        db.table("half_done").create({"id": int}, pk="id")
        raise RuntimeError("disk on fire")

    store_db = StoreDB(tmp_path / "atx.db", FakeClock())
    try:
        with pytest.raises(
            MigrationFailed, match=rf"migration {LATEST_VERSION + 1} .*disk on fire"
        ):
            migrate(store_db, migrations=(*MIGRATIONS, broken))
        assert store_db.user_version() == LATEST_VERSION
        assert "half_done" not in store_db.db.table_names()
    finally:
        store_db.close()
