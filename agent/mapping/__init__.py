"""Mapping: an Autotask invoice snapshot + mappings + Xero catalogs -> a Xero document or reasons.

Pure functions only (DESIGN.md): no network, no database, no logging, no clock. The entry point is
``map_invoice``; its inputs are in ``inputs`` and ``catalog``, its outputs in ``document``.
"""

from agent.mapping.catalog import OrgCatalog
from agent.mapping.document import (
    Blocked,
    BlockReason,
    LineProvenance,
    MappedDocument,
    MappingResult,
    Totals,
)
from agent.mapping.inputs import (
    InvoiceSnapshot,
    MappingOptions,
    MappingTables,
    by_id,
    tax_key,
)
from agent.mapping.invoice import map_invoice

__all__ = [
    "BlockReason",
    "Blocked",
    "InvoiceSnapshot",
    "LineProvenance",
    "MappedDocument",
    "MappingOptions",
    "MappingResult",
    "MappingTables",
    "OrgCatalog",
    "Totals",
    "by_id",
    "map_invoice",
    "tax_key",
]
