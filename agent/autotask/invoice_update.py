"""The invoice write-back: which fields a PATCH sends and how the read-back confirms them.

Only ``invoiceNumber``, ``webServiceDate`` and ``paidDate`` are writable (reference §8); a PATCH
sets fixed values, so sending it twice is harmless (see ``retry.py``). Autotask answers 200 even
when it ignores a field (reference §6), hence the read-back comparison.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from agent.autotask.records import Invoice
from agent.autotask.wire import as_utc, format_date, format_datetime


class Unset(enum.Enum):
    UNSET = "UNSET"


# "Not given", as opposed to None, which clears the field.
UNSET = Unset.UNSET


@dataclass(frozen=True)
class InvoiceUpdate:
    invoice_id: int
    invoice_number: str | Unset | None = UNSET
    web_service_date: datetime | Unset | None = UNSET
    paid_date: date | Unset | None = UNSET

    def body(self) -> dict[str, Any]:
        """The PATCH body: the id plus every field given (None sent as null, which clears)."""
        body: dict[str, Any] = {"id": int(self.invoice_id)}
        if not isinstance(self.invoice_number, Unset):
            body["invoiceNumber"] = self.invoice_number
        if not isinstance(self.web_service_date, Unset):
            moment = self.web_service_date
            body["webServiceDate"] = None if moment is None else format_datetime(moment)
        if not isinstance(self.paid_date, Unset):
            # Date only: midnight, not zone-converted (reference §6, §10).
            day = self.paid_date
            body["paidDate"] = None if day is None else format_date(day)
        return body

    def fields(self) -> list[str]:
        return [name for name in self.body() if name != "id"]

    def unapplied(self, after: Invoice) -> list[str]:
        """The fields the re-read invoice does not show as sent."""
        checks = (
            ("invoiceNumber", _same_text(self.invoice_number, after.invoiceNumber)),
            ("webServiceDate", _same_moment(self.web_service_date, after.webServiceDate)),
            ("paidDate", _same_day(self.paid_date, after.paidDate)),
        )
        return [name for name, ok in checks if not ok]


def _same_text(sent: str | Unset | None, found: str | None) -> bool:
    if isinstance(sent, Unset):
        return True
    return (sent or None) == (found or None)


def _same_moment(sent: datetime | Unset | None, found: datetime | None) -> bool:
    if isinstance(sent, Unset):
        return True
    if sent is None or found is None:
        return sent is None and found is None
    # Stored precision differs (SQL Server datetime keeps ~3 ms); a second is plenty.
    return abs(as_utc(sent) - found) < timedelta(seconds=1)


def _same_day(sent: date | Unset | None, found: datetime | None) -> bool:
    if isinstance(sent, Unset):
        return True
    if sent is None or found is None:
        return sent is None and found is None
    day = as_utc(sent).date() if isinstance(sent, datetime) else sent
    return found.date() == day
