"""Who may call the Accounting API: bearer token, tenant header, scopes (reference §4, §6).

Answers are the gateway's problem-details bodies seen in the field:
- unknown token: 401 ``AuthenticationUnsuccessful``; expired: 401 ``TokenExpired: token expired at
  MM/DD/YYYY HH:MM:SS`` (pyxero#337, xeroizer#509);
- missing or unconnected ``xero-tenant-id``: 403 ``AuthenticationUnsuccessful`` (xero-node#432,
  NangoHQ/nango#203); custom connections need no header (reference §6);
- a scope the token lacks: 401 ``AuthorizationUnsuccessful`` (Xero-NetStandard#298).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.responses import Response

from sandbox.xero.limits import RateKey
from sandbox.xero.serialize import problem_response
from sandbox.xero.service import XeroService
from sandbox.xero.tokens import AccessGrant

# Granular scope(s) per resource; the broad pre-2026 scope is accepted where one existed, and a
# ".read" variant suffices for GET (reference §4 tables).
_RESOURCE_SCOPES = {
    "invoices": ("accounting.invoices",),
    "creditnotes": ("accounting.invoices",),
    "purchaseorders": ("accounting.invoices",),
    "items": ("accounting.settings", "accounting.invoices"),
    "payments": ("accounting.payments",),
    "contacts": ("accounting.contacts",),
    "accounts": ("accounting.settings",),
    "taxrates": ("accounting.settings",),
    "currencies": ("accounting.settings",),
    "brandingthemes": ("accounting.settings",),
    "organisation": ("accounting.settings",),
}
_BROAD = {
    "accounting.invoices": "accounting.transactions",
    "accounting.payments": "accounting.transactions",
}


@dataclass(frozen=True)
class Access:
    grant: AccessGrant
    tenant_id: str

    @property
    def client_id(self) -> str:
        return self.grant.client_id


def bearer(headers: Headers) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _tenant(service: XeroService, grant: AccessGrant, headers: Headers) -> str | None:
    tenant_id = headers.get("xero-tenant-id", "").strip() or grant.custom_tenant_id
    if not tenant_id or tenant_id not in service.ledgers:
        return None
    return tenant_id if service.identity.tenant_allowed(grant, tenant_id) else None


def check_token(service: XeroService, headers: Headers) -> AccessGrant | Response:
    """The grant behind a live bearer token, or the 401 Xero answers."""
    token = bearer(headers)
    grant = service.identity.grant(token) if token else None
    if grant is None:
        return problem_response(401, "Unauthorized", "AuthenticationUnsuccessful")
    if service.identity.expired(grant):
        expired_at = service.identity.expiry_moment(grant)
        return problem_response(
            401, "Unauthorized", f"TokenExpired: token expired at {expired_at:%m/%d/%Y %H:%M:%S}"
        )
    return grant


def authorise(service: XeroService, headers: Headers) -> Access | Response:
    with service.lock:
        grant = check_token(service, headers)
        if isinstance(grant, Response):
            return grant
        tenant_id = _tenant(service, grant, headers)
        if tenant_id is None:
            return problem_response(403, "Forbidden", "AuthenticationUnsuccessful")
        return Access(grant, tenant_id)


def known_resource(name: str) -> bool:
    return name.lower() in _RESOURCE_SCOPES


def scope_allows(grant: AccessGrant, resource: str, write: bool) -> bool:
    granted = set(grant.scope)
    for scope in _RESOURCE_SCOPES.get(resource, ()):
        accepted = {scope, _BROAD.get(scope, scope)}
        if not write:
            accepted |= {f"{s}.read" for s in accepted}
        if granted & accepted:
            return True
    return False


def rate_key(service: XeroService, headers: Headers) -> RateKey | None:
    """The organisation and app a call is charged to; None when it will fail authentication."""
    access = authorise(service, headers)
    if not isinstance(access, Access):
        return None
    limit = service.day_limit(access.tenant_id, access.grant.custom_tenant_id is not None)
    return RateKey(access.tenant_id, access.client_id, limit)
