"""``map_invoice``: one Autotask invoice snapshot → a Xero invoice or credit note, or reasons.

Pure and total (DESIGN.md): no I/O, no clock (``options.today``), and for any input a
``MappedDocument`` or a ``Blocked`` — every lookup handles missing data, so the broad ``except``
in ``map_invoice`` is only a last line of defence (the property tests fail if it is ever reached).

Order of work:
1. structural checks that make the rest meaningless (voided, no company, no total, no lines,
   figures out of range): block at once;
2. the billing items must add up to the invoice total, else lines are missing (an API user
   without some lines of business, or items still being attached: autotask-api §13 pitfalls 6-7);
3. contact, currency, every line (amounts, account, tax, item), header; all problems collected;
4. the tax guard on what Xero will compute (``guard``), maybe adding a rounding line.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from agent.autotask.records import BillingItem
from agent.mapping import header
from agent.mapping.accounts import AccountChoice, choose_account
from agent.mapping.catalog import OrgCatalog
from agent.mapping.contacts import ContactChoice, choose_contact
from agent.mapping.currency import CurrencyChoice, choose_currency
from agent.mapping.document import (
    Blocked,
    BlockReason,
    DocumentKind,
    LineProvenance,
    MappedDocument,
    MappingResult,
)
from agent.mapping.guard import GuardPassed, check_totals
from agent.mapping.inputs import InvoiceSnapshot, MappingOptions, MappingTables
from agent.mapping.lines import (
    LineAmounts,
    autotask_line_total,
    choose_item_code,
    line_amounts,
)
from agent.mapping.tax import TaxChoice, choose_tax, invoice_region
from agent.mapping.text import cut, description, single_line
from agent.mapping.totals import in_range, line_tax, money, shown, wire_number, xero_totals

_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED")
_NUMBERING = ("autotask", "xero")
_LOB_FIX = (
    "check the API user's line-of-business permissions in Autotask (or wait until Autotask has "
    "attached every item), then retry"
)


def map_invoice(
    snapshot: InvoiceSnapshot,
    tables: MappingTables,
    catalog: OrgCatalog,
    options: MappingOptions,
) -> MappingResult:
    """The Xero document for ``snapshot`` in ``catalog``'s organisation, or why there is none."""
    try:
        return _map(snapshot, tables, catalog, options)
    except Exception as exc:  # last line of defence only: mapping must never raise (DESIGN.md)
        invoice_id = getattr(getattr(snapshot, "invoice", None), "id", "?")
        return Blocked(
            (
                BlockReason(
                    "internal",
                    f"mapping invoice {invoice_id} failed unexpectedly ({type(exc).__name__}: "
                    f"{exc}); this is a bug in the agent: please report it",
                ),
            )
        )


def _map(
    snapshot: InvoiceSnapshot, tables: MappingTables, catalog: OrgCatalog, options: MappingOptions
) -> MappingResult:
    structural = list(_structural(snapshot, options))
    if structural or snapshot.company is None or snapshot.invoice.invoiceTotal is None:
        return Blocked.of(structural)
    company = snapshot.company
    autotask_total = money(snapshot.invoice.invoiceTotal)
    sign = -1 if autotask_total < 0 else 1
    kind: DocumentKind = "credit_note" if sign < 0 else "invoice"
    items = sorted(snapshot.items, key=lambda i: i.id)
    reasons: list[BlockReason] = []

    line_totals = [autotask_line_total(item) for item in items]
    if all(t is not None for t in line_totals):
        items_sum = sum((t for t in line_totals if t is not None), Decimal(0))
        if items_sum != autotask_total:
            reasons.append(
                BlockReason(
                    "items",
                    f"the {len(items)} billing items visible add up to {shown(items_sum)} but "
                    f"the invoice total is {shown(autotask_total)}; {_LOB_FIX}",
                )
            )

    contact = choose_contact(company, snapshot.billing_contact, tables, catalog)
    currency = choose_currency(snapshot, tables, catalog)
    region = invoice_region(snapshot)
    lines: list[tuple[BillingItem, LineAmounts, AccountChoice, TaxChoice, str | None, str]] = []
    built_lines: list[dict[str, Any]] = []
    provenance: list[LineProvenance] = []
    for item in items:
        code = (
            None if item.billingCodeID is None else snapshot.billing_codes.get(item.billingCodeID)
        )
        amounts = line_amounts(item, sign)
        account = choose_account(item, code, tables, catalog, options)
        on_account = account.account if isinstance(account, AccountChoice) else None
        tax = choose_tax(snapshot, item, code, on_account, region, tables, catalog, options)
        item_code = choose_item_code(item, snapshot, tables, catalog)
        found = [r for r in (amounts, account, tax, item_code) if isinstance(r, BlockReason)]
        if found:
            reasons.extend(found)
            continue
        assert isinstance(amounts, LineAmounts) and isinstance(account, AccountChoice)
        assert isinstance(tax, TaxChoice) and isinstance(item_code, tuple)
        text, text_note = description(item.description, item.itemName)
        lines.append((item, amounts, account, tax, item_code[0], text))
        built_lines.append(_line(text, amounts, account.code, tax.tax_type, item_code[0]))
        provenance.append(
            LineProvenance(
                item.id,
                account.rule,
                tax.rule,
                item_code[1],
                amounts.rule,
                (text_note,) if text_note else (),
            )
        )

    dates = header.dates(snapshot, options.today)
    number = header.document_number(snapshot, kind, options)
    theme = header.branding_theme(snapshot, tables, catalog, options)
    reasons.extend(r for r in (contact, currency, number, theme) if isinstance(r, BlockReason))
    if reasons:
        return Blocked.of(reasons)
    assert isinstance(contact, ContactChoice) and isinstance(currency, CurrencyChoice)
    assert isinstance(number, tuple) and isinstance(theme, tuple)

    doc_total = autotask_total * sign
    expected = xero_totals((amounts.amount, tax.rate) for _, amounts, _, tax, _, _ in lines)
    differences = [
        f"billing item {item.id}: Autotask tax {shown(money(item.taxDollars) * sign)}, Xero "
        f"{tax.tax_type} at {tax.rate.normalize():f}% gives {shown(xero_tax)}"
        for item, amounts, _, tax, _, _ in lines
        if item.taxDollars is not None
        and money(item.taxDollars) * sign != (xero_tax := line_tax(amounts.amount, tax.rate))
    ]
    guard = check_totals(expected, doc_total, currency.code, options, catalog, differences)
    if isinstance(guard, BlockReason):
        return Blocked((guard,))
    warnings = [*contact.warnings, *_passed_warnings(guard)]
    if dates.rule != "invoiceDateTime":
        warnings.append(f"date: {dates.rule}")
    if guard.rounding is not None:
        rounding = guard.rounding
        label = single_line(options.rounding_description, 200) or "Rounding adjustment"
        one = LineAmounts(Decimal(1), rounding.amount, rounding.amount, f"1 x {rounding.amount}")
        built_lines.append(_line(cut(label, 4000), one, rounding.account_code, rounding.tax_type))
        provenance.append(
            LineProvenance(None, rounding.rule, f"{rounding.tax_type} (0%)", "none", one.rule)
        )
        expected = xero_totals(
            [(amounts.amount, tax.rate) for _, amounts, _, tax, _, _ in lines]
            + [(rounding.amount, Decimal(0))]
        )

    payload: dict[str, Any] = {
        "Type": "ACCREC" if kind == "invoice" else "ACCRECCREDIT",
        "Contact": dict(contact.reference),
        "Date": dates.date.isoformat(),
        "LineAmountTypes": "Exclusive",
        "LineItems": built_lines,
        "CurrencyCode": currency.code,
        "Status": options.status,
    }
    if dates.due is not None:
        payload["DueDate"] = dates.due.isoformat()
    if number[0] is not None:
        payload["InvoiceNumber" if kind == "invoice" else "CreditNoteNumber"] = number[0]
    reference = header.reference(snapshot)
    if reference:
        payload["Reference"] = reference
    if theme[0] is not None:
        payload["BrandingThemeID"] = theme[0]
    kind_rule = (
        f"invoice total {shown(autotask_total)} is negative: a credit note"
        if kind == "credit_note"
        else "an invoice"
    )
    return MappedDocument(
        kind=kind,
        payload=payload,
        contact_rule=contact.rule,
        new_contact=contact.new_contact,
        provenance=tuple(provenance),
        expected=expected,
        autotask_total=doc_total,
        number=number[0],
        header={
            "type": kind_rule,
            "currency": currency.rule,
            "tax_region": region.rule,
            "date": dates.rule,
            "due_date": dates.due_rule,
            "number": number[1],
            "branding_theme": theme[1],
        },
        warnings=tuple(warnings),
    )


def _passed_warnings(guard: GuardPassed) -> list[str]:
    return [f"totals: {guard.warning}"] if guard.warning else []


def _line(
    text: str,
    amounts: LineAmounts,
    account_code: str,
    tax_type: str,
    item_code: str | None = None,
) -> dict[str, Any]:
    line: dict[str, Any] = {
        "Description": text,
        "Quantity": wire_number(amounts.quantity),
        "UnitAmount": wire_number(amounts.unit_amount),
        "LineAmount": wire_number(amounts.amount),
        "AccountCode": account_code,
        "TaxType": tax_type,
    }
    if item_code:
        line["ItemCode"] = item_code
    return line


def _structural(snapshot: InvoiceSnapshot, options: MappingOptions) -> Iterator[BlockReason]:
    """Problems that make mapping meaningless; each names what to fix."""
    if options.status not in _STATUSES or options.numbering not in _NUMBERING:
        yield BlockReason(
            "options",
            f"status {options.status!r} / numbering {options.numbering!r} are not valid settings;"
            " fix them in Settings → Invoices",
        )
    if not (
        in_range(options.tolerance)
        and in_range(options.rounding_limit)
        and options.tolerance >= 0
        and options.rounding_limit >= 0
    ):
        yield BlockReason("options", "the tolerance and rounding limit must be small amounts ≥ 0")
    invoice = snapshot.invoice
    if invoice.isVoided:
        yield BlockReason("voided", f"invoice {invoice.id} is voided in Autotask; nothing to post")
    company = snapshot.company
    if company is None:
        yield BlockReason(
            "company",
            f"the invoice's company (id {invoice.companyID}) is not in the snapshot; check the API"
            " user can read it, then retry",
        )
    elif invoice.companyID is not None and company.id != invoice.companyID:
        yield BlockReason(
            "data", f"the snapshot pairs invoice {invoice.id} with another company ({company.id})"
        )
    if invoice.invoiceTotal is None:
        yield BlockReason("data", f"invoice {invoice.id} has no invoiceTotal in the snapshot")
    if not snapshot.items:
        yield BlockReason(
            "items",
            "the invoice has no billing items visible to the API user: check its "
            "line-of-business permissions",
        )
    strangers = [i.id for i in snapshot.items if i.invoiceID not in (None, invoice.id)]
    if strangers:
        yield BlockReason(
            "data", f"billing items {strangers[:5]} belong to another invoice than {invoice.id}"
        )
    figures = [("invoiceTotal", invoice.invoiceTotal), ("totalTaxValue", invoice.totalTaxValue)]
    for item in snapshot.items:
        figures += [
            (f"billing item {item.id} {name}", getattr(item, name))
            for name in ("quantity", "rate", "extendedPrice", "taxDollars", "totalAmount")
        ]
    for name, value in figures:
        if not in_range(value):
            yield BlockReason(
                "data", f"{name} {value} is beyond what mapping can post (±{10**10:,})"
            )
