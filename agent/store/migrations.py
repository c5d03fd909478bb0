"""Versioned schema migrations, applied in order at open.

``PRAGMA user_version`` holds the number of migrations applied. Each migration runs in its own
``BEGIN IMMEDIATE`` transaction together with the version bump, so a failure leaves the database
at the previous version. Never edit a migration that has shipped: append a new one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlite_utils

from agent.store.db import StoreDB
from agent.store.errors import MigrationFailed, SchemaTooNew

Migration = Callable[[sqlite_utils.Database], None]


def _v1_base_tables(db: sqlite_utils.Database) -> None:
    """Outbox and its events, settings, mappings, cursors, Xero connections, locks."""
    outbox = db.table("outbox")
    outbox.create(
        {
            "id": int,
            "kind": str,
            "autotask_id": str,
            "org": str,
            "state": str,
            "snapshot_json": str,
            "snapshot_hash": str,
            "payload_json": str,
            "payload_hash": str,
            "xero_id": str,
            "xero_number": str,
            "attempts": int,
            "max_attempts": int,
            "next_attempt_at": str,
            "lease_owner": str,
            "lease_expires_at": str,
            "needs_lookup": int,
            "last_error": str,
            "block_reasons": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={
            "kind",
            "autotask_id",
            "org",
            "state",
            "snapshot_json",
            "snapshot_hash",
            "attempts",
            "max_attempts",
            "needs_lookup",
            "block_reasons",
            "created_at",
            "updated_at",
        },
        defaults={"org": "", "attempts": 0, "needs_lookup": 0, "block_reasons": "[]"},
    )
    outbox.create_index(["kind", "autotask_id", "org"], index_name="outbox_identity", unique=True)
    outbox.create_index(["state", "next_attempt_at"], index_name="outbox_state_due")

    events = db.table("outbox_events")
    events.create(
        {
            "id": int,
            "outbox_id": int,
            "at": str,
            "from_state": str,
            "to_state": str,
            "detail": str,
            "attempt": int,
        },
        pk="id",
        not_null={"outbox_id", "at", "to_state", "attempt"},
        foreign_keys=[("outbox_id", "outbox", "id")],
    )
    events.create_index(["outbox_id", "id"], index_name="outbox_events_by_row")

    db.table("runtime_settings").create(
        {"key": str, "value_json": str, "updated_at": str},
        pk="key",
        not_null={"key", "value_json", "updated_at"},
    )

    mappings = db.table("mappings")
    mappings.create(
        {
            "id": int,
            "org": str,
            "mapping_type": str,
            "source_key": str,
            "target": str,
            "metadata_json": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"org", "mapping_type", "source_key", "target", "metadata_json", "updated_at"},
        defaults={"org": "", "metadata_json": "{}"},
    )
    mappings.create_index(
        ["org", "mapping_type", "source_key"], index_name="mappings_identity", unique=True
    )

    db.table("sync_cursors").create(
        {"stream": str, "key": str, "value": str, "updated_at": str},
        pk=("stream", "key"),
        not_null={"stream", "key", "value", "updated_at"},
    )

    # One grant = one token set. With Xero a user's single authorisation can cover several
    # organisations (tenants), which then share the same rotating refresh token.
    db.table("xero_grants").create(
        {
            "id": int,
            "auth_mode": str,
            "client_id": str,
            "access_token": str,
            "refresh_token": str,
            "scope_json": str,
            "expires_at": str,
            "refresh_token_issued_at": str,
            "last_refresh_at": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={
            "auth_mode",
            "client_id",
            "access_token",
            "scope_json",
            "expires_at",
            "created_at",
            "updated_at",
        },
    )
    db.table("xero_connections").create(
        {
            "tenant_id": str,
            "tenant_name": str,
            "connection_id": str,
            "grant_id": int,
            "status": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="tenant_id",
        not_null={"tenant_id", "tenant_name", "grant_id", "status", "created_at", "updated_at"},
        foreign_keys=[("grant_id", "xero_grants", "id")],
    )

    db.table("locks").create(
        {"name": str, "holder": str, "expires_at": str}, pk="name", not_null={"name"}
    )


def _v2_catalogs(db: sqlite_utils.Database) -> None:
    """Cached Xero catalogs (accounts, tax rates, ...) per organisation."""
    db.table("xero_catalogs").create(
        {"org": str, "catalog": str, "records_json": str, "fetched_at": str},
        pk=("org", "catalog"),
        not_null={"org", "catalog", "records_json", "fetched_at"},
    )


def _v3_secret_settings_and_org_index(db: sqlite_utils.Database) -> None:
    """Secrets entered in the UI (encrypted), and an index for the per-organisation queue view."""
    db.table("secret_settings").create(
        {"name": str, "value": str, "updated_at": str},
        pk="name",
        not_null={"name", "value", "updated_at"},
    )
    db.table("outbox").create_index(["org", "state"], index_name="outbox_org_state")


def _v4_queue_view_indexes(db: sqlite_utils.Database) -> None:
    """The control API's queue view lists rows most recently changed first (all, or of one
    state): without these, each page sorted every row (and read past its snapshot to do so)."""
    outbox = db.table("outbox")
    outbox.create_index(["updated_at", "id"], index_name="outbox_by_change")
    outbox.create_index(["state", "updated_at", "id"], index_name="outbox_state_by_change")


def _v5_invoice_payments(db: sqlite_utils.Database) -> None:
    """Payments back to Autotask (issue 5 §1): per invoice row we posted, the balance Xero last
    showed (paid, credited, due; decimals as text), the day it became fully paid, and the
    ``paidDate`` written to Autotask and confirmed, so that it is written once. Plus an index to
    find our rows by their Xero document id."""
    db.table("invoice_payments").create(
        {
            "outbox_id": int,
            "org": str,
            "xero_id": str,
            "status": str,
            "total": str,
            "amount_paid": str,
            "amount_credited": str,
            "amount_due": str,
            "paid_on": str,
            "paid_date_set": str,
            "refused_for": str,
            "problem": str,
            "updated_at": str,
        },
        pk="outbox_id",
        not_null={"outbox_id", "org", "xero_id", "updated_at"},
        foreign_keys=[("outbox_id", "outbox", "id")],
    )
    db.table("outbox").create_index(["org", "xero_id"], index_name="outbox_by_xero_id")


MIGRATIONS: tuple[Migration, ...] = (
    _v1_base_tables,
    _v2_catalogs,
    _v3_secret_settings_and_org_index,
    _v4_queue_view_indexes,
    _v5_invoice_payments,
)
LATEST_VERSION = len(MIGRATIONS)


def migrate(
    store_db: StoreDB,
    *,
    migrations: Sequence[Migration] = MIGRATIONS,
    target: int | None = None,
) -> int:
    """Apply the missing migrations up to ``target`` (default: all). Returns the new version.

    Refuses (``SchemaTooNew``) a database written by a newer atx, without touching it.
    """
    latest = len(migrations)
    goal = latest if target is None else target
    if not 0 <= goal <= latest:
        raise ValueError(f"target version {goal} is outside 0..{latest}")
    found = store_db.user_version()
    if found > latest:
        raise SchemaTooNew(found, latest)
    while True:
        with store_db.write() as db:
            # Read again inside the write lock: another process may have migrated meanwhile.
            version = store_db.user_version()
            if version > latest:
                raise SchemaTooNew(version, latest)
            if version >= goal:
                return version
            migration = migrations[version]
            try:
                migration(db)
            except Exception as exc:
                raise MigrationFailed(
                    f"schema migration {version + 1} ({migration.__name__}) failed: {exc}"
                ) from exc
            db.execute(f"PRAGMA user_version = {version + 1}")
