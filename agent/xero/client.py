"""``XeroClient``: the facade the sync engine and the connect flow use.

One instance per agent process, shared by its threads. It owns the token provider (tokens in the
store), the rate governor (one state per organisation), and one xero-python ``ApiClient`` pointed
at ``ATX_XERO_API_URL``; every Accounting call goes through ``XeroGateway.call``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from agent.config import Settings
from agent.store import CATALOGS, Store, TenantInfo
from agent.store.clock import utc_now
from agent.xero import catalogs, lookups, payments
from agent.xero.batches import DocumentResult, post_documents
from agent.xero.errors import XeroAuthError, XeroConfigError
from agent.xero.gateway import XeroGateway
from agent.xero.governor import GovernorPolicy, OrgStatus, RateGovernor
from agent.xero.tokens import TokenProvider

log = logging.getLogger("atx.xero")

Record = dict[str, Any]


class XeroClient:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        governor: RateGovernor | None = None,
        policy: GovernorPolicy | None = None,
        http: httpx.Client | None = None,
        now: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``now`` decides token expiry; ``sleep`` and ``clock`` drive the governor (tests and
        benchmarks inject them). ``http`` is the httpx client for the token endpoint."""
        self.settings = settings
        self.store = store
        self.governor = governor or RateGovernor(policy, clock=clock, now=now, sleep=sleep)
        self.tokens = TokenProvider(settings, store, http=http, now=now)
        self.gateway = XeroGateway(settings, store, self.tokens, self.governor)
        self._organisations: dict[str, catalogs.Organisation] = {}
        self._org_lock = threading.Lock()

    def close(self) -> None:
        self.gateway.close()
        self.tokens.close()

    def __enter__(self) -> XeroClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- connecting ------------------------------------------------------------------------------

    def exchange_code(
        self, code: str, code_verifier: str | None, redirect_uri: str
    ) -> list[TenantInfo]:
        """Finish a browser sign-in: trade the code, list the organisations this consent
        connected (``GET /connections?authEventId=``), store the grant for them."""
        grant = self.tokens.exchange_code(code, code_verifier, redirect_uri)
        tenants = self.gateway.connections(grant.access_token, grant.auth_event_id)
        if not tenants and grant.auth_event_id:
            tenants = self.gateway.connections(grant.access_token)
        if not tenants:
            raise XeroAuthError(
                "Xero connected no organisation; run the connect again and pick an organisation"
            )
        self.tokens.save(grant, tenants)
        log.info("xero connected: %s", ", ".join(t.tenant_name for t in tenants))
        return tenants

    def connect_client_credentials(self) -> list[TenantInfo]:
        """A custom connection (ATX_XERO_AUTH_MODE=client_credentials): no browser. Mints a
        token with id + secret, asks ``/connections`` for its one organisation, stores both."""
        if self.settings.xero_auth_mode != "client_credentials":
            raise XeroConfigError(
                "connect_client_credentials needs ATX_XERO_AUTH_MODE=client_credentials"
            )
        grant = self.tokens.client_credentials()
        tenants = self.gateway.connections(grant.access_token)
        if not tenants:
            raise XeroAuthError(
                "Xero lists no organisation for this custom connection; connect it to an"
                " organisation at developer.xero.com, then try again"
            )
        self.tokens.save(grant, tenants)
        return tenants

    def ensure_connected(self) -> list[TenantInfo]:
        """Connected organisations in use (not those the user deselected: status
        ``disconnected``); a custom connection connects itself on first use."""
        known = self.store.connections.list_connections()
        if not known and self.settings.xero_auth_mode == "client_credentials":
            return self.connect_client_credentials()
        return [
            TenantInfo(c.tenant_id, c.tenant_name, c.connection_id)
            for c in known
            if c.status != "disconnected"
        ]

    # -- status ----------------------------------------------------------------------------------

    def status(self, tenant_id: str) -> OrgStatus:
        return self.governor.status(tenant_id)

    def statuses(self) -> dict[str, OrgStatus]:
        return self.governor.statuses()

    # -- writes ----------------------------------------------------------------------------------

    def post_documents(
        self,
        tenant_id: str,
        kind: str,
        docs: Sequence[Mapping[str, Any]],
        keys: Sequence[str],
        *,
        upsert: bool = False,
    ) -> list[DocumentResult]:
        """PUT (or with ``upsert`` POST) documents of one kind ("invoice", "credit_note",
        "purchase_order", "contact", "item") in batches of <= 50; results in input order."""
        return post_documents(self.gateway, tenant_id, kind, docs, keys, upsert=upsert)

    # -- lookups ---------------------------------------------------------------------------------

    def find_invoices_by_number(self, tenant_id: str, numbers: Iterable[str]) -> dict[str, Record]:
        return lookups.find_invoices_by_number(self.gateway, tenant_id, numbers)

    def find_credit_notes_by_number(
        self, tenant_id: str, numbers: Iterable[str]
    ) -> dict[str, Record]:
        return lookups.find_credit_notes_by_number(self.gateway, tenant_id, numbers)

    def find_documents_by_reference(
        self, tenant_id: str, kind: str, terms: Iterable[str]
    ) -> dict[str, list[Record]]:
        """Invoices or credit notes whose Reference contains a term (``lookups``)."""
        return lookups.find_documents_by_reference(self.gateway, tenant_id, kind, terms)

    def find_purchase_order_by_number(self, tenant_id: str, number: str) -> Record | None:
        return lookups.find_purchase_order_by_number(self.gateway, tenant_id, number)

    def find_contact(
        self,
        tenant_id: str,
        *,
        contact_number: str | None = None,
        account_number: str | None = None,
        name: str | None = None,
    ) -> Record | None:
        return lookups.find_contact(
            self.gateway,
            tenant_id,
            contact_number=contact_number,
            account_number=account_number,
            name=name,
        )

    def get_invoice(self, tenant_id: str, invoice_id: str) -> Record | None:
        return lookups.get_invoice(self.gateway, tenant_id, invoice_id)

    # -- payments (reference §11 "Payments") -----------------------------------------------------

    def changed_payments(self, tenant_id: str, since: datetime | None) -> list[Record]:
        """Payments (deleted ones too) changed after ``since``: one call when none did."""
        return payments.changed_payments(self.gateway, tenant_id, since)

    def changed_credit_notes(self, tenant_id: str, since: datetime | None) -> list[Record]:
        """Sales credit notes (with their allocations) changed after ``since``."""
        return payments.changed_credit_notes(self.gateway, tenant_id, since)

    def invoices_by_id(self, tenant_id: str, invoice_ids: Iterable[str]) -> dict[str, Record]:
        """Invoices (without lines) by InvoiceID, 50 a call."""
        return payments.invoices_by_id(self.gateway, tenant_id, invoice_ids)

    # -- catalogs --------------------------------------------------------------------------------

    def refresh_catalogs(
        self, tenant_id: str, names: Iterable[str] = CATALOGS
    ) -> dict[str, list[Record]]:
        """Fetch the catalogs from Xero and replace the cached copies (about 6 calls)."""
        self.organisation(tenant_id, refresh=True)
        return catalogs.refresh_catalogs(self.gateway, self.store, tenant_id, names)

    def catalog(self, tenant_id: str, name: str) -> list[Record]:
        """The cached catalog (fetched only if it was never fetched)."""
        return catalogs.cached_catalog(self.gateway, self.store, tenant_id, name)

    def active_accounts(self, tenant_id: str) -> list[Mapping[str, Any]]:
        return catalogs.active_accounts(self.catalog(tenant_id, "accounts"))

    def active_tax_rates(self, tenant_id: str) -> list[Mapping[str, Any]]:
        return catalogs.active_tax_rates(self.catalog(tenant_id, "tax_rates"))

    def organisation(self, tenant_id: str, *, refresh: bool = False) -> catalogs.Organisation:
        """Base currency, country, lock dates; fetched once per process unless ``refresh``."""
        with self._org_lock:
            cached = self._organisations.get(tenant_id)
        if cached is not None and not refresh:
            return cached
        org = catalogs.fetch_organisation(self.gateway, tenant_id)
        with self._org_lock:
            self._organisations[tenant_id] = org
        return org
