"""An Autotask purchase order as a Xero purchase order or bill (issue 5 §2). Pure.

The snapshot (``agent.sync.purchase_orders``) holds the order, its items, the vendor company, the
products behind the items, the Autotask internal currency's ISO code and, for bills, the days of
the order's payment term.

- Contact: the vendor, by the same rules as a customer (``agent.mapping.contacts``: the user's
  contact mapping, ContactNumber = the company id, AccountNumber, name; else a new contact).
- Lines, one per item: Description = the item's memo, else the product's name; Quantity; the
  unit cost in Autotask's internal currency; AccountCode = the ``purchase_account`` mapping of the
  product (its own account), else the ``po_cogs_account`` setting; ItemCode when the product is a
  Xero item that is purchased (the item mapping, the item the agent made for it, its SKU).
  Amounts are tax-exclusive. TaxType: the ``purchase_tax`` mapping of the order's tax region
  (an overseas vendor's orders to a tax-free rate, say) on every line, else none and Xero
  applies each account's default rate (an Autotask PO has no per-item tax category).
- Freight (> 0): one more line, "Freight", on the ``po_freight_account`` setting.
- Reference = the PO number (PurchaseOrderNumber is left to Xero's own sequence); for a bill the
  vendor's invoice number, when Autotask has it, is the bill's InvoiceNumber.
- Date = the submit date (else the creation date); a purchase order's DeliveryDate = the latest
  estimated arrival, its DeliveryAddress the ship-to address; a bill's DueDate from the payment
  term when it has a number of days.

What is missing blocks the order with reasons naming the fix; nothing here raises.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from agent.autotask.refdata import Company
from agent.mapping.catalog import OrgCatalog, account_problem, tax_rate_problem, text
from agent.mapping.contacts import ContactChoice, choose_contact
from agent.mapping.document import BlockReason
from agent.mapping.inputs import MappingTables
from agent.mapping.items import preferred_code
from agent.mapping.text import cut, single_line

PoDocument = Literal["purchase_order", "bill"]
PO_DOCUMENTS: tuple[str, ...] = ("purchase_order", "bill")
PO_STATUSES: tuple[str, ...] = ("DRAFT", "SUBMITTED", "AUTHORISED")
# ``po_trigger_status``: the Autotask status a purchase order must have reached (standard
# PurchaseOrders.status picklist: 1 New, 2 Submitted, 3 Partially Received, 4 Received Full,
# 5 Cancelled). Cancelled orders are never sent.
PO_TRIGGERS: dict[str, tuple[int, ...]] = {
    "submitted": (2, 3, 4),
    "partially_received": (3, 4),
    "received": (4,),
}
TEXT_LIMIT = 4000
REFERENCE_LIMIT = 255
FOUR_DP = Decimal("0.0001")
CENT = Decimal("0.01")
FREIGHT = "Freight"
NO_TAX = "none sent: Xero applies the account's default tax rate"


@dataclass(frozen=True)
class PoOptions:
    document: str = "purchase_order"  # one of PO_DOCUMENTS
    status: str = "DRAFT"  # one of PO_STATUSES
    cogs_account: str | None = None
    freight_account: str | None = None
    purchase_accounts: Mapping[str, str] = field(default_factory=dict)  # product id -> Code
    purchase_tax: Mapping[str, str] = field(default_factory=dict)  # tax region id -> TaxType


@dataclass(frozen=True)
class MappedPurchase:
    document: dict[str, Any]  # Xero wire form: a PurchaseOrder, or an ACCPAY Invoice
    company_id: int | None
    new_contact: dict[str, Any] | None
    provenance: list[dict[str, Any]]  # one per line of ``document``: how each value was chosen
    warnings: list[str]
    contact_rule: str = ""


def po_number(order: Mapping[str, Any]) -> str:
    return single_line(order.get("purchaseOrderNumber"), 100) or str(order.get("id"))


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        found = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return found if found.is_finite() else None


def _day(value: Any) -> date | None:
    raw = str(value or "")[:10]
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def unit_cost(item: Mapping[str, Any]) -> Decimal | None:
    """The item's cost in the internal currency (what Autotask's totals are kept in)."""
    found = _decimal(item.get("internalCurrencyUnitCost"))
    return found if found is not None else _decimal(item.get("unitCost"))


def freight_of(order: Mapping[str, Any]) -> Decimal:
    found = _decimal(order.get("internalCurrencyFreight"))
    if found is None:
        found = _decimal(order.get("freight"))
    return found or Decimal(0)


def build_purchase(
    snapshot: Mapping[str, Any],
    tables: MappingTables,
    catalog: OrgCatalog,
    options: PoOptions,
    today: date,
) -> MappedPurchase | list[str]:
    """The Xero document of one purchase order, or the reasons it cannot be built."""
    order: Mapping[str, Any] = snapshot["order"]
    number = po_number(order)
    what = f"purchase order {number}"
    reasons: list[str] = []
    provenance: list[dict[str, Any]] = []
    warnings: list[str] = []

    contact = _contact(snapshot, tables, catalog, what)
    if isinstance(contact, str):
        reasons.append(contact)
    else:
        warnings.extend(contact.warnings)

    tax_type, tax_rule = _tax(order, options)
    items: Sequence[Mapping[str, Any]] = snapshot.get("items") or []
    products: Mapping[str, Mapping[str, Any]] = snapshot.get("products") or {}
    if not items:
        reasons.append(f"{what}: it has no items in Autotask; add them, then retry")
    lines: list[dict[str, Any]] = []
    for item in items:
        built = _line(item, products, tables, catalog, options, what, (tax_type, tax_rule))
        if isinstance(built, str):
            if built not in reasons:
                reasons.append(built)
            continue
        line, rule = built
        lines.append(line)
        provenance.append(rule)
    freight = freight_of(order)
    if freight > 0:
        account = (options.freight_account or "").strip()
        problem = _account_problem(catalog, account) if account else None
        if not account:
            reasons.append(
                f"{what}: freight {freight:.2f} needs an account: set po_freight_account"
            )
        elif problem:
            reasons.append(f"{what}: freight: {problem}; set another po_freight_account")
        elif (taxed := _taxed(catalog, account, tax_type, what)) is not None:
            reasons.append(taxed)
        else:
            line = {
                "Description": FREIGHT,
                "Quantity": 1,
                "UnitAmount": float(freight.quantize(FOUR_DP)),
                "AccountCode": account,
            }
            if tax_type:
                line["TaxType"] = tax_type
            lines.append(line)
            provenance.append(
                {
                    "account": f"{account} ← po_freight_account",
                    "tax": tax_rule,
                    "item": "",
                    "amounts": f"freight {freight:.2f} (internalCurrencyFreight)",
                }
            )
    if reasons or isinstance(contact, str):
        return reasons

    when = _day(order.get("submitDateTime")) or _day(order.get("createDateTime")) or today
    document: dict[str, Any] = {
        "Contact": contact.reference,
        "Date": when.isoformat(),
        "Reference": number[:REFERENCE_LIMIT],
        "LineAmountTypes": "Exclusive",
        "Status": options.status,
        "LineItems": lines,
    }
    currency = single_line(snapshot.get("currency"), 3)
    if currency:
        document["CurrencyCode"] = currency
    if options.document == "bill":
        document["Type"] = "ACCPAY"
        vendor_invoice = single_line(order.get("vendorInvoiceNumber"), 255)
        if vendor_invoice:
            document["InvoiceNumber"] = vendor_invoice
        days = snapshot.get("payment_term_days")
        if isinstance(days, int) and not isinstance(days, bool) and 0 <= days <= 3650:
            document["DueDate"] = (when + timedelta(days=days)).isoformat()
    else:
        arrival = _day(order.get("latestEstimatedArrivalDate"))
        if arrival is not None:
            document["DeliveryDate"] = max(arrival, when).isoformat()
        address = _ship_to(order)
        if address:
            document["DeliveryAddress"] = address
        phone = single_line(order.get("phone"), 50)
        if phone:
            document["Telephone"] = phone
    new_contact = contact.new_contact
    vendor = snapshot.get("vendor") or {}
    company_id = vendor.get("id")
    return MappedPurchase(
        document,
        int(company_id) if company_id is not None else None,
        new_contact,
        provenance,
        warnings,
        f"vendor {contact.rule}",
    )


def _contact(
    snapshot: Mapping[str, Any], tables: MappingTables, catalog: OrgCatalog, what: str
) -> ContactChoice | str:
    vendor = snapshot.get("vendor")
    if not vendor:
        vendor_id = snapshot["order"].get("vendorID")
        return (
            f"{what}: its vendor (Autotask company {vendor_id}) cannot be read by the API user;"
            " check the vendor in Autotask"
        )
    choice = choose_contact(Company.model_validate(vendor), None, tables, catalog)
    if isinstance(choice, BlockReason):
        return f"{what}: vendor {choice.message}"
    return choice


def _account_problem(catalog: OrgCatalog, code: str) -> str | None:
    return account_problem(catalog.account(code), code)


def _line(
    item: Mapping[str, Any],
    products: Mapping[str, Mapping[str, Any]],
    tables: MappingTables,
    catalog: OrgCatalog,
    options: PoOptions,
    what: str,
    tax: tuple[str | None, str],
) -> tuple[dict[str, Any], dict[str, Any]] | str:
    product_id = item.get("productID")
    product = products.get(str(product_id)) if product_id is not None else None
    name = single_line((product or {}).get("name"), 200)
    description = cut(" ".join(str(item.get("memo") or "").split()) or name, TEXT_LIMIT)
    description = description or f"Item {item.get('id')}"
    own = options.purchase_accounts.get(str(product_id), "").strip() if product_id else ""
    account, rule = (own, f"purchase_account mapping of product {product_id}") if own else (
        (options.cogs_account or "").strip(), "po_cogs_account"
    )  # fmt: skip
    if not account:
        return (
            f"{what}: no account for its lines: set po_cogs_account, or map the product"
            f" (purchase_account, product id {product_id})"
        )
    problem = _account_problem(catalog, account)
    if problem:
        fix = "map another" if own else "set another po_cogs_account"
        return f"{what}: {rule}: {problem}; {fix}"
    taxed = _taxed(catalog, account, tax[0], what)
    if taxed is not None:
        return taxed
    cost = unit_cost(item)
    quantity = _decimal(item.get("quantity"))
    if cost is None or quantity is None:
        return f"{what}: item {item.get('id')} has no quantity or unit cost in Autotask"
    line: dict[str, Any] = {
        "Description": description,
        "Quantity": float(quantity),
        "UnitAmount": float(cost.quantize(FOUR_DP)),
        "AccountCode": account,
    }
    if tax[0]:
        line["TaxType"] = tax[0]
    code = _item_code(product_id, product, tables, catalog)
    if code:
        line["ItemCode"] = code
    label = f'product "{name}" (id {product_id})' if name else f"item {item.get('id')}"
    return line, {
        "account": f"{account} ← {rule}",
        "tax": tax[1],
        "item": f"{code} ← {label} is a purchased Xero item" if code else f"{label}: none",
        "amounts": f"{quantity} x {cost} (Autotask quantity and internal currency unit cost)",
    }


def _tax(order: Mapping[str, Any], options: PoOptions) -> tuple[str | None, str]:
    region = order.get("taxRegionID")
    mapped = options.purchase_tax.get(str(region), "").strip() if region is not None else ""
    if mapped:
        return mapped, f"{mapped} ← purchase_tax mapping of tax region {region}"
    return None, NO_TAX


def _taxed(catalog: OrgCatalog, account: str, tax_type: str | None, what: str) -> str | None:
    """Why ``tax_type`` cannot go on ``account``, as a block reason; None when it can."""
    if not tax_type:
        return None
    problem = tax_rate_problem(catalog.tax_rate(tax_type), tax_type, catalog.account(account))
    return f"{what}: purchase_tax: {problem}; map another" if problem else None


def _item_code(
    product_id: Any, product: Mapping[str, Any] | None, tables: MappingTables, catalog: OrgCatalog
) -> str | None:
    """The product's Xero item when there is one that is purchased; else none."""
    if product_id is None:
        return None
    candidates = [
        tables.items.get(int(product_id), ""),
        tables.known_items.get(f"product:{product_id}", ""),
    ]
    sku = single_line((product or {}).get("sku"), 100)
    candidates.append(preferred_code("product", int(product_id), sku))
    for candidate in candidates:
        found = catalog.item(candidate) if candidate.strip() else None
        if found is not None and found.get("IsPurchased") is not False:
            return text(found, "Code")
    return None


def _ship_to(order: Mapping[str, Any]) -> str:
    place = " ".join(
        p
        for p in (
            single_line(order.get("shipToCity"), 100),
            single_line(order.get("shipToState"), 100),
            single_line(order.get("shipToPostalCode"), 20),
        )
        if p
    )
    parts = [
        single_line(order.get(k), 200) for k in ("shipToName", "shipToAddress1", "shipToAddress2")
    ]
    return cut("\n".join(p for p in (*parts, place) if p), 500)


# -- what changed ------------------------------------------------------------------------------


def total_of(document: Mapping[str, Any]) -> Decimal:
    total = Decimal(0)
    for line in document.get("LineItems") or []:
        quantity = _decimal(line.get("Quantity")) or Decimal(0)
        amount = _decimal(line.get("UnitAmount")) or Decimal(0)
        total += (quantity * amount).quantize(CENT)
    return total


def describe_change(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """What differs between the document in Xero and the one Autotask's order now makes, in
    words (at most a handful of entries; the rest counted)."""
    found: list[str] = []
    old_total, new_total = total_of(before), total_of(after)
    if old_total != new_total:
        found.append(f"total (ex tax) {old_total:,.2f} → {new_total:,.2f}")
    if (before.get("Contact") or {}) != (after.get("Contact") or {}):
        found.append("vendor contact changed")
    old_lines = list(before.get("LineItems") or [])
    new_lines = list(after.get("LineItems") or [])
    for index in range(max(len(old_lines), len(new_lines))):
        old = old_lines[index] if index < len(old_lines) else None
        new = new_lines[index] if index < len(new_lines) else None
        if old == new:
            continue
        if old is None and new is not None:
            found.append(f"line {index + 1} added: {_line_text(new)}")
        elif new is None and old is not None:
            found.append(f"line {index + 1} removed: {_line_text(old)}")
        elif old is not None and new is not None:
            changes = [
                f"{name} {old.get(key)} → {new.get(key)}"
                for key, name in (
                    ("Quantity", "quantity"),
                    ("UnitAmount", "unit cost"),
                    ("AccountCode", "account"),
                    ("Description", "description"),
                    ("ItemCode", "item"),
                )
                if old.get(key) != new.get(key)
            ]
            found.append(f"line {index + 1}: " + ", ".join(changes))
    for key in ("Date", "DeliveryDate", "DueDate", "InvoiceNumber", "Reference", "CurrencyCode"):
        if before.get(key) != after.get(key):
            found.append(f"{key} {before.get(key) or '(none)'} → {after.get(key) or '(none)'}")
    if len(found) > 6:
        found = [*found[:5], f"and {len(found) - 5} more changes"]
    return found


def _line_text(line: Mapping[str, Any]) -> str:
    description = single_line(line.get("Description"), 60)
    return f"{line.get('Quantity')} x {line.get('UnitAmount')} {description}".strip()
