"""Xero OAuth tokens: kept in the store, renewed one at a time, saved before they are used.

Rules (reference §3, §14 #1-#4):
- Access tokens are renewed 60 s before ``expires_at`` (always stored), and once more when Xero
  answers 401 to a token we thought valid (clock skew, revocation of an access token).
- Refresh tokens rotate on every use. The new token set is written to the store *before* the new
  access token is handed out, so a crash right after a refresh cannot lose the only valid refresh
  token; if the refresh answer itself is lost, the old refresh token stays retryable for 30
  minutes and is still the stored one.
- One renewal at a time per grant, across threads and processes: ``refresh_lock`` (a row lock in
  SQLite). After taking it, the tokens are read again: someone else may have renewed already.
- PKCE refresh is done here with httpx (``grant_type=refresh_token, client_id, refresh_token``,
  no secret), because the SDK will not refresh without a secret; ``code`` mode sends the secret
  with HTTP Basic auth; a custom connection (``client_credentials``) has no refresh token and
  mints a new access token with id + secret. Nothing global in the SDK (TokenApi's class-level
  URLs) is read or changed.
- Scope is stored as a list (the SDK mangles a string, §14 #1).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from agent.config import Settings
from agent.store import LockBusy, Store, TenantInfo, XeroConnection
from agent.store.clock import utc_now
from agent.xero.errors import XeroAuthError, XeroConfigError, XeroUnavailable, one_line

log = logging.getLogger("atx.xero")

REFRESH_MARGIN = timedelta(seconds=60)
TOKEN_PATH = "/connect/token"


@dataclass(frozen=True)
class TokenGrant:
    """One answer of the token endpoint, with ``expires_at`` computed and scope as a list."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime
    scope: tuple[str, ...]
    auth_event_id: str | None = None


def auth_event_id(access_token: str) -> str | None:
    """The ``authentication_event_id`` claim of Xero's JWT access token (not verified: it only
    narrows ``GET /connections`` to the organisations of this consent, reference §6)."""
    try:
        payload = access_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return None
    value = claims.get("authentication_event_id") if isinstance(claims, dict) else None
    return value if isinstance(value, str) else None


class TokenProvider:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        http: httpx.Client | None = None,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._settings = settings
        self._store = store
        self._owns_http = http is None
        self._http = http or httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0))
        self._now = now

    @property
    def token_url(self) -> str:
        return self._settings.xero_identity_url + TOKEN_PATH

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    # -- using tokens --------------------------------------------------------------------------

    def access_token(self, tenant_id: str) -> str:
        """An access token for the organisation, valid for at least another minute."""
        connections = self._store.connections
        conn = self._usable(tenant_id)
        tokens = connections.tokens(tenant_id)
        if tokens.expires_at - self._now() > REFRESH_MARGIN:
            return tokens.access_token
        return self._renew(conn, stale=tokens.access_token)

    def renew_after_rejection(self, tenant_id: str, rejected: str) -> str:
        """Xero answered 401 to ``rejected``: renew it (unless another caller already has)."""
        return self._renew(self._usable(tenant_id), stale=rejected, force=True)

    def _usable(self, tenant_id: str) -> XeroConnection:
        conn = self._store.connections.get(tenant_id)
        if conn is None or conn.status == "disconnected":
            raise XeroAuthError.not_connected(tenant_id, conn.tenant_name if conn else None)
        if conn.status != "active":
            raise XeroAuthError.revoked(tenant_id, conn.tenant_name)
        return conn

    def _renew(self, conn: XeroConnection, *, stale: str, force: bool = False) -> str:
        connections = self._store.connections
        try:
            with connections.refresh_lock(conn.tenant_id):
                # Read again under the lock: another thread or process may have renewed while
                # we waited, and its refresh token is the only valid one now (§3).
                tokens = connections.tokens(conn.tenant_id)
                fresh = tokens.expires_at - self._now() > REFRESH_MARGIN
                if fresh and (not force or tokens.access_token != stale):
                    return tokens.access_token
                grant = self._request_renewal(conn, tokens.refresh_token)
                # Saved first, used second: a crash from here on keeps the new refresh token.
                connections.update_tokens(
                    conn.tenant_id,
                    access_token=grant.access_token,
                    refresh_token=grant.refresh_token,
                    expires_at=grant.expires_at,
                    scope=grant.scope or None,
                )
        except LockBusy:
            raise XeroUnavailable(
                "token refresh", "another process is refreshing the same connection"
            ) from None
        log.info("xero access token renewed for %s (%s)", conn.tenant_name, conn.auth_mode)
        return grant.access_token

    def _request_renewal(self, conn: XeroConnection, refresh_token: str | None) -> TokenGrant:
        if conn.auth_mode == "client_credentials":
            return self._post(
                {"grant_type": "client_credentials"},
                basic=(conn.client_id, self._secret()),
                tenant=conn,
            )
        if refresh_token is None:
            raise XeroAuthError.revoked(conn.tenant_id, conn.tenant_name)
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if conn.auth_mode == "code":
            return self._post(form, basic=(conn.client_id, self._secret()), tenant=conn)
        return self._post(form | {"client_id": conn.client_id}, basic=None, tenant=conn)

    # -- getting a first grant -----------------------------------------------------------------

    def exchange_code(self, code: str, code_verifier: str | None, redirect_uri: str) -> TokenGrant:
        """Trade an authorisation code for tokens (not stored yet: see ``save``)."""
        mode = self._settings.xero_auth_mode
        if mode == "client_credentials":
            raise XeroConfigError(
                "ATX_XERO_AUTH_MODE=client_credentials needs no browser sign-in; "
                "use pkce or code to connect with a browser"
            )
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if code_verifier:
            form["code_verifier"] = code_verifier
        if mode == "code":
            return self._post(form, basic=(self._client_id(), self._secret()), tenant=None)
        if not code_verifier:
            raise XeroConfigError("a PKCE sign-in needs its code_verifier; start the connect again")
        return self._post(form | {"client_id": self._client_id()}, basic=None, tenant=None)

    def client_credentials(self) -> TokenGrant:
        """A token for a custom connection (reference §2): id + secret, no browser."""
        return self._post(
            {"grant_type": "client_credentials"},
            basic=(self._client_id(), self._secret()),
            tenant=None,
        )

    def save(self, grant: TokenGrant, tenants: Sequence[TenantInfo]) -> list[XeroConnection]:
        """Store a new grant for ``tenants`` (from ``GET /connections``)."""
        return self._store.connections.save_authorization(
            auth_mode=self._settings.xero_auth_mode,
            client_id=self._client_id(),
            access_token=grant.access_token,
            refresh_token=grant.refresh_token,
            expires_at=grant.expires_at,
            scope=list(grant.scope),
            tenants=tenants,
        )

    # -- the token endpoint --------------------------------------------------------------------

    def _client_id(self) -> str:
        if not self._settings.xero_client_id:
            raise XeroConfigError(
                "ATX_XERO_CLIENT_ID is not set; copy the client id of your Xero app"
                " (developer.xero.com > My Apps) into it"
            )
        return self._settings.xero_client_id

    def _secret(self) -> str:
        secret = self._settings.xero_client_secret
        if secret is None or not secret.get_secret_value():
            raise XeroConfigError(
                f"ATX_XERO_CLIENT_SECRET is not set; ATX_XERO_AUTH_MODE="
                f"{self._settings.xero_auth_mode} needs the secret of your Xero app"
            )
        return secret.get_secret_value()

    def _post(
        self,
        form: dict[str, str],
        *,
        basic: tuple[str, str] | None,
        tenant: XeroConnection | None,
    ) -> TokenGrant:
        what = f"token request ({form['grant_type']})"
        try:
            response = self._http.post(
                self.token_url,
                data=form,
                auth=httpx.BasicAuth(*basic) if basic else httpx.USE_CLIENT_DEFAULT,
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            # The form (refresh token, verifier) is never part of httpx's message.
            raise XeroUnavailable(what, f"{type(exc).__name__}: {exc}") from None
        if response.status_code == 200:
            return self._grant(response, what)
        error = _oauth_error(response)
        if response.status_code >= 500 or response.status_code == 429:
            raise XeroUnavailable(what, f"HTTP {response.status_code}")
        if error in ("invalid_client", "unauthorized_client"):
            raise XeroConfigError(
                f"Xero refused the app's credentials ({error}); check ATX_XERO_CLIENT_ID"
                " and ATX_XERO_CLIENT_SECRET, and ATX_XERO_AUTH_MODE matches the app's type"
            )
        if tenant is not None and error == "invalid_grant":
            self._needs_reconnect(tenant)
            raise XeroAuthError.revoked(tenant.tenant_id, tenant.tenant_name)
        raise XeroAuthError(
            f"Xero refused the {what}: {error or 'HTTP ' + str(response.status_code)};"
            " start the connect again (atx xero connect)"
        )

    def _grant(self, response: httpx.Response, what: str) -> TokenGrant:
        try:
            body: dict[str, Any] = response.json()
            access = str(body["access_token"])
            expires_in = float(body.get("expires_in") or 1800)
        except (ValueError, KeyError, TypeError):
            raise XeroUnavailable(what, "the answer was not a token") from None
        scope = body.get("scope") or ""
        scopes = tuple(scope.split()) if isinstance(scope, str) else tuple(map(str, scope))
        refresh = body.get("refresh_token")
        return TokenGrant(
            access_token=access,
            refresh_token=str(refresh) if refresh else None,
            expires_at=self._now() + timedelta(seconds=expires_in),
            scope=scopes,
            auth_event_id=auth_event_id(access),
        )

    def _needs_reconnect(self, conn: XeroConnection) -> None:
        """The grant is dead: every organisation it covers needs a new consent."""
        connections = self._store.connections
        for other in connections.list_connections():
            if other.grant_id == conn.grant_id:
                connections.set_status(other.tenant_id, "needs_reconnect")
        log.error(
            "xero grant of %s was refused (invalid_grant); reconnect needed", conn.tenant_name
        )


def _oauth_error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return one_line(str(error), 60) if error else ""
