"""Xero's wire formats: `/Date(ms+0000)/` dates, money rounding, response envelopes, error bodies.

Records inside the simulated Xero keep Python values (``date``, ``datetime``, ``Decimal``); they
become Xero's JSON only here, on the way out. Keys starting with ``_`` are internal, never sent.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

from starlette.responses import Response

ZERO_GUID = "00000000-0000-0000-0000-000000000000"
PROVIDER_NAME = "ATX Sandbox"

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})")

CENT = Decimal("0.01")
FOUR_DP = Decimal("0.0001")


# -- numbers --------------------------------------------------------------------------------------


def to_decimal(value: Any) -> Decimal:
    """A JSON number or numeric string as Decimal; ValueError when it is not a number."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a number: {value!r}")
    try:
        # str() first: a float like 0.1 must become Decimal("0.1"), not its binary expansion.
        result = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"not a number: {value!r}")
    return result


def money(value: Decimal) -> Decimal:
    """Round to cents, half away from zero (how Xero rounds line and tax amounts, reference §13)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def unit_amount(value: Decimal, unitdp: int) -> Decimal:
    """Unit prices keep 4 dp only when the request opted in with unitdp=4 (reference §10)."""
    return value.quantize(FOUR_DP if unitdp == 4 else CENT, rounding=ROUND_HALF_UP)


# -- dates ----------------------------------------------------------------------------------------


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def ms_date(value: date) -> str:
    """A date as Xero sends it: midnight UTC, `/Date(1552262400000+0000)/`."""
    return f"/Date({_epoch_ms(datetime.combine(value, time(tzinfo=UTC)))}+0000)/"


def ms_datetime(value: datetime) -> str:
    return f"/Date({_epoch_ms(value.astimezone(UTC))}+0000)/"


def parse_date(value: Any) -> date:
    """A document date as clients send it: `YYYY-MM-DD`, an ISO date-time, or `/Date(ms)/`.

    xero-python sends `/Date(ms)/` for date fields (its ``date[ms-format]``); hand-written clients
    send `YYYY-MM-DD` (reference §13). A time part is dropped, as Xero does for document dates.
    """
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r}")
    text = value.strip()
    match = _MS_DATE.match(text)
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC).date()
    match = _ISO_DATE.match(text)
    if match:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    raise ValueError(f"not a date: {value!r}")


def parse_datetime(value: Any) -> datetime:
    """A UTC moment from a datetime, `/Date(ms)/` or ISO-8601 text (naive means UTC)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(tzinfo=UTC))
    if not isinstance(value, str):
        raise ValueError(f"not a date-time: {value!r}")
    match = _MS_DATE.match(value.strip())
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC)
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_if_modified_since(header: str) -> datetime:
    """`If-Modified-Since`: ISO-8601 (what xero-python sends) or an HTTP date; UTC, to the second.

    Xero compares at one-second resolution (reference §10), so fractions are dropped.
    """
    try:
        moment = parse_datetime(header)
    except ValueError:
        moment = parsedate_to_datetime(header)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


# -- JSON -----------------------------------------------------------------------------------------


def to_wire(value: Any) -> Any:
    """Python values -> Xero JSON values; drops None and internal ``_`` keys."""
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items() if v is not None and not k.startswith("_")}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return ms_datetime(value)
    if isinstance(value, date):
        return ms_date(value)
    return value


def json_bytes(body: Any) -> bytes:
    return json.dumps(to_wire(body), separators=(",", ":")).encode()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json_bytes(body),
        status_code=status,
        headers=headers,
        media_type="application/json; charset=utf-8",
    )


def envelope(
    collection: str,
    items: list[dict[str, Any]],
    now: datetime,
    pagination: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The wrapper every Accounting response has: Id, Status, ProviderName, DateTimeUTC."""
    body: dict[str, Any] = {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": PROVIDER_NAME,
        # The envelope's DateTimeUTC carries no offset in Xero's own examples.
        "DateTimeUTC": f"/Date({_epoch_ms(now)})/",
    }
    if pagination is not None:
        body["pagination"] = pagination
    body[collection] = items
    return body


# -- error bodies ---------------------------------------------------------------------------------


def validation_exception(elements: list[dict[str, Any]]) -> dict[str, Any]:
    """The summarised 400 body (reference §10, Xero-OpenAPI#461)."""
    return {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": elements,
    }


def api_exception(number: int, kind: str, message: str) -> dict[str, Any]:
    """Other Accounting API exceptions, e.g. QueryParseException or PostDataInvalidException."""
    return {"ErrorNumber": number, "Type": kind, "Message": message}


def problem(status: int, title: str, detail: str) -> dict[str, Any]:
    """The problem-details body Xero's gateway uses for 401/403/429/5xx (pyxero#337), e.g.
    `{"Type":null,"Title":"Unauthorized","Status":401,"Detail":"TokenExpired: ..."}`."""
    return {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": str(uuid.uuid4()),
        "Extensions": {},
    }


def problem_response(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> Response:
    # json.dumps directly: to_wire would drop the explicit "Type": null Xero sends.
    body = json.dumps(problem(status, title, detail), separators=(",", ":")).encode()
    return Response(
        body, status_code=status, headers=headers, media_type="application/json; charset=utf-8"
    )


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "An error occurred",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def fault_error_body(status: int) -> bytes:
    """What an injected fault answers with, in the shape Xero uses for that status."""
    if status == 400:
        return json.dumps(
            api_exception(14, "PostDataInvalidException", "Sandbox fault: bad request")
        ).encode()
    detail = (
        "An error occurred in Xero. Check the API Status page http://status.developer.xero.com "
        "for current service status."
        if status >= 500
        else "Sandbox fault"
    )
    return json.dumps(problem(status, _TITLES.get(status, "Error"), detail)).encode()
