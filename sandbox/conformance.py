"""Checks of request and response bodies against the official API descriptions.

Two layers, both driven by the vendored specs (``sandbox/specs``, loaded once per process by
``sandbox.spec_book``):

1. a strict **unknown-field** walk at every depth. Neither spec sets ``additionalProperties:
   false``, and both real services silently ignore fields they do not know (an Autotask PATCH with
   ``webServiceDte`` answers 200 and changes nothing), so a typo would otherwise pass every test;
2. schema validation of types, enums, lengths, ``format: uuid`` and ``required``.

Two engines give the same answers (the tests hold them to it on valid and broken bodies):

- ``"compiled"`` (the default): each schema compiled once into a node of small checks, run in the
  same walk as the unknown-field check. It implements exactly the keywords these specs use
  (``_COMPILED_KEYWORDS``) with Draft 4 / OAS 3.0 semantics, and validates a 50-invoice Xero
  batch in a few milliseconds.
- ``"jsonschema"``: the reference. ``jsonschema.Draft4Validator`` for the Swagger 2.0 definitions,
  ``openapi_schema_validator.OAS30Validator`` for Xero, both resolving ``$ref`` through a
  ``referencing`` registry; compiled once per schema name. About 10x slower (80 ms for 50
  eight-line invoices), so it only runs when a schema uses a keyword the compiled engine lacks.

Deliberate departures from a literal reading of the specs, each because the real service or the
official SDK behaves that way:

- Autotask field names match case-insensitively (the service binds JSON with Json.NET, and the
  Swagger's own ``QueryModel`` example writes ``MaxRecords``); errors name the canonical field.
- Autotask ``null`` is accepted for any field: Swagger 2.0 cannot say "nullable", yet every
  Autotask response carries nulls and clearing ``paidDate`` is a PATCH with null.
- Autotask ``format`` is not checked (date-times arrive without ``Z``); Xero checks only ``uuid``
  (dates are ``x-is-msdate`` strings, "2026-11-01" or the SDK's ``/Date(ms)/``).
- ``readOnly`` fields are not errors in requests: xero-python sends e.g. ``HasAttachments``.
- Free-form .NET ``object``: Autotask ``Object`` (e.g. ``OperationResultModel.itemId``, a number on
  the wire) and ``Filter.value`` (int, string, bool or array) accept any JSON value.
- Fields xero-python 15.x knows but spec 16.1.0 lacks are allowed (``_XERO_SDK_FIELDS``), and Xero
  collection responses may carry the envelope ``Id``/``Status``/``ProviderName``/``DateTimeUTC``.
"""

from __future__ import annotations

import difflib
import numbers
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal
from uuid import UUID

from jsonschema import Draft4Validator, FormatChecker
from openapi_schema_validator import OAS30Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4

from sandbox import schema_messages as messages
from sandbox.spec_book import (
    SCHEMA_POINTERS,
    Service,
    autotask_entity_model,
    find_operation,
    operation_request_schema,
    operation_response_schema,
    schema_name_of_ref,
    schemas,
)

__all__ = [
    "Service",
    "autotask_entity_model",
    "find_operation",
    "operation_request_schema",
    "operation_response_schema",
    "request_errors",
    "response_errors",
]

_ANY: dict[str, Any] = {}
_NUMBER: dict[str, Any] = {"type": "number", "format": "double"}
_STRING: dict[str, Any] = {"type": "string"}

# xero-python 15.x is generated from a newer spec revision than the vendored 16.1.0; these fields
# exist there (the SDK serialises them when set) and not in our copy.
_XERO_SDK_FIELDS: dict[str, dict[str, Any]] = {
    "Invoice": {"RoundingAmount": _NUMBER, "EnteredTotal": _NUMBER},
    "Item": {"QuantityOnBackOrder": _NUMBER, "QuantityAvailable": _NUMBER},
}
# Every Xero Accounting response wraps its collection in this envelope, which no schema lists.
_XERO_ENVELOPE: dict[str, Any] = {
    "Id": _STRING,
    "Status": _STRING,
    "ProviderName": _STRING,
    "DateTimeUTC": _STRING,
}


def request_errors(service: Service, schema: str, body: Any, *, partial: bool = False) -> list[str]:
    """Problems with a request body, one readable line each; [] when it conforms.

    ``schema`` is a definition name in the service's description: Autotask Swagger
    ``definitions`` (e.g. ``"InvoiceModel"``, ``"QueryModel"``) or Xero OpenAPI
    ``components.schemas`` (e.g. ``"Invoices"``, ``"CreditNotes"``, ``"Contacts"``); a
    ``"Name[]"`` suffix means a bare JSON array of them. Unknown (e.g. misspelled) field names
    are errors, at any depth. ``partial=True`` skips required-field checks (PATCH bodies).
    """
    return _book(service).errors(schema, body, partial=partial, envelope=False)


def response_errors(service: Service, schema: str, body: Any) -> list[str]:
    """Problems with a response body (or one record of it), one line each; [] when it conforms.

    Same checks as requests, unknown fields included: a sandbox response carrying a field the
    spec does not know is a sandbox bug. Required fields are checked.
    """
    return _book(service).errors(schema, body, partial=False, envelope=True)


# --- implementation -------------------------------------------------------------------------

_lock = threading.RLock()

Engine = Literal["compiled", "jsonschema"]


def _book(service: Service) -> _Book:
    with _lock:
        return _make_book(service)


@cache
def _make_book(service: str) -> _Book:
    return _Book(service)


# Keywords the compiled checker implements, or that assert nothing (annotations).
_COMPILED_KEYWORDS = frozenset(
    {
        "type", "format", "enum", "maxLength", "minLength", "items", "properties", "required",
        "$ref", "allOf", "nullable", "readOnly", "writeOnly", "description", "example",
        "externalDocs", "default", "title", "xml", "deprecated",
    }
)  # fmt: skip

Check = Callable[[Any, tuple[str | int, ...], list[str]], None]


@dataclass(eq=False)
class _Node:
    """One schema compiled for the walk: $ref and allOf followed, keywords turned into checks."""

    props: dict[str, Any] | None  # None: no declared properties (free-form object or scalar)
    folded: dict[str, str]  # casefolded name -> canonical name
    items: Any | None  # element schema of an array
    required: tuple[str, ...]
    checks: tuple[Check, ...]
    keep_alive: tuple[Any, ...] = ()  # synthetic schemas whose id() keys the node cache
    children: dict[str, _Node] = field(default_factory=dict)  # canonical name -> node, lazily


class _Book:
    """Patched schemas, compiled nodes and jsonschema validators for one service."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.pointer = SCHEMA_POINTERS[service]
        self.uri = f"urn:atx-spec:{service}"
        self.case_insensitive = service == "autotask"
        self.nulls_allowed = service == "autotask"
        self.oas = service != "autotask"
        self.defs = _patched_schemas(service)
        if service == "autotask":
            document: dict[str, Any] = {"definitions": self.defs}
        else:
            document = {"components": {"schemas": self.defs}}
        self.registry: Registry[Any] = Registry().with_resource(
            self.uri, DRAFT4.create_resource(document)
        )
        self._nodes: dict[int, _Node] = {}
        self._roots: dict[tuple[str, bool], dict[str, Any]] = {}
        self._validators: dict[tuple[str, bool], Any] = {}
        self._compilable: dict[tuple[str, bool], bool] = {}
        self._lock = threading.RLock()  # re-entrant: _validator builds its root under it

    # -- entry point

    def errors(
        self,
        name: str,
        body: Any,
        *,
        partial: bool,
        envelope: bool,
        engine: Engine | None = None,
    ) -> list[str]:
        base = name.removesuffix("[]")
        if base not in self.defs:
            raise KeyError(f"{self.service} spec has no schema named {base!r}")
        use_envelope = envelope and self.service == "xero" and "x-objectArrayKey" in self.defs[base]
        root = self._root_schema(name, use_envelope)
        if engine is None:
            engine = "compiled" if self._is_compilable(name, use_envelope) else "jsonschema"
        problems: list[str] = []
        if engine == "compiled":
            # One pass: unknown fields and every schema keyword, ~10x faster than jsonschema.
            self._check(self._node(root), body, (), problems, partial)
            return _unique(problems)
        # Reference engine (and fallback for keywords the compiled checker lacks): the walk
        # finds unknown fields and canonicalises names; jsonschema checks the rest.
        normalized = self._normalize(self._node(root), body, (), problems)
        validator = self._validator(name, use_envelope)
        for error in sorted(validator.iter_errors(normalized), key=messages.error_sort_key):
            if not (partial and error.validator == "required"):
                problems.append(messages.describe(error))
        return _unique(problems)

    # -- schema plumbing

    def _root_schema(self, name: str, envelope: bool) -> dict[str, Any]:
        # Kept per name: nodes are cached by id(), so a root must live as long as the book.
        key = (name, envelope)
        with self._lock:
            root = self._roots.get(key)
            if root is None:
                ref: dict[str, Any] = {
                    "$ref": f"{self.uri}{self.pointer}{_escape(name.removesuffix('[]'))}"
                }
                if name.endswith("[]"):  # a bare array of the named schema
                    root = {"type": "array", "items": ref}
                elif envelope:
                    root = {"type": "object", "allOf": [ref], "properties": _XERO_ENVELOPE}
                else:
                    root = ref
                self._roots[key] = root
            return root

    def _validator(self, name: str, envelope: bool) -> Any:
        key = (name, envelope)
        with self._lock:
            validator = self._validators.get(key)
            if validator is None:
                root = self._root_schema(name, envelope)
                if self.service == "autotask":
                    validator = Draft4Validator(root, registry=self.registry)
                else:
                    validator = OAS30Validator(
                        root, registry=self.registry, format_checker=FormatChecker(("uuid",))
                    )
                self._validators[key] = validator
            return validator

    def _is_compilable(self, name: str, envelope: bool) -> bool:
        """Whether every schema reachable from the root uses only ``_COMPILED_KEYWORDS``."""
        key = (name, envelope)
        known = self._compilable.get(key)
        if known is None:
            known = True
            pending = [self._root_schema(name, envelope)]
            seen: set[int] = set()
            while pending and known:
                schema = pending.pop()
                if not isinstance(schema, Mapping) or id(schema) in seen:
                    continue
                seen.add(id(schema))
                for keyword, value in schema.items():
                    if keyword.startswith("x-"):
                        continue
                    if keyword not in _COMPILED_KEYWORDS:
                        known = False
                    elif keyword == "$ref":
                        pending.append(self._resolve(schema))
                    elif keyword == "properties":
                        pending.extend(value.values())
                    elif keyword == "items":
                        pending.append(value)
                    elif keyword == "allOf":
                        pending.extend(value)
                    elif keyword == "enum" and not all(isinstance(v, str) for v in value):
                        known = False
            self._compilable[key] = known
        return known

    def _resolve(self, schema: Any) -> Any:
        seen = 0
        while isinstance(schema, Mapping) and "$ref" in schema:
            ref = schema["$ref"].split("#", 1)[-1]
            schema = self.defs.get(schema_name_of_ref(ref), _ANY)
            seen += 1
            if seen > 50:  # a $ref loop with no content: treat as free-form
                return _ANY
        return schema

    def _parts(self, schema: Any, depth: int = 0) -> list[Mapping[str, Any]]:
        """The schema and everything it includes by $ref (with its siblings) and allOf."""
        if not isinstance(schema, Mapping) or depth > 50:
            return []
        parts = [schema]
        if "$ref" in schema:
            ref = schema["$ref"].split("#", 1)[-1]
            parts += self._parts(self.defs.get(schema_name_of_ref(ref), _ANY), depth + 1)
        for sub in schema.get("allOf", ()):
            parts += self._parts(sub, depth + 1)
        return parts

    def _node(self, schema: Any) -> _Node:
        node = self._nodes.get(id(schema))
        if node is None:
            node = self._compile(schema)
            self._nodes[id(schema)] = node
        return node

    def _compile(self, schema: Any) -> _Node:
        parts = self._parts(schema)
        props: dict[str, Any] = {}
        items: Any = None
        required: list[str] = []
        checks: list[Check] = []
        synthetic: list[Any] = []
        free_form = False
        for part in parts:
            for prop, sub in (part.get("properties") or {}).items():
                if prop in props and props[prop] is not sub:
                    merged = {"allOf": [props[prop], sub]}
                    synthetic.append(merged)
                    props[prop] = merged
                else:
                    props[prop] = sub
            if items is None:
                items = part.get("items")
            if part.get("additionalProperties") not in (None, False):
                free_form = True
            for prop in part.get("required", ()):
                declared = (part.get("properties") or {}).get(prop) or {}
                # OAS30Validator (neither read nor write mode) skips required readOnly/writeOnly.
                if self.oas and (declared.get("readOnly") or declared.get("writeOnly")):
                    continue
                required.append(prop)
            checks.extend(self._keyword_checks(part))
        if not props or free_form:
            return _Node(None, {}, items, tuple(required), tuple(checks), tuple(synthetic))
        folded = {p.casefold(): p for p in props}
        return _Node(props, folded, items, tuple(required), tuple(checks), tuple(synthetic))

    def _keyword_checks(self, part: Mapping[str, Any]) -> list[Check]:
        checks: list[Check] = []
        if "type" in part:
            expected = part["type"]
            names = tuple(expected) if isinstance(expected, list) else (expected,)
            tests = tuple(_TYPE_TESTS[n] for n in names)
            nullable = self.oas and part.get("nullable") is True
            label = " or ".join(names)

            if len(tests) == 1:
                test = tests[0]

                def check_type(value: Any, path: tuple[str | int, ...], out: list[str]) -> None:
                    if not test(value) and not (value is None and nullable):
                        out.append(messages.type_message(messages.location(path), label, value))

            else:

                def check_type(value: Any, path: tuple[str | int, ...], out: list[str]) -> None:
                    if not any(t(value) for t in tests) and not (value is None and nullable):
                        out.append(messages.type_message(messages.location(path), label, value))

            checks.append(check_type)
        if "enum" in part:
            allowed = tuple(part["enum"])
            allowed_set = frozenset(allowed)

            def check_enum(value: Any, path: tuple[str | int, ...], out: list[str]) -> None:
                if not (isinstance(value, str) and value in allowed_set):
                    out.append(messages.enum_message(messages.location(path), value, allowed))

            checks.append(check_enum)
        for keyword, too_long in (("maxLength", True), ("minLength", False)):
            if keyword in part:
                limit = int(part[keyword])

                def check_length(
                    value: Any,
                    path: tuple[str | int, ...],
                    out: list[str],
                    limit: int = limit,
                    too_long: bool = too_long,
                ) -> None:
                    if isinstance(value, str) and (
                        len(value) > limit if too_long else len(value) < limit
                    ):
                        out.append(
                            messages.length_message(messages.location(path), too_long, limit, value)
                        )

                checks.append(check_length)
        if self.oas and part.get("format") == "uuid":

            def check_uuid(value: Any, path: tuple[str | int, ...], out: list[str]) -> None:
                if isinstance(value, str) and not _is_uuid(value):
                    out.append(messages.format_message(messages.location(path), value, "uuid"))

            checks.append(check_uuid)
        return checks

    # -- the walks. Both report unknown fields at every depth. _check also runs every keyword
    #    check (the compiled engine); _normalize instead returns the body with canonical field
    #    names, minus the keys it reported or dropped (Autotask nulls), for jsonschema.

    def _field(
        self,
        node: _Node,
        key: Any,
        path: tuple[str | int, ...],
        out: list[str],
        seen: set[str],
    ) -> str | None:
        """The canonical name of ``key`` in ``node``, or None after reporting why it has none."""
        assert node.props is not None
        if not isinstance(key, str):
            out.append(f"{messages.location((*path, str(key)))}: field names must be strings")
            return None
        canonical = key if key in node.props else None
        if canonical is None and self.case_insensitive:
            canonical = node.folded.get(key.casefold())
        if canonical is None:
            out.append(f"{messages.location((*path, key))}: unknown field{_hint(key, node)}")
            return None
        if canonical in seen:
            out.append(
                f"{messages.location((*path, key))}: duplicate of field {canonical} "
                "(field names are case-insensitive)"
            )
            return None
        seen.add(canonical)
        return canonical

    def _child(self, node: _Node, canonical: str) -> _Node:
        child = node.children.get(canonical)
        if child is None:
            assert node.props is not None
            child = node.children[canonical] = self._node(node.props[canonical])
        return child

    def _missing(
        self, node: _Node, present: Any, path: tuple[str | int, ...], out: list[str]
    ) -> None:
        for name in node.required:
            if name not in present:
                out.append(f"{messages.location((*path, name))}: required field missing")

    def _check(
        self, node: _Node, value: Any, path: tuple[str | int, ...], out: list[str], partial: bool
    ) -> None:
        for keyword_check in node.checks:
            keyword_check(value, path, out)
        if isinstance(value, dict):
            if node.props is None:
                if node.required and not partial:
                    self._missing(node, value, path, out)
                return
            seen: set[str] = set()
            for key, child_value in value.items():
                if child_value is None and self.nulls_allowed:
                    continue  # as if absent, like the jsonschema engine's normalised copy
                canonical = self._field(node, key, path, out, seen)
                if canonical is None:
                    continue
                child = self._child(node, canonical)
                if isinstance(child_value, (dict, list)):
                    self._check(child, child_value, (*path, canonical), out, partial)
                elif child.checks:  # a scalar: skip the call, run its checks here
                    child_path = (*path, canonical)
                    for keyword_check in child.checks:
                        keyword_check(child_value, child_path, out)
            if node.required and not partial:
                self._missing(node, seen, path, out)
        elif isinstance(value, list) and node.items is not None:
            item_node = self._node(node.items)
            for index, item in enumerate(value):
                self._check(item_node, item, (*path, index), out, partial)

    def _normalize(
        self, node: _Node, value: Any, path: tuple[str | int, ...], out: list[str]
    ) -> Any:
        if isinstance(value, dict) and node.props is not None:
            normalized: dict[str, Any] = {}
            seen: set[str] = set()
            for key, child_value in value.items():
                if child_value is None and self.nulls_allowed:
                    continue
                canonical = self._field(node, key, path, out, seen)
                if canonical is not None:
                    normalized[canonical] = self._normalize(
                        self._child(node, canonical), child_value, (*path, canonical), out
                    )
            return normalized
        if isinstance(value, list) and node.items is not None:
            item_node = self._node(node.items)
            return [
                self._normalize(item_node, item, (*path, i), out) for i, item in enumerate(value)
            ]
        return value


def _hint(key: str, node: _Node) -> str:
    folded = key.casefold()
    if folded in node.folded:  # only the case differs (Xero is exact)
        return f" (did you mean {node.folded[folded]}?)"
    close = difflib.get_close_matches(folded, list(node.folded), n=1, cutoff=0.6)
    return f" (did you mean {node.folded[close[0]]}?)" if close else ""


def _unique(lines: list[str]) -> list[str]:
    # A $ref with a sibling "type" (Xero's CurrencyCode, LineAmountTypes) checks twice.
    return list(dict.fromkeys(lines))


def _is_uuid(text: str) -> bool:
    # The same rule as jsonschema's "uuid" format: parses, and hyphenated 8-4-4-4-12.
    try:
        UUID(text)
    except ValueError:
        return False
    return all(text[i] == "-" for i in (8, 13, 18, 23)) if len(text) == 36 else False


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# Draft 4 / OAS 3.0 semantics: bool is not a number, 1.0 is not an integer.
_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": _is_number,
    "integer": _is_integer,
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def _patched_schemas(service: str) -> dict[str, Any]:
    """A shallow copy of the service's named schemas with the module's documented corrections."""
    defs = dict(schemas(service))  # type: ignore[arg-type]
    if service == "autotask":
        defs["Object"] = _ANY
        filter_model = dict(defs["Filter"])
        filter_model["properties"] = {**filter_model["properties"], "value": _ANY}
        defs["Filter"] = filter_model
    elif service == "xero":
        for name, extra in _XERO_SDK_FIELDS.items():
            model = dict(defs[name])
            model["properties"] = {**model["properties"], **extra}
            defs[name] = model
    return defs


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")
