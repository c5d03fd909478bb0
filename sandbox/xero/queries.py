"""`where`, `order` and paging for GET endpoints (reference §10 "where", "Paging").

Xero evaluates `where` as a Dynamic LINQ expression. The sandbox parses a well-defined subset and
refuses anything else with the 400 ``QueryParseException`` Xero itself gives for unparsable filters,
rather than return wrong results:

    expr   := term (("OR" | "||") term)*          term := factor (("AND" | "&&") factor)*
    factor := ("NOT" | "!") factor | "(" expr ")" | path op literal | path "." method "(" string ")"
              | path                              (a boolean field)
    op     := == | != | = | > | >= | < | <=       method := Contains | StartsWith | EndsWith
    literal:= "text" | number | true | false | null | Guid("...") | DateTime(y, m, d[, h, mi, s])

Field names are checked against the xero-python model of the element (``Invoice``, ``Contact``...),
case-insensitively, so `Contact.ContactID` and `Contact.Name` work and a misspelt field fails with
"No property or field 'X' exists in type 'Invoice'" (wording from XeroAPI/XeroAPI.Net#21).
String comparisons ignore case, like Xero's database collation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from xero_python.accounting import models as sdk_models

from sandbox.world import Record

Predicate = Callable[[Record], bool]
_METHODS = {"contains", "startswith", "endswith"}
_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>==|!=|>=|<=|&&|\|\||[><=!(),.])'
    r"|(?P<id>[A-Za-z_][A-Za-z0-9_]*))"
)
# Shorthands Xero accepts on documents: `ContactID == Guid(...)` means `Contact.ContactID`.
_ALIASES = {"contactid": ["Contact", "ContactID"], "contactnumber": ["Contact", "ContactNumber"]}


class QueryError(ValueError):
    """A `where` or `order` the sandbox cannot evaluate; answered as 400 QueryParseException."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise QueryError(f"Syntax error at position {pos} of the where clause: {text[pos:]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def resolve_path(element: str, segments: list[str]) -> list[str]:
    """Canonical wire names for a dotted path, checked against the SDK model of ``element``."""
    if segments and segments[0].lower() in _ALIASES and element != "Contact":
        segments = _ALIASES[segments[0].lower()] + segments[1:]
    resolved: list[str] = []
    type_name = element
    for segment in segments:
        model = getattr(sdk_models, type_name, None)
        names = {
            wire.lower(): (attr, wire) for attr, wire in getattr(model, "attribute_map", {}).items()
        }
        if segment.lower() not in names:
            raise QueryError(f"No property or field '{segment}' exists in type '{type_name}'")
        attr, wire = names[segment.lower()]
        resolved.append(wire)
        type_name = model.openapi_types[attr]  # type: ignore[union-attr]
    return resolved


def lookup(record: Record, path: list[str]) -> Any:
    value: Any = record
    for name in path:
        value = value.get(name) if isinstance(value, dict) else None
    return value


class _Parser:
    def __init__(self, text: str, element: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.element = element

    def peek(self, offset: int = 0) -> tuple[str, str]:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if value is not None and token[1].lower() != value.lower():
            raise QueryError(f"Expected '{value}' but found '{token[1] or 'end of expression'}'")
        self.pos += 1
        return token

    def parse(self) -> Predicate:
        predicate = self.expr()
        if self.peek()[0] != "end":
            raise QueryError(f"Unexpected '{self.peek()[1]}' in the where clause")
        return predicate

    def expr(self) -> Predicate:
        parts = [self.term()]
        while self.peek()[1].lower() in ("or", "||"):
            self.take()
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def term(self) -> Predicate:
        parts = [self.factor()]
        while self.peek()[1].lower() in ("and", "&&"):
            self.take()
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def factor(self) -> Predicate:
        token = self.peek()
        if token[1].lower() in ("not", "!"):
            self.take()
            inner = self.factor()
            return lambda r: not inner(r)
        if token[1] == "(":
            self.take()
            inner = self.expr()
            self.take(")")
            return inner
        if token[0] != "id":
            raise QueryError(f"Expected a field name but found '{token[1] or 'end of expression'}'")
        segments = [self.take()[1]]
        method = None
        while self.peek()[1] == ".":
            self.take()
            name = self.take()[1]
            if name.lower() in _METHODS and self.peek()[1] == "(":
                method = name.lower()
                break
            segments.append(name)
        path = resolve_path(self.element, segments)
        if method:
            self.take("(")
            kind, raw = self.take()
            self.take(")")
            if kind != "str":
                raise QueryError(f"{method} expects a string argument")
            needle = _unquote(raw).casefold()
            test = {
                "contains": str.__contains__,
                "startswith": str.startswith,
                "endswith": str.endswith,
            }[method]
            return lambda r: isinstance(v := lookup(r, path), str) and test(v.casefold(), needle)
        op = self.peek()[1]
        if op not in ("==", "!=", "=", ">", ">=", "<", "<="):
            return lambda r: lookup(r, path) is True
        self.take()
        literal = self.literal()
        return lambda r: compare(lookup(r, path), "==" if op == "=" else op, literal)

    def literal(self) -> Any:
        kind, raw = self.take()
        if kind == "str":
            return _unquote(raw)
        if kind == "num":
            return Decimal(raw)
        word = raw.lower()
        if word in ("true", "false"):
            return word == "true"
        if word == "null":
            return None
        if word == "guid" and self.peek()[1] == "(":
            self.take("(")
            kind, value = self.take()
            self.take(")")
            if kind != "str":
                raise QueryError("Guid expects a quoted string")
            return _unquote(value)
        if word == "datetime" and self.peek()[1] == "(":
            self.take("(")
            numbers: list[int] = []
            while True:
                kind, value = self.take()
                if kind != "num":
                    raise QueryError("DateTime expects numbers: DateTime(year, month, day)")
                numbers.append(int(value))
                if self.take()[1] == ")":
                    break
            if not 3 <= len(numbers) <= 6:
                raise QueryError("DateTime expects 3 to 6 numbers: DateTime(year, month, day)")
            year, month, day, hour, minute, second = (*numbers, 0, 0, 0)[:6]
            try:
                return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
            except (TypeError, ValueError) as exc:
                raise QueryError(f"Invalid DateTime: {exc}") from exc
        raise QueryError(f"Unsupported value '{raw}' in the where clause")


def _unquote(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw[1:-1])


def _type_name(value: Any) -> str:
    return {
        str: "String",
        Decimal: "Decimal",
        bool: "Boolean",
        datetime: "DateTime",
        date: "DateTime",
    }.get(type(value), type(value).__name__)


def compare(left: Any, op: str, right: Any) -> bool:
    if left is None or right is None:
        return (left is right) if op == "==" else (left is not right) if op == "!=" else False
    if isinstance(left, date) and not isinstance(left, datetime):
        left = datetime(left.year, left.month, left.day, tzinfo=UTC)
    if isinstance(left, int | float) and not isinstance(left, bool):
        left = Decimal(str(left))
    if isinstance(left, str) and isinstance(right, str):
        left, right = left.casefold(), right.casefold()
    elif type(left) is not type(right):
        raise QueryError(
            f"Operator '{op}' incompatible with operand types '{_type_name(left)}' and "
            f"'{_type_name(right)}'"
        )
    result: bool = {
        "==": left == right,
        "!=": left != right,
        ">": left > right,
        ">=": left >= right,
        "<": left < right,
        "<=": left <= right,
    }[op]
    return result


def where(records: list[Record], clause: str | None, element: str) -> list[Record]:
    if not clause or not clause.strip():
        return records
    predicate = _Parser(clause, element).parse()
    return [r for r in records if predicate(r)]


def order(records: list[Record], clause: str | None, element: str) -> list[Record]:
    if not clause or not clause.strip():
        return records
    result = list(records)
    for part in reversed([p.strip() for p in clause.split(",") if p.strip()]):
        words = part.split()
        if len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
            raise QueryError(f"Invalid order clause '{part}'")
        path = resolve_path(element, words[0].split("."))
        descending = len(words) == 2 and words[1].upper() == "DESC"

        def key(record: Record, path: list[str] = path) -> tuple[bool, Any]:
            value = lookup(record, path)
            return (value is not None, value.casefold() if isinstance(value, str) else value)

        result.sort(key=key, reverse=descending)
    return result


def paginate(
    records: list[Record], page: int | None, page_size: int | None
) -> tuple[list[Record], dict[str, int] | None]:
    """Xero pages when `page` is given: 100 per page by default, `pageSize` up to 1,000."""
    if page is None:
        return records, None
    size = min(max(page_size or 100, 1), 1000)
    page = max(page, 1)
    count = len(records)
    chunk = records[(page - 1) * size : page * size]
    pages = (count + size - 1) // size
    return chunk, {"page": page, "pageSize": size, "pageCount": pages, "itemCount": count}
