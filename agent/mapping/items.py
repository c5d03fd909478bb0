"""Autotask products, services and service bundles as Xero items (issue 5 §3). Pure.

The item Code (xero-api §11 "Items": required, at most 30 characters, unique in the
organisation) is the record's SKU (services and bundles: else the manufacturer / service
provider product number) when that fits in 30 characters, else a stable code from the Autotask
id: ``AT-P-<id>`` (products), ``AT-S-<id>`` (services), ``AT-B-<id>`` (bundles). A SKU longer than
30 is never cut: two long SKUs sharing their first 30 characters would name one item. When two
records of a catalogue would share a code, the lowest id keeps it and the others take their
stable code (``assign_codes``).

The item: Name (<= 50, cut), Description (<= 4000), sales price ``unitPrice`` (prices only when
Autotask's internal currency is the organisation's base currency) with the sales account chosen
as invoice lines choose theirs (account mapping of the billing code, its ``externalNumber``, the
default sales account) and that account's own TaxType when Xero takes it on the account (no
region is known for an item, so the region x category tax mapping cannot apply); the purchase
price ``unitCost`` without an account. Never tracked as inventory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from agent.autotask.records import BillingItem
from agent.autotask.refdata import BillingCode, Product, Service, ServiceBundle
from agent.mapping.accounts import choose_account
from agent.mapping.catalog import OrgCatalog, Record, decimal_field, tax_rate_problem, text
from agent.mapping.document import BlockReason
from agent.mapping.inputs import MappingOptions, MappingTables
from agent.mapping.text import clean, cut, single_line
from agent.mapping.totals import four_dp, wire_number

ItemKind = Literal["product", "service", "bundle"]
ITEM_CODE_LIMIT = 30  # Item.Code
ITEM_NAME_LIMIT = 50  # Item.Name
ITEM_TEXT_LIMIT = 4000  # Item.Description, PurchaseDescription
PREFIXES: dict[str, str] = {"product": "AT-P-", "service": "AT-S-", "bundle": "AT-B-"}
KIND_LABELS: dict[str, str] = {
    "product": "product",
    "service": "service",
    "bundle": "service bundle",
}


@dataclass(frozen=True)
class ItemSource:
    """One Autotask product, service or bundle, as much of it as an item is built from."""

    kind: ItemKind
    id: int
    name: str
    description: str
    sku: str  # the candidates for the code, in order, joined by nothing: see ``codes``
    alt_sku: str
    unit_price: Decimal | None
    unit_cost: Decimal | None
    billing_code_id: int | None
    active: bool

    @property
    def key(self) -> str:
        """The outbox row's ``autotask_id``: ``product:<id>`` and so on."""
        return item_key(self.kind, self.id)

    @property
    def label(self) -> str:
        name = single_line(self.name, 80)
        kind = KIND_LABELS[self.kind]
        return f'{kind} "{name}" (id {self.id})' if name else f"{kind} id {self.id}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "sku": self.sku,
            "alt_sku": self.alt_sku,
            "unit_price": None if self.unit_price is None else str(self.unit_price),
            "unit_cost": None if self.unit_cost is None else str(self.unit_cost),
            "billing_code_id": self.billing_code_id,
            "active": self.active,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ItemSource:
        kind = str(data["kind"])
        if kind not in PREFIXES:
            raise ValueError(f"unknown item kind {kind!r}")
        price, cost = data.get("unit_price"), data.get("unit_cost")
        code = data.get("billing_code_id")
        return cls(
            kind=kind,  # type: ignore[arg-type]  # checked above
            id=int(data["id"]),
            name=str(data.get("name") or ""),
            description=str(data.get("description") or ""),
            sku=str(data.get("sku") or ""),
            alt_sku=str(data.get("alt_sku") or ""),
            unit_price=None if price is None else Decimal(str(price)),
            unit_cost=None if cost is None else Decimal(str(cost)),
            billing_code_id=None if code is None else int(code),
            active=bool(data.get("active")),
        )


def item_key(kind: str, autotask_id: int) -> str:
    return f"{kind}:{autotask_id}"


def source_of(record: Product | Service | ServiceBundle) -> ItemSource:
    if isinstance(record, Product):
        return ItemSource(
            kind="product",
            id=record.id,
            name=record.name or "",
            description=record.description or record.name or "",
            sku=record.sku or "",
            alt_sku="",
            unit_price=record.unitPrice,
            unit_cost=record.unitCost,
            billing_code_id=record.productBillingCodeID,
            active=record.isActive is not False,
        )
    kind: ItemKind = "service" if isinstance(record, Service) else "bundle"
    return ItemSource(
        kind=kind,
        id=record.id,
        name=record.name or "",
        description=record.invoiceDescription or record.description or record.name or "",
        sku=record.sku or "",
        alt_sku=record.manufacturerServiceProviderProductNumber or "",
        unit_price=record.unitPrice,
        unit_cost=record.unitCost,
        billing_code_id=record.billingCodeID,
        active=record.isActive is not False,
    )


def stable_code(kind: str, autotask_id: int) -> str:
    return f"{PREFIXES[kind]}{autotask_id}"[:ITEM_CODE_LIMIT]


def preferred_code(kind: str, autotask_id: int, *candidates: str | None) -> str:
    """The first candidate (SKU, ...) that fits in 30 characters, else the stable code."""
    for candidate in candidates:
        value = " ".join(clean(candidate).split())
        if value and len(value) <= ITEM_CODE_LIMIT:
            return value
    return stable_code(kind, autotask_id)


def code_of(source: ItemSource) -> str:
    return preferred_code(source.kind, source.id, source.sku, source.alt_sku)


def assign_codes(sources: Iterable[ItemSource]) -> dict[str, str]:
    """Row key -> item Code for a whole catalogue: a code two records would share stays with the
    lowest id (products first, then services, then bundles); the others take their stable code."""
    order = {"product": 0, "service": 1, "bundle": 2}
    taken: set[str] = set()
    codes: dict[str, str] = {}
    for source in sorted(sources, key=lambda s: (order[s.kind], s.id)):
        code = code_of(source)
        if code.upper() in taken:
            code = stable_code(source.kind, source.id)
        taken.add(code.upper())
        codes[source.key] = code
    return codes


@dataclass(frozen=True)
class ItemDraft:
    """The Xero item to send (wire form, without ItemID) and how its values were chosen."""

    document: dict[str, Any]
    rules: tuple[str, ...]


def build_item(
    source: ItemSource,
    code: str,
    billing_code: BillingCode | None,
    tables: MappingTables,
    catalog: OrgCatalog,
    options: MappingOptions,
    price_currency: str | None = None,
) -> ItemDraft | BlockReason:
    """The Xero item for ``source`` in one organisation, or why it cannot be built.

    ``price_currency``: the currency of Autotask's prices (its internal currency). An item's
    prices are in the organisation's base currency, so they are left out when the two differ
    (an invoice line carries its own amount either way)."""
    rules = [f"code {code}"]
    priced = not (
        price_currency
        and catalog.base_currency
        and price_currency.strip().upper() != catalog.base_currency
    )
    if not priced:
        theirs = (price_currency or "").strip().upper()
        rules.append(
            f"no prices: Autotask's are in {theirs}, the organisation's base currency is "
            f"{catalog.base_currency}"
        )
    stand_in = BillingItem(id=source.id, billingCodeID=source.billing_code_id)
    account = choose_account(stand_in, billing_code, tables, catalog, options)
    if isinstance(account, BlockReason):
        return BlockReason(
            "account",
            f"item for {source.label}: {account.message}",
            account.mapping_type,
            account.source_key,
        )
    rules.append(f"account: {account.rule}")
    sales: dict[str, Any] = {"AccountCode": account.code}
    if priced and source.unit_price is not None:
        sales["UnitPrice"] = wire_number(four_dp(source.unit_price))
    tax_type = text(account.account, "TaxType")
    if tax_type and tax_rate_problem(catalog.tax_rate(tax_type), tax_type, account.account) is None:
        sales["TaxType"] = tax_type
        rules.append(f"tax: the account's {tax_type}")
    else:
        rules.append("tax: none (the account has no usable default)")
    name = single_line(source.name, ITEM_NAME_LIMIT) or code
    description = cut(clean(source.description).strip(), ITEM_TEXT_LIMIT) or name
    document: dict[str, Any] = {
        "Code": code,
        "Name": name,
        "Description": description,
        "IsSold": True,
        "IsTrackedAsInventory": False,
        "SalesDetails": sales,
    }
    if priced and source.unit_cost is not None:
        document["IsPurchased"] = True
        document["PurchaseDescription"] = description
        document["PurchaseDetails"] = {"UnitPrice": wire_number(four_dp(source.unit_cost))}
    return ItemDraft(document, tuple(rules))


def item_differs(wanted: Mapping[str, Any], existing: Record) -> list[str]:
    """The fields of ``wanted`` that Xero's ``existing`` item does not hold (empty: the same)."""
    changed: list[str] = []
    for field in ("Code", "Name", "Description", "PurchaseDescription"):
        if field in wanted and str(wanted[field]) != text(existing, field):
            changed.append(field)
    for section in ("SalesDetails", "PurchaseDetails"):
        want = wanted.get(section)
        if not isinstance(want, Mapping):
            continue
        have = existing.get(section)
        have = have if isinstance(have, Mapping) else {}
        for field, value in want.items():
            if field == "UnitPrice":
                if decimal_field(have, field) != Decimal(str(value)):
                    changed.append(f"{section}.{field}")
            elif str(value) != text(have, field):
                changed.append(f"{section}.{field}")
    return changed
