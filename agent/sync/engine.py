"""``SyncEngine``: one sync cycle, Autotask -> outbox -> Xero -> Autotask (issue 3 §4).

    engine = SyncEngine(settings, store, autotask, xero)
    report = engine.run_cycle()

A cycle: (a) leases of workers that are gone, or expired, back to pending (to be looked up
first, ``leases``), failed rows whose time has come back to pending; (b) each organisation's
catalogs, refreshed when stale; (c) poll Autotask and snapshot the invoices that need it into the
outbox (``intake``, ``discover``); (d) map rows to pending or blocked (``prepare``); (e) post per
organisation (``post``); (f) mark what was posted in Autotask (``mark``). A step that fails is
reported and the next ones still run where they can (rows posted earlier still get marked when
Autotask's poll failed, say).

Never two cycles at once in one engine (a second call raises ``CycleRunning``). Two processes may
run cycles against one database: claims and leases keep each row with one of them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from agent.autotask import AutotaskBudgetExhausted, AutotaskClient, AutotaskError
from agent.config import Settings
from agent.store import OutboxState, Store, TenantInfo
from agent.store.canonical import canonical_json, content_hash
from agent.store.clock import utc_now
from agent.sync.backoff import DEFAULT_RETRY, RetryStrategy
from agent.sync.discover import invoices_by_id, poll_invoices
from agent.sync.intake import DOCUMENT_KINDS, Intake
from agent.sync.leases import new_owner, reclaim_dead_leases
from agent.sync.mark import Marker
from agent.sync.options import RuntimeView, SyncOptions
from agent.sync.orgs import (
    CONTEXT_STREAM,
    OrgContext,
    build_context,
    context_changed,
    ensure_catalogs,
    organisation_info,
    remember_context,
)
from agent.sync.post import OrgPoster
from agent.sync.prepare import ALL, Preparer
from agent.sync.report import CycleReport
from agent.sync.routing import RoutingTable
from agent.xero import XeroClient, XeroError, XeroOrgPaused

log = logging.getLogger("atx.sync")
S = OutboxState
LAST_CYCLE_STREAM = "sync.last_cycle"
ROUTING_KEY = "routing"


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
            for row_id in self._rows_of(only):
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
        contexts = self.contexts(tenants, runtime, options, report)
        routing = RoutingTable.build(
            self.store.mappings.list_all(mapping_type="routing"), tenants, options.default_org
        )
        changed = self._discover(report, options, only)
        scope = None if only is None else self._rows_of(only)

        preparer = Preparer(self.store, routing, contexts)
        routing_fingerprint = content_hash(
            [sorted(routing.routes.items()), sorted(routing.connected), routing.default_org]
        )
        routing_changed = self.store.cursors.get(CONTEXT_STREAM, ROUTING_KEY) != routing_fingerprint
        stale = [
            org for org, c in contexts.items() if routing_changed or context_changed(self.store, c)
        ]
        if scope is None:
            due = preparer.due_rows(changed, stale)
        else:
            # The user named this invoice: map its unsent rows again, whatever changed.
            found = (self.store.outbox.get(row_id) for row_id in sorted(scope))
            due = [
                r
                for r in found
                if r is not None
                and (
                    r.state in (S.DISCOVERED, S.BLOCKED)
                    or (r.state is S.PENDING and not r.needs_lookup)
                )
            ]
        outcome = preparer.run(due)
        report.add("mapped", outcome.mapped)
        report.add("blocked", outcome.blocked)
        report.add("unblocked", outcome.unblocked)
        if scope is None:
            for context in contexts.values():
                remember_context(self.store, context)
            self.store.cursors.set(CONTEXT_STREAM, routing_fingerprint, ROUTING_KEY)

        for context in contexts.values():
            if self.stop.is_set():
                break
            OrgPoster(
                store=self.store,
                xero=self.xero,
                context=context,
                preparer=preparer,
                retry=self.retry,
                report=report,
                owner=self.owner,
                now=self.now,
                lease_seconds=self.lease_seconds,
                stop=self.stop,
                only_ids=None if scope is None else sorted(scope),
            ).run()
        if self.stop.is_set():
            # Marking waits for the next start: stopping must be quick (a container's grace
            # period), and a posted row is marked by whichever cycle comes next.
            return
        self._mark(report, scope)

    def _discover(self, report: CycleReport, options: SyncOptions, only: int | None) -> set[int]:
        intake = Intake(self.store, self.autotask, report, self.retry)
        try:
            if only is not None:
                invoices = invoices_by_id(self.autotask, [only])
                report.invoices_seen = len(invoices)
                if not invoices:
                    report.error(f"Autotask has no invoice {only} (or the API user cannot see it)")
                    return set()
                if invoices[0].webServiceDate is not None and not self._rows_of(only):
                    report.error(
                        f"Autotask invoice {only} is already marked as sent (webServiceDate "
                        f"{invoices[0].webServiceDate:%Y-%m-%d %H:%M}), by another tool or an "
                        "earlier installation; it is not sent again"
                    )
                    return set()
                return intake.run(invoices, explicit=True)
            since = self.now().date() - timedelta(days=options.days_back)
            invoices = poll_invoices(self.autotask, since)
            report.invoices_seen = len(invoices)
            polled = {i.id for i in invoices}
            waiting = intake.waiting_for_snapshot(polled)
            if waiting:
                invoices += invoices_by_id(self.autotask, waiting)
            return intake.run(invoices)
        except AutotaskBudgetExhausted as exc:
            report.defer(str(exc))
        except AutotaskError as exc:
            report.error(f"reading Autotask: {exc}")
        return set()

    def _mark(self, report: CycleReport, scope: set[int] | None) -> None:
        posted = self.store.outbox.list_rows(states=[S.POSTED], limit=ALL)
        rows = [r for r in posted if r.kind in DOCUMENT_KINDS and (scope is None or r.id in scope)]
        marker = Marker(
            store=self.store,
            autotask=self.autotask,
            retry=self.retry,
            report=report,
            now=self.now,
            stop=self.stop,
        )
        try:
            marker.run(sorted(rows, key=lambda r: r.id), report.posted_ids)
        except AutotaskBudgetExhausted as exc:
            report.defer(str(exc))
        except AutotaskError as exc:
            report.error(f"marking invoices in Autotask: {exc}")

    def _rows_of(self, autotask_id: int) -> set[int]:
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
