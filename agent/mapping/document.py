"""What mapping returns: a Xero document with per-line provenance, or the reasons it cannot be one.

``MappedDocument.payload`` is the body of one element of Xero's ``Invoices`` or ``CreditNotes``
collection, in the PascalCase wire form of the OpenAPI schema (reference xero-api §11): plain JSON
values only (numbers as ``float``; every amount is bounded so its shortest ``repr`` is the exact
decimal, see ``totals.MAX_AMOUNT``), so it can be hashed, stored in the outbox and sent unchanged.
Exact figures (``Decimal``) live beside it for the tax guard, the dry run and the TUI.

``Blocked`` carries every reason found, not only the first, so one look at a blocked invoice shows
everything to fix. A reason that a mapping entry would fix names it (``mapping_type`` and
``source_key`` as in ``agent.store.mappings``), so the sync can re-queue the row when it changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

DocumentKind = Literal["invoice", "credit_note"]


@dataclass(frozen=True, slots=True)
class BlockReason:
    """One problem that stops an invoice, worded for the person who has to fix it.

    ``code`` is a short category: ``voided``, ``items``, ``data``, ``company``, ``contact``,
    ``account``, ``tax``, ``currency``, ``branding_theme``, ``item``, ``number``, ``totals``,
    ``options`` or ``internal`` (a bug: mapping raised).
    """

    code: str
    message: str
    mapping_type: str | None = None  # the mapping table whose entry would fix it, if any
    source_key: str | None = None  # that entry's key (agent.mapping.inputs.*_key)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.mapping_type is not None:
            found |= {"mapping_type": self.mapping_type, "source_key": self.source_key}
        return found


@dataclass(frozen=True, slots=True)
class Blocked:
    reasons: tuple[BlockReason, ...]

    @classmethod
    def of(cls, reasons: Iterable[BlockReason]) -> Blocked:
        """The reasons in order, each once (many lines often share one unmapped code)."""
        seen: dict[tuple[str, str], BlockReason] = {}
        for reason in reasons:
            seen.setdefault((reason.code, reason.message), reason)
        return cls(tuple(seen.values()))

    @property
    def messages(self) -> list[str]:
        return [str(reason) for reason in self.reasons]

    def to_dict(self) -> dict[str, Any]:
        return {"blocked": True, "reasons": [reason.to_dict() for reason in self.reasons]}


@dataclass(frozen=True, slots=True)
class LineProvenance:
    """How one Xero line was made: which rule chose each value, in words."""

    billing_item_id: int | None  # None for the rounding line
    account: str
    tax: str
    item: str
    amounts: str
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "billing_item_id": self.billing_item_id,
            "account": self.account,
            "tax": self.tax,
            "item": self.item,
            "amounts": self.amounts,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class Totals:
    """Xero's arithmetic for an Exclusive document: per-line tax rounded, then summed (§13)."""

    subtotal: Decimal
    tax: Decimal
    total: Decimal


@dataclass(frozen=True)
class MappedDocument:
    kind: DocumentKind
    payload: dict[str, Any]
    contact_rule: str  # how the contact was chosen
    new_contact: dict[str, Any] | None  # a Contacts element to create first; None = matched
    provenance: tuple[LineProvenance, ...]  # one per payload line, same order
    expected: Totals  # what Xero will compute for the payload
    autotask_total: Decimal  # Autotask's invoiceTotal, in the document's sign (positive credit)
    number: str | None  # InvoiceNumber / CreditNoteNumber sent; None when Xero numbers it
    header: dict[str, str] = field(default_factory=dict)  # rule per header value (currency, ...)
    warnings: tuple[str, ...] = ()

    @property
    def expected_total(self) -> Decimal:
        return self.expected.total

    @property
    def collection(self) -> str:
        """The Xero collection the payload belongs to."""
        return "Invoices" if self.kind == "invoice" else "CreditNotes"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view for the dry run, the outbox and the TUI (amounts as exact strings)."""
        return {
            "kind": self.kind,
            "payload": self.payload,
            "contact_rule": self.contact_rule,
            "new_contact": self.new_contact,
            "provenance": [line.to_dict() for line in self.provenance],
            "expected": {
                "subtotal": str(self.expected.subtotal),
                "tax": str(self.expected.tax),
                "total": str(self.expected.total),
            },
            "autotask_total": str(self.autotask_total),
            "number": self.number,
            "header": dict(self.header),
            "warnings": list(self.warnings),
        }


MappingResult = MappedDocument | Blocked
