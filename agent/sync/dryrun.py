"""``atx sync --invoice ID --dry-run``: what the agent would send for one invoice, and why.

Reads the invoice, its lines and references from Autotask and maps them exactly as a cycle would
(same routing, same catalogs, same options), then reports the Xero document with per-line
provenance, or the reasons it is held. It posts nothing, writes nothing to Autotask and adds no
outbox row (it may refresh a stale catalog cache: a read from Xero).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.mapping import Blocked, MappedDocument, map_invoice
from agent.store import ALL_ORGS, OutboxRow
from agent.sync import envelope
from agent.sync.discover import SnapshotBuilder, invoices_by_id
from agent.sync.engine import NoOrganisation, SyncEngine
from agent.sync.intake import DOCUMENT_KINDS, kind_of
from agent.sync.options import RuntimeView, SyncOptions
from agent.sync.report import CycleReport
from agent.sync.routing import Unroutable, routing_table


class InvoiceNotFound(LookupError):
    pass


@dataclass
class DryRun:
    invoice_id: int
    data: dict[str, Any] = field(default_factory=dict)
    mapped: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"autotask_invoice_id": self.invoice_id, "would_post": self.mapped, **self.data}


def dry_run(engine: SyncEngine, invoice_id: int) -> DryRun:
    runtime = RuntimeView(engine.store.settings.all())
    options = SyncOptions.resolve(engine.settings, runtime)
    tenants = engine.xero.ensure_connected()
    if not tenants:
        raise NoOrganisation()
    report = CycleReport(engine.now(), scope=f"dry run {invoice_id}")
    contexts = engine.contexts(tenants, runtime, options, report)
    routing = routing_table(engine.store.mappings.list_all(org=ALL_ORGS), tenants, options)
    invoices = invoices_by_id(engine.autotask, [invoice_id])
    if not invoices:
        raise InvoiceNotFound(
            f"Autotask has no invoice {invoice_id}, or the API user cannot see it"
        )
    invoice = invoices[0]
    snapshot = next(iter(SnapshotBuilder(engine.autotask).build(invoices)))
    rows = engine.store.outbox.for_autotask_ids([invoice_id], kinds=DOCUMENT_KINDS)
    result = DryRun(invoice_id)
    data = result.data
    data["invoice"] = {
        "number": invoice.invoiceNumber,
        "date": invoice.invoiceDateTime.date().isoformat() if invoice.invoiceDateTime else None,
        "total": str(invoice.invoiceTotal) if invoice.invoiceTotal is not None else None,
        "company_id": invoice.companyID,
        "kind": kind_of(invoice).value,
        "marked_as_sent": invoice.webServiceDate.isoformat() if invoice.webServiceDate else None,
        "lines": len(snapshot.items),
    }
    data["outbox"] = [_row(r) for r in rows]
    data["problems"] = [
        *report.errors,
        *(f"{t} paused until {u}" for t, u in report.paused.items()),
    ]
    decision = routing.route(snapshot)
    if isinstance(decision, Unroutable):
        data["blocked"] = [{"code": "routing", "message": decision.reason.split(": ", 1)[1]}]
        return result
    context = contexts.get(decision.org)
    data["organisation"] = {"tenant_id": decision.org, "name": routing.name(decision.org)}
    data["routing"] = decision.rule
    if context is None:
        data["blocked"] = [
            {"code": "organisation", "message": "its catalogs could not be read from Xero"}
        ]
        return result
    mapped = map_invoice(snapshot, context.tables, context.catalog, context.options)
    if isinstance(mapped, Blocked):
        data["blocked"] = [reason.to_dict() for reason in mapped.reasons]
        return result
    assert isinstance(mapped, MappedDocument)
    resync = any(r.xero_id for r in rows)
    payload = envelope.build(mapped, snapshot, routing=decision.rule, resync=resync)
    data["document"] = payload
    result.mapped = True
    return result


def _row(row: OutboxRow) -> dict[str, Any]:
    return {
        "row": row.id,
        "kind": row.kind.value,
        "organisation": row.org,
        "state": row.state.value,
        "xero_number": row.xero_number,
        "block_reasons": list(row.block_reasons),
        "last_error": row.last_error,
    }
