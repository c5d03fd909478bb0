"""Outbox changes a person asks for, made without calling Autotask or Xero: retries, resyncs,
and re-queueing the blocked rows a new mapping unblocks (``atx retry``, ``atx mappings import``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from agent.config import Settings
from agent.store import (
    IllegalTransition,
    OutboxRow,
    OutboxState,
    Store,
    TenantInfo,
)
from agent.sync.intake import DOCUMENT_KINDS
from agent.sync.options import RuntimeView, SyncOptions
from agent.sync.orgs import OrgContext, build_context, stored_info
from agent.sync.prepare import ALL, PrepareOutcome, Preparer
from agent.sync.routing import routing_table

S = OutboxState
RETRYABLE = (S.FAILED, S.DEAD, S.BLOCKED, S.SKIPPED)


def requeue_unblocked(store: Store, settings: Settings, today: date) -> PrepareOutcome:
    """Map every blocked row again against the cached catalogs; rows that map now go back to
    ``pending`` (``outcome.unblocked`` says how many). Organisations never synced (no cached
    catalogs) are left alone: the next cycle maps their rows."""
    runtime = RuntimeView(store.settings.all())
    options = SyncOptions.resolve(settings, runtime)
    tenants = [
        TenantInfo(c.tenant_id, c.tenant_name, c.connection_id)
        for c in store.connections.list_connections()
    ]
    entries = store.mappings.list_all()
    contexts: dict[str, OrgContext] = {}
    for tenant in tenants:
        info = stored_info(store, tenant.tenant_id)
        if info is not None:
            contexts[tenant.tenant_id] = build_context(
                store, settings, runtime, info, entries, today
            )
    routing = routing_table(entries, tenants, options)
    preparer = Preparer(store, routing, contexts)
    rows = store.outbox.list_rows(states=[S.BLOCKED], limit=ALL)
    # Documents only: a blocked void row (voids.py) waits for a change in Xero, not a mapping.
    rows = [r for r in rows if r.kind in DOCUMENT_KINDS]
    return preparer.run(sorted(rows, key=lambda r: r.id))


@dataclass
class RetryResult:
    retried: list[OutboxRow] = field(default_factory=list)
    waiting: list[OutboxRow] = field(default_factory=list)  # pending / posting / posted already
    done: list[OutboxRow] = field(default_factory=list)  # in Xero and marked: resync needed


def retry_invoice(store: Store, autotask_id: int, *, resync: bool = False) -> RetryResult:
    """Re-queue the rows of one Autotask invoice. ``resync``: a ``done`` row is sent again as
    an update of its Xero document, from the invoice as Autotask has it now."""
    result = RetryResult()
    for row in store.outbox.for_autotask_ids([autotask_id], kinds=DOCUMENT_KINDS):
        if row.state in (S.BLOCKED, S.SKIPPED):
            # What blocked it was fixed somewhere (Autotask, Xero, the mappings): read the
            # invoice again rather than send the document that was refused.
            store.outbox.retry(row.id)
            detail = "retried: read again from Autotask"
            result.retried.append(store.outbox.update(row.id, payload=None, detail=detail))
        elif row.state in RETRYABLE:
            # Failed or dead: the same document again (looked up first if it may be in Xero).
            result.retried.append(store.outbox.retry(row.id))
        elif row.state is S.DONE and resync:
            result.retried.append(request_resync(store, row.id))
        elif row.state is S.DONE:
            result.done.append(row)
        else:
            result.waiting.append(row)
    return result


def request_resync(store: Store, row_id: int) -> OutboxRow:
    """A ``done`` row back to ``pending`` without a payload: the next cycle reads the invoice
    from Autotask again, maps it and updates the document in Xero (its InvoiceID is kept)."""
    row = store.outbox.resync(row_id)
    if row.xero_id is None:  # cannot happen for a done row; refuse rather than duplicate
        raise IllegalTransition(row.id, row.state.value, "resync")
    return store.outbox.update(row.id, payload=None, detail="resync: read again from Autotask")
