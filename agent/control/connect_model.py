"""The values of a Xero connect flow: its errors, the one-time human codes, the redirected
address a user pastes back, and the ``Connection`` card of a connected organisation.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from agent.config import Settings
from agent.store import XeroConnection

# RFC 8628 §6.1: consonants only (no vowels, so no words; no 0/O or 1/I to confuse), 20^8
# codes. A wrong-code limit on /link (connect_pages) keeps guessing out of reach.
CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
CODE_LENGTH = 8

REFRESH_TOKEN_DAYS = 60  # an unused refresh token dies after 60 days (reference §3)
REFRESH_WARNING_DAYS = 14


class ConnectError(Exception):
    """A connect step that cannot go on: ``error`` (one line: the cause) and ``fix`` (one line:
    what to do). ``status`` is the HTTP status the control API answers with; ``flow`` the flow's
    dict when the error concerns a known flow (it is already published)."""

    status = 400

    def __init__(
        self, error: str, fix: str | None = None, *, flow: dict[str, Any] | None = None
    ) -> None:
        super().__init__(error)
        self.error = error
        self.fix = fix
        self.flow = flow

    def __str__(self) -> str:
        return f"{self.error}; {self.fix}" if self.fix else self.error

    def to_dict(self) -> dict[str, str | None]:
        return {"error": self.error, "fix": self.fix}


class ConnectNotConfigured(ConnectError):
    """Xero sign-in is not possible with the current settings (409 at the API)."""

    status = 409


class FlowFinished(ConnectError):
    """The flow is connected, failed or expired: nothing more can happen to it (409)."""

    status = 409


class UnknownFlow(ConnectError, KeyError):
    """No such flow (404). Also a KeyError, for callers that look flows up like a mapping."""

    status = 404

    def __str__(self) -> str:
        return ConnectError.__str__(self)


def new_human_code() -> str:
    chars = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{chars[:4]}-{chars[4:]}"


def normalise_code(typed: str) -> str:
    """What the user typed, as the canonical ``ABCD-EFGH`` (case, spaces and dashes ignored)."""
    chars = "".join(c for c in typed.upper() if c.isalnum())
    return f"{chars[:4]}-{chars[4:]}" if len(chars) == CODE_LENGTH else chars


def listen_address(settings: Settings) -> tuple[str, int]:
    host, _, port = settings.oauth_listen.rpartition(":")
    return host.strip("[]"), int(port)


def connection_card(
    conn: XeroConnection, now: datetime, short_code: str | None = None
) -> dict[str, Any]:
    """The control API's ``Connection`` object for a stored organisation (no token in it)."""
    days_left: float | None = None
    if conn.has_refresh_token:
        since = conn.last_refresh_at or conn.refresh_token_issued_at or conn.created_at
        days_left = round(REFRESH_TOKEN_DAYS - (now - since).total_seconds() / 86400, 1)
    warning = None
    if conn.status == "needs_reconnect":
        warning = "Xero refused the stored sign-in: reconnect this organisation"
    elif days_left is not None and days_left <= REFRESH_WARNING_DAYS:
        warning = (
            f"the Xero sign-in expires unused in {max(days_left, 0):g} day(s):"
            " run a sync or reconnect"
        )
    return {
        "tenant_id": conn.tenant_id,
        "name": conn.tenant_name,
        "short_code": short_code or None,
        "selected": True,
        "auth_mode": conn.auth_mode,
        "last_refresh_at": iso(conn.last_refresh_at),
        "access_expires_at": iso(conn.expires_at),
        "refresh_expires_in_days": days_left,
        "warning": warning,
        "paused_until": None,
    }


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@dataclass(frozen=True)
class CallbackParams:
    """What Xero put on the redirect: ``code`` and ``state``, or ``error``."""

    state: str | None
    code: str | None
    error: str | None


def parse_redirect(url: str) -> CallbackParams:
    """The parameters of a redirected address pasted from a browser's address bar (the whole
    address, or only its ``?code=...&state=...`` part)."""
    text = url.strip().strip("'\"<>").strip()
    if not text:
        raise ConnectError(
            "nothing was pasted",
            "paste the whole address from the browser's address bar after signing in to Xero",
        )
    query = urlsplit(text).query if "://" in text else text.split("?", 1)[-1]
    values = parse_qs(query.split("#", 1)[0], keep_blank_values=True)

    def one(name: str) -> str | None:
        found = values.get(name)
        return found[0].strip() if found and found[0].strip() else None

    params = CallbackParams(one("state"), one("code"), one("error"))
    if params.state is None:
        raise ConnectError(
            "that address has no state= part, so it is not the one Xero sent the browser to",
            "paste the whole address of the page that failed to load, starting with"
            " http://localhost",
        )
    return params
