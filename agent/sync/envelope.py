"""What an outbox row's payload holds: the mapped document and what posting it needs.

The payload is ``MappedDocument.to_dict()`` (the Xero document under ``"payload"``, per-line
provenance, expected totals, the contact to create first) plus the sync's own keys:

- ``company_id``: the Autotask company, to create its contact once per organisation;
- ``marker``: when Xero numbers the documents, the token written into ``Reference``
  (``AT#<Autotask invoice id>``) by which the document is found again after an unknown outcome
  (xero-api §12: without a number of our own, the Reference is the only natural key left);
- ``routing``: how the organisation was chosen;
- ``resync``: the row was already in Xero and the user asked to send it again: an update of that
  document (``InvoiceID`` / ``CreditNoteID``), never a second one.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from agent.mapping import InvoiceSnapshot, MappedDocument

VERSION = 1
REFERENCE_LIMIT = 255
MARKER_PREFIX = "AT#"
ID_FIELDS = {"invoice": "InvoiceID", "credit_note": "CreditNoteID"}
NUMBER_FIELDS = {"invoice": "InvoiceNumber", "credit_note": "CreditNoteNumber"}


def marker_for(autotask_id: int | str) -> str:
    return f"{MARKER_PREFIX}{autotask_id}"


def carries_marker(reference: str, marker: str) -> bool:
    """True when ``reference`` holds ``marker`` as a whole token (AT#12 is not in AT#123)."""
    pattern = rf"(?<![0-9A-Za-z#]){re.escape(marker)}(?![0-9])"
    return re.search(pattern, reference, flags=re.IGNORECASE) is not None


def with_marker(reference: str | None, marker: str) -> str:
    """The order number (cut if needed) followed by the marker: "PO1234 / AT#28310"."""
    base = (reference or "").strip()
    if not base:
        return marker
    room = REFERENCE_LIMIT - len(marker) - 3
    return f"{base[:room].rstrip()} / {marker}"


def build(
    mapped: MappedDocument,
    snapshot: InvoiceSnapshot,
    *,
    routing: str,
    resync: bool,
) -> dict[str, Any]:
    data = mapped.to_dict()
    data["version"] = VERSION
    data["company_id"] = snapshot.company.id if snapshot.company is not None else None
    data["routing"] = routing
    data["resync"] = resync
    data["marker"] = None
    if mapped.number is None:
        marker = marker_for(snapshot.invoice.id)
        data["marker"] = marker
        document = data["payload"]
        document["Reference"] = with_marker(document.get("Reference"), marker)
    return data


@dataclass(frozen=True)
class Envelope:
    """A read view of a stored payload."""

    data: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.data["kind"])

    @property
    def document(self) -> dict[str, Any]:
        """A copy of the Xero document, safe to change before sending."""
        found: dict[str, Any] = copy.deepcopy(self.data["payload"])
        return found

    @property
    def number(self) -> str | None:
        value = self.data.get("number")
        return str(value) if value else None

    @property
    def marker(self) -> str | None:
        value = self.data.get("marker")
        return str(value) if value else None

    @property
    def new_contact(self) -> dict[str, Any] | None:
        value = self.data.get("new_contact")
        return dict(value) if isinstance(value, dict) else None

    @property
    def company_id(self) -> int | None:
        value = self.data.get("company_id")
        return int(value) if value is not None else None

    @property
    def resync(self) -> bool:
        return bool(self.data.get("resync"))

    @property
    def xero_numbers_it(self) -> bool:
        return "number" in self.data and self.data["number"] is None

    @property
    def current(self) -> bool:
        """Written by this version, with what posting needs."""
        return self.data.get("version") == VERSION and isinstance(self.data.get("payload"), dict)
