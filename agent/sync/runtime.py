"""The objects a sync needs, built from the settings: store, both clients, the engine.

The checks a user can fail come first and each raises the error whose one line says what to set:
no ATX_SECRET_KEY (the store refuses to keep tokens in clear), no Autotask API user, no Xero
organisation connected.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import TracebackType

from agent.autotask import AutotaskClient
from agent.config import Settings
from agent.store import SecretKeyMissing, Store
from agent.store.secrets import MISSING_KEY_TO_STORE
from agent.sync.engine import NoOrganisation, SyncEngine
from agent.xero import XeroClient

ZONE_STREAM = "autotask.zone"


def open_store(settings: Settings) -> Store:
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    return Store.open(
        settings.data_dir,
        secret_key=secret,
        allow_plaintext_secrets=settings.allow_plaintext_secrets,
    )


def require_secret_key(settings: Settings) -> None:
    if settings.secret_key is None and not settings.allow_plaintext_secrets:
        raise SecretKeyMissing(MISSING_KEY_TO_STORE)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    autotask: AutotaskClient
    xero: XeroClient
    engine: SyncEngine

    def close(self) -> None:
        for thing in (self.xero, self.autotask, self.store):
            thing.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_runtime(settings: Settings, *, stop: threading.Event | None = None) -> Runtime:
    """Everything for syncing; raises SecretKeyMissing, AutotaskConfigError, NoOrganisation or
    a Xero error (connecting a custom connection) with a one-line message."""
    require_secret_key(settings)
    store = open_store(settings)
    try:
        # The zone found by discovery is kept, so a new process skips zoneInformation; a 401
        # makes the client discover it again.
        autotask = AutotaskClient.from_settings(
            settings,
            zone_url=store.cursors.get(ZONE_STREAM),
            on_zone_discovered=lambda url: store.cursors.set(ZONE_STREAM, url),
        )
    except BaseException:
        store.close()
        raise
    xero = XeroClient(settings, store)
    try:
        if not xero.ensure_connected():
            raise NoOrganisation()
    except BaseException:
        xero.close()
        autotask.close()
        store.close()
        raise
    engine = SyncEngine(settings, store, autotask, xero, stop=stop)
    return Runtime(settings, store, autotask, xero, engine)
