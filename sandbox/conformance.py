"""Checks of request and response bodies against the official API descriptions (placeholder).

The real implementation loads sandbox/specs/ (verbatim copies of shared/specs) once per process.
"""

from __future__ import annotations

from typing import Any, Literal

Service = Literal["autotask", "xero"]


def request_errors(service: Service, schema: str, body: Any, *, partial: bool = False) -> list[str]:
    """Problems with a request body, one readable line each; [] when it conforms.

    ``schema`` is a definition name in the service's description: Autotask Swagger
    ``definitions`` (e.g. ``"InvoiceModel"``, ``"QueryModel"``) or Xero OpenAPI
    ``components.schemas`` (e.g. ``"Invoices"``, ``"CreditNotes"``, ``"Contacts"``).
    Unknown (e.g. misspelled) field names are errors, at any depth. ``partial=True`` skips
    required-field checks (PATCH bodies).
    """
    return []
