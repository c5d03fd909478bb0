"""What mapping reads: the Autotask snapshot of one invoice, the mapping tables and the options.

The snapshot is everything Autotask said about one invoice at one moment, as typed records
(``agent.autotask.records`` / ``refdata``): the invoice, its billing items and the reference records
they point at. It round-trips through JSON (``to_json`` / ``from_json``) so the outbox can keep
it and map it again after a mapping changes, without asking Autotask twice.

Mapping tables are the user's entries from ``agent.store.mappings`` for one organisation, keyed by
Autotask ids (never by names: Cloud Depot keys tax on region *names*, and a renamed region breaks
its resyncs, product-and-patterns A2 #5). ``from_entries`` applies the store's rule: the
organisation's own entry wins over the one for all organisations.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel

from agent.autotask.records import AutotaskRecord, BillingItem, Invoice
from agent.autotask.refdata import (
    BillingCode,
    Company,
    Contact,
    Currency,
    InvoiceTemplate,
    PaymentTerm,
    Product,
    Tax,
    TaxCategory,
    TaxRegion,
)

SNAPSHOT_VERSION = 1
R = TypeVar("R", bound=AutotaskRecord)


def by_id(records: Iterable[R]) -> dict[int, R]:
    """Records keyed by their Autotask id (the shape the snapshot's reference tables take)."""
    return {record.id: record for record in records}


@dataclass(frozen=True)
class InvoiceSnapshot:
    """One Autotask invoice with its lines and the references mapping needs.

    ``currency`` is the customer's currency record (``Companies.currencyID``; the invoice has
    none, autotask-api §8), or the internal currency when the company names none: the sync that
    builds the snapshot decides that. ``products`` maps a billing item id to the product behind
    its charge (billing items carry no ``productID``, §8).
    """

    invoice: Invoice
    items: Sequence[BillingItem] = ()
    company: Company | None = None
    billing_contact: Contact | None = None
    billing_codes: Mapping[int, BillingCode] = field(default_factory=dict)
    tax_regions: Mapping[int, TaxRegion] = field(default_factory=dict)
    tax_categories: Mapping[int, TaxCategory] = field(default_factory=dict)
    taxes: Sequence[Tax] = ()
    currency: Currency | None = None
    payment_term: PaymentTerm | None = None
    template: InvoiceTemplate | None = None
    products: Mapping[int, Product] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": SNAPSHOT_VERSION,
            "invoice": _dump(self.invoice),
            "items": [_dump(item) for item in self.items],
            "company": _dump(self.company),
            "billing_contact": _dump(self.billing_contact),
            "billing_codes": [_dump(r) for _, r in sorted(self.billing_codes.items())],
            "tax_regions": [_dump(r) for _, r in sorted(self.tax_regions.items())],
            "tax_categories": [_dump(r) for _, r in sorted(self.tax_categories.items())],
            "taxes": [_dump(tax) for tax in self.taxes],
            "currency": _dump(self.currency),
            "payment_term": _dump(self.payment_term),
            "template": _dump(self.template),
            "products": {str(k): _dump(p) for k, p in sorted(self.products.items())},
        }

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, exact decimals as strings): equal snapshots, equal text."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InvoiceSnapshot:
        """The snapshot ``to_dict`` wrote; raises ``ValueError`` (pydantic's) on a foreign shape."""
        version = data.get("version")
        if version != SNAPSHOT_VERSION:
            raise ValueError(f"unknown invoice snapshot version {version!r}")
        return cls(
            invoice=Invoice.model_validate(data["invoice"]),
            items=tuple(BillingItem.model_validate(r) for r in data.get("items") or ()),
            company=_load(Company, data.get("company")),
            billing_contact=_load(Contact, data.get("billing_contact")),
            billing_codes=_table(BillingCode, data.get("billing_codes")),
            tax_regions=_table(TaxRegion, data.get("tax_regions")),
            tax_categories=_table(TaxCategory, data.get("tax_categories")),
            taxes=tuple(Tax.model_validate(r) for r in data.get("taxes") or ()),
            currency=_load(Currency, data.get("currency")),
            payment_term=_load(PaymentTerm, data.get("payment_term")),
            template=_load(InvoiceTemplate, data.get("template")),
            products={
                int(k): Product.model_validate(v) for k, v in (data.get("products") or {}).items()
            },
        )

    @classmethod
    def from_json(cls, text: str) -> InvoiceSnapshot:
        return cls.from_dict(json.loads(text))


def _dump(record: BaseModel | None) -> dict[str, Any] | None:
    return None if record is None else record.model_dump(mode="json", exclude_none=True)


def _load(model: type[R], raw: Any) -> R | None:
    return None if raw is None else model.model_validate(raw)


def _table(model: type[R], raw: Any) -> dict[int, R]:
    return by_id(model.model_validate(r) for r in raw or ())


# --- mapping tables ------------------------------------------------------------------------------


def tax_key(region_id: int, category_id: int) -> str:
    """The ``source_key`` of a tax mapping: ``"<tax region id>:<tax category id>"``."""
    return f"{region_id}:{category_id}"


class MappingEntryLike(Protocol):
    """What ``from_entries`` reads of an ``agent.store.mappings.MappingEntry``."""

    @property
    def org(self) -> str: ...
    @property
    def mapping_type(self) -> str: ...
    @property
    def source_key(self) -> str: ...
    @property
    def target(self) -> str: ...


@dataclass(frozen=True)
class MappingTables:
    """The user's mappings for one Xero organisation (source keys in brackets).

    - ``accounts``: billing code id → Xero account Code (``account``, key = billing code id)
    - ``tax``: (tax region id, tax category id) → Xero TaxType (``tax``, key = ``tax_key``)
    - ``currencies``: Autotask currency id → ISO code (``currency``)
    - ``branding_themes``: invoice template id → BrandingThemeID (``branding_theme``)
    - ``contacts``: company id → Xero ContactID (``contact``)
    - ``items``: product id → Xero Item Code (``item``, key = product id or ``product:<id>``)
    - ``service_items`` / ``bundle_items``: service / service bundle id → Item Code (``item``,
      key = ``service:<id>`` / ``bundle:<id>``)
    - ``known_items``: not the user's: the items the agent created or matched in this
      organisation (``agent.sync.items``), ``"<product|service|bundle>:<id>"`` → Item Code
    """

    accounts: Mapping[int, str] = field(default_factory=dict)
    tax: Mapping[tuple[int, int], str] = field(default_factory=dict)
    currencies: Mapping[int, str] = field(default_factory=dict)
    branding_themes: Mapping[int, str] = field(default_factory=dict)
    contacts: Mapping[int, str] = field(default_factory=dict)
    items: Mapping[int, str] = field(default_factory=dict)
    service_items: Mapping[int, str] = field(default_factory=dict)
    bundle_items: Mapping[int, str] = field(default_factory=dict)
    known_items: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_entries(cls, entries: Iterable[MappingEntryLike], org: str) -> MappingTables:
        """Tables for ``org`` from store entries: its own entries over the global ones ('').

        Entries of other organisations, other types (``routing``), blank targets and keys that
        are not Autotask ids are ignored: a malformed row cannot stop every invoice.
        """
        chosen: dict[tuple[str, str], tuple[bool, str]] = {}
        for entry in entries:
            if entry.org not in ("", org) or not str(entry.target).strip():
                continue
            slot = (entry.mapping_type, entry.source_key.strip())
            own = entry.org == org and org != ""
            if slot not in chosen or (own and not chosen[slot][0]):
                chosen[slot] = (own, str(entry.target).strip())
        simple: dict[str, dict[int, str]] = {
            kind: {} for kind in ("account", "currency", "branding_theme", "contact", "item")
        }
        tax: dict[tuple[int, int], str] = {}
        item_kinds: dict[str, dict[int, str]] = {"service": {}, "bundle": {}}
        for (kind, key), (_, target) in sorted(chosen.items()):
            if kind == "item" and ":" in key:
                of, _, number = key.partition(":")
                if of == "product" and _is_id(number):
                    simple["item"].setdefault(int(number), target)
                elif of in item_kinds and _is_id(number):
                    item_kinds[of][int(number)] = target
            elif kind == "tax":
                region, _, category = key.partition(":")
                if _is_id(region) and _is_id(category):
                    tax[(int(region), int(category))] = target
            elif kind in simple and _is_id(key):
                simple[kind][int(key)] = target
        return cls(
            accounts=simple["account"],
            tax=tax,
            currencies=simple["currency"],
            branding_themes=simple["branding_theme"],
            contacts=simple["contact"],
            items=simple["item"],
            service_items=item_kinds["service"],
            bundle_items=item_kinds["bundle"],
        )


def _is_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) < 19


# --- options -------------------------------------------------------------------------------------

Status = Literal["DRAFT", "SUBMITTED", "AUTHORISED"]
Numbering = Literal["autotask", "xero"]


@dataclass(frozen=True)
class MappingOptions:
    """The user's invoice settings (product-and-patterns A3), plus ``today`` (no clock reads).

    - ``status``: Draft, Awaiting Approval (SUBMITTED) or Approved (AUTHORISED).
    - ``numbering``: ``autotask`` sends ``number_prefix`` + Autotask's number (credit notes use
      ``credit_note_prefix`` when set); ``xero`` omits the number so Xero assigns one.
    - ``default_sales_account``: the account for lines no rule maps (None: such lines block).
    - ``tax_mapping_enabled``: tax from region x category mappings (unmapped pairs block); off,
      each line takes its account's default TaxType.
    - ``exempt_tax_type``: the TaxType for customers marked tax-exempt in Autotask.
    - ``rounding_line``: when Xero's total differs from Autotask's by at most ``rounding_limit``,
      add a line on the rounding account (``rounding_account_code``, else the account whose
      SystemAccount is ROUNDING) so the totals match exactly.
    - ``tolerance``: differences *smaller* than this are accepted without a rounding line (with a
      warning). Amounts are in cents, so the default 0.01 means "equal to the cent".
    """

    today: date
    status: Status = "DRAFT"
    numbering: Numbering = "autotask"
    number_prefix: str = ""
    credit_note_prefix: str | None = None
    default_sales_account: str | None = None
    default_branding_theme_id: str | None = None
    tax_mapping_enabled: bool = True
    exempt_tax_type: str | None = None
    rounding_line: bool = False
    rounding_account_code: str | None = None
    rounding_limit: Decimal = Decimal("1.00")
    rounding_description: str = "Rounding adjustment"
    tolerance: Decimal = Decimal("0.01")
