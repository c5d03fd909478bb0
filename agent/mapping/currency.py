"""The document's currency: the customer's, which Xero must have enabled (issue 3 §3).

Autotask amounts on invoices and billing items are in the customer's currency
(``Companies.currencyID``, autotask-api §8 and §13 pitfall 9). ``Currencies.name`` usually holds
the ISO code, but that is unconfirmed (§8), so the user's currency mapping comes first. Xero lists
only the currencies an organisation has enabled, and refuses the others ("Organisation is not
subscribed to currency …", xero-api §11); the base currency is always enabled.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.mapping.catalog import OrgCatalog
from agent.mapping.document import BlockReason
from agent.mapping.inputs import InvoiceSnapshot, MappingTables
from agent.mapping.text import single_line


@dataclass(frozen=True, slots=True)
class CurrencyChoice:
    code: str
    rule: str


def _is_iso(code: str) -> bool:
    return len(code) == 3 and code.isascii() and code.isalpha()


def choose_currency(
    snapshot: InvoiceSnapshot, tables: MappingTables, catalog: OrgCatalog
) -> CurrencyChoice | BlockReason:
    record = snapshot.currency
    if record is None:
        return BlockReason(
            "currency",
            "the customer's currency is unknown (no Autotask currency in the snapshot); set the "
            "company's currency in Autotask",
        )
    key = str(record.id)
    mapped = tables.currencies.get(record.id, "").strip().upper()
    name = single_line(record.name, 60)
    if mapped:
        code, rule = mapped, f"currency mapping for Autotask currency {name or record.id}"
    else:
        code, rule = name.upper(), f'Autotask currency name "{name}"'
    if not _is_iso(code):
        return BlockReason(
            "currency",
            f'Autotask currency "{name}" (id {record.id}) is not an ISO currency code; map it '
            "in Mappings → Currencies",
            "currency",
            key,
        )
    if not catalog.currency_enabled(code):
        return BlockReason(
            "currency",
            f"currency {code} is not enabled in Xero organisation {catalog.name}; enable it in "
            "Xero Settings → Currencies, then refresh the catalogs",
            "currency",
            key,
        )
    return CurrencyChoice(code, f"{rule} → {code}")
