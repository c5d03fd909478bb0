"""Line items: Xero's arithmetic and its per-line validation (reference §10, §11, §13).

- quantity x unit amount is rounded to cents (the unit amount itself to 2 dp, or 4 with unitdp=4);
- tax is computed and rounded per line, then summed (so totals can differ from a PSA's by cents);
- ``LineAmountTypes``: Exclusive (tax on top), Inclusive (tax inside the line), NoTax;
- discounts exist on ACCREC invoices only.
Messages are Xero's where a public source quotes them (cited inline); others are worded alike.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sandbox.world import Record
from sandbox.xero.ledger import CLASS_TAX_FLAG, Ledger
from sandbox.xero.serialize import money, to_decimal, unit_amount

ZERO = Decimal("0")
HUNDRED = Decimal("100")


@dataclass
class LineRules:
    """What the document allows: discounts, and whether lines must name a usable account."""

    sales: bool  # ACCREC / ACCRECCREDIT: items default from SalesDetails, else PurchaseDetails
    discounts_refused: str | None  # the message when a discount is sent, None if allowed
    account_required: bool  # ledger documents past DRAFT post to the ledger
    unitdp: int


@dataclass
class LineResult:
    lines: list[Record] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _number(raw: Record, key: str, errors: list[str]) -> Decimal | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    try:
        return to_decimal(value)
    except ValueError:
        errors.append(f"{key} '{value}' is not a valid number.")
        return None


def build_lines(
    ledger: Ledger,
    raw_lines: list[Any],
    amount_types: str,
    rules: LineRules,
    previous: list[Record] | None = None,
) -> LineResult:
    result = LineResult()
    known_ids = {str(line.get("LineItemID", "")).lower() for line in previous or []}
    for raw in raw_lines:
        if not isinstance(raw, dict):
            result.errors.append("Each line item must be an object.")
            continue
        line = _build_line(ledger, raw, amount_types, rules, result.errors)
        given_id = str(raw.get("LineItemID") or "")
        # A line sent without its LineItemID is a new line (reference §11: keep LineItemIDs).
        line["LineItemID"] = given_id if given_id.lower() in known_ids else str(uuid.uuid4())
        result.lines.append(line)
    return result


def _build_line(
    ledger: Ledger, raw: Record, amount_types: str, rules: LineRules, errors: list[str]
) -> Record:
    item = None
    item_code = raw.get("ItemCode")
    if item_code:
        item = ledger.item(code=str(item_code))
        if item is None:
            errors.append(f"Item code '{item_code}' is not valid.")
    details: Record = (item or {}).get("SalesDetails" if rules.sales else "PurchaseDetails") or {}

    description = raw.get("Description")
    if description is None and item is not None:
        description = item.get("Description" if rules.sales else "PurchaseDescription")
    if not str(description or "").strip():
        # Quoted in XeroAPI/Xero-Net#198.
        errors.append("The description field is mandatory for each line item.")

    quantity = _number(raw, "Quantity", errors)
    unit = _number(raw, "UnitAmount", errors)
    given_total = _number(raw, "LineAmount", errors)
    if unit is None and "UnitPrice" in details:
        unit = to_decimal(details["UnitPrice"])
    if unit is None and given_total is not None and quantity in (None, Decimal(1)):
        unit = given_total
    quantity = Decimal(1) if quantity is None else quantity
    unit = unit_amount(unit if unit is not None else ZERO, rules.unitdp)
    gross = quantity * unit

    rate = _number(raw, "DiscountRate", errors)
    discount = _number(raw, "DiscountAmount", errors)
    if (rate or discount) and rules.discounts_refused:
        errors.append(rules.discounts_refused)
        rate = discount = None
    if rate is not None:
        line_amount = money(gross * (HUNDRED - rate) / HUNDRED)
    elif discount is not None:
        line_amount = money(gross - discount)
    else:
        line_amount = money(gross)
    if given_total is not None and money(given_total) != line_amount:
        # Quoted in XeroAPI/Xero-Net#198.
        errors.append(
            f"The line total {money(given_total)} does not match the expected line total "
            f"{line_amount}"
        )

    account = _line_account(ledger, raw, details, rules, errors)
    tax_type, percent = _line_tax(ledger, raw, account, amount_types, errors)
    override = _number(raw, "TaxAmount", errors)
    if amount_types == "NoTax" or percent is None:
        tax = ZERO
    elif override is not None:
        tax = money(override)
    elif amount_types == "Inclusive":
        tax = money(line_amount * percent / (HUNDRED + percent))
    else:
        tax = money(line_amount * percent / HUNDRED)

    line: Record = {
        "Description": description,
        "Quantity": quantity,
        "UnitAmount": unit,
        "ItemCode": item_code or None,
        "AccountCode": account.get("Code") if account else raw.get("AccountCode"),
        "AccountID": account.get("AccountID") if account else None,
        "TaxType": tax_type,
        "TaxAmount": tax,
        "LineAmount": line_amount,
        "DiscountRate": rate,
        "DiscountAmount": discount,
        "Tracking": raw.get("Tracking") or [],
    }
    if item is not None:
        line["Item"] = {"ItemID": item["ItemID"], "Code": item["Code"], "Name": item.get("Name")}
    return line


def _line_account(
    ledger: Ledger, raw: Record, details: Record, rules: LineRules, errors: list[str]
) -> Record | None:
    code = raw.get("AccountCode") or details.get("AccountCode")
    account_id = raw.get("AccountID")
    if not code and not account_id:
        if rules.account_required:
            errors.append("An account code must be specified for each line item.")
        return None
    account = ledger.account(code=str(code)) if code else ledger.account(account_id=account_id)
    shown = code or account_id
    if account is None or account.get("Type") == "BANK":
        # Quoted in XeroAPI/Xero-NetStandard#364.
        errors.append(f"Account code '{shown}' is not a valid code for this document.")
        return None
    if account.get("Status") != "ACTIVE":
        # Xero's answer for an archived account (Chargebee/Lightspeed support notes).
        errors.append("Account must be valid.")
        return None
    return account


def _line_tax(
    ledger: Ledger,
    raw: Record,
    account: Record | None,
    amount_types: str,
    errors: list[str],
) -> tuple[str | None, Decimal | None]:
    tax_type = raw.get("TaxType") or (account or {}).get("TaxType")
    if not tax_type:
        return None, None
    if amount_types == "NoTax":
        return str(tax_type), None
    rate = ledger.tax_rate(str(tax_type))
    if rate is None:
        # Quoted in XeroAPI/Xero-Java#336 (TaxType names instead of codes end here).
        errors.append(
            f"The TaxType code {tax_type} does not exist or cannot be used for this type of "
            "transaction."
        )
        return str(tax_type), None
    if rate.get("Status") != "ACTIVE":
        # "Tax Rate Must be Active": a deleted or archived rate (Cloud Depot, Recurly notes).
        errors.append("Tax Rate must be active")
        return str(tax_type), None
    if account is not None:
        flag = CLASS_TAX_FLAG.get(str(account.get("Class")))
        if flag and rate.get(flag) is False:
            # Quoted in XeroAPI/Xero-Java#336.
            errors.append(
                f"The TaxType code '{tax_type}' cannot be used with account code "
                f"'{account.get('Code')}'."
            )
    return str(tax_type), to_decimal(rate["EffectiveRate"])


def totals(lines: list[Record], amount_types: str) -> dict[str, Decimal]:
    """Sum of per-line rounded amounts (reference §13): SubTotal, TotalTax, Total."""
    line_sum = sum((line["LineAmount"] for line in lines), ZERO)
    tax = sum((line["TaxAmount"] for line in lines), ZERO)
    if amount_types == "Inclusive":
        return {"SubTotal": line_sum - tax, "TotalTax": tax, "Total": line_sum}
    return {"SubTotal": line_sum, "TotalTax": tax, "Total": line_sum + tax}
