"""The agent's SQLite store: outbox, events, mappings, settings, tokens, cursors, catalogs.

Open it with ``Store.open(data_dir, secret_key=...)``; see DESIGN.md "The outbox".
"""

from agent.store.catalogs import CATALOGS, CachedCatalog
from agent.store.errors import (
    IllegalTransition,
    LeaseLost,
    LockBusy,
    MigrationFailed,
    NotFound,
    SchemaTooNew,
    SecretKeyMismatch,
    SecretKeyMissing,
    StateConflict,
    StoreError,
)
from agent.store.events import OutboxEvent
from agent.store.mappings import ALL_ORGS, MappingEntry
from agent.store.outbox_model import TRANSITIONS, OutboxKind, OutboxRow, OutboxState
from agent.store.store import Store
from agent.store.tokens import TenantInfo, TokenSet, XeroConnection

__all__ = [
    "ALL_ORGS",
    "CATALOGS",
    "TRANSITIONS",
    "CachedCatalog",
    "IllegalTransition",
    "LeaseLost",
    "LockBusy",
    "MappingEntry",
    "MigrationFailed",
    "NotFound",
    "OutboxEvent",
    "OutboxKind",
    "OutboxRow",
    "OutboxState",
    "SchemaTooNew",
    "SecretKeyMismatch",
    "SecretKeyMissing",
    "StateConflict",
    "Store",
    "StoreError",
    "TenantInfo",
    "TokenSet",
    "XeroConnection",
]
