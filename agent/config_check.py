"""``atx config check``: are the settings right, and do Autotask and Xero accept them?

Checks, in order: the settings parse; a key encrypts what is stored; the data folder is usable;
Autotask answers (zone discovery, then one small query as the API user); Xero answers (a custom
connection mints a token and lists its organisation; a browser-connected install asks each
connected organisation for its Organisation record, refreshing the token if needed). Every problem
is reported as a line with its fix; the command exits 2 when there is any.

Nothing is posted or marked. A custom connection's test token is kept in a throwaway store, not
in the agent's database; a browser-connected install reads the agent's tokens (a refresh, if one
is due, rotates them there, under the same lock the agent uses).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from agent.config import Settings

if TYPE_CHECKING:
    from agent.store import Store

FIX_CREDENTIALS = (
    "check ATX_AUTOTASK_USERNAME, ATX_AUTOTASK_SECRET and ATX_AUTOTASK_INTEGRATION_CODE; the user "
    "must have the license type API User (system) (docs/autotask-user.md)"
)
FIX_AUTOTASK_NETWORK = (
    "check this host reaches Autotask (HTTPS out) and ATX_AUTOTASK_ZONE_LOOKUP_URL / "
    "ATX_AUTOTASK_BASE_URL"
)
FIX_XERO_APP = (
    "check ATX_XERO_CLIENT_ID and ATX_XERO_CLIENT_SECRET against your app at "
    "developer.xero.com > My Apps (docs/xero-app.md)"
)
FIX_XERO_CONNECT = (
    "connect an organisation: run `atx tui` (docker compose exec agent atx tui) and follow "
    "Connect Xero"
)
FIX_LOB = (
    "in Autotask give the API user's security level access to every line of business"
    " (docs/autotask-user.md)"
)
FIX_XERO_NETWORK = "check this host reaches Xero (HTTPS out) and ATX_XERO_API_URL / _IDENTITY_URL"


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    fix: str = ""


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    def good(self, what: str) -> None:
        self.findings.append(Finding(True, what))

    def problem(self, what: str, fix: str) -> None:
        self.findings.append(Finding(False, what, fix))

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if not f.ok]

    def lines(self) -> Iterator[str]:
        for finding in self.findings:
            if finding.ok:
                yield f"ok       {finding.what}"
            else:
                yield f"PROBLEM  {finding.what}"
                yield f"  fix:   {finding.fix}"


def check(settings: Settings, *, timeout_seconds: float = 20.0) -> Report:
    report = Report()
    _check_secret_key(settings, report)
    _check_data_dir(settings, report)
    _check_autotask(settings, report, timeout_seconds)
    _check_xero(settings, report)
    return report


def _check_secret_key(settings: Settings, report: Report) -> None:
    if settings.secret_key is not None:
        report.good("ATX_SECRET_KEY is set: tokens are encrypted at rest")
    elif settings.allow_plaintext_secrets:
        report.good("ATX_ALLOW_PLAINTEXT_SECRETS=true: tokens are stored unencrypted")
    else:
        report.problem(
            "ATX_SECRET_KEY is not set, so Xero tokens cannot be stored",
            "set it to a long random value (openssl rand -base64 32), e.g. in "
            "secrets/atx_secret_key; keep a copy apart from your backups",
        )


def _check_data_dir(settings: Settings, report: Report) -> None:
    folder = settings.data_dir
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        report.problem(f"ATX_DATA_DIR {folder} is not a folder", "point ATX_DATA_DIR at a folder")
    elif not os.access(existing, os.W_OK | os.X_OK):
        report.problem(
            f"ATX_DATA_DIR {folder} is not writable by this user",
            "give the agent's user the folder (in Docker: the atx-data volume on /data, uid 10001)",
        )
    else:
        report.good(f"data folder {folder} is usable")


def _check_autotask(settings: Settings, report: Report, timeout_seconds: float) -> None:
    import httpx

    from agent.autotask import AutotaskClient, AutotaskConfigError, AutotaskError
    from agent.autotask.errors import AutotaskApiError, AutotaskAuthError, AutotaskNetworkError
    from agent.autotask.retry import RetryPolicy
    from agent.sync.visibility import lob_warning

    try:
        client = AutotaskClient.from_settings(
            settings,
            http=httpx.Client(timeout=timeout_seconds),
            retry=RetryPolicy(max_attempts=2, base_seconds=0.5, cap_seconds=2.0),
            budget=None,
        )
    except AutotaskConfigError as exc:
        report.problem(str(exc), "set them in .env or as Docker secrets (docs/autotask-user.md)")
        return
    try:
        with client:
            next(iter(client.query("Companies", [], include_fields=["id"], page_size=1)), None)
            zone = client.zone_url
            # Can it see every line of business? (2 queries; its own failure is only logged)
            lob = lob_warning(client, datetime.now(UTC).date())
    except AutotaskAuthError as exc:
        report.problem(f"Autotask refused the API user: {exc}", FIX_CREDENTIALS)
        return
    except AutotaskApiError as exc:
        fix = FIX_CREDENTIALS if exc.status in (401, 403) else FIX_AUTOTASK_NETWORK
        report.problem(str(exc), fix)
        return
    except AutotaskNetworkError as exc:
        report.problem(str(exc), FIX_AUTOTASK_NETWORK)
        return
    except AutotaskError as exc:
        report.problem(f"Autotask: {exc}", FIX_CREDENTIALS)
        return
    report.good(f"Autotask answers as {settings.autotask_username} (zone {zone})")
    if lob is None:
        report.good("Autotask: recent invoices add up to the billing items the API user sees")
    else:
        what, _, fix = lob.partition(": in Autotask ")
        report.problem(f"Autotask: {what}", ("in Autotask " + fix) if fix else FIX_LOB)


@contextmanager
def _throwaway_store() -> Iterator[Store]:
    from agent.store import Store

    with tempfile.TemporaryDirectory(prefix="atx-check-") as folder:
        store = Store.open(Path(folder), secret_key=None, allow_plaintext_secrets=True)
        try:
            yield store
        finally:
            store.close()


def _check_xero(settings: Settings, report: Report) -> None:
    from agent.store import StoreError
    from agent.xero import XeroClient, XeroConfigError, XeroError
    from agent.xero.errors import XeroAuthError, XeroUnavailable

    if not settings.xero_client_id:
        report.problem(
            "ATX_XERO_CLIENT_ID is not set",
            "register your own Xero app (docs/xero-app.md) and copy its client id",
        )
        return
    try:
        if settings.xero_auth_mode == "client_credentials":
            with _throwaway_store() as store, XeroClient(settings, store) as xero:
                tenants = xero.connect_client_credentials()
                names = ", ".join(t.tenant_name or t.tenant_id for t in tenants)
                report.good(f"Xero custom connection reaches {names}")
            return
        _check_connected_orgs(settings, report)
    except XeroConfigError as exc:
        report.problem(str(exc), FIX_XERO_APP)
    except XeroAuthError as exc:
        fix = FIX_XERO_APP if settings.xero_auth_mode == "client_credentials" else FIX_XERO_CONNECT
        report.problem(f"Xero refused: {exc}", fix)
    except XeroUnavailable as exc:
        report.problem(str(exc), FIX_XERO_NETWORK)
    except XeroError as exc:
        report.problem(f"Xero: {exc}", FIX_XERO_APP)
    except StoreError as exc:
        report.problem(f"the database: {exc}", "see docs/troubleshooting.md")


def _check_connected_orgs(settings: Settings, report: Report) -> None:
    from agent.store import Store
    from agent.xero import XeroClient
    from agent.xero.errors import XeroAuthError, XeroUnavailable

    if not settings.database_path.exists():
        report.problem("no Xero organisation is connected yet (no database)", FIX_XERO_CONNECT)
        return
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    with Store.open(
        settings.data_dir,
        secret_key=secret,
        allow_plaintext_secrets=settings.allow_plaintext_secrets,
    ) as store:
        connections = store.connections.list_connections()
        if not connections:
            report.problem("no Xero organisation is connected", FIX_XERO_CONNECT)
            return
        with XeroClient(settings, store) as xero:
            for connection in connections:
                name = connection.tenant_name or connection.tenant_id
                try:
                    org = xero.organisation(connection.tenant_id, refresh=True)
                except XeroAuthError as exc:
                    report.problem(f"Xero organisation {name}: {exc}", FIX_XERO_CONNECT)
                    continue
                except XeroUnavailable as exc:
                    report.problem(f"Xero organisation {name}: {exc}", FIX_XERO_NETWORK)
                    continue
                report.good(f"Xero organisation {org.name or name} answers ({org.base_currency})")
