"""Shared helpers for the sync tests: the seeded MSP in the sandbox over real HTTP, a store, both
clients on the sandbox clock, both Xero organisations connected, and an accountant's mappings.

(No tests here; the ``test_`` prefix keeps the file next to the tests that import it.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from test_sandbox_xero_support import REDIRECT, Env, authorize, code_from, pkce_pair
from test_xero_client_kit import SandboxTime

from agent.autotask import AutotaskClient
from agent.config import Settings
from agent.store import Store
from agent.sync import RetryStrategy, SyncEngine
from agent.xero import XeroClient
from sandbox import seed
from sandbox.clock import SandboxClock
from sandbox.core import Sandbox, SandboxOptions
from sandbox.demo import accountant_mappings
from sandbox.server import SandboxUrls, running_sandbox
from sandbox.world import (
    SANDBOX_AUTOTASK_INTEGRATION_CODE,
    SANDBOX_AUTOTASK_SECRET,
    SANDBOX_AUTOTASK_USERNAME,
    SANDBOX_XERO_CUSTOM_CLIENT_ID,
    SANDBOX_XERO_CUSTOM_CLIENT_SECRET,
    SANDBOX_XERO_PKCE_CLIENT_ID,
    World,
)

TEST_KEY = "correct horse battery staple"
START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # noon: the Xero day rolls over hours away


def seeded_world(invoices: int = 60, seed_value: int = 3, start: datetime = START) -> World:
    return seed.generate(invoices, seed=seed_value, today=start.date())


@dataclass
class Rig:
    sandbox: Sandbox
    urls: SandboxUrls
    data_dir: Path
    time: SandboxTime
    mode: str
    _opened: list[Any] = field(default_factory=list)

    @property
    def world(self) -> World:
        return self.sandbox.world

    @property
    def au(self) -> str:
        return self.world.xero_orgs[0].tenant_id

    @property
    def uk(self) -> str:
        return self.world.xero_orgs[1].tenant_id

    def now(self) -> datetime:
        return self.sandbox.clock.now()

    def settings(self, **overrides: Any) -> Settings:
        client_id, secret = (
            (SANDBOX_XERO_CUSTOM_CLIENT_ID, SANDBOX_XERO_CUSTOM_CLIENT_SECRET)
            if self.mode == "client_credentials"
            else (SANDBOX_XERO_PKCE_CLIENT_ID, None)
        )
        values: dict[str, Any] = {
            "data_dir": self.data_dir,
            "autotask_username": SANDBOX_AUTOTASK_USERNAME,
            "autotask_secret": SANDBOX_AUTOTASK_SECRET,
            "autotask_integration_code": SANDBOX_AUTOTASK_INTEGRATION_CODE,
            "autotask_zone_lookup_url": self.urls.autotask_zone_lookup_url,
            "xero_client_id": client_id,
            "xero_client_secret": secret,
            "xero_auth_mode": self.mode,
            "xero_api_url": self.urls.xero_api_url,
            "xero_identity_url": self.urls.xero_identity_url,
            "xero_login_url": self.urls.xero_login_url,
            "secret_key": TEST_KEY,
            "invoice_number_prefix": "AT-",
        }
        return Settings(_env_file=None, **(values | overrides))  # type: ignore[call-arg]

    def environment(self) -> dict[str, str]:
        """The same settings as ATX_* variables, for the command line."""
        env = {
            **self.urls.environment(),
            "ATX_DATA_DIR": str(self.data_dir),
            "ATX_AUTOTASK_USERNAME": SANDBOX_AUTOTASK_USERNAME,
            "ATX_AUTOTASK_SECRET": SANDBOX_AUTOTASK_SECRET,
            "ATX_AUTOTASK_INTEGRATION_CODE": SANDBOX_AUTOTASK_INTEGRATION_CODE,
            "ATX_SECRET_KEY": TEST_KEY,
            "ATX_INVOICE_NUMBER_PREFIX": "AT-",
            "ATX_XERO_AUTH_MODE": self.mode,
            "ATX_XERO_CLIENT_ID": SANDBOX_XERO_PKCE_CLIENT_ID,
        }
        if self.mode == "client_credentials":
            env["ATX_XERO_CLIENT_ID"] = SANDBOX_XERO_CUSTOM_CLIENT_ID
            env["ATX_XERO_CLIENT_SECRET"] = SANDBOX_XERO_CUSTOM_CLIENT_SECRET
        return env

    def store(self) -> Store:
        """Each call opens the database anew, as a new process would."""
        store = Store.open(self.data_dir, secret_key=TEST_KEY, now=self.now)
        self._opened.append(store)
        return store

    def autotask(self, settings: Settings | None = None) -> AutotaskClient:
        client = AutotaskClient.from_settings(
            settings or self.settings(), sleep=self.time.sleep, clock=self.time.clock
        )
        self._opened.append(client)
        return client

    def xero(self, store: Store, settings: Settings | None = None) -> XeroClient:
        client = XeroClient(
            settings or self.settings(),
            store,
            now=self.now,
            sleep=self.time.sleep,
            clock=self.time.clock,
        )
        self._opened.append(client)
        return client

    def engine(
        self, store: Store | None = None, settings: Settings | None = None, **options: Any
    ) -> SyncEngine:
        """A new engine with new clients, as a fresh process has (the store may be shared)."""
        settings = settings or self.settings()
        store = store or self.store()
        options.setdefault("now", self.now)
        options.setdefault("retry", RetryStrategy(draw=lambda: 0.0))
        return SyncEngine(
            settings, store, self.autotask(settings), self.xero(store, settings), **options
        )

    def connect_both(self, store: Store) -> list[str]:
        """The browser part of a PKCE sign-in done by hand, consenting to both organisations."""
        client = self.xero(store, self.settings())
        with httpx.Client(timeout=10) as http:
            env = Env(self.sandbox, self.urls, http)
            verifier, challenge = pkce_pair()
            code = code_from(authorize(env, SANDBOX_XERO_PKCE_CLIENT_ID, challenge))
            return [t.tenant_id for t in client.exchange_code(code, verifier, REDIRECT)]

    def accountant_mappings(self, store: Store, *, skip_tax: tuple[int, int] | None = None) -> None:
        """Routing by region, tax per organisation, and accounts for the codes that need one."""
        for row in accountant_mappings(self.world, skip_tax=skip_tax):
            store.mappings.set(row.org, row.kind, row.key, row.value)

    # -- what the services hold -------------------------------------------------------------

    def xero_documents(self, tenant: str) -> list[dict[str, Any]]:
        ledger = self.sandbox.xero.ledger(tenant)
        with self.sandbox.xero.lock:
            return [dict(d) for d in [*ledger.org.invoices, *ledger.org.credit_notes]]

    def autotask_invoice(self, invoice_id: int) -> dict[str, Any]:
        found = self.sandbox.autotask.get("Invoices", invoice_id)
        assert found is not None
        return found

    def close(self) -> None:
        for thing in reversed(self._opened):
            with contextlib.suppress(Exception):
                thing.close()


@contextlib.contextmanager
def rig(
    tmp_path: Path,
    world: World | None = None,
    *,
    mode: str = "pkce",
    options: SandboxOptions | None = None,
    connect: bool = True,
    mappings: bool = True,
    setup: Callable[[Rig, Store], None] | None = None,
    start: datetime = START,
    skip_tax: tuple[int, int] | None = None,
) -> Iterator[Rig]:
    clock = SandboxClock(start=start)
    sandbox = Sandbox(world or seeded_world(start=start), clock=clock, options=options)
    with running_sandbox(sandbox) as urls:
        made = Rig(sandbox, urls, tmp_path / "data", SandboxTime(sandbox), mode)
        try:
            store = made.store()
            if connect and mode != "client_credentials":
                made.connect_both(store)
            if mappings:
                made.accountant_mappings(store, skip_tax=skip_tax)
                # Lines without a line of business go to the Australian books.
                store.settings.set("default_org", made.au)
            if setup is not None:
                setup(made, store)
            yield made
        finally:
            made.close()


def money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))
