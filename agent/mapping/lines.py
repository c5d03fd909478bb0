"""Amounts and item code of one line (issue 3 §3; autotask-api §8, §11; xero-api §10, §11).

Signs. A document is a credit note when Autotask's invoice total is negative (Autotask has no
credit-note entity: a credit is an invoice with a negative total, §11). Every Autotask line amount
is multiplied by the document's sign, so a credit note's ordinary lines become positive. Xero
refuses negative quantities (§11: "negative quantities … are not accepted by Xero"), so the
quantity is always sent as its absolute value and the sign moves to ``UnitAmount``:

    Autotask  quantity q, rate r          →  Xero  Quantity |q|, UnitAmount sign(q) x s x r

where s is +1 on an invoice and -1 on a credit note. Hence on an invoice a negative-quantity
adjustment is a line with a negative unit amount, and on a credit note a positive Autotask line
(a charge among credits) is a negative line. Xero accepts negative lines as long as the document
total is not negative, which the choice of document guarantees.

Exactness. Quantity and rate are kept to 4 decimals (``unitdp=4``) and Xero computes
``round(Quantity x UnitAmount, 2)``. When that differs from Autotask's ``extendedPrice`` (a rate
with more than 4 decimals), the line is sent as 1 x Autotask's amount instead, so the document
keeps Autotask's figures to the cent; the provenance says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from agent.autotask.records import BillingItem
from agent.mapping.catalog import OrgCatalog, text
from agent.mapping.document import BlockReason
from agent.mapping.inputs import InvoiceSnapshot, MappingTables
from agent.mapping.items import ITEM_CODE_LIMIT, preferred_code
from agent.mapping.text import single_line
from agent.mapping.totals import four_dp, in_range, line_amount, money


@dataclass(frozen=True, slots=True)
class LineAmounts:
    quantity: Decimal  # never negative, 4 dp
    unit_amount: Decimal  # 4 dp, in the document's sign
    amount: Decimal  # Xero's LineAmount: round(quantity x unit_amount, 2)
    rule: str


def autotask_amount(item: BillingItem) -> Decimal | None:
    """What Autotask billed for the line before tax (``extendedPrice``), or q x r without it."""
    if item.extendedPrice is not None:
        return money(item.extendedPrice)
    if item.quantity is not None and item.rate is not None:
        return line_amount(item.quantity, item.rate)
    return None


def autotask_line_total(item: BillingItem) -> Decimal | None:
    """The line's total with tax as Autotask has it (``totalAmount``), or amount + tax."""
    if item.totalAmount is not None:
        return money(item.totalAmount)
    amount = autotask_amount(item)
    if amount is None:
        return None
    return amount + money(item.taxDollars or Decimal(0))


def line_amounts(item: BillingItem, sign: int) -> LineAmounts | BlockReason:
    billed = autotask_amount(item)
    if billed is None:
        return BlockReason(
            "data",
            f"billing item {item.id} has no extendedPrice and no quantity x rate; it cannot be "
            "priced",
        )
    target = billed * sign
    if not in_range(target):
        return BlockReason(
            "data", f"billing item {item.id} amount {billed} is beyond what mapping can post"
        )
    quantity, rate = item.quantity, item.rate
    if quantity is not None and rate is not None:
        direction = -sign if quantity < 0 else sign
        units, unit_amount = four_dp(abs(quantity)), four_dp(rate) * direction
        amount = line_amount(units, unit_amount)
        if amount == target:
            flipped = " (sign moved to the unit amount)" if direction != 1 else ""
            return LineAmounts(units, unit_amount, amount, f"{quantity} x {rate}{flipped}")
        rule = (
            f"{quantity} x {rate} is {amount * sign} at 4 decimals but Autotask billed {billed}:"
            f" sent as 1 x {target}"
        )
    else:
        rule = f"no quantity or rate: sent as 1 x {target}"
    return LineAmounts(Decimal(1), target, target, rule)


def choose_item_code(
    item: BillingItem, snapshot: InvoiceSnapshot, tables: MappingTables, catalog: OrgCatalog
) -> tuple[str | None, str] | BlockReason:
    """``ItemCode`` from the product, service bundle or service behind the line, in order:

    1. the user's item mapping (product id; ``service:<id>``, ``bundle:<id>``);
    2. the item the agent created or matched for it in this organisation (``known_items``,
       ``agent.sync.items``), when Xero's cached catalog has it;
    3. a product's SKU (or its stable code, ``agent.mapping.items``) when Xero has an item with
       that Code;
    4. none: the line is sent without an item."""
    product = snapshot.products.get(item.id)
    if product is not None:
        kind, source_id, mapped_table = "product", product.id, tables.items
        label = f'product "{single_line(product.name, 80)}" (id {product.id})'
    elif item.serviceBundleID is not None:
        kind, source_id, mapped_table = "bundle", int(item.serviceBundleID), tables.bundle_items
        label = f"service bundle id {source_id}"
    elif item.serviceID is not None:
        kind, source_id, mapped_table = "service", int(item.serviceID), tables.service_items
        label = f"service id {source_id}"
    else:
        return None, "no product behind the line"
    mapped = mapped_table.get(source_id, "").strip()
    if mapped:
        if catalog.item(mapped) is None:
            key = str(source_id) if kind == "product" else f"{kind}:{source_id}"
            return BlockReason(
                "item",
                f"the item mapping for {label} points at item code {mapped}, which is not in "
                f"Xero organisation {catalog.name}; map another in Mappings → Items",
                "item",
                key,
            )
        return mapped, f"item mapping for {label} → {mapped}"
    known = tables.known_items.get(f"{kind}:{source_id}", "").strip()
    if known:
        found = catalog.item(known)
        if found is not None and found.get("IsSold") is not False:
            return text(found, "Code"), f"{label} is Xero item {known} (item sync)"
    if product is None:
        return None, f"{label}: no Xero item for it"
    sku = single_line(product.sku, 100)
    code = preferred_code("product", product.id, sku)
    found = catalog.item(code)
    if found is None:
        if sku and code == sku:
            return None, f"{label}: no Xero item with code {sku!r}"
        return None, f"{label} has no SKU of at most {ITEM_CODE_LIMIT} characters"
    if found.get("IsSold") is False:
        return None, f"{label}: Xero item {code} is not sold, so not used"
    what = f"SKU {sku}" if code == sku else f"code {code}"
    return text(found, "Code"), f"{label} {what} is a Xero item"
