"""Shared helpers for the Xero connect tests: the small two-organisation Xero world of
test_sandbox_xero_support served over real HTTP, a store, a XeroClient, and ``ConnectFlows``
with a clock the tests move and a list of the ``connect`` events it published.

(No tests here; the ``test_`` prefix keeps the file next to the tests that import it.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from test_sandbox_xero_support import make_world

from agent.config import Settings
from agent.control.connect import ConnectFlows
from agent.store import Store
from agent.xero import XeroClient
from sandbox.core import Sandbox
from sandbox.server import SandboxUrls, running_sandbox
from sandbox.world import (
    SANDBOX_XERO_CODE_CLIENT_ID,
    SANDBOX_XERO_CODE_CLIENT_SECRET,
    SANDBOX_XERO_CUSTOM_CLIENT_ID,
    SANDBOX_XERO_CUSTOM_CLIENT_SECRET,
    SANDBOX_XERO_PKCE_CLIENT_ID,
)

TEST_KEY = "correct horse battery staple"


class MovableClock:
    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


def xero_settings(urls: SandboxUrls, data_dir: Path, mode: str = "pkce", **extra: Any) -> Settings:
    client_id, secret = {
        "pkce": (SANDBOX_XERO_PKCE_CLIENT_ID, None),
        "code": (SANDBOX_XERO_CODE_CLIENT_ID, SANDBOX_XERO_CODE_CLIENT_SECRET),
        "client_credentials": (SANDBOX_XERO_CUSTOM_CLIENT_ID, SANDBOX_XERO_CUSTOM_CLIENT_SECRET),
    }[mode]
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "xero_client_id": client_id,
        "xero_client_secret": secret,
        "xero_auth_mode": mode,
        "xero_api_url": urls.xero_api_url,
        "xero_identity_url": urls.xero_identity_url,
        "xero_login_url": urls.xero_login_url,
        "secret_key": TEST_KEY,
        "oauth_listen": "127.0.0.1:0",
    }
    return Settings(_env_file=None, **(values | extra))  # type: ignore[call-arg]


@dataclass
class ConnectEnv:
    sandbox: Sandbox
    urls: SandboxUrls
    settings: Settings
    store: Store
    xero: XeroClient
    flows: ConnectFlows
    clock: MovableClock
    http: httpx.Client
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pages(self) -> str:
        """Base address of the connect pages as the test's browser reaches them."""
        address = self.flows.pages.address
        assert address is not None, "the connect pages are not served"
        return f"http://127.0.0.1:{address[1]}"

    def register_redirect(self, uri: str) -> None:
        """Register a redirect URI in the sandbox's browser apps (as a user does at Xero)."""
        for app in self.sandbox.world.xero_apps:
            if app.kind != "custom" and uri not in app.redirect_uris:
                app.redirect_uris.append(uri)

    def link(self, code: str) -> httpx.Response:
        """The user types the code on /link: the 302 to Xero's authorize page."""
        return self.http.get(self.pages + "/link", params={"code": code})

    def consent(self, code: str, **sandbox_params: str) -> str:
        """/link, then Xero's authorize page (the sandbox consents at once): the address Xero
        sends the browser back to, not followed yet."""
        to_xero = self.link(code)
        assert to_xero.status_code == 302, to_xero.text
        location = to_xero.headers["location"]
        if sandbox_params:
            location += "&" + "&".join(f"{k}={v}" for k, v in sandbox_params.items())
        back = self.http.get(location)
        assert back.status_code == 302, back.text
        return str(back.headers["location"])

    def follow(self, redirect: str) -> httpx.Response:
        """The browser follows Xero's redirect to the connect pages' /callback."""
        parts = urlsplit(redirect)
        return self.http.get(self.pages + parts.path + "?" + parts.query)

    def secret_values(self) -> list[str]:
        """Everything that must never show: verifiers, states, client secret, tokens."""
        values = []
        for flow in self.flows._flows.values():
            values += [flow.verifier, flow.state]
        if self.settings.xero_client_secret is not None:
            values.append(self.settings.xero_client_secret.get_secret_value())
        for conn in self.store.connections.list_connections():
            tokens = self.store.connections.tokens(conn.tenant_id)
            values += [tokens.access_token, tokens.refresh_token or ""]
        return [v for v in values if v]


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@contextlib.contextmanager
def connect_env(
    tmp_path: Path, *, mode: str = "pkce", ttl_seconds: int = 600, serve: bool = True
) -> Iterator[ConnectEnv]:
    sandbox = Sandbox(make_world())
    clock = MovableClock()
    with running_sandbox(sandbox) as urls, httpx.Client(timeout=10) as http:
        settings = xero_settings(urls, tmp_path / "data", mode)
        store = Store.open(settings.data_dir, secret_key=TEST_KEY)
        xero = XeroClient(settings, store)
        env = ConnectEnv(sandbox, urls, settings, store, xero, None, clock, http)  # type: ignore[arg-type]
        env.flows = ConnectFlows(
            settings, store, xero, now=clock, publish=env.events.append, ttl_seconds=ttl_seconds
        )
        try:
            if serve:
                env.flows.serve()
                env.register_redirect(env.flows.redirect_uri)
            yield env
        finally:
            env.flows.stop()
            xero.close()
            store.close()
