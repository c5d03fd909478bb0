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

Split invoices (``mixed_invoice`` = ``split``, ``agent.sync.split``): the row being mapped takes
one part (a row not routed yet, the first part without a row), the other parts' rows are created
(or brought back) and mapped at once, before this row becomes ``pending``, so a crash never leaves
a posted part without its siblings; never-sent rows of organisations that no longer have lines of
the invoice are skipped, with the reason. The rows created are handed to ``run``'s results.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from agent.mapping import Blocked, InvoiceSnapshot, map_invoice
from agent.store import OutboxRow, OutboxState, StateConflict, Store, StoreError
from agent.store.canonical import content_hash
from agent.sync import envelope, split
from agent.sync.orgs import OrgContext
from agent.sync.routing import Part, Routed, RoutingTable, Split, Unroutable

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
    if row.kind.value == "purchase_order":
        return f"Autotask purchase order {row.autotask_id} (row {row.id})"
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
        # Part rows created or changed while mapping another row (split invoices): handed to
        # ``run``'s results, and read again before ``run`` maps them itself.
        self._more: list[OutboxRow] = []
        self._touched: set[int] = set()
        # (kind, Autotask id) with rows in several organisations, known for the rows ``run``
        # maps (one query); None: ask per row.
        self._shared: set[tuple[str, str]] | None = None
        self._active: set[int] = set()  # rows being mapped (a part maps its siblings)

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
        rows = list(rows)
        self._shared = self.store.outbox.shared(
            {r.autotask_id for r in rows}, {r.kind for r in rows}
        )
        try:
            for row in rows:
                if row.id in self._touched:
                    # Changed as another part of its invoice: map it as it is now.
                    fresh = self.store.outbox.get(row.id)
                    if fresh is None or fresh.state not in (S.DISCOVERED, S.PENDING, S.BLOCKED):
                        continue
                    row = fresh
                try:
                    after = self.prepare(row)
                except StoreError as exc:
                    # Another worker moved the row meanwhile; it is theirs now.
                    log.info("%s left as it is: %s", label(row), exc)
                    self._more.clear()
                    continue
                if results is not None:
                    results.append(after)
                    results.extend(self._more)
                self._more.clear()
        finally:
            self._shared = None
        return self.outcome

    def prepare(self, row: OutboxRow, *, owner: str | None = None) -> OutboxRow:
        """Map one row; ``owner`` when the row is ``posting`` under that lease."""
        self._active.add(row.id)
        try:
            return self._prepare(row, owner)
        finally:
            self._active.discard(row.id)

    def _prepare(self, row: OutboxRow, owner: str | None) -> OutboxRow:
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
        if row.xero_id is None and not row.needs_lookup:
            conflict = split.sent_conflict(self._siblings(row), decision, snapshot, self.routing)
            if conflict is not None:
                return self._block(row, [conflict], owner)
        if isinstance(decision, Split):
            return self._prepare_part(row, snapshot, decision, owner)
        routing_rule = decision.rule
        if decision.org != row.org and row.xero_id is None:
            twin = self._sibling(row, decision.org)
            if twin is not None and (twin.state is not S.SKIPPED or split.dropped_by_split(twin)):
                # A part of a split invoice whose lines all go to one organisation now.
                return self._merged(row, twin, decision, owner)
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
        if row.org == decision.org:
            self._drop_strays(row, (decision.org,), f"all its lines now go to {decision.rule}")
        return self._map(row, snapshot, snapshot, routing_rule, owner)

    def _map(
        self,
        row: OutboxRow,
        snapshot: InvoiceSnapshot,
        whole: InvoiceSnapshot,
        routing_rule: str,
        owner: str | None,
        *,
        part: tuple[Split, Part] | None = None,
    ) -> OutboxRow:
        """Map ``snapshot`` (the invoice, or one part of it: ``whole`` is the invoice) in the
        row's organisation: ``pending`` with the payload, or ``blocked``."""
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
        note = ""
        if part is not None:
            decision, mine = part
            payload[split.SPLIT_KEY] = split.split_info(decision, mine, self.routing, whole)
            note = ": " + split.describe(mine, self.routing)
        return self._pending(row, payload, owner, note)

    # -- split invoices ---------------------------------------------------------------------

    def _siblings(self, row: OutboxRow) -> list[OutboxRow]:
        """The other rows of the same document (other organisations: parts of a split)."""
        key = (row.kind.value, row.autotask_id)
        if self._shared is not None and key not in self._shared:
            return []
        found = self.store.outbox.for_autotask_ids([row.autotask_id], kinds=[row.kind])
        return [r for r in found if r.id != row.id]

    def _sibling(self, row: OutboxRow, org: str) -> OutboxRow | None:
        return next((r for r in self._siblings(row) if r.org == org), None)

    def _prepare_part(
        self, row: OutboxRow, snapshot: InvoiceSnapshot, decision: Split, owner: str | None
    ) -> OutboxRow:
        """One row of a split invoice: it takes (or keeps) one part, the other parts get rows."""
        outbox = self.store.outbox
        siblings = self.store.outbox.for_autotask_ids([row.autotask_id], kinds=[row.kind])
        others = {r.org: r for r in siblings if r.id != row.id}
        names = ", ".join(f"{p.title} to {self.routing.name(p.org)}" for p in decision.parts)
        if row.org not in decision.orgs:
            if row.xero_id is not None:
                return self._block(
                    row,
                    [
                        f"routing: this document is in Xero already, but the invoice's lines now"
                        f" go to other organisations ({names}); void it in Xero and skip this"
                        " row, or change the routing back in Mappings → Routing"
                    ],
                    owner,
                )
            free = [p.org for p in decision.parts if p.org not in others]
            if row.org != "" or not free:
                why = f"the invoice's lines now go to other organisations ({names})"
                return self._drop(row, why, owner)
            if row.state is S.POSTING:
                assert owner is not None
                row = outbox.release(row.id, owner, detail="routing changed")
                owner = None
            mine = decision.part(free[0])
            assert mine is not None
            row = outbox.route(row.id, mine.org, detail=f"routed: {mine.rule}")
        mine = decision.part(row.org)
        assert mine is not None
        # The other parts first: this one becomes pending only once they all have a row.
        for part in decision.parts:
            if part.org != row.org:
                self._ensure_part(row, others.get(part.org), part)
        self._drop_strays(row, decision.orgs, f"the invoice's lines now go to {names}")
        problem = split.whole_problem(snapshot) or split.sign_problem(snapshot, mine)
        if problem is not None:
            return self._block(row, [problem], owner)
        cut = split.part_snapshot(snapshot, mine)
        return self._map(row, cut, snapshot, mine.rule, owner, part=(decision, mine))

    def _ensure_part(self, row: OutboxRow, found: OutboxRow | None, part: Part) -> None:
        """The row of another part: created, or brought back when the sync had dropped it;
        mapped now (its result goes to ``run``'s results)."""
        outbox = self.store.outbox
        what = split.describe(part, self.routing)
        try:
            if found is None:
                found = outbox.upsert_discovered(
                    row.kind, row.autotask_id, part.org, row.snapshot,
                    max_attempts=row.max_attempts,
                )  # fmt: skip
                if self._shared is not None:
                    self._shared.add((row.kind.value, row.autotask_id))
                log.info("%s: split, %s", label(found), what)
            elif split.dropped_by_split(found):
                self._revive(
                    found, row, f"the invoice has lines for this organisation again: {what}"
                )
                return
            self._also(found.id)
        except StoreError as exc:
            log.info("row for %s left as it is: %s", what, exc)

    def _revive(self, dropped: OutboxRow, row: OutboxRow, why: str) -> None:
        """A part row the sync dropped takes ``row``'s snapshot and is mapped again."""
        outbox = self.store.outbox
        fresh = outbox.upsert_discovered(
            dropped.kind, dropped.autotask_id, dropped.org, row.snapshot,
            max_attempts=dropped.max_attempts,
        )  # fmt: skip
        outbox.transition(fresh.id, S.PENDING, payload=None, last_error=None, detail=why)
        self._also(fresh.id)

    def _also(self, row_id: int) -> None:
        """Map another row of the invoice now (unless it is being mapped already, or is not
        the sync's to map: sent, being sent, failed, skipped)."""
        if row_id in self._active:
            return
        self._touched.add(row_id)
        found = self.store.outbox.get(row_id)
        if found is not None and found.state in (S.DISCOVERED, S.PENDING, S.BLOCKED):
            if found.state is S.PENDING and found.needs_lookup:
                return  # it may be in Xero already: looked up first, as it is
            self._more.append(self.prepare(found))

    def _drop_strays(self, row: OutboxRow, orgs: tuple[str, ...], why: str) -> None:
        """Never-sent rows of this document in organisations that no longer have its lines."""
        for other in self._siblings(row):
            if (
                other.org in orgs
                or other.state not in (S.DISCOVERED, S.PENDING, S.BLOCKED, S.FAILED, S.DEAD)
                or other.xero_id is not None
                or other.needs_lookup
            ):
                continue
            self._touched.add(other.id)
            try:
                self._drop(other, why, None)
            except StoreError as exc:
                log.info("%s left as it is: %s", label(other), exc)

    def _drop(self, row: OutboxRow, why: str, owner: str | None) -> OutboxRow:
        """Skip a never-sent part row: its organisation has no lines of the invoice any more."""
        if row.state is S.POSTING:
            assert owner is not None
            row = self.store.outbox.release(row.id, owner, detail="routing changed")
        reason = split.DROPPED + why
        log.info("dropped %s: %s", label(row), why)
        return self.store.outbox.transition(
            row.id, S.SKIPPED, detail=f"dropped: {why}", last_error=reason
        )

    def _merged(
        self, row: OutboxRow, twin: OutboxRow, decision: Routed, owner: str | None
    ) -> OutboxRow:
        """The invoice is no longer split and all of it goes to ``twin``'s organisation: this
        part row is dropped, and ``twin`` takes the whole invoice."""
        why = f"all its lines now go to {decision.rule} (row {twin.id})"
        dropped = self._drop(row, why, owner)
        try:
            if split.dropped_by_split(twin):
                self._revive(twin, row, f"the invoice goes here whole again: {decision.rule}")
            else:
                self._also(twin.id)
        except StoreError as exc:
            log.info("%s left as it is: %s", label(twin), exc)
        return dropped

    # -- outcomes ---------------------------------------------------------------------------

    def _pending(
        self, row: OutboxRow, payload: dict[str, object], owner: str | None, note: str = ""
    ) -> OutboxRow:
        outbox = self.store.outbox
        digest = content_hash(payload)
        if row.state is S.DISCOVERED:
            self.outcome.mapped += 1
            return outbox.transition(row.id, S.PENDING, payload=payload, detail="mapped" + note)
        if row.state in (S.PENDING, S.POSTING):
            if row.payload_hash == digest:
                self.outcome.untouched += 1
                return row
            self.outcome.mapped += 1
            return outbox.update(row.id, payload=payload, detail="mapped again" + note, owner=owner)
        if row.state is S.BLOCKED:
            if row.payload_hash == digest:
                # Xero refused exactly this document; nothing it depends on changed.
                self.outcome.untouched += 1
                return row
            self.outcome.unblocked += 1
            log.info("unblocked %s: it maps now", label(row))
            return outbox.transition(row.id, S.PENDING, payload=payload, detail="unblocked" + note)
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
