"""Reading Autotask: the invoices to send, and everything mapping needs about them, in batches.

The cost that matters is requests against the tenant's shared hourly budget (autotask-api §7,
§12), so nothing is fetched per invoice:

- the poll is one id-paged query: ``webServiceDate`` not set and ``invoiceDateTime`` within the
  days-back window (voided invoices included, so that a row not yet sent can be dropped when its
  invoice is voided);
- for every 500 invoices that need a snapshot (or each smaller chunk the cycle reads): their
  billing items (``invoiceID in``, paged), companies (``id in``), billing contacts (``companyID
  in`` and ``billingContact``), the project, ticket and contract charges behind product lines
  (``id in``) and their products (``id in``); queries to different endpoints go side by side;
- reference data (billing codes, tax regions, categories and taxes, currencies, payment terms,
  invoice templates, line-of-business associations: 8 queries) once per cycle, and only when at
  least one invoice needs a snapshot, so an idle cycle costs one query.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any, TypeVar

from agent.autotask import AutotaskClient
from agent.autotask.records import (
    AutotaskRecord,
    BillingItem,
    ContractCharge,
    Invoice,
    ProjectCharge,
    TicketCharge,
)
from agent.autotask.refdata import (
    BillingCode,
    Company,
    Contact,
    Currency,
    InvoiceTemplate,
    OrganizationalLevelAssociation,
    PaymentTerm,
    Product,
    Tax,
    TaxCategory,
    TaxRegion,
)
from agent.mapping import InvoiceSnapshot, by_id

BATCH = 500  # invoices per round of `in` queries: the most values one query may hold
R = TypeVar("R", bound=AutotaskRecord)

# Billing item field -> the charge entity whose productID names the line's product (§8).
CHARGE_FIELDS: tuple[tuple[str, type[AutotaskRecord]], ...] = (
    ("projectChargeID", ProjectCharge),
    ("ticketChargeID", TicketCharge),
    ("contractChargeID", ContractCharge),
)


def poll_filters(since: date) -> list[dict[str, Any]]:
    return [
        {"op": "notExist", "field": "webServiceDate"},
        {"op": "gte", "field": "invoiceDateTime", "value": f"{since.isoformat()}T00:00:00"},
    ]


def poll_invoices(client: AutotaskClient, since: date) -> list[Invoice]:
    """Invoices not yet marked as sent, dated ``since`` or later, in id order."""
    return list(iter_poll(client, since))


def iter_poll(client: AutotaskClient, since: date) -> Iterator[Invoice]:
    """``poll_invoices`` lazily: each page of 500 is read when the one before is used up, so the
    first invoices can be on their way to Xero while the rest are still being read. Paging is
    by id cursor, so marking invoices already read cannot make a later page skip any."""
    return client.records(Invoice, poll_filters(since))


def invoices_by_id(client: AutotaskClient, ids: Iterable[int]) -> list[Invoice]:
    """Named invoices, whatever their state (``atx sync --invoice``, resyncs)."""
    return sorted(client.records_in(Invoice, "id", ids), key=lambda i: i.id)


def invoice_fields(invoice: Invoice) -> dict[str, Any]:
    """The invoice as the snapshot stores it: compared to tell whether it changed."""
    return invoice.model_dump(mode="json", exclude_none=True)


def internal_currency_code(client: AutotaskClient, mapped: Mapping[str, str]) -> str | None:
    """The ISO code of Autotask's internal currency (one query): its ``currency`` mapping
    (``mapped``: Autotask currency id, as the mapping keys it -> code), else its name when that
    is a 3-letter code."""
    for record in client.records(Currency, [{"op": "eq", "field": "isInternalCurrency",
                                             "value": True}]):  # fmt: skip
        if not record.isInternalCurrency:
            continue
        code = (mapped.get(str(record.id)) or record.name or "").strip().upper()
        return code if len(code) == 3 and code.isascii() and code.isalpha() else None
    return None


@dataclass
class ReferenceData:
    """Autotask's small reference tables, read once per cycle."""

    billing_codes: dict[int, BillingCode]
    tax_regions: dict[int, TaxRegion]
    tax_categories: dict[int, TaxCategory]
    taxes: tuple[Tax, ...]
    currencies: dict[int, Currency]
    payment_terms: dict[int, PaymentTerm]
    templates: dict[int, InvoiceTemplate]
    associations: dict[int, OrganizationalLevelAssociation]

    @classmethod
    def load(cls, client: AutotaskClient) -> ReferenceData:
        def every(model: type[R]) -> dict[int, R]:
            return by_id(client.records(model, []))

        # Eight small queries to eight endpoints (each with its own 3 slots): side by side, so
        # the first invoices go out sooner.
        with ThreadPoolExecutor(8, thread_name_prefix="atx-refdata") as pool:
            codes = pool.submit(every, BillingCode)
            regions = pool.submit(every, TaxRegion)
            categories = pool.submit(every, TaxCategory)
            taxes = pool.submit(every, Tax)
            currencies = pool.submit(every, Currency)
            terms = pool.submit(every, PaymentTerm)
            templates = pool.submit(every, InvoiceTemplate)
            associations = pool.submit(every, OrganizationalLevelAssociation)
            return cls(
                billing_codes=codes.result(),
                tax_regions=regions.result(),
                tax_categories=categories.result(),
                taxes=tuple(taxes.result().values()),
                currencies=currencies.result(),
                payment_terms=terms.result(),
                templates=templates.result(),
                associations=associations.result(),
            )

    @cached_property
    def internal_currency(self) -> Currency | None:
        return next((c for c in self.currencies.values() if c.isInternalCurrency), None)


@dataclass
class SnapshotBuilder:
    """Builds ``InvoiceSnapshot``s for many invoices with a handful of queries per 500."""

    client: AutotaskClient
    _reference: ReferenceData | None = field(default=None, init=False)

    @property
    def reference(self) -> ReferenceData:
        if self._reference is None:
            self._reference = ReferenceData.load(self.client)
        return self._reference

    def build(self, invoices: Sequence[Invoice]) -> Iterator[InvoiceSnapshot]:
        """One snapshot per invoice, in the order given, fetched in batches of ``BATCH``."""
        for start in range(0, len(invoices), BATCH):
            yield from self._batch(invoices[start : start + BATCH])

    def _batch(self, invoices: Sequence[Invoice]) -> list[InvoiceSnapshot]:
        company_ids = sorted({i.companyID for i in invoices if i.companyID is not None})
        # Lines, companies and billing contacts come from three endpoints: read side by side.
        with ThreadPoolExecutor(3, thread_name_prefix="atx-read") as pool:
            lines = pool.submit(
                lambda: list(
                    self.client.records_in(BillingItem, "invoiceID", [i.id for i in invoices])
                )
            )
            found = pool.submit(lambda: by_id(self.client.records_in(Company, "id", company_ids)))
            billing = pool.submit(self._billing_contacts, company_ids)
            items_of: dict[int, list[BillingItem]] = {}
            for item in lines.result():
                items_of.setdefault(item.invoiceID or 0, []).append(item)
            companies, contacts = found.result(), billing.result()
        all_items = [item for items in items_of.values() for item in items]
        products = self._products(all_items)
        return [
            self._snapshot(invoice, items_of.get(invoice.id, []), companies, contacts, products)
            for invoice in invoices
        ]

    def _billing_contacts(self, company_ids: Sequence[int]) -> dict[int, Contact]:
        if not company_ids:
            return {}
        billing = [{"op": "eq", "field": "billingContact", "value": True}]
        found: dict[int, Contact] = {}
        # Several billing contacts: an active one first, then the primary one, then the oldest.
        ranked = sorted(
            self.client.records_in(Contact, "companyID", company_ids, extra_filters=billing),
            key=lambda c: (c.isActive == 0, not c.primaryContact, c.id),
        )
        for contact in ranked:
            if contact.companyID is not None:
                found.setdefault(contact.companyID, contact)
        return found

    def _products(self, items: Sequence[BillingItem]) -> dict[int, Product]:
        """Billing item id -> the product behind its charge (items carry no productID, §8)."""
        product_of_item: dict[int, int] = {}
        wanted: list[tuple[dict[int, list[int]], type[AutotaskRecord]]] = []
        for field_name, model in CHARGE_FIELDS:
            by_charge: dict[int, list[int]] = {}
            for item in items:
                charge = getattr(item, field_name)
                if charge is not None:
                    by_charge.setdefault(int(charge), []).append(item.id)
            if by_charge:
                wanted.append((by_charge, model))

        def charges(by_charge: dict[int, list[int]], model: type[AutotaskRecord]) -> list[Any]:
            return list(
                self.client.query_in(
                    model.entity, "id", sorted(by_charge), include_fields=["productID"]
                )
            )

        # One endpoint per kind of charge: read side by side, used in the order above.
        with ThreadPoolExecutor(len(CHARGE_FIELDS), thread_name_prefix="atx-read") as pool:
            answers = [pool.submit(charges, by_charge, model) for by_charge, model in wanted]
            for (by_charge, _model), answer in zip(wanted, answers, strict=True):
                for charge_record in answer.result():
                    product_id = charge_record.get("productID")
                    if product_id is None:
                        continue
                    for item_id in by_charge.get(int(charge_record["id"]), []):
                        product_of_item.setdefault(item_id, int(product_id))
        if not product_of_item:
            return {}
        products = by_id(
            self.client.records_in(Product, "id", sorted(set(product_of_item.values())))
        )
        return {
            item_id: products[pid] for item_id, pid in product_of_item.items() if pid in products
        }

    def _snapshot(
        self,
        invoice: Invoice,
        items: Sequence[BillingItem],
        companies: Mapping[int, Company],
        contacts: Mapping[int, Contact],
        products: Mapping[int, Product],
    ) -> InvoiceSnapshot:
        ref = self.reference
        company = companies.get(invoice.companyID) if invoice.companyID is not None else None
        currency = ref.internal_currency
        if company is not None and company.currencyID is not None:
            currency = ref.currencies.get(company.currencyID)
        template_id = invoice.invoiceEditorTemplateID
        if template_id is None and company is not None:
            template_id = company.invoiceTemplateID
        ordered = sorted(items, key=lambda i: i.id)
        # Only the billing codes the lines use: an unrelated code's change must not look like a
        # change of this invoice.
        codes = {i.billingCodeID for i in ordered if i.billingCodeID is not None}
        return InvoiceSnapshot(
            invoice=invoice,
            items=tuple(ordered),
            company=company,
            billing_contact=contacts.get(company.id) if company is not None else None,
            billing_codes={
                c: ref.billing_codes[c] for c in sorted(codes) if c in ref.billing_codes
            },
            tax_regions=ref.tax_regions,
            tax_categories=ref.tax_categories,
            taxes=ref.taxes,
            currency=currency,
            payment_term=(
                ref.payment_terms.get(invoice.paymentTerm)
                if invoice.paymentTerm is not None
                else None
            ),
            template=ref.templates.get(template_id) if template_id is not None else None,
            products={i.id: products[i.id] for i in ordered if i.id in products},
        )
