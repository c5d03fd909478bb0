"""Xero connect, device-code style, end to end on the sandbox over real HTTP: the link and the
one-time code, Xero's authorize page, the callback, the pasted-back address, and every way a
sign-in is refused (wrong, replayed or foreign state, expired flow, access denied) with nothing
stored."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from test_connect_kit import connect_env, query
from test_sandbox_xero_support import AU, GB

from agent.control.connect import (
    CODE_ALPHABET,
    ConnectError,
    ConnectFlows,
    ConnectNotConfigured,
    FlowFinished,
    UnknownFlow,
    normalise_code,
    parse_redirect,
)
from agent.xero.authorize import pkce_challenge
from sandbox.world import SANDBOX_XERO_PKCE_CLIENT_ID

FLOW_KEYS = {
    "flow_id",
    "state",
    "link",
    "code",
    "expires_at",
    "redirect_uri",
    "ssh_hint",
    "organisations",
    "error",
}


def test_a_flow_has_a_short_link_a_human_code_and_an_expiry(tmp_path: Path) -> None:
    with connect_env(tmp_path) as env:
        flow = env.flows.start()
        port = env.flows.pages.address[1]  # type: ignore[index]
        assert set(flow) == FLOW_KEYS
        assert flow["state"] == "waiting"
        assert re.fullmatch(f"[{CODE_ALPHABET}]{{4}}-[{CODE_ALPHABET}]{{4}}", flow["code"])
        assert flow["link"] == f"http://127.0.0.1:{port}/link"
        assert flow["redirect_uri"] == f"http://localhost:{port}/callback"
        assert flow["ssh_hint"] == f"ssh -L {port}:127.0.0.1:{port} <host>"
        assert flow["expires_at"] == (env.clock.moment + env.flows.ttl).isoformat()
        assert flow["organisations"] == [] and flow["error"] is None
        assert env.events == [flow]
        assert env.flows.get(flow["flow_id"]) == flow


def test_the_code_on_link_redirects_to_xero_authorize_with_state_and_s256_challenge(
    tmp_path: Path,
) -> None:
    with connect_env(tmp_path) as env:
        flow = env.flows.start()
        response = env.link(flow["code"].lower().replace("-", " "))
        assert response.status_code == 302
        location = response.headers["location"]
        assert location.startswith(env.urls.xero_login_url + "/identity/connect/authorize?")
        params = query(location)
        internal = env.flows._flows[flow["flow_id"]]
        assert params == {
            "response_type": "code",
            "client_id": SANDBOX_XERO_PKCE_CLIENT_ID,
            "redirect_uri": flow["redirect_uri"],
            "scope": env.settings.xero_scopes,
            "state": internal.state,
            "code_challenge": pkce_challenge(internal.verifier),
            "code_challenge_method": "S256",
        }
        assert response.headers["cache-control"] == "no-store"
        assert env.flows.get(flow["flow_id"])["state"] == "authorizing"
        assert [e["state"] for e in env.events] == ["waiting", "authorizing"]


def test_the_link_page_asks_for_the_code_and_a_posted_code_works_too(tmp_path: Path) -> None:
    with connect_env(tmp_path) as env:
        flow = env.flows.start()
        form = env.http.get(env.pages + "/link")
        assert form.status_code == 200
        assert '<form method="post" action="/link">' in form.text
        posted = env.http.post(env.pages + "/link", data={"code": flow["code"]})
        assert posted.status_code == 302
        assert query(posted.headers["location"])["client_id"] == SANDBOX_XERO_PKCE_CLIENT_ID


def test_a_wrong_code_says_so_and_the_flow_keeps_waiting(tmp_path: Path) -> None:
    with connect_env(tmp_path) as env:
        flow = env.flows.start()
        response = env.link("BCDF-BCDF" if flow["code"] != "BCDF-BCDF" else "ZZZZ-ZZZZ")
        assert response.status_code == 400
        assert "not a current connect code" in response.text
        assert env.flows.get(flow["flow_id"])["state"] == "waiting"


def test_guessing_codes_is_cut_off(tmp_path: Path) -> None:
    with connect_env(tmp_path) as env:
        flow = env.flows.start()
        for _ in range(10):
            assert env.link("XXXX-XXXX").status_code == 400
        assert env.link(flow["code"]).status_code == 429
        env.clock.advance(61)
        assert env.link(flow["code"]).status_code == 302


def test_consent_then_callback_stores_tokens_and_lists_the_organisations(
    tmp_path: Path,
) -> None:
    with connect_env(tmp_path) as env:
        flow = env.flows.start()
        page = env.follow(env.consent(flow["code"]))
        assert page.status_code == 200, page.text
        assert "Connected" in page.text and "You can close this tab." in page.text
        assert "Sandbox Services Pty Ltd" in page.text and "Sandbox Services Ltd" in page.text
        done = env.flows.get(flow["flow_id"])
        assert done["state"] == "connected" and done["error"] is None
        assert {o["tenant_id"] for o in done["organisations"]} == {AU, GB}
        card = next(o for o in done["organisations"] if o["tenant_id"] == AU)
        assert card["name"] == "Sandbox Services Pty Ltd" and card["auth_mode"] == "pkce"
        assert card["refresh_expires_in_days"] == pytest.approx(60, abs=0.1)
        assert {c.tenant_id for c in env.store.connections.list_connections()} == {AU, GB}
        assert env.store.connections.tokens(AU).refresh_token
        assert [e["state"] for e in env.events] == ["waiting", "authorizing", "connected"]
        assert env.events[-1] == done


def test_the_redirected_address_pasted_back_connects(tmp_path: Path) -> None:
    with connect_env(tmp_path) as env:
        flow = env.flows.start()
        redirect = env.consent(flow["code"], tenants="!GB01")
        done = env.flows.paste(flow["flow_id"], f"  {redirect}\n")
        assert done["state"] == "connected"
        assert [o["name"] for o in done["organisations"]] == ["Sandbox Services Ltd"]
        assert [c.tenant_id for c in env.store.connections.list_connections()] == [GB]


def test_a_wrong_state_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    with connect_env(tmp_path) as env:
        flow = env.flows.start()
        redirect = env.consent(flow["code"])
        forged = re.sub(r"state=[^&]+", "state=forged", redirect)
        page = env.follow(forged)
        assert page.status_code == 400
        assert "not one the agent started" in page.text
        with pytest.raises(ConnectError, match="does not belong to this connect flow"):
            env.flows.paste(flow["flow_id"], forged)
        assert env.store.connections.list_connections() == []
        # The real address still works afterwards: a forged one consumed nothing.
        assert env.flows.paste(flow["flow_id"], redirect)["state"] == "connected"


def test_a_replayed_state_is_refused(tmp_path: Path) -> None:
    with connect_env(tmp_path) as env:
        flow = env.flows.start()
        redirect = env.consent(flow["code"], tenants="!AU01")
        assert env.follow(redirect).status_code == 200
        before = env.store.connections.get(AU)
        again = env.follow(redirect)
        assert again.status_code == 400
        assert "used already" in again.text
        with pytest.raises(FlowFinished, match="used already"):
            env.flows.paste(flow["flow_id"], redirect)
        assert env.store.connections.get(AU) == before
        assert env.flows.get(flow["flow_id"])["state"] == "connected"
        # A used code no longer opens Xero's page either.
        assert env.link(flow["code"]).status_code == 400


def test_an_expired_flow_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    with connect_env(tmp_path, ttl_seconds=120) as env:
        flow = env.flows.start()
        redirect = env.consent(flow["code"])
        env.clock.advance(121)
        page = env.follow(redirect)
        assert page.status_code == 400
        assert "expired" in page.text
        assert env.store.connections.list_connections() == []
        expired = env.flows.get(flow["flow_id"])
        assert expired["state"] == "expired"
        assert "expired" in expired["error"]
        assert env.events[-1] == expired
        with pytest.raises(FlowFinished, match="expired"):
            env.flows.paste(flow["flow_id"], redirect)
        assert env.link(flow["code"]).status_code == 400


def test_a_waiting_flow_expires_when_looked_at(tmp_path: Path) -> None:
    with connect_env(tmp_path, ttl_seconds=60, serve=False) as env:
        flow = env.flows.start()
        env.clock.advance(59)
        assert env.flows.expire_due() == 0
        env.clock.advance(1)
        assert env.flows.expire_due() == 1
        assert env.flows.get(flow["flow_id"])["state"] == "expired"
        assert [e["state"] for e in env.events] == ["waiting", "expired"]


def test_an_address_from_another_flow_is_refused_and_both_flows_stay_usable(
    tmp_path: Path,
) -> None:
    with connect_env(tmp_path) as env:
        first = env.flows.start()
        second = env.flows.start()
        assert first["code"] != second["code"]
        redirect = env.consent(second["code"])
        with pytest.raises(ConnectError, match="belongs to another connect flow") as refused:
            env.flows.paste(first["flow_id"], redirect)
        assert second["code"] in refused.value.error
        assert refused.value.flow is not None and refused.value.flow["state"] == "waiting"
        assert env.store.connections.list_connections() == []
        assert env.flows.paste(second["flow_id"], redirect)["state"] == "connected"


def test_access_denied_fails_the_flow_with_a_clear_message(tmp_path: Path) -> None:
    with connect_env(tmp_path) as env:
        flow = env.flows.start()
        redirect = env.consent(flow["code"], tenants="nobody")
        assert query(redirect)["error"] == "access_denied"
        page = env.follow(redirect)
        assert page.status_code == 400
        assert "access was not granted (access_denied)" in page.text
        failed = env.flows.get(flow["flow_id"])
        assert failed["state"] == "failed"
        assert failed["error"].endswith("start the connect again")
        assert env.store.connections.list_connections() == []
        assert env.events[-1] == failed


def test_access_denied_pasted_back_fails_the_flow(tmp_path: Path) -> None:
    with connect_env(tmp_path) as env:
        flow = env.flows.start()
        redirect = env.consent(flow["code"], tenants="nobody")
        assert env.flows.paste(flow["flow_id"], redirect)["state"] == "failed"
        assert env.store.connections.list_connections() == []


def test_code_mode_sends_the_secret_and_pkce_and_nothing_secret_shows(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with connect_env(tmp_path, mode="code") as env:
        pages: list[str] = []
        flow = env.flows.start()
        pages.append(env.http.get(env.pages + "/link").text)
        redirect = env.consent(flow["code"])
        pages.append(env.follow(redirect).text)
        pages.append(env.follow(redirect).text)  # the replay page
        other = env.flows.start()
        pages.append(env.link("XXXX-XXXX").text)
        done = env.flows.get(flow["flow_id"])
        assert done["state"] == "connected"
        assert done["organisations"][0]["auth_mode"] == "code"
        shown = "\n".join(
            [repr(e) for e in env.events]
            + [repr(env.flows.flows()), repr(other)]
            + pages
            # The agent's own log lines (the test's browser logs its addresses, as browsers do).
            + [r.getMessage() for r in caplog.records if r.name.startswith(("atx", "uvicorn"))]
        )
        secrets = env.secret_values()
        assert len(secrets) >= 7  # 2 verifiers, 2 states, the client secret, 2 tokens
        for value in secrets:
            assert value not in shown
        assert query(redirect)["code"] not in shown


def test_start_refuses_without_a_client_id_or_for_a_custom_connection(tmp_path: Path) -> None:
    with connect_env(tmp_path, serve=False) as env:
        no_app = env.settings.model_copy(update={"xero_client_id": None})
        flows = ConnectFlows(no_app, env.store, env.xero)
        with pytest.raises(ConnectNotConfigured, match="ATX_XERO_CLIENT_ID"):
            flows.start()
        custom = env.settings.model_copy(update={"xero_auth_mode": "client_credentials"})
        with pytest.raises(ConnectNotConfigured, match="custom connection"):
            ConnectFlows(custom, env.store, env.xero).start()
        no_key = env.settings.model_copy(update={"secret_key": None})
        with pytest.raises(ConnectNotConfigured, match="ATX_SECRET_KEY"):
            ConnectFlows(no_key, env.store, env.xero).start()


def test_unknown_flows_are_key_errors(tmp_path: Path) -> None:
    with connect_env(tmp_path, serve=False) as env:
        with pytest.raises(KeyError):
            env.flows.get("nope")
        with pytest.raises(UnknownFlow, match="no connect flow"):
            env.flows.paste("nope", "http://localhost:8742/callback?code=a&state=b")


def test_a_custom_connection_connects_without_a_browser(tmp_path: Path) -> None:
    with connect_env(tmp_path, mode="client_credentials", serve=False) as env:
        cards = env.flows.connect_client_credentials()
        assert [c["tenant_id"] for c in cards] == [AU]
        assert cards[0]["auth_mode"] == "client_credentials"
        assert cards[0]["refresh_expires_in_days"] is None


def test_addresses_follow_the_configured_port_and_the_redirect_override(tmp_path: Path) -> None:
    with connect_env(tmp_path, serve=False) as env:
        default = env.settings.model_copy(update={"oauth_listen": "127.0.0.1:8742"})
        flows = ConnectFlows(default, env.store, env.xero)
        flow = flows.start()
        assert flow["link"] == "http://127.0.0.1:8742/link"
        assert flow["redirect_uri"] == "http://localhost:8742/callback"
        assert flow["ssh_hint"] == "ssh -L 8742:127.0.0.1:8742 <host>"
        docker = env.settings.model_copy(
            update={
                "oauth_listen": "0.0.0.0:9000",
                "oauth_redirect_uri": "http://localhost:8742/callback",
            }
        )
        flow = ConnectFlows(docker, env.store, env.xero).start()
        assert flow["link"] == "http://127.0.0.1:9000/link"
        assert flow["redirect_uri"] == "http://localhost:8742/callback"
        assert flow["ssh_hint"] == "ssh -L 8742:127.0.0.1:9000 <host>"


def test_pasted_addresses_are_read_leniently() -> None:
    whole = parse_redirect("'http://localhost:8742/callback?code=abc&state=xyz&scope=a+b'")
    assert (whole.code, whole.state, whole.error) == ("abc", "xyz", None)
    bare = parse_redirect("?state=s1&error=access_denied")
    assert (bare.code, bare.state, bare.error) == (None, "s1", "access_denied")
    with pytest.raises(ConnectError, match="no state="):
        parse_redirect("http://localhost:8742/callback?code=abc")
    with pytest.raises(ConnectError, match="nothing was pasted"):
        parse_redirect("   ")
    assert normalise_code(" bcdf ghjk ") == "BCDF-GHJK"


def test_settings_and_client_may_be_factories_read_at_each_step(tmp_path: Path) -> None:
    with connect_env(tmp_path, serve=False) as env:
        current = {"settings": env.settings.model_copy(update={"xero_client_id": None})}
        flows = ConnectFlows(lambda: current["settings"], env.store, lambda: env.xero)
        with pytest.raises(ConnectNotConfigured):
            flows.start()
        current["settings"] = env.settings  # the user entered the client id in the wizard
        flows.serve()
        try:
            env.flows = flows
            env.register_redirect(flows.redirect_uri)
            flow = flows.start()
            assert flows.paste(flow["flow_id"], env.consent(flow["code"]))["state"] == "connected"
        finally:
            flows.stop()
