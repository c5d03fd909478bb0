"""Xero connections (organisations) and their OAuth tokens, encrypted at rest.

One authorisation (a *grant*: one access token and one rotating refresh token) can cover several
Xero organisations, so tokens live in ``xero_grants`` and each organisation in
``xero_connections`` points at its grant: refreshing for one organisation updates them all.
Listing connections never decrypts anything; only ``tokens()`` does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agent.store.clock import from_db, from_db_or_none, to_db
from agent.store.db import StoreDB
from agent.store.errors import NotFound
from agent.store.locks import Locks
from agent.store.secrets import SecretBox

AUTH_MODES: tuple[str, ...] = ("pkce", "code", "client_credentials")
CONNECTION_STATUSES: tuple[str, ...] = ("active", "needs_reconnect", "disconnected")


@dataclass(frozen=True, slots=True)
class TenantInfo:
    """One organisation from Xero's ``GET /connections``."""

    tenant_id: str
    tenant_name: str
    connection_id: str | None = None


@dataclass(frozen=True, slots=True)
class TokenSet:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime
    scope: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class XeroConnection:
    """An organisation and the non-secret facts of its grant."""

    tenant_id: str
    tenant_name: str
    connection_id: str | None
    status: str
    grant_id: int
    auth_mode: str
    client_id: str
    scope: tuple[str, ...]
    expires_at: datetime
    has_refresh_token: bool
    refresh_token_issued_at: datetime | None
    last_refresh_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_db(cls, row: Mapping[str, Any]) -> XeroConnection:
        return cls(
            tenant_id=row["tenant_id"],
            tenant_name=row["tenant_name"],
            connection_id=row["connection_id"],
            status=row["status"],
            grant_id=int(row["grant_id"]),
            auth_mode=row["auth_mode"],
            client_id=row["client_id"],
            scope=tuple(json.loads(row["scope_json"])),
            expires_at=from_db(row["expires_at"]),
            has_refresh_token=row["refresh_token"] is not None,
            refresh_token_issued_at=from_db_or_none(row["refresh_token_issued_at"]),
            last_refresh_at=from_db_or_none(row["last_refresh_at"]),
            created_at=from_db(row["created_at"]),
            updated_at=from_db(row["updated_at"]),
        )


_SELECT = (
    "SELECT c.tenant_id, c.tenant_name, c.connection_id, c.status, c.grant_id, c.created_at,"
    " c.updated_at, g.auth_mode, g.client_id, g.scope_json, g.expires_at, g.refresh_token,"
    " g.refresh_token_issued_at, g.last_refresh_at, g.access_token"
    " FROM xero_connections c JOIN xero_grants g ON g.id = c.grant_id"
)


class XeroConnections:
    def __init__(self, store_db: StoreDB, box: SecretBox, locks: Locks) -> None:
        self._db = store_db
        self._box = box
        self._locks = locks

    def save_authorization(
        self,
        *,
        auth_mode: str,
        client_id: str,
        access_token: str,
        refresh_token: str | None,
        expires_at: datetime,
        scope: Sequence[str],
        tenants: Sequence[TenantInfo],
    ) -> list[XeroConnection]:
        """Store a new grant and point ``tenants`` at it (re-connecting an organisation
        replaces its old grant). ``SecretKeyMissing`` without ATX_SECRET_KEY."""
        if auth_mode not in AUTH_MODES:
            raise ValueError(f"unknown auth mode {auth_mode!r}; expected one of {AUTH_MODES}")
        if not tenants:
            raise ValueError("an authorisation needs at least one organisation")
        sealed_access = self._box.seal(access_token)
        sealed_refresh = self._box.seal_or_none(refresh_token)
        at = to_db(self._db.now())
        with self._db.write():
            grant = self._db.execute(
                "INSERT INTO xero_grants (auth_mode, client_id, access_token, refresh_token,"
                " scope_json, expires_at, refresh_token_issued_at, last_refresh_at, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?) RETURNING id",
                (
                    auth_mode,
                    client_id,
                    sealed_access,
                    sealed_refresh,
                    json.dumps(list(scope)),
                    to_db(expires_at),
                    None if refresh_token is None else at,
                    at,
                    at,
                ),
            )
            grant_id = grant[0]["id"]
            for tenant in tenants:
                self._db.execute(
                    "INSERT INTO xero_connections (tenant_id, tenant_name, connection_id,"
                    " grant_id, status, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, 'active', ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET"
                    " tenant_name = excluded.tenant_name, connection_id = excluded.connection_id,"
                    " grant_id = excluded.grant_id, status = 'active',"
                    " updated_at = excluded.updated_at",
                    (tenant.tenant_id, tenant.tenant_name, tenant.connection_id, grant_id, at, at),
                )
            self._drop_orphan_grants()
        return [self._require(t.tenant_id) for t in tenants]

    def get(self, tenant_id: str) -> XeroConnection | None:
        found = self._db.query_one(_SELECT + " WHERE c.tenant_id = ?", (tenant_id,))
        return None if found is None else XeroConnection.from_db(found)

    def list_connections(self) -> list[XeroConnection]:
        rows = self._db.query(_SELECT + " ORDER BY c.tenant_name, c.tenant_id")
        return [XeroConnection.from_db(r) for r in rows]

    def tokens(self, tenant_id: str) -> TokenSet:
        """The decrypted tokens; ``SecretKeyMismatch`` if ATX_SECRET_KEY changed."""
        found = self._db.query_one(_SELECT + " WHERE c.tenant_id = ?", (tenant_id,))
        if found is None:
            raise NotFound(f"no Xero connection for organisation {tenant_id}")
        return TokenSet(
            access_token=self._box.open(found["access_token"]),
            refresh_token=self._box.open_or_none(found["refresh_token"]),
            expires_at=from_db(found["expires_at"]),
            scope=tuple(json.loads(found["scope_json"])),
        )

    def update_tokens(
        self,
        tenant_id: str,
        *,
        access_token: str,
        refresh_token: str | None,
        expires_at: datetime,
        scope: Sequence[str] | None = None,
    ) -> XeroConnection:
        """Store refreshed tokens on the organisation's grant (shared by its sibling
        organisations). A new refresh token restarts its 60-day clock."""
        sealed_access = self._box.seal(access_token)
        sealed_refresh = self._box.seal_or_none(refresh_token)
        at = to_db(self._db.now())
        with self._db.write():
            grant_id = self._require(tenant_id).grant_id
            self._db.execute(
                "UPDATE xero_grants SET access_token = ?,"
                " refresh_token = coalesce(?, refresh_token),"
                " refresh_token_issued_at = CASE WHEN ? IS NULL THEN refresh_token_issued_at"
                " ELSE ? END, expires_at = ?, scope_json = coalesce(?, scope_json),"
                " last_refresh_at = ?, updated_at = ? WHERE id = ?",
                (
                    sealed_access,
                    sealed_refresh,
                    sealed_refresh,
                    at,
                    to_db(expires_at),
                    None if scope is None else json.dumps(list(scope)),
                    at,
                    at,
                    grant_id,
                ),
            )
            self._db.execute(
                "UPDATE xero_connections SET status = 'active', updated_at = ?"
                " WHERE grant_id = ? AND status = 'needs_reconnect'",
                (at, grant_id),
            )
        return self._require(tenant_id)

    def set_status(self, tenant_id: str, status: str) -> XeroConnection:
        if status not in CONNECTION_STATUSES:
            raise ValueError(f"unknown connection status {status!r}")
        with self._db.write():
            changed = self._db.execute(
                "UPDATE xero_connections SET status = ?, updated_at = ? WHERE tenant_id = ?"
                " RETURNING tenant_id",
                (status, to_db(self._db.now()), tenant_id),
            )
        if not changed:
            raise NotFound(f"no Xero connection for organisation {tenant_id}")
        return self._require(tenant_id)

    def remove(self, tenant_id: str) -> bool:
        """Forget an organisation (and its grant once no organisation uses it)."""
        with self._db.write():
            removed = self._db.execute(
                "DELETE FROM xero_connections WHERE tenant_id = ? RETURNING tenant_id",
                (tenant_id,),
            )
            self._drop_orphan_grants()
        return bool(removed)

    @contextmanager
    def refresh_lock(
        self, tenant_id: str, *, ttl_seconds: float = 60.0, wait_seconds: float = 30.0
    ) -> Iterator[str]:
        """Single-flight token refresh for the organisation's grant, across threads and
        processes. Inside the block, re-read ``tokens()``: another holder may have refreshed."""
        grant_id = self._require(tenant_id).grant_id
        name = f"xero-token-refresh:{grant_id}"
        with self._locks.hold(name, ttl_seconds=ttl_seconds, wait_seconds=wait_seconds) as holder:
            yield holder

    def _require(self, tenant_id: str) -> XeroConnection:
        found = self.get(tenant_id)
        if found is None:
            raise NotFound(f"no Xero connection for organisation {tenant_id}")
        return found

    def _drop_orphan_grants(self) -> None:
        self._db.execute(
            "DELETE FROM xero_grants WHERE id NOT IN (SELECT grant_id FROM xero_connections)"
        )
