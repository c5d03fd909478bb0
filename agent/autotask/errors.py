"""Errors the Autotask client raises on purpose.

Every message is one line, says what to do where there is something to do, and never contains a
secret: the Secret and ApiIntegrationCode headers are only ever read while building a request.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import httpx

MAX_TEXT = 500


def one_line(text: str, limit: int = MAX_TEXT) -> str:
    """Collapse whitespace (server texts can hold newlines) and cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def error_texts(response: httpx.Response) -> list[str]:
    """The ``{"errors": [...]}`` texts of an answer (reference §6), or a short cut of its body."""
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            return [one_line(str(e)) for e in errors]
        # ASP.NET's own 404/405 bodies: {"Message": "..."}.
        message = body.get("Message") or body.get("message")
        if isinstance(message, str):
            return [one_line(message)]
    text = one_line(response.text, 200) if response.content else ""
    return [text] if text else []


class AutotaskError(Exception):
    """Base class: anything the Autotask client refuses or gives up on."""


class AutotaskConfigError(AutotaskError):
    """A setting the client needs is missing or unusable; the message names the ATX_ variable."""


class AutotaskAuthError(AutotaskError):
    """Zone discovery or Autotask itself rejected the API user."""


class AutotaskApiError(AutotaskError):
    """Autotask answered an error that retrying will not fix (or retries ran out)."""

    def __init__(self, method: str, path: str, status: int, errors: Sequence[str]) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.errors = list(errors)
        text = "; ".join(self.errors) or "no error text"
        super().__init__(one_line(f"Autotask {method} {path} answered HTTP {status}: {text}"))


class AutotaskNetworkError(AutotaskError):
    """The request never got a complete answer (connect/read failure, timeout, dropped)."""

    def __init__(self, method: str, path: str, cause: str) -> None:
        self.method = method
        self.path = path
        super().__init__(one_line(f"Autotask {method} {path} failed: {cause}"))


class AutotaskUnsafeUrl(AutotaskError):
    """Autotask handed back a URL outside the zone; following it would send the credentials."""


class AutotaskWriteNotApplied(AutotaskError):
    """A PATCH answered 200 but re-reading the record shows the fields unchanged.

    Autotask silently ignores read-only or misspelled fields with a 200 (reference §6,
    WYRE-AI/autotask-mcp#87), so a write is only trusted once it has been read back.
    """

    def __init__(self, entity: str, record_id: int, fields: Sequence[str]) -> None:
        self.entity = entity
        self.record_id = record_id
        self.fields = list(fields)
        super().__init__(
            f"Autotask accepted the update of {entity} {record_id} but did not apply "
            f"{', '.join(self.fields)}; check the API user's security level allows editing "
            f"{entity}"
        )


class AutotaskBudgetExhausted(AutotaskError):
    """The tenant's shared hourly request budget is (nearly) spent and the client may not wait."""

    def __init__(
        self, used: int, threshold: int, window_minutes: int, resume_at: datetime | None
    ) -> None:
        self.used = used
        self.threshold = threshold
        self.window_minutes = window_minutes
        self.resume_at = resume_at
        share = used / threshold if threshold else 1.0
        when = f"; retry after {resume_at:%H:%M} UTC" if resume_at is not None else ""
        super().__init__(
            f"Autotask API budget {used:,} of {threshold:,} requests per {window_minutes} "
            f"minutes used ({share:.0%}); paused so the tenant's other integrations keep "
            f"working{when}"
        )
