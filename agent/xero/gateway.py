"""One Accounting API call: token, governor, SDK transport, and errors people can act on.

``XeroGateway.call(tenant, "get_invoices", ...)`` names an ``AccountingApi`` method; the gateway
fetches a valid token per attempt (so a long 429 wait cannot leave a stale one), runs the call
under the organisation's governor, renews the token once on a 401, and turns what is left into
the errors of ``agent.xero.errors``.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

from xero_python.accounting import AccountingApi
from xero_python.identity import IdentityApi

from agent.config import Settings
from agent.store import Store, TenantInfo
from agent.xero.errors import (
    XeroAuthError,
    XeroNotFound,
    XeroRequestError,
    XeroUnavailable,
    org_label,
)
from agent.xero.governor import HttpFailure, NetworkFailure, RateGovernor, Reply
from agent.xero.tokens import TokenProvider
from agent.xero.transport import RawApiClient

log = logging.getLogger("atx.xero")


class XeroGateway:
    def __init__(
        self, settings: Settings, store: Store, tokens: TokenProvider, governor: RateGovernor
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.governor = governor
        # Enough pooled connections for every organisation's 5 concurrent calls.
        self.api_client = RawApiClient(max_connections=governor.policy.concurrent_limit * 4)
        self.accounting = AccountingApi(
            self.api_client, base_url=settings.xero_api_url + "/api.xro/2.0"
        )
        self.identity = IdentityApi(self.api_client, base_url=settings.xero_api_url)

    def close(self) -> None:
        self.api_client.close()

    def call(self, tenant_id: str, operation: str, *, write: bool = False, **kwargs: Any) -> Reply:
        method = getattr(self.accounting, operation)
        what = operation
        used: list[str] = []
        renewed = False
        while True:

            def attempt() -> Reply:
                token = self.tokens.access_token(tenant_id)
                used[:] = [token]
                return self.api_client.invoke(method, token, xero_tenant_id=tenant_id, **kwargs)

            try:
                return self.governor.run(tenant_id, attempt, write=write, what=what)
            except HttpFailure as failure:
                # A 401 means the request was refused before it was processed: renewing the
                # token and sending the same request (same Idempotency-Key) again is safe.
                if failure.status == 401 and not renewed and used:
                    renewed = True
                    log.info("xero %s for %s: 401 (%s); renewing the token", what, tenant_id,
                             _detail(failure))  # fmt: skip
                    self.tokens.renew_after_rejection(tenant_id, used[0])
                    continue
                raise self._translate(tenant_id, what, failure) from None

    def connections(self, access_token: str, auth_event_id: str | None = None) -> list[TenantInfo]:
        """``GET /connections``: the organisations a token may reach (reference §6). Not an
        Accounting call, so not charged to any organisation's limits."""
        kwargs = {"auth_event_id": auth_event_id} if auth_event_id else {}
        try:
            reply = self.api_client.invoke(self.identity.get_connections, access_token, **kwargs)
        except NetworkFailure as failure:
            raise XeroUnavailable("GET /connections", failure.cause) from None
        except HttpFailure as failure:
            if failure.status == 401:
                raise XeroAuthError(
                    "Xero did not accept the new token for /connections;"
                    " start the connect again (atx xero connect)"
                ) from None
            raise XeroUnavailable("GET /connections", f"HTTP {failure.status}") from None
        found = reply.body if isinstance(reply.body, list) else []
        return [
            TenantInfo(str(c["tenantId"]), str(c.get("tenantName") or ""), c.get("id"))
            for c in found
            if isinstance(c, dict)
            and c.get("tenantId")
            and str(c.get("tenantType") or "ORGANISATION").upper() == "ORGANISATION"
        ]

    # -- errors --------------------------------------------------------------------------------

    def _name(self, tenant_id: str) -> str | None:
        conn = self.store.connections.get(tenant_id)
        return conn.tenant_name if conn else None

    def _translate(self, tenant_id: str, what: str, failure: HttpFailure) -> Exception:
        body = _json(failure)
        detail = _detail(failure)
        name = self._name(tenant_id)
        if failure.status == 401:
            if "authorizationunsuccessful" in detail.lower():
                return XeroAuthError(
                    f"the Xero connection for {org_label(tenant_id, name)} lacks a scope"
                    f" {what} needs; add it to ATX_XERO_SCOPES and reconnect (atx xero connect)",
                    tenant_id=tenant_id,
                )
            return XeroAuthError.revoked(tenant_id, name)
        if failure.status == 403:
            # The organisation was disconnected on Xero's side (reference §6).
            if self.store.connections.get(tenant_id) is not None:
                self.store.connections.set_status(tenant_id, "needs_reconnect")
            return XeroAuthError.revoked(tenant_id, name)
        messages = error_messages(body) or ([detail] if detail else [])
        if failure.status == 404:
            return XeroNotFound(what, 404, messages or ["not found"], body)
        if failure.status == 429 or failure.status >= 500:
            return XeroUnavailable(what, f"HTTP {failure.status}")
        return XeroRequestError(what, failure.status, messages, body)


def _json(failure: HttpFailure) -> Any:
    try:
        return json.loads(failure.body, parse_float=Decimal) if failure.body else None
    except ValueError:
        return None


def _detail(failure: HttpFailure) -> str:
    """The gateway's problem-details text (401/403/429) or Xero's Message."""
    body = _json(failure)
    if isinstance(body, dict):
        for key in ("Detail", "detail", "Message", "message", "Title"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])
    return failure.text[:200] if failure.body else ""


def error_messages(body: Any) -> list[str]:
    """Validation messages of a Xero error body: ``Elements[].ValidationErrors[].Message``
    (reference §10), else its ``Message``/``Detail``."""
    if not isinstance(body, dict):
        return []
    found: list[str] = []
    for element in body.get("Elements") or []:
        if isinstance(element, dict):
            found.extend(validation_messages(element.get("ValidationErrors")))
    if not found:
        for key in ("Message", "Detail"):
            if isinstance(body.get(key), str) and body[key]:
                found.append(str(body[key]))
                break
    return found


def validation_messages(errors: Any) -> list[str]:
    return [
        str(e.get("Message")) for e in (errors or []) if isinstance(e, dict) and e.get("Message")
    ]
