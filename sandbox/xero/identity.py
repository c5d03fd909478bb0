"""Xero identity and login endpoints: authorize, token, revocation, connections (reference §2-§6).

Real Xero spreads these over login.xero.com, identity.xero.com and api.xero.com; the sandbox serves
them on one host with the same paths. Consent is automatic: the demo user grants every organisation
of the world, or those named by the sandbox-only ``tenants=`` parameter (tenant ids or short codes,
comma-separated), which lets tests model "one org per authorization".
"""

from __future__ import annotations

import base64
import html
import re
import secrets
import uuid
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from sandbox.xero.access import check_token
from sandbox.xero.tokens import Connection, OAuthError

if TYPE_CHECKING:
    from sandbox.core import Sandbox

_KNOWN_SCOPE = re.compile(
    r"^(openid|profile|email|offline_access|marketplace\.billing"
    r"|accounting\.(transactions|invoices|payments|banktransactions|manualjournals|settings"
    r"|contacts|attachments)(\.read)?|accounting\.(reports|journals|budgets)[a-z.]*\.read"
    r"|(payroll\.[a-z]+|files|assets|projects)(\.read)?)$"
)


def _error_page(message: str) -> HTMLResponse:
    # Xero shows its own error page and never redirects to an unverified redirect_uri.
    body = (
        "<!doctype html><title>Xero | Error</title><h1>Sorry, something went wrong</h1>"
        f"<p>{html.escape(message)}</p>"
    )
    return HTMLResponse(body, status_code=400)


def _redirect(uri: str, params: dict[str, str]) -> RedirectResponse:
    separator = "&" if "?" in uri else "?"
    return RedirectResponse(f"{uri}{separator}{urlencode(params)}", status_code=302)


def _basic(request: Request) -> tuple[str, str] | None:
    value = request.headers.get("authorization", "")
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    except ValueError:
        return None
    return client_id, secret


async def _form(request: Request) -> dict[str, str]:
    # Parsed by hand: Starlette's request.form() needs python-multipart, not a dependency here.
    body = (await request.body()).decode("utf-8", "replace")
    return dict(parse_qsl(body, keep_blank_values=True))


def _connection_json(conn: Connection) -> dict[str, str]:
    return {
        "id": conn.id,
        "authEventId": conn.auth_event_id,
        "tenantId": conn.tenant_id,
        "tenantType": "ORGANISATION",
        "tenantName": conn.tenant_name,
        "createdDateUtc": conn.created.strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "updatedDateUtc": conn.updated.strftime("%Y-%m-%dT%H:%M:%S.%f"),
    }


def identity_routes(sandbox: Sandbox) -> list[Route]:
    service = sandbox.xero
    identity = service.identity

    async def authorize(request: Request) -> Response:
        q = request.query_params
        app = identity.app(q.get("client_id"))
        if app is None:
            return _error_page("Invalid client_id: unknown_client")
        redirect_uri = q.get("redirect_uri", "")
        if redirect_uri not in app.redirect_uris:
            return _error_page("Invalid redirect_uri: it is not registered for this app")
        back: dict[str, str] = {"state": q["state"]} if q.get("state") else {}
        if app.kind == "custom":
            return _redirect(redirect_uri, {"error": "unauthorized_client", **back})
        if q.get("response_type") != "code":
            return _redirect(redirect_uri, {"error": "unsupported_response_type", **back})
        scope = (q.get("scope") or "").split()
        if not scope or not all(_KNOWN_SCOPE.match(s) for s in scope):
            return _redirect(redirect_uri, {"error": "invalid_scope", **back})
        challenge = q.get("code_challenge")
        if challenge and q.get("code_challenge_method") != "S256":
            return _redirect(redirect_uri, {"error": "invalid_request", **back})
        if app.kind == "pkce" and not challenge:
            return _redirect(redirect_uri, {"error": "invalid_request", **back})
        orgs = sandbox.world.xero_orgs
        if q.get("tenants"):
            wanted = {t.strip().lower() for t in q["tenants"].split(",")}
            orgs = [o for o in orgs if {o.tenant_id.lower(), o.short_code.lower()} & wanted]
        if not orgs:
            return _redirect(redirect_uri, {"error": "access_denied", **back})
        with service.lock:
            code = identity.issue_code(
                app, redirect_uri, scope, [o.tenant_id for o in orgs], challenge
            )
        params = {"code": code, "scope": " ".join(scope), **back}
        params["session_state"] = secrets.token_urlsafe(16)
        return _redirect(redirect_uri, params)

    async def token(request: Request) -> Response:
        form = await _form(request)
        try:
            with service.lock:
                body = identity.token(form, _basic(request))
        except OAuthError as exc:
            return JSONResponse({"error": exc.code}, status_code=400)
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    async def revoke(request: Request) -> Response:
        form = await _form(request)
        try:
            with service.lock:
                identity.revoke(form, _basic(request))
        except OAuthError as exc:
            return JSONResponse({"error": exc.code}, status_code=400)
        return Response(status_code=200)

    async def connections(request: Request) -> Response:
        with service.lock:
            grant = check_token(service, request.headers)
            if isinstance(grant, Response):
                return grant
            tenant = grant.custom_tenant_id
            if tenant is not None:
                # A custom connection has exactly one connection, to its organisation.
                ledger = service.ledger(tenant)
                conn_id = str(uuid.uuid5(uuid.UUID(int=0), f"custom:{grant.client_id}:{tenant}"))
                conns = [
                    Connection(conn_id, tenant, ledger.org.name, grant.auth_event_id,
                               ledger.created, ledger.created)
                ]  # fmt: skip
            else:
                event = request.query_params.get("authEventId")
                conns = identity.connections(grant.client_id, event)
            return JSONResponse([_connection_json(c) for c in conns])

    async def delete_connection(request: Request) -> Response:
        with service.lock:
            grant = check_token(service, request.headers)
            if isinstance(grant, Response):
                return grant
            if not identity.delete_connection(grant.client_id, request.path_params["id"]):
                return Response("The resource you're looking for cannot be found", 404)
        return Response(status_code=204)

    routes = [
        Route("/identity/connect/authorize", authorize, methods=["GET"]),
        Route("/connect/token", token, methods=["POST"]),
        Route("/connect/revocation", revoke, methods=["POST"]),
    ]
    # The identity spec writes /Connections; Xero answers either case.
    for path in ("/connections", "/Connections"):
        routes.append(Route(path, connections, methods=["GET"]))
        routes.append(Route(path + "/{id}", delete_connection, methods=["DELETE"]))
    return routes
