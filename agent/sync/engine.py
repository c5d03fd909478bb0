"""``SyncEngine``: one sync cycle, Autotask -> outbox -> Xero -> Autotask (issue 3 §4).

    engine = SyncEngine(settings, store, autotask, xero)
    report = engine.run_cycle()

A cycle: (a) leases of workers that are gone, or expired, back to pending (to be looked up
first, ``leases``), failed rows whose time has come back to pending; (b) each organisation's
catalogs, refreshed when stale; (c) poll Autotask and snapshot the invoices that need it into the
outbox (``intake``, ``discover``); (d) map rows to pending or blocked (``prepare``); (e) post per
organisation (``post``); (f) mark what was posted in Autotask (``mark``); (g) payments back:
Xero payments changed since the last cycle set or clear ``paidDate`` in Autotask
(``payments``, after the rest). Before (c), in full cycles: voids (``voids``), then, with
``item_sync`` on, Autotask products and services as Xero items (``items``); after (f), with
``sync_expenses`` on, approved expense reports as Xero bills (``expenses``). Steps (b) to (f)
overlap (``pipeline``): invoices go through in chunks, posting has a thread of its own, and each
document posted is marked in Autotask at once, so the PATCHes, the cycle's floor, run from the
first chunk on. A step that fails is reported and the next ones still run where they can (rows
posted earlier still get marked when Autotask's poll failed, say).

Never two cycles at once in one engine (a second call raises ``CycleRunning``). Two processes may
run cycles against one database: claims and leases keep each row with one of them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from agent.autotask import AutotaskClient
from agent.config import Settings
from agent.store import ALL_ORGS, OutboxState, Store, TenantInfo
from agent.store.canonical import canonical_json
from agent.store.clock import utc_now
from agent.sync.backoff import DEFAULT_RETRY, RetryStrategy
from agent.sync.expenses import ExpenseSync
from agent.sync.intake import DOCUMENT_KINDS
from agent.sync.items import ItemSync
from agent.sync.leases import new_owner, reclaim_dead_leases
from agent.sync.options import RuntimeView, SyncOptions
from agent.sync.orgs import (
    OrgContext,
    build_context,
    ensure_catalogs,
    organisation_info,
)
from agent.sync.payments import PaymentsBack
from agent.sync.pipeline import CyclePipeline
from agent.sync.purchase_orders import PurchaseOrderSync
from agent.sync.report import CycleReport
from agent.sync.routing import routing_table
from agent.sync.voids import VoidSync
from agent.xero import XeroClient, XeroError, XeroOrgPaused

log = logging.getLogger("atx.sync")
S = OutboxState
LAST_CYCLE_STREAM = "sync.last_cycle"


class CycleRunning(RuntimeError):
    """A cycle is already running in this engine."""


class NoOrganisation(RuntimeError):
    """No Xero organisation is connected (and none connects by itself)."""

    def __init__(self) -> None:
        super().__init__(
            "no Xero organisation is connected: run `atx xero connect` (coming with the terminal"
            " UI) or use ATX_XERO_AUTH_MODE=client_credentials"
        )


class SyncEngine:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        autotask: AutotaskClient,
        xero: XeroClient,
        *,
        now: Callable[[], datetime] = utc_now,
        owner: str | None = None,
        retry: RetryStrategy = DEFAULT_RETRY,
        lease_seconds: float = 600.0,
        stop: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.autotask = autotask
        self.xero = xero
        self.now = now
        self.owner = owner or new_owner()
        self.retry = retry
        self.lease_seconds = lease_seconds
        self.stop = stop or threading.Event()
        self._running = threading.Lock()
        self._refresh_catalogs = False
        # Told of the cycle's phases: (phase, done, total); the control API's ``cycle`` events.
        self.progress: Callable[[str, int, int], None] | None = None

    # -- control ------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Finish the batch in flight, then end the cycle (claimed rows are given back)."""
        self.stop.set()

    def refresh_catalogs(self) -> None:
        """Fetch every organisation's catalogs again at the start of the next cycle."""
        self._refresh_catalogs = True

    def run_cycle(self) -> CycleReport:
        return self._run(None)

    def run_invoice(self, autotask_id: int) -> CycleReport:
        """One cycle limited to one Autotask invoice, whatever its date (``atx sync --invoice``)."""
        return self._run(int(autotask_id))

    # -- the cycle ----------------------------------------------------------------------------

    def _run(self, only: int | None) -> CycleReport:
        if not self._running.acquire(blocking=False):
            raise CycleRunning("a sync cycle is already running")
        report = CycleReport(self.now(), scope="cycle" if only is None else f"invoice {only}")
        autotask_before = self._autotask_calls()
        xero_before = self.xero.governor.calls_made()
        try:
            self.progress_event("started", 0, 0)
            self._steps(report, only)
        except BaseException as exc:
            # Recorded for `atx status`, then raised: the caller decides (the agent loop logs it
            # and goes on; the command line prints it).
            report.error(f"the cycle stopped: {type(exc).__name__}: {' '.join(str(exc).split())}")
            raise
        finally:
            report.finished_at = self.now()
            report.autotask_calls = self._autotask_calls() - autotask_before
            report.xero_calls = self.xero.governor.calls_made() - xero_before
            report.states = self.store.outbox.counts_by_state()
            report.budgets = self.budgets()
            report.stopped = report.stopped or self.stop.is_set()
            if only is None:
                self.store.cursors.set(LAST_CYCLE_STREAM, canonical_json(report.to_dict()))
            log.info("%s: %s", report.scope, report.summary())
            self._running.release()
        return report

    def _steps(self, report: CycleReport, only: int | None) -> None:
        outbox = self.store.outbox
        now = self.now()
        if only is not None:
            # Naming an invoice is asking for a try now: failed and dead rows are retried.
            for row_id in self.rows_of(only):
                row = outbox.get(row_id)
                if row is not None and row.state in (S.FAILED, S.DEAD):
                    outbox.retry(row_id, detail="retried: atx sync --invoice")
        report.leases_released = reclaim_dead_leases(self.store, self.owner)
        report.leases_released += outbox.release_expired_leases(now)
        report.retries_due = outbox.requeue_due_failures(now)
        runtime = RuntimeView(self.store.settings.all())
        options = SyncOptions.resolve(self.settings, runtime)
        tenants = self.xero.ensure_connected()
        if not tenants:
            raise NoOrganisation()
        routing = routing_table(self.store.mappings.list_all(org=ALL_ORGS), tenants, options)
        if only is None:
            # Voids first (``voids``): a document whose Autotask invoice was voided after it was
            # posted is deleted or voided in Xero before this cycle marks or reads it back.
            VoidSync(self, report, days_back=options.days_back).run(tenants)
            if options.item_sync != "off" and not self.stop.is_set():
                # Items before invoices (``items``): this cycle's lines carry the new ItemCodes.
                contexts = self.contexts(tenants, runtime, options, report)
                ItemSync(self, report, options.item_sync).run(contexts)
        # Xero's catalogs are read while the first invoices are read from Autotask.
        with ThreadPoolExecutor(1, thread_name_prefix="atx-catalogs") as catalogs:
            loading = catalogs.submit(self.contexts, tenants, runtime, options, report)
            CyclePipeline(self, report, options, only, routing, loading).run()
        if only is None and options.sync_purchase_orders and not self.stop.is_set():
            # Purchase orders at their trigger status, in the default organisation.
            contexts = self.contexts(tenants, runtime, options, report)
            PurchaseOrderSync(self, report, runtime).run(contexts, options)
        if only is None and options.sync_expenses and not self.stop.is_set():
            # Approved expense reports as bills in the default organisation (``expenses``).
            ExpenseSync(self, report, runtime).run(tenants, options)
        if only is None and not self.stop.is_set():
            # Payments back to Autotask, once the cycle's documents are posted and marked.
            PaymentsBack(
                store=self.store,
                xero=self.xero,
                autotask=self.autotask,
                report=report,
                now=self.now,
                stop=self.stop,
            ).run(tenants)

    def progress_event(self, phase: str, done: int, total: int) -> None:
        if self.progress is None:
            return
        try:
            self.progress(phase, done, total)
        except Exception as exc:  # a listener must never break a cycle
            log.warning("cycle progress listener failed: %s: %s", type(exc).__name__, exc)

    def rows_of(self, autotask_id: int) -> set[int]:
        """The outbox rows (invoice or credit note, any organisation) of one Autotask invoice."""
        rows = self.store.outbox.for_autotask_ids([autotask_id], kinds=DOCUMENT_KINDS)
        return {r.id for r in rows}

    # -- organisations ------------------------------------------------------------------------

    def contexts(
        self,
        tenants: Sequence[TenantInfo],
        runtime: RuntimeView,
        options: SyncOptions,
        report: CycleReport,
    ) -> dict[str, OrgContext]:
        """Each organisation's mapping context; an organisation whose catalogs cannot be read
        (and were never cached) is left out of this cycle and reported."""
        entries = self.store.mappings.list_all()
        found: dict[str, OrgContext] = {}
        max_age = timedelta(hours=options.catalog_max_age_hours)
        force, self._refresh_catalogs = self._refresh_catalogs, False
        for tenant in tenants:
            org = tenant.tenant_id
            try:
                ensure_catalogs(
                    self.xero, self.store, org, max_age=max_age, now=self.now(), force=force
                )
                info = organisation_info(self.xero, self.store, org)
            except XeroOrgPaused as exc:
                report.pause(org, exc.until)
                continue
            except XeroError as exc:
                report.error(f"{tenant.tenant_name or org}: {exc}")
                continue
            found[org] = build_context(
                self.store, self.settings, runtime, info, entries, self.now().date()
            )
        return found

    # -- numbers for the report and `atx status` ------------------------------------------------

    def _autotask_calls(self) -> int:
        return sum(self.autotask.calls_made.values())

    def budgets(self) -> dict[str, object]:
        status = self.autotask.budget_status()
        autotask = None
        if status is not None:
            autotask = {
                "used": status.used,
                "threshold": status.threshold,
                "fraction": status.fraction,
                "paused_until": _iso(status.paused_until),
                "read_at": _iso(status.read_at),
            }
        xero = {
            tenant: {
                "minute_remaining": s.minute_remaining,
                "day_remaining": s.day_remaining,
                "paused_until": _iso(s.paused_until),
                "calls_made": s.calls_made,
            }
            for tenant, s in self.xero.statuses().items()
        }
        return {"autotask": autotask, "xero": xero}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")
