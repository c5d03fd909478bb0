"""State and behaviour of the simulated Xero, without HTTP.

``XeroService`` owns one ``Ledger`` per organisation, the identity provider, the rate governor and
the idempotency store. Every change to the books happens under ``self.lock`` (a re-entrant thread
lock): the HTTP handlers run on the server's thread while tests call the Python API below from
theirs, e.g. to simulate a customer paying an invoice in Xero.
"""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

from sandbox.clock import SandboxClock
from sandbox.core import SandboxOptions
from sandbox.world import Record, World
from sandbox.xero import documents, settlements
from sandbox.xero.idempotency import IdempotencyStore
from sandbox.xero.ledger import Ledger, WriteOutcome
from sandbox.xero.limits import RateGovernor
from sandbox.xero.serialize import parse_date, parse_datetime, to_decimal
from sandbox.xero.tokens import IdentityProvider

# Daily calls per organisation by tier; custom connections are exempt from tiers (reference §7).
TIER_DAY_LIMITS = {"starter": 1000, "core": 5000}
CUSTOM_CONNECTION_DAY_LIMIT = 5000
SANDBOX_CLIENT = "sandbox"  # the "app" recorded as creator of seeded and Python-API writes


class XeroError(Exception):
    """A Python-API call Xero would refuse; ``messages`` are its validation messages."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


class XeroService:
    def __init__(self, world: World, clock: SandboxClock, options: SandboxOptions) -> None:
        self.world = world
        self.clock = clock
        self.options = options
        self.lock = threading.RLock()
        self.identity = IdentityProvider(world, clock, options)
        self.governor = RateGovernor(clock, options)
        self.idempotency = IdempotencyStore(clock, options)
        self.ledgers: dict[str, Ledger] = {}
        for org in world.xero_orgs:
            self.ledgers[org.tenant_id] = ledger = Ledger(org, clock)
            _normalise_seeded_documents(ledger)

    # -- lookups ----------------------------------------------------------------------------------

    def ledger(self, tenant_id: str) -> Ledger:
        try:
            return self.ledgers[tenant_id]
        except KeyError:
            raise KeyError(f"no Xero organisation with tenant id {tenant_id}") from None

    def day_limit(self, tenant_id: str, custom_connection: bool) -> int:
        if self.options.xero_day_limit is not None:
            return self.options.xero_day_limit
        if custom_connection:
            return CUSTOM_CONNECTION_DAY_LIMIT
        return TIER_DAY_LIMITS[self.ledger(tenant_id).org.tier]

    def invoice(self, tenant_id: str, key: str) -> Record | None:
        """A stored invoice by InvoiceID or InvoiceNumber (internal values, not wire JSON)."""
        with self.lock:
            return self.ledger(tenant_id).invoice(key)

    def invoices(self, tenant_id: str) -> list[Record]:
        with self.lock:
            return list(self.ledger(tenant_id).org.invoices)

    def payments(self, tenant_id: str) -> list[Record]:
        with self.lock:
            return list(self.ledger(tenant_id).org.payments)

    # -- Python API for tests and the demo --------------------------------------------------------

    def record_payment(
        self,
        tenant_id: str,
        invoice_id: str,
        amount: Decimal | float | str,
        on: date | str | None = None,
        *,
        account_code: str | None = None,
        reference: str | None = None,
    ) -> Record:
        """A payment entered in Xero against an invoice, as a customer paying would produce.

        Lands in ``account_code`` or the organisation's first active BANK account. Raises
        ``XeroError`` with Xero's messages when Xero would refuse it (e.g. overpayment).
        """
        with self.lock:
            ledger = self.ledger(tenant_id)
            account = ledger.account(code=account_code) if account_code else ledger.bank_account()
            raw: Record = {
                "Invoice": {"InvoiceID": invoice_id},
                "Account": {"Code": account["Code"]} if account else {},
                "Amount": str(to_decimal(amount)),
                "Date": parse_date(on) if on is not None else None,
                "Reference": reference,
            }
            return _raise_on_errors(settlements.create_payment(ledger, raw, SANDBOX_CLIENT))

    def delete_payment(self, tenant_id: str, payment_id: str) -> Record:
        """Delete (reverse) a payment: it stays listed with Status DELETED."""
        with self.lock:
            ledger = self.ledger(tenant_id)
            payment = ledger.payment(payment_id)
            if payment is None:
                raise XeroError([f"Payment {payment_id} could not be found"])
            return _raise_on_errors(settlements.delete_payment(ledger, payment))

    def set_lock_dates(
        self, tenant_id: str, period: date | None, end_of_year: date | None = None
    ) -> None:
        """Set the organisation's lock dates; documents dated on or before them are refused."""
        with self.lock:
            ledger = self.ledger(tenant_id)
            ledger.period_lock_date, ledger.end_of_year_lock_date = period, end_of_year

    def set_record_status(self, tenant_id: str, collection: str, key: str, status: str) -> None:
        """Archive (or restore) an account, tax rate or contact as a Xero user would.

        ``collection`` is "accounts" (key: Code), "tax_rates" (key: TaxType) or "contacts"
        (key: ContactID).
        """
        field = {"accounts": "Code", "tax_rates": "TaxType", "contacts": "ContactID"}[collection]
        status_field = "ContactStatus" if collection == "contacts" else "Status"
        with self.lock:
            ledger = self.ledger(tenant_id)
            record = next(r for r in getattr(ledger.org, collection) if r.get(field) == key)
            record[status_field] = status
            record["UpdatedDateUTC"] = ledger.now()


def _raise_on_errors(outcome: WriteOutcome) -> Record:
    if outcome.errors or outcome.record is None:
        raise XeroError(outcome.errors)
    return outcome.record


# Statuses a seed may ask for that the API cannot create directly: created as the first, then
# moved to the second once payments are applied.
_SEED_STATUS = {
    "PAID": "AUTHORISED",
    "VOIDED": "AUTHORISED",
    "BILLED": "AUTHORISED",
    "DELETED": "DRAFT",
}


def _normalise_seeded_documents(ledger: Ledger) -> None:
    """Seeded documents arrive as wire-like dicts; store them as if created through the API.

    Seeded payments reference their invoice by ``Invoice.InvoiceID`` or ``Invoice.InvoiceNumber``
    and credit notes may carry ``Allocations``; both are applied once all documents exist. A seeded
    PAID invoice without payments gets one for its amount due, on its date. Invalid seeds raise
    ``XeroError`` at start-up.
    """
    seeded_payments = list(ledger.org.payments)
    ledger.org.payments.clear()
    wanted: list[tuple[Record, str]] = []
    allocations: list[tuple[Record, list[Record]]] = []
    kinds = (documents.INVOICE, documents.CREDIT_NOTE, documents.PURCHASE_ORDER)
    seeded = {kind: list(documents.records(ledger, kind)) for kind in kinds}
    for kind in kinds:
        documents.records(ledger, kind).clear()
    for kind in kinds:
        for raw in seeded[kind]:
            status = str(raw.get("Status") or "DRAFT")
            create = {**raw, "Status": _SEED_STATUS.get(status, status)}
            outcome = documents.write(
                ledger, kind, create, "create", unitdp=4, client_id=SANDBOX_CLIENT
            )
            record = _raise_on_errors(outcome)
            if raw.get(kind.id_field):
                record[kind.id_field] = raw[kind.id_field]
            if raw.get("UpdatedDateUTC") is not None:
                record["UpdatedDateUTC"] = parse_datetime(raw["UpdatedDateUTC"])
            wanted.append((record, status))
            if raw.get("Allocations"):
                allocations.append((record, list(raw["Allocations"])))
    for note, allocs in allocations:
        for alloc in allocs:
            _raise_on_errors(settlements.allocate(ledger, note, alloc))
    bank = ledger.bank_account()
    for raw in seeded_payments:
        if not raw.get("Account") and bank is not None:
            raw = {**raw, "Account": {"Code": bank["Code"]}}
        payment = _raise_on_errors(settlements.create_payment(ledger, raw, SANDBOX_CLIENT))
        if raw.get("PaymentID"):
            payment["PaymentID"] = raw["PaymentID"]
        if raw.get("Status") == "DELETED":
            settlements.delete_payment(ledger, payment)
    for record, status in wanted:
        if status == "PAID" and record["Status"] != "PAID" and bank is not None:
            raw = {
                "Invoice": {"InvoiceID": record["InvoiceID"]},
                "Account": {"Code": bank["Code"]},
                "Amount": record["AmountDue"],
                "Date": record["Date"],
            }
            _raise_on_errors(settlements.create_payment(ledger, raw, SANDBOX_CLIENT))
        elif status in ("VOIDED", "DELETED", "BILLED"):
            record["Status"] = status
