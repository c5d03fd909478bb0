"""The query engine: a QueryModel body turned into a record predicate, with the real limits.

Rules reproduced (reference §5 unless noted):
- ``maxRecords``/``includeFields``/``filter`` in any letter case (Newtonsoft binds names
  case-insensitively; the Swagger examples use ``MaxRecords``...); field names likewise.
- A query needs a filter; ``maxRecords`` above 500 is an error.
- At most 500 OR conditions, counting every ``in`` value and every item of an ``or`` group.
- One UDF filter per query; an unknown field is "Unable to find <field> in the <Internal> Entity."
- An unknown *operator* is silently dropped and the query answers as if it were absent
  (measured live: ``ne`` instead of ``noteq`` returned every row, WYRE-AI/autotask-mcp#211, #282).
  In strict mode the sandbox refuses it instead, naming it.
- Strings compare case-insensitively; a null field matches no comparison (SQL semantics).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.autotask.errors import AutotaskError
from sandbox.autotask.schema import UDF_PROPERTY, Entity
from sandbox.autotask.values import ValueProblem, coerce, sortable, stored

Record = dict[str, Any]
Predicate = Callable[[Record], bool]

MAX_PAGE = 500
MAX_OR_CONDITIONS = 500
OR_LIMIT_TEXT = "Invalid query syntax. Queries are limited to 500 or fewer 'OR' conditions."

COMPARISONS = frozenset(
    {"eq", "noteq", "gt", "gte", "lt", "lte", "beginswith", "endswith", "contains"}
)
EXISTENCE = frozenset({"exist", "notexist"})
MEMBERSHIP = frozenset({"in", "notin"})
GROUPS = frozenset({"and", "or"})

_QUERY_KEYS = {"maxrecords": "maxRecords", "includefields": "includeFields", "filter": "filter"}
_FILTER_KEYS = {"op": "op", "field": "field", "value": "value", "udf": "udf", "items": "items"}


def _normalise_keys(obj: dict[str, Any], known: dict[str, str]) -> dict[str, Any]:
    return {known.get(key.lower(), key): value for key, value in obj.items()}


def _normalise_filter(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    out = _normalise_keys(item, _FILTER_KEYS)
    if isinstance(out.get("items"), list):
        out["items"] = [_normalise_filter(child) for child in out["items"]]
    return out


def normalise_body(body: Any) -> dict[str, Any]:
    """The QueryModel body with the Swagger's spelling of every known key."""
    if not isinstance(body, dict):
        raise AutotaskError("The query could not be read: the body must be a JSON object.")
    out = _normalise_keys(body, _QUERY_KEYS)
    if isinstance(out.get("filter"), list):
        out["filter"] = [_normalise_filter(item) for item in out["filter"]]
    return out


def body_for_conformance(body: dict[str, Any]) -> dict[str, Any]:
    """The body as the Swagger can check it: ``Filter.value`` is typed ``object`` there although
    it is documented as int, string, bool or an array, so values are left out of the check."""

    def strip(item: Any) -> Any:
        if not isinstance(item, dict):
            return item
        out = {k: v for k, v in item.items() if k != "value"}
        if isinstance(out.get("items"), list):
            out["items"] = [strip(child) for child in out["items"]]
        return out

    out = dict(body)
    if isinstance(out.get("filter"), list):
        out["filter"] = [strip(item) for item in out["filter"]]
    return out


@dataclass
class Query:
    entity: Entity
    max_records: int
    include_fields: list[str] | None
    predicate: Predicate
    body: dict[str, Any]

    def matches(self, record: Record) -> bool:
        return self.predicate(record)


@dataclass
class _Context:
    entity: Entity
    strict: bool
    or_conditions: int = 0
    udf_filters: int = 0
    dropped: list[str] = field(default_factory=list)


def parse(entity: Entity, raw_body: Any, *, strict: bool) -> Query:
    body = normalise_body(raw_body)
    max_records = _max_records(body.get("maxRecords"))
    include = _include_fields(entity, body.get("includeFields"))
    filters = body.get("filter")
    if filters is None or (isinstance(filters, list) and not filters):
        # apigrate/autotask-restapi#15: a query without a filter is refused.
        raise AutotaskError(
            "A query must contain at least one filter condition in the 'filter' collection."
        )
    if not isinstance(filters, list):
        raise AutotaskError("The query could not be read: 'filter' must be an array.")
    ctx = _Context(entity, strict)
    predicates = [p for p in (_compile(item, ctx) for item in filters) if p is not None]
    if ctx.or_conditions > MAX_OR_CONDITIONS:
        raise AutotaskError(OR_LIMIT_TEXT)
    if ctx.udf_filters > 1:
        raise AutotaskError("Only one user-defined field may be used in a query filter.")
    return Query(entity, max_records, include, _all(predicates), body)


def _max_records(value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)  # Json.NET binds a numeric string to an int
    if value is None or value == 0:
        return MAX_PAGE
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise AutotaskError("MaxRecords must be a whole number from 1 to 500.")
    if value > MAX_PAGE:
        raise AutotaskError("MaxRecords can not be greater than 500.")
    return value


def _include_fields(entity: Entity, value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AutotaskError("The query could not be read: 'includeFields' must be strings.")
    names: list[str] = []
    for requested in value:
        name = entity.field_name(requested)
        if name is None:
            raise AutotaskError(_unknown_field(entity, requested))
        if name not in names:
            names.append(name)
    return names or None


def _unknown_field(entity: Entity, name: str) -> str:
    return f"Unable to find {name} in the {entity.internal_name} Entity."


def _all(predicates: list[Predicate]) -> Predicate:
    return lambda record: all(p(record) for p in predicates)


def _any(predicates: list[Predicate]) -> Predicate:
    return lambda record: any(p(record) for p in predicates)


def _compile(item: Any, ctx: _Context) -> Predicate | None:
    if not isinstance(item, dict):
        raise AutotaskError("The query could not be read: each filter must be an object.")
    op = str(item.get("op") or "").lower()
    if op in GROUPS:
        children = item.get("items")
        if not isinstance(children, list):
            raise AutotaskError(f"The '{item.get('op')}' filter requires an 'items' collection.")
        if op == "or":
            ctx.or_conditions += len(children)
        compiled = [p for p in (_compile(child, ctx) for child in children) if p is not None]
        if not compiled:
            return None
        return _all(compiled) if op == "and" else _any(compiled)
    if op not in COMPARISONS | EXISTENCE | MEMBERSHIP:
        if ctx.strict:
            raise AutotaskError(
                f"Unknown filter operator '{item.get('op')}' (the real service ignores the "
                "condition silently; the sandbox refuses it in strict mode)."
            )
        ctx.dropped.append(str(item.get("op")))
        return None
    read, kind, name = _reader(item, ctx)
    return _condition(op, item, name, kind, read, ctx)


def _reader(item: dict[str, Any], ctx: _Context) -> tuple[Callable[[Record], Any], str, str]:
    """How to read the filtered field from a record, its kind ("udf" for a UDF) and its name."""
    entity = ctx.entity
    requested = item.get("field")
    if not isinstance(requested, str) or not requested:
        raise AutotaskError("Each filter condition requires a 'field'.")
    if item.get("udf") is True:
        if not entity.has_udfs:
            raise AutotaskError(_unknown_field(entity, requested))
        ctx.udf_filters += 1
        wanted = requested.lower()

        def read_udf(record: Record) -> Any:
            for udf in record.get(UDF_PROPERTY) or []:
                if str(udf.get("name", "")).lower() == wanted:
                    return udf.get("value")
            return None

        return read_udf, "udf", requested
    name = entity.field_name(requested)
    if name is None:
        raise AutotaskError(_unknown_field(entity, requested))
    if not entity.is_queryable(name):
        raise AutotaskError(f"{name} is not queryable in the {entity.internal_name} Entity.")
    kind = entity.kinds[name]
    return (lambda record: stored(kind, record.get(name))), kind, name


def _udf_value(value: Any) -> Any:
    """UDF values are strings on the wire; numbers compare as numbers when both sides are."""
    if isinstance(value, bool) or value is None:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value).casefold()


def _condition(
    op: str,
    item: dict[str, Any],
    name: str,
    kind: str,
    read: Callable[[Record], Any],
    ctx: _Context,
) -> Predicate:
    if op == "exist":
        return lambda record: read(record) is not None
    if op == "notexist":
        return lambda record: read(record) is None

    def bind(value: Any) -> Any:
        if kind == "udf":
            return _udf_value(value)
        try:
            return sortable(coerce(kind, value))
        except ValueProblem as exc:
            raise AutotaskError(
                f"Invalid value '{value}' for field {name} "
                f"({kind}) in the {ctx.entity.internal_name} Entity."
            ) from exc

    def current(record: Record) -> Any:
        raw = read(record)
        return _udf_value(raw) if kind == "udf" else sortable(raw)

    value = item.get("value")
    if op in MEMBERSHIP:
        if not isinstance(value, list):
            raise AutotaskError(f"The '{item.get('op')}' operator requires an array value.")
        if op == "in":
            ctx.or_conditions += len(value)
        members = {bind(v) for v in value}
        if op == "in":
            return lambda record: (v := current(record)) is not None and v in members
        return lambda record: (v := current(record)) is not None and v not in members
    if value is None or isinstance(value, list | dict):
        raise AutotaskError(f"The '{item.get('op')}' operator requires a single value.")
    bound = bind(value)
    return _comparison(op, bound, current)


def _comparison(op: str, bound: Any, current: Callable[[Record], Any]) -> Predicate:
    def test(record: Record) -> bool:
        v = current(record)
        if v is None:
            return False
        try:
            if op == "eq":
                return bool(v == bound)
            if op == "noteq":
                return bool(v != bound)
            if op == "gt":
                return bool(v > bound)
            if op == "gte":
                return bool(v >= bound)
            if op == "lt":
                return bool(v < bound)
            if op == "lte":
                return bool(v <= bound)
        except TypeError:
            return False
        text, needle = str(v).casefold(), str(bound).casefold()
        if op == "beginswith":
            return text.startswith(needle)
        if op == "endswith":
            return text.endswith(needle)
        return needle in text

    return test
