"""OAuth 2.0 state of the simulated Xero identity service: codes, tokens, connections (no HTTP).

Lifetimes follow reference §2-§3: codes live 5 minutes and are single use; access tokens live
``options.xero_access_token_seconds``; refresh tokens rotate on every use, the previous one stays
usable for a 30-minute grace window, and an unused one dies after 60 days. All times are sandbox
seconds (``clock.seconds()``), so tests step over them with ``clock.advance()``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sandbox.clock import SandboxClock
from sandbox.core import SandboxOptions
from sandbox.world import World, XeroApp

CODE_SECONDS = 5 * 60
REFRESH_GRACE_SECONDS = 30 * 60
REFRESH_IDLE_SECONDS = 60 * 24 * 3600
DEMO_USER_ID = "5a8f9b7c-0d1e-4f2a-9b3c-4d5e6f7a8b9c"
DEMO_USER_EMAIL = "demo.user@sandbox.example"

# Scopes a custom connection is granted: everything the agent can use (reference §2).
CUSTOM_CONNECTION_SCOPES = (
    "accounting.transactions accounting.invoices accounting.payments accounting.contacts "
    "accounting.settings"
)


class OAuthError(Exception):
    """An RFC 6749 error answer from the token endpoint: `{"error": code}` with HTTP 400."""

    def __init__(self, code: str, description: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.description = description


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: list[str]
    auth_event_id: str
    issued_at: float
    code_challenge: str | None
    used: bool = False


@dataclass
class RefreshRecord:
    token: str
    client_id: str
    scope: list[str]
    auth_event_id: str
    issued_at: float
    rotated_at: float | None = None  # when first exchanged; the grace window starts here
    revoked: bool = False


@dataclass
class AccessGrant:
    """What an access token stands for."""

    token: str
    client_id: str
    scope: list[str]
    auth_event_id: str
    expires_at: float  # sandbox seconds
    custom_tenant_id: str | None = None  # set for custom connections (client_credentials)
    revoked: bool = False


@dataclass
class Connection:
    id: str
    tenant_id: str
    tenant_name: str
    auth_event_id: str
    created: datetime
    updated: datetime


@dataclass
class _AppState:
    connections: dict[str, Connection] = field(default_factory=dict)  # tenant id -> connection


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce_challenge(verifier: str) -> str:
    """S256: BASE64URL(SHA256(verifier)), RFC 7636 §4.2."""
    return _b64url(hashlib.sha256(verifier.encode()).digest())


class IdentityProvider:
    def __init__(self, world: World, clock: SandboxClock, options: SandboxOptions) -> None:
        self.world = world
        self.clock = clock
        self.options = options
        self._codes: dict[str, AuthCode] = {}
        self._refresh: dict[str, RefreshRecord] = {}
        self._access: dict[str, AccessGrant] = {}
        self._apps: dict[str, _AppState] = {}

    # -- apps -------------------------------------------------------------------------------------

    def app(self, client_id: str | None) -> XeroApp | None:
        return next((a for a in self.world.xero_apps if a.client_id == client_id), None)

    def _authenticate(self, client_id: str | None, secret: str | None) -> XeroApp:
        app = self.app(client_id)
        if app is None:
            raise OAuthError("invalid_client")
        if app.client_secret is None:
            # PKCE apps have no secret (reference §2): the client id alone identifies them.
            return app
        if not secrets.compare_digest(secret or "", app.client_secret):
            raise OAuthError("invalid_client")
        return app

    # -- authorize --------------------------------------------------------------------------------

    def issue_code(
        self,
        app: XeroApp,
        redirect_uri: str,
        scope: list[str],
        tenant_ids: list[str],
        code_challenge: str | None,
    ) -> str:
        """The demo user consents at once to ``tenant_ids``: connections are made or refreshed."""
        now = self.clock.seconds()
        auth_event_id = str(uuid.uuid4())
        state = self._apps.setdefault(app.client_id, _AppState())
        moment = self.clock.now()
        for org in self.world.xero_orgs:
            if org.tenant_id not in tenant_ids:
                continue
            existing = state.connections.get(org.tenant_id)
            if existing:
                # Reconnecting keeps the connection id; authEventId and updatedDateUtc move on
                # (identity spec `Connection.updatedDateUtc`).
                existing.auth_event_id = auth_event_id
                existing.updated = moment
            else:
                state.connections[org.tenant_id] = Connection(
                    str(uuid.uuid4()), org.tenant_id, org.name, auth_event_id, moment, moment
                )
        code = secrets.token_urlsafe(32)
        self._codes[code] = AuthCode(
            code, app.client_id, redirect_uri, scope, auth_event_id, now, code_challenge
        )
        return code

    # -- token endpoint ---------------------------------------------------------------------------

    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> dict[str, str | int]:
        """Answer a `POST /connect/token`; raises OAuthError."""
        client_id, secret = basic if basic else (form.get("client_id"), form.get("client_secret"))
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange_code(form, client_id, secret)
        if grant_type == "refresh_token":
            return self._refresh_grant(form, client_id, secret)
        if grant_type == "client_credentials":
            return self._client_credentials(form, client_id, secret)
        raise OAuthError("unsupported_grant_type")

    def _exchange_code(
        self, form: dict[str, str], client_id: str | None, secret: str | None
    ) -> dict[str, str | int]:
        app = self._authenticate(client_id, secret)
        record = self._codes.get(form.get("code", ""))
        now = self.clock.seconds()
        if (
            record is None
            or record.used
            or record.client_id != app.client_id
            or now - record.issued_at > CODE_SECONDS
            or record.redirect_uri != form.get("redirect_uri")
        ):
            raise OAuthError("invalid_grant")
        if record.code_challenge is not None:
            verifier = form.get("code_verifier", "")
            if not 43 <= len(verifier) <= 128 or pkce_challenge(verifier) != record.code_challenge:
                raise OAuthError("invalid_grant")
        record.used = True
        return self._token_response(app, record.scope, record.auth_event_id, refresh=True)

    def _refresh_grant(
        self, form: dict[str, str], client_id: str | None, secret: str | None
    ) -> dict[str, str | int]:
        app = self._authenticate(client_id, secret)
        record = self._refresh.get(form.get("refresh_token", ""))
        now = self.clock.seconds()
        if record is None or record.revoked or record.client_id != app.client_id:
            raise OAuthError("invalid_grant")
        if now - record.issued_at > REFRESH_IDLE_SECONDS:
            raise OAuthError("invalid_grant")
        if record.rotated_at is not None and now - record.rotated_at > REFRESH_GRACE_SECONDS:
            raise OAuthError("invalid_grant")
        if record.rotated_at is None:
            record.rotated_at = now
        # The scope the SDK sends back is ignored: a refresh cannot widen the grant.
        return self._token_response(app, record.scope, record.auth_event_id, refresh=True)

    def _client_credentials(
        self, form: dict[str, str], client_id: str | None, secret: str | None
    ) -> dict[str, str | int]:
        app = self._authenticate(client_id, secret)
        if app.kind != "custom" or app.custom_tenant_id is None:
            raise OAuthError("unauthorized_client")
        scope = CUSTOM_CONNECTION_SCOPES.split()
        # Custom connections get no refresh token (reference §3).
        return self._token_response(
            app, scope, str(uuid.uuid4()), refresh=False, custom_tenant_id=app.custom_tenant_id
        )

    def _token_response(
        self,
        app: XeroApp,
        scope: list[str],
        auth_event_id: str,
        *,
        refresh: bool,
        custom_tenant_id: str | None = None,
    ) -> dict[str, str | int]:
        now = self.clock.seconds()
        lifetime = self.options.xero_access_token_seconds
        access = self._jwt(
            {
                "nbf": self._epoch(0),
                "exp": self._epoch(lifetime),
                "iss": "https://identity.xero.com",
                "aud": "https://identity.xero.com/resources",
                "client_id": app.client_id,
                "sub": DEMO_USER_ID,
                "xero_userid": DEMO_USER_ID,
                "authentication_event_id": auth_event_id,
                "jti": secrets.token_hex(16),
                "scope": scope,
            }
        )
        self._access[access] = AccessGrant(
            access, app.client_id, scope, auth_event_id, now + lifetime, custom_tenant_id
        )
        # Only the keys xero-python's OAuth2Token.update_token accepts: any other key makes
        # the SDK raise TypeError (reference §14, footgun 8).
        body: dict[str, str | int] = {
            "access_token": access,
            "expires_in": lifetime,
            "token_type": "Bearer",
            "scope": " ".join(scope),
        }
        if refresh and "offline_access" in scope:
            token = secrets.token_urlsafe(32)
            self._refresh[token] = RefreshRecord(token, app.client_id, scope, auth_event_id, now)
            body["refresh_token"] = token
        if "openid" in scope:
            body["id_token"] = self._jwt(
                {
                    "nbf": self._epoch(0),
                    "exp": self._epoch(300),
                    "iss": "https://identity.xero.com",
                    "aud": app.client_id,
                    "sub": DEMO_USER_ID,
                    "xero_userid": DEMO_USER_ID,
                    "email": DEMO_USER_EMAIL,
                    "given_name": "Demo",
                    "family_name": "User",
                }
            )
        return body

    def _epoch(self, offset_seconds: int) -> int:
        return int((self.clock.now() + timedelta(seconds=offset_seconds)).timestamp())

    @staticmethod
    def _jwt(claims: dict[str, object]) -> str:
        # JWT-shaped so clients may read `authentication_event_id` and `exp` as with Xero's
        # tokens; the signature is random bytes, nothing verifies it.
        header = {"alg": "RS256", "kid": "sandbox", "typ": "JWT"}
        parts = [json.dumps(header).encode(), json.dumps(claims).encode(), secrets.token_bytes(32)]
        return ".".join(_b64url(p) for p in parts)

    def revoke(self, form: dict[str, str], basic: tuple[str, str] | None) -> None:
        """`POST /connect/revocation`: the refresh token dies and the app's connections go."""
        client_id, secret = basic if basic else (form.get("client_id"), form.get("client_secret"))
        app = self._authenticate(client_id, secret)
        record = self._refresh.get(form.get("token", ""))
        if record is None or record.client_id != app.client_id:
            return  # RFC 7009 §2.2: unknown tokens are not an error
        for other in self._refresh.values():
            if other.client_id == app.client_id:
                other.revoked = True
        for grant in self._access.values():
            if grant.client_id == app.client_id:
                grant.revoked = True
        self._apps.pop(app.client_id, None)

    # -- resource side ----------------------------------------------------------------------------

    def grant(self, token: str) -> AccessGrant | None:
        grant = self._access.get(token)
        return None if grant is None or grant.revoked else grant

    def expired(self, grant: AccessGrant) -> bool:
        return self.clock.seconds() >= grant.expires_at

    def expiry_moment(self, grant: AccessGrant) -> datetime:
        return self.clock.now() + timedelta(seconds=grant.expires_at - self.clock.seconds())

    def connections(self, client_id: str, auth_event_id: str | None = None) -> list[Connection]:
        state = self._apps.get(client_id)
        found = list(state.connections.values()) if state else []
        if auth_event_id:
            found = [c for c in found if c.auth_event_id == auth_event_id]
        return found

    def delete_connection(self, client_id: str, connection_id: str) -> bool:
        state = self._apps.get(client_id)
        if state is None:
            return False
        for tenant_id, conn in list(state.connections.items()):
            if conn.id == connection_id:
                del state.connections[tenant_id]
                return True
        return False

    def tenant_allowed(self, grant: AccessGrant, tenant_id: str) -> bool:
        if grant.custom_tenant_id is not None:
            return tenant_id == grant.custom_tenant_id
        state = self._apps.get(grant.client_id)
        return bool(state and tenant_id in state.connections)
