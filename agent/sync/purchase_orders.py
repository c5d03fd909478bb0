"""Autotask purchase orders as Xero purchase orders or bills (issue 5 §2).

Runs in each full cycle after the invoices, only when ``sync_purchase_orders`` is on; off (the
default) costs nothing. An order goes to the organisation the routing mappings invoices use
name (``_Routes``: the vendor as a company, the customer it is bought for, the vendor's
currency), else the default one (``default_org``, else the only one connected), and is mapped
with that organisation's mappings; an order no rule places waits, blocked with what to map.
Once sent, a row keeps its organisation.

1. Autotask: one query for the orders that reached the trigger status (``po_trigger_status``:
   submitted, partially received or received; never cancelled) and were submitted within
   ``days_back``; one ``in`` query (per 500) for their items. Autotask keeps no modified date on
   purchase orders, so the items of every order in the window are read each cycle to see changes.
   Only when an order is new, not sent yet, or changed are its vendor, products, the currencies
   and (bills) payment terms read: up to 4 more queries, none in a cycle without changes.
2. The outbox: one row of kind ``purchase_order`` per order; its snapshot = the order, its items,
   the vendor and products (``agent.mapping.purchase_orders`` builds the document). What is
   missing blocks the row with a reason naming the fix; a blocked row is mapped again each cycle.
3. A sent order that changed in Autotask (the document built from it differs from the one sent):
   its document's status is read from Xero (1 call). Still DRAFT or SUBMITTED: the row goes back
   to pending and the document is updated in place. Approved (or billed, paid, deleted): the row
   is blocked with what changed, for the user to decide: retry applies the change to the Xero
   document, skip keeps Xero's version.
4. Xero: vendors without a contact get one first (``ContactMaker``, as customers do); new
   documents are created 50 to a request, changed ones updated by their id. A row whose last
   attempt had an unknown outcome first looks its document up by Reference (the PO number), so
   a crash after the create never makes a second one; a draft found so is updated with the
   order as it is now (it may have changed since), an approved one adopted as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

from agent.autotask import AutotaskBudgetExhausted, AutotaskError
from agent.autotask.refdata import Currency
from agent.mapping.purchase_orders import (
    PO_TRIGGERS,
    MappedPurchase,
    PoOptions,
    build_purchase,
    describe_change,
    freight_of,
    po_number,
    unit_cost,
)
from agent.store import LeaseLost, OutboxKind, OutboxRow, OutboxState, StateConflict, Store
from agent.store.canonical import content_hash
from agent.store.outbox_model import SNAPSHOT_REPLACEABLE
from agent.sync.contacts import ContactMaker
from agent.sync.discover import internal_currency_code
from agent.sync.envelope import Envelope
from agent.sync.jobs import Job, Outcomes, RowOutcomes, claimed_chunks, renew_leases
from agent.sync.options import RuntimeView, SyncOptions
from agent.sync.report import CycleReport
from agent.sync.routing import ROUTING_COMPANY, ROUTING_CURRENCY
from agent.xero import MAX_BATCH, XeroAuthError, XeroError, XeroOrgPaused
from agent.xero.lookups import (
    find_bills_by_reference,
    find_purchase_orders_by_reference,
    get_invoice,
    get_purchase_order,
)

if TYPE_CHECKING:
    from agent.sync.engine import SyncEngine
    from agent.sync.orgs import OrgContext

log = logging.getLogger("atx.sync")
S = OutboxState
K = OutboxKind.PURCHASE_ORDER
CLAIM_CHUNK = 500
ALL = 1_000_000
ORDER_FIELDS = (
    "id",
    "purchaseOrderNumber",
    "vendorID",
    "purchaseForCompanyID",
    "status",
    "createDateTime",
    "submitDateTime",
    "freight",
    "internalCurrencyFreight",
    "paymentTerm",
    "taxRegionID",
    "vendorInvoiceNumber",
    "latestEstimatedArrivalDate",
    "shipToName",
    "shipToAddress1",
    "shipToAddress2",
    "shipToCity",
    "shipToState",
    "shipToPostalCode",
    "phone",
)
ITEM_FIELDS = (
    "id",
    "orderID",
    "productID",
    "quantity",
    "unitCost",
    "internalCurrencyUnitCost",
    "memo",
)
PRODUCT_FIELDS = ("id", "name", "sku", "productBillingCodeID", "unitCost")
VENDOR_FIELDS = (
    "id",
    "companyName",
    "companyNumber",
    "companyType",
    "isActive",
    "address1",
    "address2",
    "city",
    "state",
    "postalCode",
    "phone",
    "currencyID",
)
# Xero statuses in which a document is still a draft: a change in Autotask updates it.
DRAFT_STATUSES = frozenset({"DRAFT", "SUBMITTED"})
PURCHASE_ACCOUNT = "purchase_account"  # mapping: Autotask product id -> Xero account Code
PURCHASE_TAX = "purchase_tax"  # mapping: Autotask tax region id -> Xero TaxType
CANCELLED = 5  # PurchaseOrders.status: Cancelled
ROUTING_WHERE = "Mappings → Routing"  # as agent.sync.routing.WHERE


def source_of(snapshot: Mapping[str, Any]) -> str:
    """What a change in Autotask is told by: the order and its items (not the vendor's or the
    products' own records, which change for reasons of their own)."""
    return content_hash({"order": snapshot.get("order"), "items": snapshot.get("items")})


def noun(document: str) -> str:
    return "bill" if document == "bill" else "purchase order"


class _Halt(Exception):
    """The organisation cannot take calls now: the rows still claimed were given back."""


@dataclass
class PurchaseOrderSync:
    engine: SyncEngine
    report: CycleReport
    runtime: RuntimeView

    @property
    def store(self) -> Store:
        return self.engine.store

    def run(self, contexts: Mapping[str, OrgContext], options: SyncOptions) -> None:
        if not contexts:
            return
        self.contexts = contexts
        self.options = options
        self._use(sorted(contexts)[0])
        try:
            self._discover(options.days_back)
        except AutotaskBudgetExhausted as exc:
            self.report.defer(f"purchase order sync: {exc}")
            return
        except AutotaskError as exc:
            self.report.error(f"purchase order sync: reading Autotask purchase orders: {exc}")
            return
        except (XeroOrgPaused, XeroAuthError) as exc:
            if isinstance(exc, XeroOrgPaused):
                self.report.pause(self.context.tenant_id, exc.until)
            return
        except XeroError as exc:
            # Reading a changed order's document, or deleting a cancelled one (looked at again
            # next cycle: a delete Xero applied is then seen as done): the rest waits too.
            self.report.error(f"purchase order sync: Xero: {exc}")
            return
        for org in sorted(contexts):
            if self.engine.stop.is_set():
                return
            self._use(org)
            try:
                self._post(org)
            except _Halt:
                continue

    def _use(self, org: str) -> None:
        """Work on ``org`` now: its mapping context, options and outcomes (made once a run)."""
        self.context = self.contexts[org]
        if org not in self._per_org:
            outcomes = Outcomes(self.engine.store, self.report, self.engine.retry,
                                self.engine.owner, self.engine.now, self.context.name)  # fmt: skip
            self._per_org[org] = (self._po_options(org), outcomes)
        self.po, self.outcomes = self._per_org[org]

    @cached_property
    def _per_org(self) -> dict[str, tuple[PoOptions, Outcomes]]:
        return {}

    @cached_property
    def _found(self) -> dict[int, str]:
        """Row id -> the id of its draft found in Xero by a lookup this cycle."""
        return {}

    @cached_property
    def rows(self) -> RowOutcomes:
        engine = self.engine
        return RowOutcomes(engine.store, self.report, engine.retry, engine.owner, engine.now,
                           "purchase order")  # fmt: skip

    def _po_options(self, org: str) -> PoOptions:
        # Keyed by product id, or "product:<id>" as the products list names them.
        accounts = self._mapping(org, PURCHASE_ACCOUNT, strip="product:")
        taxes = self._mapping(org, PURCHASE_TAX)
        runtime = self.runtime
        return PoOptions(
            document=self.options.po_document,
            status=self.options.po_status,
            cogs_account=(runtime.text("po_cogs_account", org, limit=10) or "").strip() or None,
            freight_account=(runtime.text("po_freight_account", org, limit=10) or "").strip()
            or None,
            purchase_accounts=accounts,
            purchase_tax=taxes,
        )

    def _mapping(self, org: str, kind: str, *, strip: str = "") -> dict[str, str]:
        """Source key (without ``strip``) -> target, the organisation's own over the global."""
        found = self.store.mappings.resolve_all(org, kind)
        return {key.removeprefix(strip): target for key, target in found.items()}

    # -- 1 and 2: Autotask and the outbox ---------------------------------------------------------

    def _discover(self, days_back: int) -> None:
        autotask, outbox = self.engine.autotask, self.store.outbox
        statuses = list(PO_TRIGGERS[self.options.po_trigger_status])
        since = self.engine.now().date() - timedelta(days=days_back)
        wanted = [*statuses, CANCELLED]  # cancelled ones: for the orders already sent
        filters: list[dict[str, Any]] = [
            {"op": "in", "field": "status", "value": wanted},
            {"op": "gte", "field": "submitDateTime", "value": f"{since.isoformat()}T00:00:00"},
        ]
        listed = [
            {k: o.get(k) for k in ORDER_FIELDS}
            for o in autotask.query("PurchaseOrders", filters)
            if o.get("status") in wanted
        ]
        if not listed:
            return
        # Every organisation's rows (and those not routed yet, org ''): an order has one row,
        # which keeps its organisation once its document was sent.
        existing = {r.autotask_id: r for r in outbox.list_rows(kind=K, limit=ALL)}
        orders: list[dict[str, Any]] = []
        for order in listed:
            row = existing.get(str(order["id"]))
            if order["status"] != CANCELLED:
                orders.append(order)
            elif row is not None and (row.org in self.contexts or row.xero_id is None):
                if row.org in self.contexts:
                    self._use(row.org)
                self._cancelled(row, order)
        if not orders:
            return
        items: dict[int, list[dict[str, Any]]] = {}
        ids = [int(o["id"]) for o in orders]
        for item in autotask.query_in("PurchaseOrderItems", "orderID", ids):
            line = {k: item.get(k) for k in ITEM_FIELDS}
            items.setdefault(int(item["orderID"]), []).append(line)
        work: list[tuple[dict[str, Any], OutboxRow | None]] = []
        for order in orders:
            lines = sorted(items.get(int(order["id"]), []), key=lambda i: int(i["id"]))
            snapshot: dict[str, Any] = {"order": order, "items": lines}
            row = existing.get(str(order["id"]))
            if self._needs_work(row, snapshot):
                work.append((snapshot, row))
        if not work:
            return
        self._enrich([s for s, _ in work])
        routes = self._routes()
        for snapshot, row in work:
            if row is not None and _follows(row):
                if row.org in self.contexts:  # else: not connected now; next time it is
                    self._use(row.org)
                    self._changed(row, snapshot)
                continue
            if row is not None and row.xero_id is not None:
                # In Xero already (an update the user asked for): stays in its organisation.
                if row.org in self.contexts:
                    self._use(row.org)
                    row = outbox.upsert_discovered(K, row.autotask_id, row.org, snapshot)
                    if row.state in (S.DISCOVERED, S.PENDING, S.BLOCKED):
                        self._map(row, snapshot)
                continue
            self._place(snapshot, row, routes)

    # -- which organisation ----------------------------------------------------------------------

    def _routes(self) -> _Routes:
        currencies: dict[int, str] = {}
        companies = {int(k): v for k, v in self._mapping("", ROUTING_COMPANY).items()
                     if k.isdigit()}  # fmt: skip
        by_currency = {k.upper(): v for k, v in self._mapping("", ROUTING_CURRENCY).items()}
        if by_currency:
            mapped = self._mapping("", "currency")
            for record in self.engine.autotask.records(Currency, []):
                code = (mapped.get(str(record.id)) or record.name or "").strip().upper()
                currencies[record.id] = code
        default = self.options.default_org
        if default not in self.contexts:
            default = sorted(self.contexts)[0] if len(self.contexts) == 1 else None
        return _Routes(companies, by_currency, currencies, default)

    def _place(self, snapshot: dict[str, Any], row: OutboxRow | None, routes: _Routes) -> None:
        """Route an order not sent yet to its organisation, then map it there."""
        outbox = self.store.outbox
        order = snapshot["order"]
        org, rule = routes.route(snapshot, self.contexts)
        if row is None:
            row = outbox.upsert_discovered(K, str(order["id"]), org or "", snapshot)
        else:
            row = outbox.upsert_discovered(K, row.autotask_id, row.org, snapshot)
        if org and row.org != org:
            try:
                row = outbox.route(row.id, org, detail=f"routed: {rule}")
            except StateConflict as exc:
                log.warning("purchase order row %s: %s", row.id, exc)
                return
        if not org:
            self.rows.mapped(row, [rule])  # the reason it is held
            return
        if row.state in (S.DISCOVERED, S.PENDING, S.BLOCKED):
            self._use(org)
            self._map(row, snapshot, rule)

    def _needs_work(self, row: OutboxRow | None, snapshot: Mapping[str, Any]) -> bool:
        if row is None:
            return True
        changed = source_of(row.snapshot) != source_of(snapshot)
        if row.state is S.DONE or _awaiting_decision(row):
            return changed
        if row.state in (S.DISCOVERED, S.PENDING):
            return changed or row.payload is None
        if row.state is S.BLOCKED:
            return True  # mapped again: a mapping or setting may have been fixed
        return changed and row.state in SNAPSHOT_REPLACEABLE and row.state is not S.SKIPPED

    def _enrich(self, snapshots: Sequence[dict[str, Any]]) -> None:
        """Vendor, products, the internal currency's code and (bills) payment term days."""
        autotask = self.engine.autotask
        vendor_ids = sorted({int(s["order"]["vendorID"]) for s in snapshots
                             if s["order"].get("vendorID") is not None})  # fmt: skip
        product_ids = sorted({int(i["productID"]) for s in snapshots for i in s["items"]
                              if i.get("productID") is not None})  # fmt: skip
        vendors = {
            int(c["id"]): {k: c.get(k) for k in VENDOR_FIELDS}
            for c in autotask.query_in("Companies", "id", vendor_ids)
        }
        products = {
            str(p["id"]): {k: p.get(k) for k in PRODUCT_FIELDS}
            for p in autotask.query_in("Products", "id", product_ids)
        }
        currency = self._internal_currency()
        terms: dict[int, int] = {}
        if self.options.po_document == "bill":
            for term in autotask.query("PaymentTerms", [{"op": "exist", "field": "id"}]):
                days = term.get("paymentDueInDays")
                if isinstance(days, int):
                    terms[int(term["id"])] = days
        for snapshot in snapshots:
            order = snapshot["order"]
            vendor_id = order.get("vendorID")
            snapshot["vendor"] = vendors.get(int(vendor_id)) if vendor_id is not None else None
            snapshot["products"] = {
                str(i["productID"]): products[str(i["productID"])]
                for i in snapshot["items"]
                if i.get("productID") is not None and str(i["productID"]) in products
            }
            snapshot["currency"] = currency
            # For the queue (number, vendor, total ex tax, currency code), not for mapping.
            snapshot["currency_code"] = currency
            snapshot["total"] = str(_total(snapshot))
            term = order.get("paymentTerm")
            if self.options.po_document == "bill" and term is not None and int(term) in terms:
                snapshot["payment_term_days"] = terms[int(term)]

    def _internal_currency(self) -> str | None:
        return internal_currency_code(self.engine.autotask, self._mapping("", "currency"))

    def _build(self, snapshot: Mapping[str, Any]) -> MappedPurchase | list[str]:
        context = self.context
        return build_purchase(snapshot, context.tables, context.catalog, self.po,
                              self.engine.now().date())  # fmt: skip

    def _payload(self, mapped: MappedPurchase, **extra: Any) -> dict[str, Any]:
        return {
            "kind": K.value,
            "version": 1,
            "document": self.po.document,
            "payload": mapped.document,
            "company_id": mapped.company_id,
            "new_contact": mapped.new_contact,
            "provenance": mapped.provenance,
            "contact_rule": mapped.contact_rule,
            "warnings": mapped.warnings,
            **extra,
        }

    def _map(self, row: OutboxRow, snapshot: Mapping[str, Any], routing: str = "") -> None:
        built = self._build(snapshot)
        if isinstance(built, list):
            self.rows.mapped(row, built)
            return
        extra = {"routing": routing} if routing else {}
        self.rows.mapped(row, self._payload(built, **extra))

    # -- 3: a sent order changed in Autotask -------------------------------------------------------

    def _changed(self, row: OutboxRow, snapshot: Mapping[str, Any]) -> None:
        """``row``'s document is in Xero (done, or blocked after a change): follow the order."""
        outbox = self.store.outbox
        number = po_number(snapshot["order"])
        stored = row.payload or {}
        posted = stored.get("posted") if row.state is S.BLOCKED else stored.get("payload")
        posted = posted if isinstance(posted, dict) else None
        built = self._build(snapshot)
        if isinstance(built, list):
            reasons = [f"purchase order {number} changed in Autotask after it was sent", *built]
            kept = {"kind": K.value, "document": stored.get("document"), "posted": posted}
            if row.state is S.DONE:
                outbox.follow_source(row.id, snapshot, S.BLOCKED, block_reasons=reasons,
                                     payload=kept, detail="blocked: " + reasons[1])  # fmt: skip
                self.report.add("blocked")
            elif tuple(reasons) != row.block_reasons:
                outbox.follow_source(row.id, snapshot, None, block_reasons=reasons,
                                     payload=kept, detail="blocked")  # fmt: skip
            return
        document = built.document
        refused = stored.get("payload") if not stored.get("decision") else None
        if (
            row.state is S.BLOCKED
            and isinstance(refused, dict)
            and content_hash(refused) == content_hash(document)
        ):
            return  # Xero refused exactly this update; nothing it is built from changed
        if posted is not None and content_hash(posted) == content_hash(document):
            # Nothing the Xero document is built from changed (a field we do not send).
            if row.state is S.DONE:
                same = "changed in Autotask; the Xero document is the same"
                outbox.follow_source(row.id, snapshot, None, detail=same)
            else:
                outbox.follow_source(row.id, snapshot, S.SKIPPED,
                                     detail="the change was undone in Autotask: the Xero document"
                                     " matches the order again")  # fmt: skip
            return
        changes = describe_change(posted, document) if posted is not None else []
        what = "; ".join(changes) or "the document built from it differs from the one sent"
        status = self._xero_status(row)
        kind = noun(str(stored.get("document") or self.po.document))
        if status in DRAFT_STATUSES:
            outbox.follow_source(row.id, snapshot, S.PENDING,
                                 payload=self._payload(built, posted=posted),
                                 detail=f"changed in Autotask ({what}); still {status} in Xero:"
                                 f" the {kind} is updated")  # fmt: skip
            self.report.add("po_changed")
            log.info("purchase order %s changed in Autotask; its Xero %s (%s) is updated",
                     number, kind, status)  # fmt: skip
            return
        shown = (status or "missing").lower()
        reason = (
            f"purchase order {number} changed in Autotask after its Xero {kind} was {shown}:"
            f" {what}; retry to apply the change to the {kind} in Xero, or skip to keep Xero's"
            " version"
        )
        payload = self._payload(built, posted=posted, decision=True, xero_status=status)
        to_state = S.BLOCKED if row.state is S.DONE else None
        if to_state is None and row.block_reasons == (reason,):
            return
        outbox.follow_source(row.id, snapshot, to_state, payload=payload, block_reasons=[reason],
                             detail="blocked: " + reason)  # fmt: skip
        if to_state is not None:
            self.report.add("blocked")
        log.warning("purchase order %s: %s", number, reason)

    def _xero_status(self, row: OutboxRow) -> str | None:
        found = self._xero_document(row)
        return str(found.get("Status")) if found else None

    def _xero_document(self, row: OutboxRow) -> dict[str, Any] | None:
        gateway, org = self.engine.xero.gateway, row.org
        if not row.xero_id:
            return None
        if self._document_of(row) == "bill":
            return get_invoice(gateway, org, row.xero_id)
        return get_purchase_order(gateway, org, row.xero_id)

    def _document_of(self, row: OutboxRow) -> str:
        return str((row.payload or {}).get("document") or row.snapshot.get("document")
                   or self.po.document)  # fmt: skip

    # -- an order cancelled in Autotask --------------------------------------------------------

    def _cancelled(self, row: OutboxRow, order: Mapping[str, Any]) -> None:
        """Not sent yet: skipped. In Xero: a draft is deleted (a draft bill too; an approved,
        unpaid bill is voided when the user says so), an approved purchase order or bill is
        held for the user (retry deletes or voids it, skip keeps it); one that is billed, paid
        or credited is held with what to do in Xero."""
        outbox = self.store.outbox
        number = po_number(order)
        snapshot = {**row.snapshot, "order": dict(order)}
        if row.state in (S.POSTING, S.POSTED, S.VOIDED, S.SKIPPED):
            return  # being sent (next cycle), gone, or the user's choice
        if row.xero_id is None:
            outbox.follow_source(row.id, snapshot, S.SKIPPED,
                                 detail=f"purchase order {number} was cancelled in Autotask"
                                 " before it was sent")  # fmt: skip
            return
        payload = row.payload or {}
        if row.state in (S.FAILED, S.DEAD):
            return  # its next try (or the user's retry) comes through pending
        # A pending row without a payload is the user's retry (or resync) of the cancelled order:
        # their go-ahead to delete or void an approved document.
        go_ahead = row.state is S.PENDING and not payload
        if (
            row.state is S.BLOCKED
            and payload.get("cancel")
            and row.snapshot_hash == content_hash(snapshot)
        ):
            return  # held for the user; nothing new
        kind = self._document_of(row)
        noun_ = noun(kind)
        record = self._xero_document(row)
        status = str(record.get("Status")) if record else None
        if status in (None, "DELETED", "VOIDED"):
            shown = (status or "missing").lower()
            self._voided(row, snapshot, f"cancelled in Autotask; its Xero {noun_} is {shown}")
            return
        applied = record is not None and any(
            float(record.get(f) or 0) > 0 for f in ("AmountPaid", "AmountCredited")
        )
        target = "VOIDED" if kind == "bill" and status not in DRAFT_STATUSES else "DELETED"
        if applied or status in ("PAID", "BILLED"):
            what = "billed" if status == "BILLED" else "paid or credited"
            undo = "remove the payment or credit" if kind == "bill" else "handle its bill"
            reason = (
                f"purchase order {number} was cancelled in Autotask, but its Xero {noun_} is"
                f" {what}: {undo} in Xero, then retry; or skip to keep it"
            )
            self._hold(row, snapshot, reason, {"cancel": True, "document": kind})
            return
        if status in DRAFT_STATUSES or go_ahead:
            self._remove(row, snapshot, kind, target, number)
            return
        verb = "void" if target == "VOIDED" else "delete"
        reason = (
            f"purchase order {number} was cancelled in Autotask after its Xero {noun_} was"
            f" {status.lower()}: retry to {verb} it in Xero, or skip to keep it"
        )
        self._hold(row, snapshot, reason, {"cancel": True, "decision": True, "document": kind})

    def _hold(
        self, row: OutboxRow, snapshot: Mapping[str, Any], reason: str, payload: dict[str, Any]
    ) -> None:
        outbox = self.store.outbox
        if row.state is S.BLOCKED and row.block_reasons == (reason,):
            outbox.follow_source(row.id, snapshot, None, detail="cancelled in Autotask")
            return
        to_state = None if row.state is S.BLOCKED else S.BLOCKED
        outbox.follow_source(row.id, snapshot, to_state, block_reasons=[reason],
                             payload={"kind": K.value, **payload},
                             detail="blocked: " + reason)  # fmt: skip
        if to_state is not None:
            self.report.add("blocked")
        log.warning("%s", reason)

    def _remove(
        self, row: OutboxRow, snapshot: Mapping[str, Any], kind: str, target: str, number: str
    ) -> None:
        """Delete (or void) the document in Xero; the row ends ``voided``. Safe to repeat: a
        crash after Xero applied it finds the document deleted next cycle."""
        bill = kind == "bill"
        id_field = "InvoiceID" if bill else "PurchaseOrderID"
        change = {id_field: row.xero_id, "Status": target}
        key = f"po-cancel:{row.id}:{target}:{row.attempts}"
        results = self.engine.xero.post_documents(
            row.org, "invoice" if bill else "purchase_order", [change], [key], upsert=True
        )
        self.report.add("xero_writes")
        result = results[0]
        noun_ = noun(kind)
        if result.ok:
            done = "voided" if target == "VOIDED" else "deleted"
            self._voided(row, snapshot, f"cancelled in Autotask: its Xero {noun_} was {done}")
            self.report.add("po_cancelled")
            return
        reason = (
            f"purchase order {number} was cancelled in Autotask, but Xero refused to"
            f" {'void' if target == 'VOIDED' else 'delete'} its {noun_}: "
            + "; ".join(result.errors)
            + "; do it in Xero, then skip this row"
        )
        self._hold(row, snapshot, reason, {"cancel": True, "document": kind})

    def _voided(self, row: OutboxRow, snapshot: Mapping[str, Any], detail: str) -> None:
        self.store.outbox.follow_source(row.id, snapshot, S.VOIDED, detail=detail)
        log.info("purchase order row %s (%s): %s", row.id, row.autotask_id, detail)

    # -- 4: Xero ----------------------------------------------------------------------------------

    def _post(self, org: str) -> None:
        def give_back(rows: list[OutboxRow]) -> None:
            self._give_back([self._job(r) for r in rows], "not mapped yet")

        for rows in claimed_chunks(self.engine, self.report, org, K, CLAIM_CHUNK, give_back):
            self._chunk(org, [self._job(row) for row in rows])

    def _job(self, row: OutboxRow) -> Job:
        data = row.payload or {}
        job = Job(row, Envelope(data))
        if isinstance(data.get("payload"), dict):
            job.document = dict(Envelope(data).document)
        return job

    def _chunk(self, org: str, jobs: list[Job]) -> None:
        ready: list[Job] = []
        for job in jobs:
            if not job.document:
                self.outcomes.release(job, "not mapped yet")
                continue
            if job.row.needs_lookup and not job.row.xero_id:
                try:
                    found = self._lookup(org, job)
                except (XeroOrgPaused, XeroAuthError) as exc:
                    self._halt(org, jobs, exc)
                except XeroError as exc:
                    self.outcomes.failed(job, f"looking it up in Xero: {exc}", needs_lookup=True)
                    continue
                if found is not None:
                    if str(found.get("Status") or "") not in DRAFT_STATUSES:
                        self._done(job, found, "found in Xero")
                        continue
                    # Still a draft: sent again as an update, since the order may have changed
                    # in Autotask after the create whose answer was lost.
                    self._found[job.row.id] = str(found.get(_id_field(job)))
            ready.append(job)
        if not ready:
            return
        maker = ContactMaker(self.store, self.engine.xero, org, self.context.name, self.outcomes,
                             self.report, lambda exc: self._halt(org, jobs, exc))  # fmt: skip
        maker.run(ready)
        live = [j for j in ready if not j.done]
        creates = [j for j in live if not self._xero_id(j)]
        updates = [j for j in live if self._xero_id(j)]
        for group, upsert in ((creates, False), (updates, True)):
            for start in range(0, len(group), MAX_BATCH):
                self._send(org, group[start : start + MAX_BATCH], jobs, upsert=upsert)

    def _xero_id(self, job: Job) -> str | None:
        return job.row.xero_id or self._found.get(job.row.id)

    def _lookup(self, org: str, job: Job) -> dict[str, Any] | None:
        document = job.document
        reference = str(document.get("Reference") or "")
        gateway = self.engine.xero.gateway
        if job.env.data.get("document") == "bill":
            found = find_bills_by_reference(gateway, org, reference)
        else:
            day = date.fromisoformat(str(document.get("Date")))
            found = find_purchase_orders_by_reference(gateway, org, reference, day)
        return found[0] if found else None

    def _send(self, org: str, batch: list[Job], claimed: list[Job], *, upsert: bool) -> None:
        engine = self.engine
        held = {r.id for r in renew_leases(engine, self.rows, [j.row for j in batch])}
        live = [job for job in batch if job.row.id in held]
        if not live:
            return
        bill = live[0].env.data.get("document") == "bill"
        kind = "invoice" if bill else "purchase_order"
        id_field = "InvoiceID" if bill else "PurchaseOrderID"
        documents = []
        for job in live:
            wire = dict(job.document)
            xero_id = self._xero_id(job)
            if xero_id:
                # An update keeps the document's status in Xero (an approved order stays
                # approved; po_status is for new documents).
                wire[id_field] = xero_id
                wire.pop("Status", None)
            documents.append(wire)
        keys = [f"po:{j.row.id}:{j.row.payload_hash}:{j.row.attempts}" for j in live]
        try:
            results = engine.xero.post_documents(org, kind, documents, keys, upsert=upsert)
        except (XeroOrgPaused, XeroAuthError) as exc:
            self._halt(org, claimed, exc)
        except XeroError as exc:
            self.report.add("xero_writes")
            for job in live:
                self.outcomes.failed(job, str(exc), needs_lookup=not upsert)
            return
        self.report.add("xero_writes")
        for job, result in zip(live, results, strict=True):
            if result.ok and result.xero_id:
                record = {**result.record, id_field: result.xero_id}
                how = "created in Xero"
                if upsert:
                    found = job.row.id in self._found
                    how = "found in Xero and updated" if found else "updated in Xero"
                self._done(job, record, how)
            elif result.request_rejected:
                refused = "Xero refused the request: " + "; ".join(result.errors)
                self.outcomes.failed(job, refused, needs_lookup=False)
            else:
                number = job.document.get("Reference")
                reason = (
                    f"purchase order {number}: Xero refused the {noun('bill' if bill else '')}: "
                    + "; ".join(result.errors)
                )
                self.outcomes.blocked(job, [reason])

    # -- outcomes ---------------------------------------------------------------------------------

    def _give_back(self, jobs: Sequence[Job], why: str) -> None:
        for job in jobs:
            current = self.store.outbox.get(job.row.id)
            if current is not None and current.state is S.POSTING:
                self.outcomes.release(job, why)
                self.report.add("released")

    def _halt(self, org: str, jobs: Sequence[Job], exc: XeroError) -> NoReturn:
        self._give_back([j for j in jobs if not j.done], f"Xero: {exc}")
        if isinstance(exc, XeroOrgPaused):
            self.report.pause(org, exc.until)
        raise _Halt from exc

    def _done(self, job: Job, record: Mapping[str, Any], how: str) -> None:
        outbox, owner, row = self.store.outbox, self.engine.owner, job.row
        bill = job.env.data.get("document") == "bill"
        xero_id = str(record.get("InvoiceID" if bill else "PurchaseOrderID"))
        number = record.get("InvoiceNumber" if bill else "PurchaseOrderNumber") or None
        reference = str(job.document.get("Reference") or row.autotask_id)
        what = f"{noun('bill' if bill else '')} for purchase order {reference} {how}"
        sent = {**(row.payload or {}), "payload": job.document}
        sent.pop("posted", None)
        sent.pop("decision", None)
        job.done = True
        try:
            with outbox.batch():
                outbox.transition(row.id, S.POSTED, owner=owner, xero_id=xero_id,
                                  xero_number=number, payload=sent, detail=what)  # fmt: skip
                outbox.transition(row.id, S.DONE, detail=f"done: {what}")
        except (LeaseLost, StateConflict) as exc:
            log.warning("purchase order row %s: result not recorded: %s", row.id, exc)
            return
        self.report.add(
            "po_updated" if how.startswith("updated") else
            "adopted" if how.startswith("found") else "po_created"
        )  # fmt: skip
        log.info("%s (%s)", what, number or xero_id)


def _total(snapshot: Mapping[str, Any]) -> Decimal:
    """The order's total ex tax in the internal currency, as the queue shows it."""
    total = freight_of(snapshot["order"])
    for item in snapshot["items"]:
        cost, quantity = unit_cost(item), item.get("quantity")
        if cost is not None and isinstance(quantity, int | float):
            total += (Decimal(str(quantity)) * cost).quantize(Decimal("0.01"))
    return total.quantize(Decimal("0.01"))


def _id_field(job: Job) -> str:
    return "InvoiceID" if job.env.data.get("document") == "bill" else "PurchaseOrderID"


def _follows(row: OutboxRow) -> bool:
    """The row's document is in Xero and the row is done, or blocked after a change: changes
    in Autotask go through ``_changed`` (which asks Xero for the document's status)."""
    return row.xero_id is not None and row.state in (S.DONE, S.BLOCKED)


def _awaiting_decision(row: OutboxRow) -> bool:
    return row.state is S.BLOCKED and bool((row.payload or {}).get("decision"))


@dataclass(frozen=True)
class _Routes:
    """Which organisation a purchase order goes to, in order: the vendor's ``routing_company``
    mapping (a vendor is a company), that of the customer it is bought for
    (``purchaseForCompanyID``), the vendor's currency (``routing_currency``), the default
    organisation, the only one connected. Routing mappings are global (org '')."""

    companies: Mapping[int, str]
    by_currency: Mapping[str, str]
    currencies: Mapping[int, str]  # Autotask currency id -> ISO code
    default: str | None

    def route(
        self, snapshot: Mapping[str, Any], connected: Mapping[str, OrgContext]
    ) -> tuple[str | None, str]:
        """(organisation, the rule that chose it) or (None, why it is held)."""
        order = snapshot["order"]
        vendor = snapshot.get("vendor") or {}
        number = po_number(order)
        found: list[tuple[str, str]] = []
        vendor_id = order.get("vendorID")
        if vendor_id is not None and int(vendor_id) in self.companies:
            name = vendor.get("companyName") or vendor_id
            found.append((self.companies[int(vendor_id)], f'vendor "{name}" routed'))
        customer = order.get("purchaseForCompanyID")
        if customer is not None and int(customer) in self.companies:
            found.append((self.companies[int(customer)], f"customer {customer} it is for routed"))
        currency = vendor.get("currencyID")
        code = self.currencies.get(int(currency)) if currency is not None else None
        if code and code in self.by_currency:
            found.append((self.by_currency[code], f"vendor currency {code} routed"))
        for org, rule in found:
            if org not in connected:
                return None, (
                    f"routing: purchase order {number}: the {rule.split(' routed')[0]} is routed to"
                    f" {org}, which is not a connected organisation; fix it in {ROUTING_WHERE}"
                )
            return org, f"{rule} to {connected[org].name}"
        if self.default:
            return self.default, f"the default organisation {connected[self.default].name}"
        return None, (
            f"routing: no rule routes purchase order {number}: route its vendor or currency in"
            f" {ROUTING_WHERE}, or set the default organisation"
        )
