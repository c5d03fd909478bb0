"""PATCH and PUT on the collection URL, for the two entities the agent writes.

- The id travels in the body; ``PATCH …/Invoices/{id}`` is a 405 (reference §6).
- Only the updatable fields change (``invoiceNumber``, ``webServiceDate``, ``paidDate`` on
  Invoices; ``webServiceDate`` on BillingItems); every other field, known or unknown, is silently
  ignored with a 200 (reference §6, WYRE-AI/autotask-mcp#87, n8n-nodes-autotask#23).
- PUT replaces the record: updatable fields left out of the body become null (reference §6).
- ``paidDate`` stores the date only (reference §10); null clears it.
"""

from __future__ import annotations

from typing import Any

from sandbox.autotask.errors import AutotaskError
from sandbox.autotask.schema import FIELD_LENGTHS, Entity
from sandbox.autotask.values import format_datetime, parse_datetime

DATE_ONLY_FIELDS = frozenset({("Invoices", "paidDate")})


def canonical_body(entity: Entity, body: dict[str, Any]) -> dict[str, Any]:
    """Known field names in the model's spelling (bound case-insensitively, like Newtonsoft)."""
    return {(entity.field_name(key) or key): value for key, value in body.items()}


def body_id(entity: Entity, body: Any) -> int:
    if not isinstance(body, dict):
        raise AutotaskError(f"The {entity.internal_name} could not be read from the request body.")
    value = canonical_body(entity, body).get("id")
    if isinstance(value, bool) or value is None:
        raise AutotaskError(f"An id is required to update a {entity.internal_name}.")
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if not isinstance(value, int):
        raise AutotaskError(f"'{value}' is not a valid id for a {entity.internal_name}.")
    return value


def changes(entity: Entity, body: dict[str, Any], *, replace: bool) -> dict[str, Any]:
    """The new values of the updatable fields; raises before anything is applied."""
    fields = canonical_body(entity, body)
    out: dict[str, Any] = {}
    for name in entity.updatable:
        if name not in fields:
            if replace:
                out[name] = None
            continue
        out[name] = _value(entity, name, fields[name])
    return out


def _value(entity: Entity, name: str, value: Any) -> Any:
    if value is None:
        return None
    kind = entity.kinds[name]
    if kind == "datetime":
        parsed = parse_datetime(value)
        if parsed is None:
            raise AutotaskError(f"'{value}' is not a valid date and time for {name}.")
        if (entity.name, name) in DATE_ONLY_FIELDS:
            parsed = parsed.replace(hour=0, minute=0, second=0, microsecond=0)
        return format_datetime(parsed)
    if isinstance(value, list | dict | bool):
        raise AutotaskError(f"'{value}' is not a valid value for {name}.")
    text = str(value)
    limit = FIELD_LENGTHS.get((entity.name, name))
    if limit is not None and len(text) > limit:
        raise AutotaskError(f"The value of {name} exceeds its maximum length of {limit}.")
    return text
