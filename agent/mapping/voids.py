"""What to do in Xero with a document whose Autotask invoice was voided (issue 5 §5), decided
from the document as Xero shows it now. Pure: no I/O.

Xero's rules (reference xero-api §11 "Status"): a DRAFT or SUBMITTED invoice or credit note can
be DELETED; an AUTHORISED one can be VOIDED only while nothing is applied to it (invoice:
``AmountPaid`` and ``AmountCredited`` zero; credit note: ``AppliedAmount`` zero, i.e. no
allocation or refund); a PAID one, or one with payments or allocations, cannot be voided until
they are removed ("This document cannot be edited as it has a payment or credit note allocated
to it."). DELETED and VOIDED are final: the work is done already (after a crash, say).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

Action = Literal["delete", "void", "done", "blocked"]
ZERO = Decimal("0")
DELETABLE = frozenset({"DRAFT", "SUBMITTED"})
FINAL = frozenset({"DELETED", "VOIDED"})


@dataclass(frozen=True)
class VoidDecision:
    action: Action
    status: str  # the document's Xero status when decided ("" when unknown)
    target: str | None = None  # the Status to send: DELETED or VOIDED
    reason: str | None = None  # blocked: what is wrong and what to do


def _amount(record: dict[str, Any], name: str) -> Decimal:
    try:
        return Decimal(str(record.get(name) or 0))
    except (InvalidOperation, ValueError):
        return ZERO


def applied(kind: str, record: dict[str, Any]) -> tuple[Decimal, Decimal]:
    """(paid, credited) applied to the document: for a credit note, (refunds and allocations,
    0), from ``AppliedAmount`` (or its ``Total`` less ``RemainingCredit``)."""
    if kind == "credit_note":
        used = _amount(record, "AppliedAmount")
        if not used and record.get("RemainingCredit") is not None:
            used = _amount(record, "Total") - _amount(record, "RemainingCredit")
        return max(used, ZERO), ZERO
    return _amount(record, "AmountPaid"), _amount(record, "AmountCredited")


def decide_void(kind: str, record: dict[str, Any] | None, label: str) -> VoidDecision:
    """``kind``: "invoice" or "credit_note"; ``record``: the document read from Xero (None when
    Xero does not know it); ``label``: how to name it in a reason ("Xero invoice INV-0042")."""
    noun = "credit note" if kind == "credit_note" else "invoice"
    if record is None:
        return VoidDecision(
            "blocked",
            "",
            reason=(
                f"void: the Autotask invoice was voided, but Xero no longer finds its {noun}"
                f" ({label}); check the organisation in Xero, void or delete the {noun} there by"
                " hand if it exists, then skip this row"
            ),
        )
    status = str(record.get("Status") or "").upper()
    if status in FINAL:
        return VoidDecision("done", status)
    if status in DELETABLE:
        return VoidDecision("delete", status, target="DELETED")
    paid, credited = applied(kind, record)
    if status == "AUTHORISED" and paid == ZERO and credited == ZERO:
        return VoidDecision("void", status, target="VOIDED")
    if status in ("AUTHORISED", "PAID"):
        return VoidDecision("blocked", status, reason=blocked_reason(kind, label, paid, credited))
    return VoidDecision(
        "blocked",
        status,
        reason=(
            f"void: the Autotask invoice was voided, but {label} is {status or 'in an unknown'}"
            f" status, which the agent does not void; void it in Xero by hand, then skip this row"
        ),
    )


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def blocked_reason(kind: str, label: str, paid: Decimal, credited: Decimal) -> str:
    noun = "credit note" if kind == "credit_note" else "invoice"
    article = "a" if kind == "credit_note" else "an"
    if kind == "credit_note":
        what = f"{_money(paid)} of it is allocated to invoices or refunded"
        fix = "remove the allocations and refunds in Xero, then retry this row"
    else:
        parts = [
            f"{_money(paid)} paid" if paid else "",
            f"{_money(credited)} credited" if credited else "",
        ]
        what = (" and ".join(p for p in parts if p) or "a payment") + " on it"
        fix = "remove the payment (and any credit note allocation) in Xero, then retry this row"
    return (
        f"void: the Autotask invoice was voided, but {label} has payments or credit applied"
        f" ({what}), and Xero voids {article} {noun} only when nothing is applied to it; {fix},"
        " or void it in Xero by hand and skip this row"
    )
