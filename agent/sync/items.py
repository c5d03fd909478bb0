"""Autotask products, services and service bundles as Xero items (issue 5 §3).

Runs in each full cycle before invoices are mapped, only when the ``item_sync`` setting is
``create`` (create the missing items) or ``create_update`` (also update the items whose Autotask
record changed); ``off`` (the default) costs nothing.

1. Autotask: one paged query per entity (Products, Services, ServiceBundles: three queries while
   each has at most 500 records). Products have no modified date (autotask-api §5), so every
   record is read and compared with its outbox row's snapshot; nothing else is asked of Autotask
   unless an item has to be built (then the billing codes, for their ``externalNumber``, and
   the currencies, for the internal one the prices are in: two queries).
2. The outbox: one row of kind ``item`` per record and organisation (``autotask_id``
   ``product:<id>``, ``service:<id>``, ``bundle:<id>``), snapshot = the record's fields an item
   is built from and its Code (``agent.mapping.items``). New (active) records -> ``pending`` with
   the item as payload, or ``blocked`` with what to map (no sales account). Inactive records
   with no row are not created. A ``done`` row whose record changed goes back to ``pending``
   only with ``create_update``.
3. Xero, per organisation: claimed rows are matched by Code against the cached ``items``
   catalog (read again first, one call, when a row's last attempt has an unknown outcome, so a
   crash after the create never creates a second item); an existing item is adopted (``done``,
   no call), or with ``create_update`` updated when it differs; missing ones are created, 50 to
   a request with a result per item (``post_documents``). The catalog cache is updated with
   what Xero answered, so the invoices of the same cycle carry the new ItemCodes.

Rows ``posted``/``done`` give mapping its ``known_items`` table (``orgs.known_items``): the invoice
lines of those records carry the item's Code (``agent.mapping.lines.choose_item_code``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from agent.autotask import AutotaskBudgetExhausted, AutotaskError
from agent.autotask.refdata import BillingCode, Currency, Product, Service, ServiceBundle
from agent.mapping import by_id
from agent.mapping.document import BlockReason
from agent.mapping.items import ItemSource, assign_codes, build_item, item_differs, source_of
from agent.store import LeaseLost, OutboxKind, OutboxRow, OutboxState, StateConflict, Store
from agent.store.canonical import content_hash
from agent.sync.jobs import RowOutcomes, claimed_chunks, renew_leases
from agent.sync.orgs import OrgContext
from agent.sync.report import CycleReport
from agent.xero import MAX_BATCH, XeroAuthError, XeroError, XeroOrgPaused
from agent.xero.catalogs import refresh_catalogs

if TYPE_CHECKING:
    from agent.sync.engine import SyncEngine

log = logging.getLogger("atx.sync")
S = OutboxState
K = OutboxKind.ITEM
CLAIM_CHUNK = 500
ALL = 1_000_000
# The organisation context (mappings, options, catalogs) the done items were last built from.
ITEM_CONTEXT_STREAM = "items_context"
ENTITIES: tuple[type[Product | Service | ServiceBundle], ...] = (Product, Service, ServiceBundle)


def read_sources(engine: SyncEngine) -> list[ItemSource]:
    """Every product, service and bundle: one paged query per entity."""
    sources: list[ItemSource] = []
    for model in ENTITIES:
        sources.extend(source_of(record) for record in engine.autotask.records(model, []))
    return sources


class _Halt(Exception):
    """The organisation cannot take calls now: the rows still claimed were given back."""


@dataclass
class ItemSync:
    engine: SyncEngine
    report: CycleReport
    mode: str  # "create" or "create_update"
    _billing_codes: dict[int, BillingCode] | None = field(default=None, init=False)
    _price_currency: str | None = field(default=None, init=False)  # Autotask's internal one

    @property
    def store(self) -> Store:
        return self.engine.store

    @cached_property
    def outcomes(self) -> RowOutcomes:
        engine = self.engine
        return RowOutcomes(engine.store, self.report, engine.retry, engine.owner, engine.now,
                           "item")  # fmt: skip

    def run(self, contexts: Mapping[str, OrgContext]) -> None:
        if self.mode not in ("create", "create_update") or not contexts:
            return
        try:
            sources = read_sources(self.engine)
        except AutotaskBudgetExhausted as exc:
            self.report.defer(f"item sync: {exc}")
            return
        except AutotaskError as exc:
            self.report.error(f"item sync: reading Autotask products and services: {exc}")
            return
        codes = assign_codes(sources)
        for org, context in contexts.items():
            if self.engine.stop.is_set():
                return
            try:
                self._discover(context, sources, codes)
                self._post(context)
            except AutotaskBudgetExhausted as exc:
                self.report.defer(f"item sync: {exc}")
                return
            except AutotaskError as exc:
                self.report.error(f"item sync: reading Autotask billing codes: {exc}")
                return
            except _Halt:
                continue
            log.debug("item sync done for %s", org)

    # -- 2: the outbox ---------------------------------------------------------------------------

    def billing_codes(self) -> dict[int, BillingCode]:
        if self._billing_codes is None:
            self._billing_codes = by_id(self.engine.autotask.records(BillingCode, []))
            internal = next(
                (c for c in self.engine.autotask.records(Currency, []) if c.isInternalCurrency),
                None,
            )
            self._price_currency = internal.name if internal is not None else None
        return self._billing_codes

    def _discover(
        self, context: OrgContext, sources: Sequence[ItemSource], codes: Mapping[str, str]
    ) -> None:
        outbox, org = self.store.outbox, context.tenant_id
        existing = {
            r.autotask_id: r
            for r in outbox.list_rows(kind=K, org=org, limit=ALL)
            if r.state is not S.VOIDED
        }
        for source in sources:
            snapshot = {"item": source.to_dict(), "code": codes[source.key]}
            row = existing.get(source.key)
            if row is None and not source.active:
                continue  # inactive: not created
            if row is not None and row.snapshot_hash == content_hash(snapshot):
                if row.state is S.BLOCKED or (row.state is S.PENDING and row.payload is None):
                    self._map(row, source, snapshot, context)
                continue
            if row is not None and row.state in (S.POSTED, S.DONE):
                if self.mode != "create_update" or row.state is S.POSTED:
                    continue
                row = outbox.resync(row.id, detail="changed in Autotask: the item is updated")
            elif row is not None and row.state is S.POSTING:
                continue
            row = outbox.upsert_discovered(K, source.key, org, snapshot)
            if row.state in (S.DISCOVERED, S.PENDING, S.BLOCKED):
                self._map(row, source, snapshot, context)
        if self.mode == "create_update" and self.store.cursors.get(
            ITEM_CONTEXT_STREAM, org
        ) != context.fingerprint:  # fmt: skip
            self._remap_done(context, sources, codes, existing)
            self.store.cursors.set(ITEM_CONTEXT_STREAM, context.fingerprint, org)

    def _remap_done(
        self,
        context: OrgContext,
        sources: Sequence[ItemSource],
        codes: Mapping[str, str],
        existing: Mapping[str, OutboxRow],
    ) -> None:
        """What the organisation's items are built from besides the Autotask record changed (a
        mapping, a setting, the catalogs): every ``done`` item is built again, and one whose
        item differs from the one sent is updated (``create_update`` only)."""
        outbox = self.store.outbox
        for source in sources:
            row = existing.get(source.key)
            if row is None or row.state is not S.DONE or not source.active:
                continue
            current = outbox.get(row.id)
            if current is None or current.state is not S.DONE:
                continue  # handled above: its record changed
            billing = (
                None
                if source.billing_code_id is None
                else self.billing_codes().get(source.billing_code_id)
            )
            built = build_item(source, codes[source.key], billing, context.tables,
                               context.catalog, context.options, self._price_currency)  # fmt: skip
            if isinstance(built, BlockReason):
                continue  # the item in Xero stays as it is; a new record would block
            sent = (current.payload or {}).get("payload")
            if isinstance(sent, dict) and content_hash(sent) == content_hash(built.document):
                continue
            outbox.resync(row.id, detail="its mappings changed: the item is updated")
            payload = {"kind": "item", "payload": built.document, "rules": list(built.rules)}
            outbox.update(row.id, payload=payload, detail="mapped again")
            self.report.add("mapped")

    def _map(
        self, row: OutboxRow, source: ItemSource, snapshot: dict[str, Any], context: OrgContext
    ) -> None:
        code = str(snapshot["code"])
        built: Any
        if not source.active and row.xero_id is None:
            built = BlockReason(
                "item", f"{source.label} is inactive in Autotask: no Xero item is created for it"
            )
        else:
            billing = (
                None
                if source.billing_code_id is None
                else self.billing_codes().get(source.billing_code_id)
            )
            built = build_item(source, code, billing, context.tables, context.catalog,
                               context.options, self._price_currency)  # fmt: skip
        if isinstance(built, BlockReason):
            self.outcomes.mapped(row, [str(built)])
            return
        # The Xero item under "payload", as documents have theirs (the queue detail shows it).
        self.outcomes.mapped(row, {"kind": "item", "payload": built.document,
                                   "rules": list(built.rules)})  # fmt: skip

    # -- 3: Xero ---------------------------------------------------------------------------------

    def _post(self, context: OrgContext) -> None:
        give_back = lambda rows: self.outcomes.give_back(rows, "not mapped yet")  # noqa: E731
        org = context.tenant_id
        for rows in claimed_chunks(self.engine, self.report, org, K, CLAIM_CHUNK, give_back):
            self._chunk(context, rows)

    def _chunk(self, context: OrgContext, rows: list[OutboxRow]) -> None:
        org = context.tenant_id
        looked_up = any(r.needs_lookup for r in rows)
        try:
            if looked_up:
                # An earlier attempt may have created items we never heard of: read them again.
                records = refresh_catalogs(self.engine.xero.gateway, self.store, org, ["items"])
                catalog = records["items"]
            else:
                catalog = self.engine.xero.catalog(org, "items")
        except (XeroOrgPaused, XeroAuthError) as exc:
            self.outcomes.give_back(rows, f"Xero: {exc}")
            if isinstance(exc, XeroOrgPaused):
                self.report.pause(org, exc.until)
            raise _Halt from exc
        except XeroError as exc:
            for row in rows:
                self.outcomes.failed(
                    row, f"reading Xero items: {exc}", needs_lookup=row.needs_lookup
                )
            return
        by_code = {str(i.get("Code") or ""): i for i in catalog}
        by_item_id = {str(i.get("ItemID") or ""): i for i in catalog}
        creates: list[tuple[OutboxRow, dict[str, Any]]] = []
        updates: list[tuple[OutboxRow, dict[str, Any]]] = []
        with self.store.outbox.batch():
            for row in rows:
                payload = row.payload or {}
                wanted = payload.get("payload")
                if not isinstance(wanted, dict):
                    # Requeued without a payload (its snapshot changed): mapped next cycle.
                    self.outcomes.release(row, "not mapped yet")
                    continue
                found = by_code.get(str(wanted.get("Code")))
                if found is None and row.xero_id:
                    found = by_item_id.get(row.xero_id)
                if found is None:
                    creates.append((row, wanted))
                elif self.mode == "create_update" and row.xero_id and item_differs(wanted, found):
                    # Only items this agent already holds, whose Autotask record changed: an
                    # item first matched by its Code (made by hand) is adopted as it is.
                    updates.append((row, {**wanted, "ItemID": found.get("ItemID")}))
                else:
                    how = "found in Xero" if row.xero_id is None else "unchanged in Xero"
                    self._done(row, found, how, context)
        changed: dict[str, dict[str, Any]] = {}
        for batch, upsert in ((creates, False), (updates, True)):
            for start in range(0, len(batch), MAX_BATCH):
                self._send(context, batch[start : start + MAX_BATCH], upsert, rows, changed)
        if changed or looked_up:
            merged = [i for i in catalog if str(i.get("Code") or "") not in changed]
            merged.extend(changed.values())
            self.store.catalogs.replace_catalog(org, "items", merged)

    def _send(
        self,
        context: OrgContext,
        batch: list[tuple[OutboxRow, dict[str, Any]]],
        upsert: bool,
        claimed: list[OutboxRow],
        changed: dict[str, dict[str, Any]],
    ) -> None:
        engine, org = self.engine, context.tenant_id
        held = {r.id for r in renew_leases(engine, self.outcomes, [r for r, _ in batch])}
        live = [(row, doc) for row, doc in batch if row.id in held]
        if not live:
            return
        keys = [f"item:{r.id}:{r.payload_hash}:{r.attempts}" for r, _ in live]
        try:
            results = engine.xero.post_documents(org, "item", [d for _, d in live], keys,
                                                 upsert=upsert)  # fmt: skip
        except (XeroOrgPaused, XeroAuthError) as exc:
            self.outcomes.give_back(claimed, str(exc))
            if isinstance(exc, XeroOrgPaused):
                self.report.pause(org, exc.until)
            raise _Halt from exc
        except XeroError as exc:
            self.report.add("xero_writes")
            for row, _ in live:
                self.outcomes.failed(row, str(exc), needs_lookup=True)
            return
        self.report.add("xero_writes")
        with self.store.outbox.batch():
            for (row, _doc), result in zip(live, results, strict=True):
                if result.ok and result.xero_id:
                    record = dict(result.record)
                    changed[str(record.get("Code") or _doc.get("Code"))] = record
                    how = "updated in Xero" if upsert else "created in Xero"
                    if self._done(row, record, how, context):
                        self.report.add("items_updated" if upsert else "items_created")
                elif result.request_rejected:
                    refused = "Xero refused the request: " + "; ".join(result.errors)
                    self.outcomes.failed(row, refused, needs_lookup=False)
                else:
                    reason = f"item: Xero refused item {_doc.get('Code')}: " + "; ".join(
                        result.errors
                    )
                    self.outcomes.blocked(row, reason)

    # -- outcomes --------------------------------------------------------------------------------

    def _done(self, row: OutboxRow, item: Mapping[str, Any], how: str, ctx: OrgContext) -> bool:
        outbox, owner = self.store.outbox, self.engine.owner
        code = str(item.get("Code") or "")
        try:
            with outbox.batch():
                outbox.transition(row.id, S.POSTED, owner=owner, xero_id=str(item.get("ItemID")),
                                  xero_number=code, detail=f"item {code} {how}")  # fmt: skip
                outbox.transition(row.id, S.DONE, detail=f"done: item {code} in {ctx.name}")
        except (LeaseLost, StateConflict) as exc:
            log.warning("item row %s: result not recorded: %s", row.id, exc)
            return False
        log.info("item %s (%s) %s in %s", code, row.autotask_id, how, ctx.name)
        return True
