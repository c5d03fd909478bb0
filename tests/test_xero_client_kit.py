"""Shared helpers for the Xero client tests: the AU + GB sandbox world over real HTTP, a store,
a client whose sleeping moves the sandbox clock, and records of what was sent.

(No tests here; the ``test_`` prefix keeps the file next to the tests that import it.)
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
from test_sandbox_xero_support import (
    ACME,
    AU,
    GB,
    REDIRECT,
    Env,
    authorize,
    code_from,
    invoice_body,
    make_world,
    pkce_pair,
)

from agent.config import Settings
from agent.store import Store
from agent.xero import GovernorPolicy, XeroClient
from sandbox.clock import SandboxClock
from sandbox.core import Sandbox, SandboxOptions
from sandbox.server import SandboxUrls, running_sandbox
from sandbox.world import (
    SANDBOX_XERO_CODE_CLIENT_ID,
    SANDBOX_XERO_CODE_CLIENT_SECRET,
    SANDBOX_XERO_CUSTOM_CLIENT_ID,
    SANDBOX_XERO_CUSTOM_CLIENT_SECRET,
    SANDBOX_XERO_PKCE_CLIENT_ID,
)

__all__ = ["ACME", "AU", "GB", "invoice_body"]

TEST_KEY = "correct horse battery staple"
APPS = {
    "pkce": (SANDBOX_XERO_PKCE_CLIENT_ID, None),
    "code": (SANDBOX_XERO_CODE_CLIENT_ID, SANDBOX_XERO_CODE_CLIENT_SECRET),
    "client_credentials": (SANDBOX_XERO_CUSTOM_CLIENT_ID, SANDBOX_XERO_CUSTOM_CLIENT_SECRET),
}


class SandboxTime:
    """The client's clock and sleep on the sandbox clock: sleeping records the wait and moves
    the sandbox on at once, so Xero's minute window moves with ours."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.sandbox.clock.seconds()

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)
        self.sandbox.clock.advance(seconds)


@dataclass
class Sent:
    method: str
    url: str
    headers: dict[str, str]


@dataclass
class Served:
    sandbox: Sandbox
    urls: SandboxUrls
    data_dir: Path
    time: SandboxTime
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _opened: list[Any] = field(default_factory=list)  # closed when the sandbox stops

    def settings(self, mode: str = "pkce") -> Settings:
        client_id, secret = APPS[mode]
        return Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=self.data_dir,
            xero_client_id=client_id,
            xero_client_secret=secret,
            xero_auth_mode=mode,
            xero_api_url=self.urls.xero_api_url,
            xero_identity_url=self.urls.xero_identity_url,
            xero_login_url=self.urls.xero_login_url,
            secret_key=TEST_KEY,
        )

    def store(self) -> Store:
        """Each call opens the database anew: two stores behave like two processes."""
        store = Store.open(self.data_dir, secret_key=TEST_KEY, now=self.sandbox.clock.now)
        self._opened.append(store)
        return store

    def token_http(self) -> httpx.Client:
        """An httpx client for the token endpoint that records every token request."""

        def record(request: httpx.Request) -> None:
            if request.url.path.endswith("/connect/token"):
                form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
                form["authorization"] = request.headers.get("authorization", "")
                with self._lock:
                    self.token_requests.append(form)

        http = httpx.Client(timeout=10, event_hooks={"request": [record]})
        self._opened.append(http)
        return http

    def client(
        self,
        mode: str = "pkce",
        *,
        store: Store | None = None,
        now: Callable[[], Any] | None = None,
        policy: GovernorPolicy | None = None,
    ) -> XeroClient:
        """A client on the sandbox clock (token expiry, pacing and sleeps)."""
        client = XeroClient(
            self.settings(mode),
            store or self.store(),
            policy=policy,
            http=self.token_http(),
            now=now or self.sandbox.clock.now,
            sleep=self.time.sleep,
            clock=self.time.clock,
        )
        self._opened.append(client)
        return client

    def refreshes(self) -> list[dict[str, Any]]:
        return [r for r in self.token_requests if r.get("grant_type") == "refresh_token"]

    def connect(self, client: XeroClient, tenants: str | None = None) -> list[str]:
        """The browser part of a sign-in, done by hand, then ``exchange_code``."""
        settings = client.settings
        client_id = settings.xero_client_id or ""
        extra = {"tenants": tenants} if tenants else {}
        env = Env(self.sandbox, self.urls, httpx.Client(timeout=10))
        try:
            if settings.xero_auth_mode == "pkce":
                verifier, challenge = pkce_pair()
                code = code_from(authorize(env, client_id, challenge, **extra))
                found = client.exchange_code(code, verifier, REDIRECT)
            else:
                code = code_from(authorize(env, client_id, None, **extra))
                found = client.exchange_code(code, None, REDIRECT)
        finally:
            env.http.close()
        return [t.tenant_id for t in found]


@contextlib.contextmanager
def serving(tmp_path: Path, clock: SandboxClock | None = None, **options: Any) -> Iterator[Served]:
    # A fixed noon start: the daily window (midnight UTC) is hours away in every test.
    clock = clock or SandboxClock(start=datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    sandbox = Sandbox(make_world(), clock=clock, options=SandboxOptions(**options))
    with running_sandbox(sandbox) as urls:
        served = Served(sandbox, urls, tmp_path / "data", SandboxTime(sandbox))
        try:
            yield served
        finally:
            for thing in reversed(served._opened):
                thing.close()


def record_requests(client: XeroClient) -> list[Sent]:
    """Every Accounting/identity request the client's SDK transport sends, with its headers."""
    sent: list[Sent] = []
    pool = client.gateway.api_client.rest_client.pool_manager
    original = pool.request
    lock = threading.Lock()

    def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        headers = {k.lower(): v for k, v in (kwargs.get("headers") or {}).items()}
        fields = kwargs.get("fields")
        if fields and method == "GET":
            url += "?" + "&".join(f"{k}={v}" for k, v in fields)
        with lock:
            sent.append(Sent(method, url, headers))
        return original(method, url if method != "GET" else url.split("?")[0], *args, **kwargs)

    pool.request = request
    return sent


def invoices(count: int, prefix: str = "AT-", **overrides: Any) -> list[dict[str, Any]]:
    return [invoice_body(InvoiceNumber=f"{prefix}{1000 + i}", **overrides) for i in range(count)]
