"""Xero's arithmetic, exactly (reference xero-api §10, §13).

- ``UnitAmount`` and ``Quantity`` are kept to 4 decimals (the sync posts with ``unitdp=4``);
- ``LineAmount = round(Quantity x UnitAmount, 2)``;
- tax per line (``LineAmountTypes`` Exclusive) is ``round(LineAmount x EffectiveRate / 100, 2)``;
- the document total is the sum of the rounded line amounts plus the sum of the rounded taxes.

Rounding is half away from zero (``ROUND_HALF_UP`` in ``decimal``), symmetric for negative
lines. Products run in a 60-digit context so no intermediate step rounds before the last one.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Context, Decimal

from agent.mapping.document import Totals

CENT = Decimal("0.01")
FOUR_DP = Decimal("0.0001")
HUNDRED = Decimal(100)
ZERO = Decimal(0)
# Larger figures are refused as data errors. The bound keeps every amount, quantity and 4-dp unit
# price within 14 significant digits, so ``float`` carries it onto the wire exactly (a float's
# shortest repr round-trips any decimal of up to 15 significant digits) and no product of two
# such figures can exhaust the 60-digit context.
MAX_AMOUNT = Decimal(10) ** 10

_CTX = Context(prec=60, rounding=ROUND_HALF_UP)


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP, context=_CTX)


def four_dp(value: Decimal) -> Decimal:
    return value.quantize(FOUR_DP, rounding=ROUND_HALF_UP, context=_CTX)


def line_amount(quantity: Decimal, unit_amount: Decimal) -> Decimal:
    return money(_CTX.multiply(quantity, unit_amount))


def line_tax(amount: Decimal, rate_percent: Decimal) -> Decimal:
    return money(_CTX.divide(_CTX.multiply(amount, rate_percent), HUNDRED))


def in_range(value: Decimal | None) -> bool:
    """A figure mapping can do exact arithmetic on (None counts: it is handled as missing)."""
    return value is None or (value.is_finite() and abs(value) < MAX_AMOUNT)


def xero_totals(lines: Iterable[tuple[Decimal, Decimal]]) -> Totals:
    """Totals of (LineAmount, tax rate %) pairs as Xero computes them."""
    subtotal = tax = ZERO
    for amount, rate in lines:
        subtotal += amount
        tax += line_tax(amount, rate)
    return Totals(subtotal=subtotal, tax=tax, total=subtotal + tax)


def wire_number(value: Decimal) -> float:
    """A bounded Decimal as the JSON number Xero receives (exact; never ``-0.0``)."""
    return float(value) if value else 0.0


def shown(value: Decimal) -> str:
    """Money as people read it: ``1,234.56``."""
    return f"{money(value):,.2f}"
