"""Autotask's wire values: JSON with exact decimals, and UTC date-times without a zone.

Times are UTC; requests send ``yyyy-mm-ddThh:mm:ss.fff``; answers carry no ``Z``; date-only
fields such as ``paidDate`` hold midnight and are not zone-converted (reference §6, §10).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx


def decode(response: httpx.Response) -> Any:
    """The JSON body with numbers that have a fraction as Decimal: money stays exact."""
    if not response.content:
        return None
    return json.loads(response.content, parse_float=Decimal)


def as_utc(value: datetime) -> datetime:
    """Autotask's zone-less times are UTC; an aware time is converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """A date-time as Autotask wants it: UTC, milliseconds, no zone (a naive value is UTC)."""
    moment = as_utc(value)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def format_date(value: date) -> str:
    """A date-only field (``paidDate``): the date at midnight; a datetime gives its UTC date."""
    day = as_utc(value).date() if isinstance(value, datetime) else value
    return f"{day.isoformat()}T00:00:00.000"


def parse_datetime(value: Any) -> datetime | None:
    """An aware UTC datetime from Autotask's text (up to 7 fractional digits), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        # .NET writes up to 7 fractional digits; Python reads at most 6.
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        return None
