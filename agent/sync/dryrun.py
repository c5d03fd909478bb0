"""``atx sync --invoice ID --dry-run``: what the agent would send for one invoice, and why.

Reads the invoice, its lines and references from Autotask and maps them exactly as a cycle would
(same routing, same catalogs, same options), then reports the Xero document with per-line
provenance, or the reasons it is held. It posts nothing, writes nothing to Autotask and adds no
outbox row (it may refresh a stale catalog cache: a read from Xero).

A split invoice (``mixed_invoice`` = ``split``) shows every part under ``parts`` (its organisation,
lines, routing and document, or its reasons); ``organisation``, ``routing`` and ``document`` are
those of part 1, and it would post only when every part maps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.mapping import Blocked, InvoiceSnapshot, MappedDocument, map_invoice
from agent.store import ALL_ORGS, OutboxRow
from agent.sync import envelope, split
from agent.sync.discover import SnapshotBuilder, invoices_by_id
from agent.sync.engine import NoOrganisation, SyncEngine
from agent.sync.intake import DOCUMENT_KINDS, kind_of
from agent.sync.options import RuntimeView, SyncOptions
from agent.sync.orgs import OrgContext
from agent.sync.report import CycleReport
from agent.sync.routing import RoutingTable, Split, Unroutable, routing_table


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
    if isinstance(decision, Split):
        return _parts(result, decision, snapshot, routing, contexts, rows)
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


def _parts(
    result: DryRun,
    decision: Split,
    snapshot: InvoiceSnapshot,
    routing: RoutingTable,
    contexts: dict[str, OrgContext],
    rows: list[OutboxRow],
) -> DryRun:
    """Each part of a split invoice, mapped in its organisation as a cycle would."""
    parts: list[dict[str, Any]] = []
    for part in decision.parts:
        shown: dict[str, Any] = {
            "part": part.index,
            "parts": part.count,
            "organisation": {"tenant_id": part.org, "name": routing.name(part.org)},
            "routing": part.rule,
            "billing_items": list(part.items),
            "lines_of_business": list(part.lines_of_business),
            "total": str(split.part_total(snapshot, part)),
        }
        parts.append(shown)
        problem = split.whole_problem(snapshot) or split.sign_problem(snapshot, part)
        context = contexts.get(part.org)
        if problem is not None:
            code, message = problem.split(": ", 1)
            shown["blocked"] = [{"code": code, "message": message}]
            continue
        if context is None:
            shown["blocked"] = [
                {"code": "organisation", "message": "its catalogs could not be read from Xero"}
            ]
            continue
        cut = split.part_snapshot(snapshot, part)
        mapped = map_invoice(cut, context.tables, context.catalog, context.options)
        if isinstance(mapped, Blocked):
            shown["blocked"] = [reason.to_dict() for reason in mapped.reasons]
            continue
        assert isinstance(mapped, MappedDocument)
        resync = any(r.xero_id for r in rows if r.org == part.org)
        payload = envelope.build(mapped, cut, routing=part.rule, resync=resync)
        payload[split.SPLIT_KEY] = split.split_info(decision, part, routing, snapshot)
        shown["document"] = payload
    data = result.data
    first = parts[0]
    data["split"] = True
    data["parts"] = parts
    data["organisation"] = first["organisation"]
    data["routing"] = first["routing"]
    if "document" in first:
        data["document"] = first["document"]
    blocked = [
        {
            **reason,
            "message": f"part {p['part']} ({p['organisation']['name']}): {reason['message']}",
        }
        for p in parts
        for reason in p.get("blocked", [])
    ]
    if blocked:
        data["blocked"] = blocked
    result.mapped = not blocked
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
