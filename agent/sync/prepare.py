"""Mapping outbox rows: snapshot -> routed organisation -> ``pending`` with a payload, or
``blocked`` with reasons (issue 3 §4).

Rows mapped in a cycle:
- ``discovered`` rows (new, or left by a crash before mapping);
- ``pending`` rows without a payload (their snapshot changed, or a user retried them);
- ``pending`` rows whose organisation's mapping context changed (mappings, options, catalogs,
  routing), unless an unknown outcome makes them wait for a lookup (their payload is what may
  already be in Xero);
- ``blocked`` rows whose snapshot changed, whose organisation's context changed, or that wait for
  routing (organisation ''): this is how a saved mapping unblocks invoices without a person
  retrying them.

A row Xero itself refused keeps its payload while blocked: when it maps to the very same
document again, it stays blocked (sending it again would be refused again); any change to what
would be sent puts it back to ``pending``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from agent.mapping import Blocked, InvoiceSnapshot, map_invoice
from agent.store import OutboxRow, OutboxState, StateConflict, Store, StoreError
from agent.store.canonical import content_hash
from agent.sync import envelope
from agent.sync.orgs import OrgContext
from agent.sync.routing import RoutingTable, Unroutable

log = logging.getLogger("atx.sync")
S = OutboxState
ALL = 1_000_000  # "every row" for list_rows


@dataclass
class PrepareOutcome:
    mapped: int = 0  # rows that got a (new) payload and are pending
    blocked: int = 0  # rows newly blocked, or blocked for other reasons than before
    unblocked: int = 0  # blocked rows back to pending
    untouched: int = 0


def label(row: OutboxRow) -> str:
    kind = "credit note" if row.kind.value == "credit_note" else row.kind.value
    return f"{kind} for Autotask invoice {row.autotask_id} (row {row.id})"


class Preparer:
    def __init__(
        self,
        store: Store,
        routing: RoutingTable,
        contexts: Mapping[str, OrgContext],
    ) -> None:
        self.store = store
        self.routing = routing
        self.contexts = contexts
        self.outcome = PrepareOutcome()

    # -- which rows ---------------------------------------------------------------------------

    def due_rows(self, changed: Iterable[int], changed_orgs: Iterable[str]) -> list[OutboxRow]:
        """The rows this cycle maps (see the module docstring), oldest first."""
        outbox = self.store.outbox
        wanted: dict[int, OutboxRow] = {}
        stale = set(changed_orgs)
        for row in outbox.list_rows(states=[S.DISCOVERED], limit=ALL):
            wanted[row.id] = row
        for row in outbox.list_rows(states=[S.PENDING], limit=ALL):
            if row.payload_json is None or (row.org in stale and not row.needs_lookup):
                wanted[row.id] = row
        for org in sorted(stale | {""}):
            for row in outbox.list_rows(states=[S.BLOCKED], org=org, limit=ALL):
                wanted[row.id] = row
        for row_id in changed:
            found = outbox.get(row_id)
            if found is not None and found.state in (S.BLOCKED, S.PENDING):
                wanted[found.id] = found
        return sorted(wanted.values(), key=lambda r: r.id)

    # -- mapping ------------------------------------------------------------------------------

    def run(
        self, rows: Iterable[OutboxRow], *, results: list[OutboxRow] | None = None
    ) -> PrepareOutcome:
        """Map ``rows``; each row as it is afterwards is added to ``results`` when given."""
        for row in rows:
            try:
                after = self.prepare(row)
            except StoreError as exc:
                # Another worker moved the row meanwhile; it is theirs now.
                log.info("%s left as it is: %s", label(row), exc)
                continue
            if results is not None:
                results.append(after)
        return self.outcome

    def prepare(self, row: OutboxRow, *, owner: str | None = None) -> OutboxRow:
        """Map one row; ``owner`` when the row is ``posting`` under that lease."""
        try:
            snapshot = InvoiceSnapshot.from_dict(row.snapshot)
        except Exception as exc:  # a snapshot written by a future version, or damaged
            return self._block(
                row,
                [
                    f"data: the stored Autotask snapshot cannot be read ({type(exc).__name__});"
                    " retry the invoice to read it from Autotask again"
                ],
                owner,
            )
        decision = self.routing.route(snapshot)
        if isinstance(decision, Unroutable):
            return self._block(row, [decision.reason], owner)
        routing_rule = decision.rule
        if decision.org != row.org and row.xero_id is None:
            if row.state is S.POSTING:
                # Routed elsewhere since it was claimed: give it back to the other organisation.
                assert owner is not None
                row = self.store.outbox.release(row.id, owner, detail="routing changed")
            try:
                row = self.store.outbox.route(
                    row.id, decision.org, detail=f"routed: {decision.rule}"
                )
            except StateConflict as exc:
                return self._block(row, [f"routing: {exc}"], None)
            if owner is not None:
                return row
        context = self.contexts.get(row.org)
        if context is None:
            # The organisation's catalogs could not be read this cycle: map it next time.
            self.outcome.untouched += 1
            return row
        result = map_invoice(snapshot, context.tables, context.catalog, context.options)
        if isinstance(result, Blocked):
            return self._block(row, result.messages, owner)
        payload = envelope.build(
            result, snapshot, routing=routing_rule, resync=row.xero_id is not None
        )
        return self._pending(row, payload, owner)

    def _pending(self, row: OutboxRow, payload: dict[str, object], owner: str | None) -> OutboxRow:
        outbox = self.store.outbox
        digest = content_hash(payload)
        if row.state is S.DISCOVERED:
            self.outcome.mapped += 1
            return outbox.transition(row.id, S.PENDING, payload=payload, detail="mapped")
        if row.state in (S.PENDING, S.POSTING):
            if row.payload_hash == digest:
                self.outcome.untouched += 1
                return row
            self.outcome.mapped += 1
            return outbox.update(row.id, payload=payload, detail="mapped again", owner=owner)
        if row.state is S.BLOCKED:
            if row.payload_hash == digest:
                # Xero refused exactly this document; nothing it depends on changed.
                self.outcome.untouched += 1
                return row
            self.outcome.unblocked += 1
            log.info("unblocked %s: it maps now", label(row))
            return outbox.transition(row.id, S.PENDING, payload=payload, detail="unblocked")
        self.outcome.untouched += 1
        return row

    def _block(self, row: OutboxRow, reasons: list[str], owner: str | None) -> OutboxRow:
        outbox = self.store.outbox
        if row.state is S.BLOCKED:
            if tuple(reasons) == row.block_reasons and row.payload_json is None:
                self.outcome.untouched += 1
                return row
            self.outcome.blocked += 1
            log.info("blocked %s: %s", label(row), " | ".join(reasons))
            return outbox.update(row.id, block_reasons=reasons, payload=None, detail="blocked")
        if row.state in (S.DISCOVERED, S.PENDING, S.POSTING):
            self.outcome.blocked += 1
            log.info("blocked %s: %s", label(row), " | ".join(reasons))
            return outbox.transition(
                row.id,
                S.BLOCKED,
                block_reasons=reasons,
                payload=None,
                detail="blocked: " + reasons[0],
                owner=owner,
            )
        self.outcome.untouched += 1
        return row
