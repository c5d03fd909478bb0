"""Simulated Xero identity: authorize, tokens, rotation, expiry, connections (reference §2-§6)."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlparse

import pytest
from test_sandbox_xero_support import (
    AU,
    GB,
    REDIRECT,
    authorize,
    bearer,
    code_from,
    code_login,
    pkce_login,
    pkce_pair,
    running,
    sdk,
)
from xero_python.identity import IdentityApi

from sandbox.world import (
    SANDBOX_XERO_CODE_CLIENT_ID,
    SANDBOX_XERO_CODE_CLIENT_SECRET,
    SANDBOX_XERO_CUSTOM_CLIENT_ID,
    SANDBOX_XERO_CUSTOM_CLIENT_SECRET,
    SANDBOX_XERO_PKCE_CLIENT_ID,
)


def _claims(jwt: str) -> dict[str, object]:
    payload = jwt.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def test_pkce_flow_end_to_end_reaches_both_organisations() -> None:
    with running() as env:
        token = pkce_login(env)
        assert token["token_type"] == "Bearer" and token["expires_in"] == 1800
        assert token["refresh_token"] and token["id_token"]
        event = _claims(token["access_token"])["authentication_event_id"]
        api = IdentityApi(
            sdk(env, token, SANDBOX_XERO_PKCE_CLIENT_ID).client, base_url=env.urls.xero_api_url
        )
        connections = api.get_connections()
        assert {c.tenant_id for c in connections} == {AU, GB}
        assert {c.auth_event_id for c in connections} == {event}
        assert all(c.tenant_type == "ORGANISATION" for c in connections)
        for tenant in (AU, GB):
            org = env.http.get(env.api + "/Organisation", headers=bearer(token, tenant)).json()
            assert org["Organisations"][0]["OrganisationID"] == tenant
        # A PKCE app refreshes with its client id alone: it has no secret (reference §2).
        refreshed = env.http.post(
            env.urls.xero_identity_url + "/connect/token",
            data={"grant_type": "refresh_token", "client_id": SANDBOX_XERO_PKCE_CLIENT_ID,
                  "refresh_token": token["refresh_token"]},
        )  # fmt: skip
        assert refreshed.status_code == 200
        assert refreshed.json()["refresh_token"] != token["refresh_token"]


def test_authorize_refuses_unknown_client_and_unregistered_redirect_without_redirecting() -> None:
    with running() as env:
        bad_client = authorize(env, "NOPE", None)
        assert bad_client.status_code == 400 and "text/html" in bad_client.headers["content-type"]
        bad_redirect = authorize(
            env,
            SANDBOX_XERO_PKCE_CLIENT_ID,
            pkce_pair()[1],
            redirect_uri="http://localhost:9999/evil",
        )
        assert bad_redirect.status_code == 400 and "location" not in bad_redirect.headers
        no_challenge = authorize(env, SANDBOX_XERO_PKCE_CLIENT_ID, None)
        assert parse_qs(urlparse(no_challenge.headers["location"]).query)["error"] == [
            "invalid_request"
        ]


def test_code_is_single_use_expires_and_checks_the_verifier() -> None:
    with running() as env:
        token_url = env.urls.xero_identity_url + "/connect/token"
        verifier, challenge = pkce_pair()
        code = code_from(authorize(env, SANDBOX_XERO_PKCE_CLIENT_ID, challenge))
        form = {
            "grant_type": "authorization_code",
            "client_id": SANDBOX_XERO_PKCE_CLIENT_ID,
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": pkce_pair()[0],
        }
        assert env.http.post(token_url, data=form).json() == {"error": "invalid_grant"}
        form["code_verifier"] = verifier
        assert env.http.post(token_url, data=form).status_code == 200
        assert env.http.post(token_url, data=form).json() == {"error": "invalid_grant"}

        verifier, challenge = pkce_pair()
        form["code"] = code_from(authorize(env, SANDBOX_XERO_PKCE_CLIENT_ID, challenge))
        form["code_verifier"] = verifier
        env.sandbox.clock.advance(5 * 60 + 1)
        assert env.http.post(token_url, data=form).json() == {"error": "invalid_grant"}


def test_code_flow_with_secret_basic_or_form_and_wrong_secret() -> None:
    with running() as env:
        assert code_login(env)["refresh_token"]
        token_url = env.urls.xero_identity_url + "/connect/token"
        code = code_from(authorize(env, SANDBOX_XERO_CODE_CLIENT_ID, None))
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": SANDBOX_XERO_CODE_CLIENT_ID,
            "client_secret": "wrong",
        }
        response = env.http.post(token_url, data=form)
        assert response.status_code == 400 and response.json() == {"error": "invalid_client"}
        form["client_secret"] = SANDBOX_XERO_CODE_CLIENT_SECRET
        assert env.http.post(token_url, data=form).status_code == 200
        unsupported = env.http.post(token_url, data={**form, "grant_type": "password"})
        assert unsupported.json() == {"error": "unsupported_grant_type"}


def test_refresh_tokens_rotate_with_a_30_minute_grace_then_invalid_grant() -> None:
    with running() as env:
        first = code_login(env)
        client = sdk(env, first, SANDBOX_XERO_CODE_CLIENT_ID, SANDBOX_XERO_CODE_CLIENT_SECRET)
        # The SDK's own refresh: form body with client_secret and scope (reference §14).
        second = client.client.refresh_oauth2_token()
        assert second["refresh_token"] != first["refresh_token"]
        assert second["access_token"] != first["access_token"]

        token_url = env.urls.xero_identity_url + "/connect/token"
        auth = (SANDBOX_XERO_CODE_CLIENT_ID, SANDBOX_XERO_CODE_CLIENT_SECRET)
        retry = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        env.sandbox.clock.advance(29 * 60)
        assert env.http.post(token_url, data=retry, auth=auth).status_code == 200  # grace
        env.sandbox.clock.advance(2 * 60)
        assert env.http.post(token_url, data=retry, auth=auth).json() == {"error": "invalid_grant"}
        # The newest token is still good; unused for 60 days it dies too.
        fresh = {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
        assert env.http.post(token_url, data=fresh, auth=auth).status_code == 200
        latest = env.http.post(
            token_url, data=retry | {"refresh_token": second["refresh_token"]}, auth=auth
        )
        env.sandbox.clock.advance(61 * 24 * 3600)
        dead = {"grant_type": "refresh_token", "refresh_token": latest.json()["refresh_token"]}
        assert env.http.post(token_url, data=dead, auth=auth).json() == {"error": "invalid_grant"}


def test_client_credentials_token_is_bound_to_the_custom_tenant() -> None:
    with running() as env:
        client = sdk(env, {}, SANDBOX_XERO_CUSTOM_CLIENT_ID, SANDBOX_XERO_CUSTOM_CLIENT_SECRET)
        token = client.client.get_client_credentials_token()
        assert "refresh_token" not in token
        # No xero-tenant-id needed with a custom connection (reference §6).
        orgs = env.http.get(env.api + "/Organisation", headers=bearer(token, None))
        assert orgs.json()["Organisations"][0]["OrganisationID"] == AU
        assert env.http.get(env.api + "/Organisation", headers=bearer(token, GB)).status_code == 403
        invoices = client.api.get_invoices(AU)
        assert invoices.invoices == []
        listed = env.http.get(env.urls.xero_api_url + "/connections", headers=bearer(token, None))
        assert [c["tenantId"] for c in listed.json()] == [AU]
        pkce_only = env.http.post(
            env.urls.xero_identity_url + "/connect/token",
            data={"grant_type": "client_credentials"},
            auth=(SANDBOX_XERO_CODE_CLIENT_ID, SANDBOX_XERO_CODE_CLIENT_SECRET),
        )
        assert pkce_only.json() == {"error": "unauthorized_client"}


def test_access_token_expires_on_the_sandbox_clock() -> None:
    with running(xero_access_token_seconds=600) as env:
        token = pkce_login(env)
        assert token["expires_in"] == 600
        assert env.http.get(env.api + "/Invoices", headers=bearer(token)).status_code == 200
        env.sandbox.clock.advance(601)
        response = env.http.get(env.api + "/Invoices", headers=bearer(token))
        assert response.status_code == 401
        body = response.json()
        assert body["Title"] == "Unauthorized" and body["Type"] is None
        assert body["Detail"].startswith("TokenExpired: token expired at ")
        assert (
            env.http.get(
                env.urls.xero_api_url + "/connections", headers=bearer(token, None)
            ).status_code
            == 401
        )


def test_tenant_header_and_scopes_are_enforced() -> None:
    with running() as env:
        token = pkce_login(env, tenants="!GB01")
        assert env.http.get(env.api + "/Invoices", headers=bearer(token, GB)).status_code == 200
        for tenant in (AU, None):
            refused = env.http.get(env.api + "/Invoices", headers=bearer(token, tenant))
            assert refused.status_code == 403
            assert refused.json()["Detail"] == "AuthenticationUnsuccessful"
        garbage = env.http.get(env.api + "/Invoices", headers={"Authorization": "Bearer x"})
        assert garbage.status_code == 401

        verifier, challenge = pkce_pair()
        code = code_from(
            authorize(
                env,
                SANDBOX_XERO_PKCE_CLIENT_ID,
                challenge,
                scope="offline_access accounting.contacts.read",
            )
        )
        narrow = env.http.post(
            env.urls.xero_identity_url + "/connect/token",
            data={
                "grant_type": "authorization_code",
                "client_id": SANDBOX_XERO_PKCE_CLIENT_ID,
                "code": code,
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
            },
        ).json()
        assert env.http.get(env.api + "/Contacts", headers=bearer(narrow)).status_code == 200
        denied = env.http.get(env.api + "/Invoices", headers=bearer(narrow))
        assert denied.status_code == 401
        assert denied.json()["Detail"] == "AuthorizationUnsuccessful"
        write = env.http.put(env.api + "/Contacts", headers=bearer(narrow), json={"Name": "X"})
        assert write.status_code == 401


@pytest.mark.parametrize("path", ["/connections", "/Connections"])
def test_deleting_a_connection_cuts_that_tenant_off(path: str) -> None:
    with running() as env:
        token = pkce_login(env)
        listed = env.http.get(env.urls.xero_api_url + path, headers=bearer(token, None)).json()
        au = next(c for c in listed if c["tenantId"] == AU)
        event = au["authEventId"]
        by_event = env.http.get(
            env.urls.xero_api_url + path, params={"authEventId": event}, headers=bearer(token, None)
        ).json()
        assert len(by_event) == 2
        deleted = env.http.delete(
            f"{env.urls.xero_api_url}{path}/{au['id']}", headers=bearer(token, None)
        )
        assert deleted.status_code == 204
        assert env.http.get(env.api + "/Invoices", headers=bearer(token, AU)).status_code == 403
        assert env.http.get(env.api + "/Invoices", headers=bearer(token, GB)).status_code == 200
        remaining = env.http.get(env.urls.xero_api_url + path, headers=bearer(token, None)).json()
        assert [c["tenantId"] for c in remaining] == [GB]
