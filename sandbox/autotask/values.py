"""Autotask wire values: date-times without a zone, and the coercions its query engine applies.

Times are UTC; clients send ``yyyy-mm-ddThh:mm:ss.ms`` and responses carry no ``Z``; date-only
fields (``paidDate``) hold midnight (reference §6).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

_FRACTION = re.compile(r"(\.\d{1,6})\d*")


class ValueProblem(ValueError):
    """A value that does not fit the field's type."""


def parse_datetime(value: Any) -> datetime | None:
    """A naive UTC datetime from an ISO string, with or without ms, ``Z`` or an offset."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # .NET writes up to 7 fractional digits; Python reads at most 6.
    text = _FRACTION.sub(r"\1", text, count=1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def format_datetime(value: datetime) -> str:
    """How Autotask answers a date-time: no zone, milliseconds only when there are any."""
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    millis = value.microsecond // 1000
    if millis:
        text += f".{millis:03d}".rstrip("0")
    return text


def coerce(kind: str, value: Any) -> Any:
    """A filter value converted to the field's type, as the engine binds it, or ValueProblem."""
    if kind in ("integer", "long"):
        if isinstance(value, bool):
            raise ValueProblem(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            return int(value)
        raise ValueProblem(value)
    if kind == "double":
        if isinstance(value, bool):
            raise ValueProblem(value)
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError as exc:
                raise ValueProblem(value) from exc
        raise ValueProblem(value)
    if kind == "boolean":
        # "Booleans must be literal true/false" (reference §5, REST API calls).
        if isinstance(value, bool):
            return value
        raise ValueProblem(value)
    if kind == "datetime":
        parsed = parse_datetime(value)
        if parsed is None:
            raise ValueProblem(value)
        return parsed
    if isinstance(value, list | dict):
        raise ValueProblem(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def stored(kind: str, value: Any) -> Any:
    """A record's own value in comparable form (None when absent or unreadable)."""
    if value is None:
        return None
    try:
        return coerce(kind, value)
    except ValueProblem:
        return None


def sortable(value: Any) -> Any:
    """Strings compare case-insensitively, like SQL Server's default collation."""
    return value.casefold() if isinstance(value, str) else value
