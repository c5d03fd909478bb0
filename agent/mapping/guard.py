"""The tax guard: the total Xero will compute must be Autotask's invoice total (issue 3 §3).

Xero taxes each line and rounds it before summing (xero-api §13); a PSA that taxes the whole
invoice, a different rate, or a compound tax can land cents (or more) away. Then, in order:

1. with the rounding-line setting on and a difference of at most ``rounding_limit``: a line on the
   rounding account, with a zero tax rate, for exactly the difference. A visible line is what
   Xero's certification prefers over posting tax amounts (§13); the account is the one whose
   SystemAccount is ROUNDING (found by role, never by code, §11) unless the settings name one;
2. a difference below ``tolerance``: accepted, with a warning;
3. otherwise the invoice blocks, with both totals and the lines whose tax differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from agent.mapping.catalog import (
    CLASS_TAX_FLAG,
    OrgCatalog,
    Record,
    decimal_field,
    describe_account,
    is_active,
    text,
)
from agent.mapping.document import BlockReason, Totals
from agent.mapping.inputs import MappingOptions
from agent.mapping.totals import shown

_PREFERRED_NO_TAX = ("NONE", "BASEXCLUDED")  # UK "No VAT", AU "BAS Excluded"


@dataclass(frozen=True, slots=True)
class RoundingLine:
    account_code: str
    tax_type: str
    amount: Decimal
    rule: str


@dataclass(frozen=True, slots=True)
class GuardPassed:
    rounding: RoundingLine | None = None
    warning: str | None = None


def check_totals(
    expected: Totals,
    autotask_total: Decimal,
    currency: str,
    options: MappingOptions,
    catalog: OrgCatalog,
    tax_differences: Sequence[str],
) -> GuardPassed | BlockReason:
    difference = autotask_total - expected.total
    if difference == 0:
        return GuardPassed()
    figures = (
        f"Xero would total {currency} {shown(expected.total)} but Autotask says "
        f"{shown(autotask_total)} (difference {shown(abs(difference))})"
    )
    if options.rounding_line and abs(difference) <= options.rounding_limit:
        return _rounding(difference, figures, catalog, options)
    if abs(difference) < options.tolerance:
        return GuardPassed(warning=f"{figures}: within the tolerance of {options.tolerance}")
    detail = (
        f"; lines taxed differently: {'; '.join(tax_differences[:3])}" if tax_differences else ""
    )
    more = f" and {len(tax_differences) - 3} more" if len(tax_differences) > 3 else ""
    fix = (
        "check the tax mappings against Autotask's tax rates"
        if tax_differences
        else "check the invoice in Autotask"
    )
    if not options.rounding_line and abs(difference) <= options.rounding_limit:
        fix += ", or turn on the rounding line in Settings → Invoices"
    return BlockReason("totals", f"{figures}{detail}{more}; {fix}")


def _rounding(
    difference: Decimal, figures: str, catalog: OrgCatalog, options: MappingOptions
) -> GuardPassed | BlockReason:
    wanted = (options.rounding_account_code or "").strip()
    account = catalog.account(wanted) if wanted else catalog.rounding_account()
    where = f"account {wanted}" if wanted else "the ROUNDING system account"
    if account is None or not is_active(account):
        state = "is missing" if account is None else "is not active"
        return BlockReason(
            "totals",
            f"{figures}; a rounding line needs {where}, which {state} in {catalog.name}: set the "
            "rounding account in Settings → Invoices",
        )
    tax_type = _no_tax_type(catalog, account)
    if tax_type is None:
        return BlockReason(
            "totals",
            f"{figures}; a rounding line needs an active 0% tax rate allowed on account "
            f"{describe_account(account)}, and {catalog.name} has none",
        )
    rule = f"rounding line: {figures} → {describe_account(account)}, {tax_type}"
    return GuardPassed(RoundingLine(text(account, "Code"), tax_type, difference, rule))


def _no_tax_type(catalog: OrgCatalog, account: Record) -> str | None:
    flag = CLASS_TAX_FLAG.get(text(account, "Class"))
    usable = sorted(
        text(rate, "TaxType")
        for rate in catalog.tax_rates
        if text(rate, "TaxType")
        and is_active(rate)
        and decimal_field(rate, "EffectiveRate") == 0
        and (flag is None or rate.get(flag) is not False)
    )
    preferred = [t for t in _PREFERRED_NO_TAX if t in usable]
    choices = preferred or usable
    return choices[0] if choices else None
