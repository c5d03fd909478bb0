"""Header fields: dates, number, reference and branding theme (issue 3 §3; xero-api §11-§13).

- ``Date`` is the Autotask invoice date, sent as a bare ``YYYY-MM-DD`` (a time would let Xero
  shift the day, §13). Autotask dates are midnight UTC (autotask-api §6), so the UTC date is it.
- ``DueDate`` is Autotask's due date, else the invoice date plus the payment term's days, else
  left out (Xero then applies the contact's or organisation's terms). A due date before the
  invoice date is raised to it.
- Numbers: with Autotask numbering, prefix + ``invoiceNumber`` (the invoice id when Autotask
  left the number blank, as its own template does, autotask-api §8); a prefix apart from Xero's
  own sequence avoids collisions (§12). With Xero numbering the number is left out and the sync
  writes Xero's back to Autotask.
- ``Reference`` is the Autotask order (PO) number.
- Branding theme: the mapping for the invoice's template (the company's template when the invoice
  names none), else the default theme from the settings, else none (Xero's default).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import timedelta

from agent.mapping.catalog import OrgCatalog
from agent.mapping.document import BlockReason, DocumentKind
from agent.mapping.inputs import InvoiceSnapshot, MappingOptions, MappingTables
from agent.mapping.text import clean, single_line

NUMBER_LIMIT = 255  # InvoiceNumber, CreditNoteNumber (spec)
REFERENCE_LIMIT = 255
MAX_TERM_DAYS = 3660


@dataclass(frozen=True, slots=True)
class Dates:
    date: dt.date
    due: dt.date | None
    rule: str
    due_rule: str


def dates(snapshot: InvoiceSnapshot, today: dt.date) -> Dates:
    invoice = snapshot.invoice
    if invoice.invoiceDateTime is not None:
        day, rule = invoice.invoiceDateTime.date(), "invoiceDateTime"
    else:
        day, rule = today, "no invoice date in Autotask: today"
    due: dt.date | None = None
    due_rule = "left to Xero (no due date or payment term)"
    term = snapshot.payment_term
    if invoice.dueDate is not None:
        due, due_rule = invoice.dueDate.date(), "Autotask due date"
    elif term is not None and term.paymentDueInDays is not None:
        days = min(max(term.paymentDueInDays, 0), MAX_TERM_DAYS, (dt.date.max - day).days)
        name = single_line(term.name, 60) or f"id {term.id}"
        due, due_rule = day + timedelta(days=days), f'payment term "{name}": {days} days'
    if due is not None and due < day:
        due, due_rule = day, f"{due_rule}, raised to the invoice date"
    return Dates(day, due, rule, due_rule)


def document_number(
    snapshot: InvoiceSnapshot, kind: DocumentKind, options: MappingOptions
) -> tuple[str | None, str] | BlockReason:
    if options.numbering == "xero":
        return None, "Xero numbers it (written back to Autotask after posting)"
    invoice = snapshot.invoice
    prefix = options.number_prefix
    if kind == "credit_note" and options.credit_note_prefix is not None:
        prefix = options.credit_note_prefix
    own = " ".join(clean(invoice.invoiceNumber).split())
    base, rule = (own, "Autotask invoice number") if own else (str(invoice.id), "Autotask id")
    # The prefix is kept as typed ("AT-", "INV "), only without control characters.
    number = clean(prefix).replace("\n", " ").replace("\t", " ").lstrip() + base
    if len(number) > NUMBER_LIMIT:
        return BlockReason(
            "number",
            f"the document number {number[:40]}… is longer than Xero's {NUMBER_LIMIT} characters;"
            " shorten the prefix in Settings → Invoices",
        )
    return number, f"{rule} with prefix {prefix!r}" if prefix else rule


def reference(snapshot: InvoiceSnapshot) -> str:
    return single_line(snapshot.invoice.orderNumber, REFERENCE_LIMIT)


def branding_theme(
    snapshot: InvoiceSnapshot, tables: MappingTables, catalog: OrgCatalog, options: MappingOptions
) -> tuple[str | None, str] | BlockReason:
    template_id = snapshot.invoice.invoiceEditorTemplateID
    if template_id is None and snapshot.company is not None:
        template_id = snapshot.company.invoiceTemplateID
    template = snapshot.template
    name = single_line(template.name if template else None, 80)
    label = f'invoice template "{name}" (id {template_id})' if name else f"template {template_id}"
    mapped = None if template_id is None else tables.branding_themes.get(template_id)
    if mapped:
        theme = catalog.branding_theme(mapped)
        if theme is None:
            return BlockReason(
                "branding_theme",
                f"the branding theme mapped for {label} is not in Xero organisation "
                f"{catalog.name}; map another in Mappings → Branding themes",
                "branding_theme",
                str(template_id),
            )
        return str(theme["BrandingThemeID"]), f'mapping for {label} → "{theme.get("Name")}"'
    default = (options.default_branding_theme_id or "").strip()
    if default:
        theme = catalog.branding_theme(default)
        if theme is None:
            return BlockReason(
                "branding_theme",
                f"the default branding theme is not in Xero organisation {catalog.name}; choose "
                "another in Settings → Invoices",
            )
        return str(theme["BrandingThemeID"]), f'default branding theme "{theme.get("Name")}"'
    return None, "Xero's default branding theme"
