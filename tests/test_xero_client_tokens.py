"""Xero tokens in the store: sign-in, renewal before expiry and on 401, saved before use, one
refresh at a time across processes, custom connections without a browser (reference §2, §3)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from test_xero_client_kit import AU, GB, record_requests, serving

from agent.xero import XeroAuthError, XeroClient


def test_pkce_sign_in_stores_the_grant_with_scope_as_a_list_and_an_expiry(tmp_path: Path) -> None:
    with serving(tmp_path) as served, served.client() as client:
        assert sorted(served.connect(client)) == sorted([AU, GB])
        conn = client.store.connections.get(AU)
        assert conn is not None and conn.auth_mode == "pkce" and conn.has_refresh_token
        assert "offline_access" in conn.scope and isinstance(conn.scope, tuple)
        expected = served.sandbox.clock.now() + timedelta(seconds=1800)
        assert abs((conn.expires_at - expected).total_seconds()) < 5
        # PKCE: the code exchange carried the verifier and no secret.
        (exchange,) = served.token_requests
        assert exchange["code_verifier"] and "client_secret" not in exchange
        assert exchange["authorization"] == ""


def test_sign_in_for_one_organisation_connects_only_that_one(tmp_path: Path) -> None:
    with serving(tmp_path) as served, served.client() as client:
        assert served.connect(client, tenants=GB) == [GB]
        assert [c.tenant_id for c in client.store.connections.list_connections()] == [GB]


def test_access_token_is_renewed_a_minute_before_it_expires(tmp_path: Path) -> None:
    with serving(tmp_path) as served, served.client() as client:
        served.connect(client)
        before = client.store.connections.tokens(AU)
        served.sandbox.clock.advance(1800 - 30)  # 30 s left: inside the 60 s margin
        assert client.organisation(AU).base_currency == "AUD"
        (refresh,) = served.refreshes()
        # PKCE refresh: client id and refresh token, no secret (reference §2).
        assert refresh["client_id"] and refresh["refresh_token"] == before.refresh_token
        assert "client_secret" not in refresh and refresh["authorization"] == ""
        after = client.store.connections.tokens(AU)
        assert after.refresh_token != before.refresh_token
        assert after.expires_at > before.expires_at
        assert client.status(AU).calls_made == 1  # no 401 round trip


def test_new_refresh_token_is_saved_before_the_new_access_token_is_used(tmp_path: Path) -> None:
    class Crash(BaseException):
        """The process dies right after the refresh, before the API call."""

    with serving(tmp_path) as served:
        with served.client() as client:
            served.connect(client)
            old = client.store.connections.tokens(AU)
            served.sandbox.clock.advance(1800)
            sent = record_requests(client)
            pool = client.gateway.api_client.rest_client.pool_manager
            recording = pool.request

            def crash(*args: object, **kwargs: object) -> object:
                recording(*args, **kwargs)
                raise Crash

            pool.request = crash
            with pytest.raises(Crash):
                client.organisation(AU)
            assert len(sent) == 1 and len(served.refreshes()) == 1
        # "Restart": a new process reads the store and goes on with the new token, no refresh.
        with served.client() as restarted:
            stored = restarted.store.connections.tokens(AU)
            assert stored.refresh_token != old.refresh_token
            assert stored.access_token != old.access_token
            assert restarted.organisation(AU).name == "Sandbox Services Pty Ltd"
            assert len(served.refreshes()) == 1


def test_a_401_token_expired_renews_once_and_sends_the_call_again(tmp_path: Path) -> None:
    with serving(tmp_path) as served:
        # The client's clock stands still, so it believes the token is still valid.
        frozen = served.sandbox.clock.now()
        with served.client(now=lambda: frozen) as client:
            served.connect(client)
            served.sandbox.clock.advance(1800)
            sent = record_requests(client)
            assert client.organisation(AU).country_code == "AU"
            assert len(served.refreshes()) == 1
            assert [s.method for s in sent] == ["GET", "GET"]
            assert sent[0].headers["authorization"] != sent[1].headers["authorization"]


def test_two_processes_needing_a_refresh_send_exactly_one_refresh_request(tmp_path: Path) -> None:
    with serving(tmp_path) as served:
        with served.client() as first:
            served.connect(first)
        served.sandbox.clock.advance(1800)
        clients = [served.client(), served.client()]  # two stores on one file: two "processes"
        barrier = threading.Barrier(2)
        tokens: list[str] = []
        errors: list[BaseException] = []

        def work(client: XeroClient) -> None:
            try:
                barrier.wait()
                tokens.append(client.tokens.access_token(AU))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(served.refreshes()) == 1
        assert tokens[0] == tokens[1]
        for client in clients:
            assert client.organisation(AU).base_currency == "AUD"
            client.close()


def test_threads_of_one_process_needing_a_refresh_share_one_request(tmp_path: Path) -> None:
    with serving(tmp_path) as served, served.client() as client:
        served.connect(client)
        served.sandbox.clock.advance(1800)
        threads = [
            threading.Thread(target=client.organisation, args=(AU,), kwargs={"refresh": True})
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(served.refreshes()) == 1
        assert client.status(AU).calls_made == 4


def test_one_refresh_serves_every_organisation_of_the_grant(tmp_path: Path) -> None:
    with serving(tmp_path) as served, served.client() as client:
        served.connect(client)
        served.sandbox.clock.advance(1800)
        client.organisation(AU)
        client.organisation(GB)
        assert len(served.refreshes()) == 1


def test_a_revoked_grant_asks_for_a_reconnect_and_marks_the_connection(tmp_path: Path) -> None:
    with serving(tmp_path) as served, served.client() as client:
        served.connect(client)
        tokens = client.store.connections.tokens(AU)
        httpx.post(
            served.urls.xero_identity_url + "/connect/revocation",
            data={"token": tokens.refresh_token, "client_id": client.settings.xero_client_id},
        ).raise_for_status()
        served.sandbox.clock.advance(1800)
        with pytest.raises(XeroAuthError) as raised:
            client.organisation(AU)
        message = str(raised.value)
        assert message == (
            'the Xero connection for "Sandbox Services Pty Ltd" was revoked or expired;'
            " reconnect it (atx xero connect)"
        )
        assert tokens.access_token not in message and str(tokens.refresh_token) not in message
        statuses = {c.tenant_id: c.status for c in client.store.connections.list_connections()}
        assert statuses == {AU: "needs_reconnect", GB: "needs_reconnect"}
        # Later calls fail at once, without asking Xero again.
        with pytest.raises(XeroAuthError):
            client.organisation(GB)
        assert len(served.refreshes()) == 1


def test_code_mode_refreshes_with_the_secret_in_basic_auth(tmp_path: Path) -> None:
    with serving(tmp_path) as served, served.client("code") as client:
        served.connect(client)
        served.sandbox.clock.advance(1800)
        assert client.organisation(AU).base_currency == "AUD"
        (refresh,) = served.refreshes()
        assert refresh["authorization"].startswith("Basic ")
        assert "client_secret" not in refresh


def test_client_credentials_work_with_no_browser_and_mint_again_on_expiry(tmp_path: Path) -> None:
    with serving(tmp_path) as served, served.client("client_credentials") as client:
        assert [t.tenant_id for t in client.ensure_connected()] == [AU]
        assert client.organisation(AU).name == "Sandbox Services Pty Ltd"
        conn = client.store.connections.get(AU)
        assert conn is not None and not conn.has_refresh_token
        served.sandbox.clock.advance(1800)
        client.find_invoices_by_number(AU, ["nope"])
        grants = [r["grant_type"] for r in served.token_requests]
        assert grants == ["client_credentials", "client_credentials"]
        assert all(r["authorization"].startswith("Basic ") for r in served.token_requests)


def test_an_organisation_never_connected_names_the_fix(tmp_path: Path) -> None:
    with serving(tmp_path) as served, served.client() as client:
        with pytest.raises(XeroAuthError, match=r"not connected.*atx xero connect"):
            client.organisation(AU)
        assert served.token_requests == []


def test_token_sets_never_show_their_tokens() -> None:
    from agent.xero import TokenGrant

    grant = TokenGrant("secret-access", "secret-refresh", datetime.now(UTC), ("a",))
    assert "secret" not in repr(grant)
