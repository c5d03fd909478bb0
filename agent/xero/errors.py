"""Errors the Xero client raises on purpose.

Every message is one line naming the cause and the fix, and never holds a token, a secret or an
``Authorization`` header: tokens only ever travel inside request headers built in ``transport``
and form bodies built in ``tokens``, and neither is quoted back in an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

MAX_TEXT = 400


def one_line(text: str, limit: int = MAX_TEXT) -> str:
    """Collapse whitespace (Xero texts can hold newlines) and cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def org_label(tenant_id: str, tenant_name: str | None) -> str:
    return f'"{tenant_name}"' if tenant_name else f"organisation {tenant_id}"


class XeroError(Exception):
    """Base class. ``partial_results`` holds the per-document results of the batches that
    completed before a multi-batch ``post_documents`` was interrupted by this error."""

    partial_results: Sequence[Any] = ()


class XeroConfigError(XeroError):
    """A setting the client needs is missing or unusable; the message names the ATX_ variable."""


class XeroAuthError(XeroError):
    """The connection cannot be used until a person acts (reconnect, fix the app's settings)."""

    def __init__(self, message: str, *, tenant_id: str | None = None) -> None:
        super().__init__(one_line(message))
        self.tenant_id = tenant_id

    @classmethod
    def revoked(cls, tenant_id: str, tenant_name: str | None) -> XeroAuthError:
        return cls(
            f"the Xero connection for {org_label(tenant_id, tenant_name)} was revoked or expired;"
            " reconnect it (atx xero connect)",
            tenant_id=tenant_id,
        )

    @classmethod
    def not_connected(cls, tenant_id: str, tenant_name: str | None = None) -> XeroAuthError:
        return cls(
            f"{org_label(tenant_id, tenant_name)} is not connected to Xero;"
            " connect it first (atx xero connect)",
            tenant_id=tenant_id,
        )


class XeroOrgPaused(XeroError):
    """Xero's daily call budget of one organisation is spent (reference §8 step 3): nothing is
    sent to it until ``until``. Not a failure of the documents: do not count an attempt."""

    def __init__(self, tenant_id: str, until: datetime, reason: str = "day") -> None:
        super().__init__(
            f"Xero's {reason} call limit for organisation {tenant_id} is used up; calls to it are"
            f" paused until {until:%Y-%m-%d %H:%M:%S} UTC and resume by themselves"
        )
        self.tenant_id = tenant_id
        self.until = until
        self.reason = reason


class XeroUnavailable(XeroError):
    """Xero (or the network) failed and retrying now did not help; try again later."""

    def __init__(self, what: str, cause: str) -> None:
        super().__init__(one_line(f"Xero {what} failed: {cause}; it will be tried again later"))
        self.what = what


class XeroOutcomeUnknown(XeroError):
    """A write may or may not have been applied (dropped connection, timeout, a server error
    after the 6-minute idempotency window). Look the documents up before posting them again
    (reference §9, §12)."""

    def __init__(self, what: str, cause: str, keys: Sequence[str] = ()) -> None:
        super().__init__(
            one_line(
                f"Xero {what}: no complete answer ({cause}); the documents may exist in Xero,"
                " so they are looked up by number before being posted again"
            )
        )
        self.what = what
        self.cause = cause
        self.keys = tuple(keys)


class XeroRequestError(XeroError):
    """Xero refused the request (4xx) and repeating it unchanged will not help."""

    def __init__(self, what: str, status: int, messages: Sequence[str], body: Any = None) -> None:
        self.what = what
        self.status = status
        self.messages = [one_line(m) for m in messages]
        self.body = body  # the parsed JSON answer (never printed: it may be large)
        text = "; ".join(self.messages) or "no error text"
        super().__init__(one_line(f"Xero {what} answered HTTP {status}: {text}"))


class XeroNotFound(XeroRequestError):
    """404: the record (or the endpoint) does not exist."""
