"""Checks of request and response bodies against the official API descriptions.

Two layers, both driven by the vendored specs (``sandbox/specs``, loaded once per process by
``sandbox.spec_book``):

1. a strict **unknown-field** walk at every depth. Neither spec sets ``additionalProperties:
   false``, and both real services silently ignore fields they do not know (an Autotask PATCH with
   ``webServiceDte`` answers 200 and changes nothing), so a typo would otherwise pass every test.
   No library does this (nor the "did you mean" hint), so it is the one hand-written part: it only
   reads ``properties`` / ``items`` / ``$ref`` / ``allOf`` to learn which names exist;
2. schema validation (types, enums, lengths, ``format``, ``required``) by the ``jsonschema``
   library only: ``Draft4Validator`` for the Autotask Swagger 2.0 definitions,
   ``openapi_schema_validator.OAS30Validator`` for Xero's OpenAPI 3.0, both resolving ``$ref``
   through a ``referencing`` registry, built once per schema name. ``sandbox.schema_messages``
   turns each ``ValidationError`` into one line led by its JSON-path-like location.

Deliberate departures from a literal reading of the specs, each because the real service or the
official SDK behaves that way, and each expressed through the library where one can be:

- Autotask field names match case-insensitively (the service binds JSON with Json.NET, and the
  Swagger's own ``QueryModel`` example writes ``MaxRecords``): the walk hands jsonschema a copy of
  the body with every key in its canonical case, so errors name the canonical field.
- Autotask ``null`` is accepted for any value: Swagger 2.0 cannot say "nullable", yet every
  Autotask response carries nulls and clearing ``paidDate`` is a PATCH with null. The Autotask
  validator is ``Draft4Validator`` extended (``jsonschema.validators.extend``) with ``type`` and
  ``enum`` keywords that let ``null`` through and otherwise defer to Draft 4's own.
- Autotask ``format`` is not checked (no format checker: date-times arrive without ``Z``); Xero's
  format checker is ``FormatChecker(("uuid",))`` (dates are ``x-is-msdate`` strings,
  "2026-11-01" or the SDK's ``/Date(ms)/``).
- ``readOnly`` fields are not errors in requests: ``OAS30Validator`` in neither read nor write mode
  (xero-python sends e.g. ``HasAttachments``).
- Free-form .NET ``object``: Autotask ``Object`` (e.g. ``OperationResultModel.itemId``, a number on
  the wire) and ``Filter.value`` (int, string, bool or array) are replaced by ``{}`` in the
  module's copy of the schemas, so they accept any JSON value.
- Fields xero-python 15.x knows but spec 16.1.0 lacks are added to that copy
  (``_XERO_SDK_FIELDS``), and Xero collection responses are validated against a root that adds the
  envelope ``Id``/``Status``/``ProviderName``/``DateTimeUTC``; a ValidationException's
  ``Elements`` may carry the submitted document's fields (Xero-OpenAPI#461).
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from jsonschema import Draft4Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from openapi_schema_validator import OAS30Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4

from sandbox import schema_messages as messages
from sandbox.schema_messages import Path, Problem
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


# --- the validators -------------------------------------------------------------------------


def _null_passes(keyword: str) -> Any:
    """Draft 4's ``keyword`` check, except that JSON ``null`` satisfies it."""
    draft4_check = Draft4Validator.VALIDATORS[keyword]

    def check(
        validator: Validator, value: Any, instance: Any, schema: Mapping[str, Any]
    ) -> Iterator[ValidationError]:
        if instance is not None:
            yield from draft4_check(validator, value, instance, schema)

    return check


# Draft 4 where every value may be null (Autotask's Json.NET writes and reads null for any field).
AutotaskValidator = validators.extend(
    Draft4Validator,
    {"type": _null_passes("type"), "enum": _null_passes("enum")},
)
# Of Xero's formats only uuid is checked: its dates are x-is-msdate strings, not RFC 3339.
XERO_FORMATS = FormatChecker(("uuid",))


# --- implementation -------------------------------------------------------------------------

_lock = threading.RLock()


def _book(service: Service) -> _Book:
    with _lock:
        return _make_book(service)


@cache
def _make_book(service: str) -> _Book:
    return _Book(service)


@dataclass(eq=False)
class _Shape:
    """The field names a schema declares ($ref and allOf followed), for the unknown-field walk."""

    props: dict[str, Any] | None  # None: no declared properties (free-form object or scalar)
    folded: dict[str, str]  # casefolded name -> canonical name
    items: Any | None  # element schema of an array
    keep_alive: tuple[Any, ...] = ()  # synthetic schemas whose id() keys the shape cache
    children: dict[str, _Shape] = field(default_factory=dict)  # canonical name -> shape, lazily


class _Book:
    """Patched schemas, field shapes and jsonschema validators for one service."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.pointer = SCHEMA_POINTERS[service]
        self.uri = f"urn:atx-spec:{service}"
        self.case_insensitive = service == "autotask"
        self.defs = _patched_schemas(service)
        if service == "autotask":
            document: dict[str, Any] = {"definitions": self.defs}
        else:
            document = {"components": {"schemas": self.defs}}
        self.registry: Registry[Any] = Registry().with_resource(
            self.uri, DRAFT4.create_resource(document)
        )
        self._shapes: dict[int, _Shape] = {}
        self._roots: dict[tuple[str, bool], dict[str, Any]] = {}
        self._validators: dict[tuple[str, bool], Validator] = {}
        self._lock = threading.RLock()  # re-entrant: _validator builds its root under it

    def errors(self, name: str, body: Any, *, partial: bool, envelope: bool) -> list[str]:
        base = name.removesuffix("[]")
        if base not in self.defs:
            raise KeyError(f"{self.service} spec has no schema named {base!r}")
        use_envelope = envelope and self.service == "xero" and "x-objectArrayKey" in self.defs[base]
        root = self._root_schema(name, use_envelope)
        problems: list[Problem] = []
        # The walk reports unknown fields and, for Autotask, returns the body with canonical
        # names; jsonschema checks everything else on what it returns.
        checked = self._walk(self._shape(root), body, (), problems)
        for error in self._validator(name, use_envelope).iter_errors(checked):
            if not (partial and error.validator == "required"):
                problems.append(messages.describe(error))
        problems.sort(key=lambda problem: (messages.path_sort_key(problem[0]), problem[1]))
        # dict.fromkeys: some problems come twice (a $ref with a sibling "type", like Xero's
        # CurrencyCode; OAS30Validator's "None for not nullable" and "not of type" for a null).
        return list(dict.fromkeys(text for _, text in problems))

    # -- schema plumbing

    def _root_schema(self, name: str, envelope: bool) -> dict[str, Any]:
        # Kept per name: shapes are cached by id(), so a root must live as long as the book.
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

    def _validator(self, name: str, envelope: bool) -> Validator:
        key = (name, envelope)
        with self._lock:
            validator = self._validators.get(key)
            if validator is None:
                root = self._root_schema(name, envelope)
                if self.service == "autotask":
                    validator = AutotaskValidator(root, registry=self.registry)
                else:
                    validator = OAS30Validator(
                        root, registry=self.registry, format_checker=XERO_FORMATS
                    )
                self._validators[key] = validator
            return validator

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

    def _shape(self, schema: Any) -> _Shape:
        shape = self._shapes.get(id(schema))
        if shape is None:
            shape = self._shapes[id(schema)] = self._shape_of(schema)
        return shape

    def _shape_of(self, schema: Any) -> _Shape:
        props: dict[str, Any] = {}
        items: Any = None
        synthetic: list[Any] = []
        free_form = False
        for part in self._parts(schema):
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
        if not props or free_form:
            return _Shape(None, {}, items, tuple(synthetic))
        return _Shape(props, {p.casefold(): p for p in props}, items, tuple(synthetic))

    # -- the unknown-field walk

    def _walk(self, shape: _Shape, value: Any, path: Path, out: list[Problem]) -> Any:
        """Report unknown fields in ``value``; return it as jsonschema should see it.

        Xero's names are exact, so its bodies are returned as they are. Autotask's come back as a
        copy with canonical names, minus the keys reported (unknown, or given twice).
        """
        if isinstance(value, dict) and shape.props is not None:
            rebuilt: dict[str, Any] = {}
            seen: set[str] = set()
            for key, child_value in value.items():
                canonical = self._field(shape, key, path, out, seen)
                if canonical is None:
                    continue
                child = shape.children.get(canonical)
                if child is None:
                    child = shape.children[canonical] = self._shape(shape.props[canonical])
                checked = self._walk(child, child_value, (*path, canonical), out)
                if self.case_insensitive:
                    rebuilt[canonical] = checked
            return rebuilt if self.case_insensitive else value
        if isinstance(value, list) and shape.items is not None:
            item_shape = self._shape(shape.items)
            checked_items = [
                self._walk(item_shape, item, (*path, i), out) for i, item in enumerate(value)
            ]
            return checked_items if self.case_insensitive else value
        return value

    def _field(
        self, shape: _Shape, key: Any, path: Path, out: list[Problem], seen: set[str]
    ) -> str | None:
        """The canonical name of ``key`` in ``shape``, or None after reporting why it has none."""
        assert shape.props is not None
        if not isinstance(key, str):
            out.append(messages.not_a_name((*path, str(key))))
            return None
        canonical = key if key in shape.props else None
        if canonical is None and self.case_insensitive:
            canonical = shape.folded.get(key.casefold())
        if canonical is None:
            out.append(messages.unknown_field((*path, key), _suggestion(key, shape)))
            return None
        if canonical in seen:
            out.append(messages.duplicate_field((*path, key), canonical))
            return None
        seen.add(canonical)
        return canonical


def _suggestion(key: str, shape: _Shape) -> str | None:
    folded = key.casefold()
    if folded in shape.folded:  # only the case differs (Xero is exact)
        return shape.folded[folded]
    close = difflib.get_close_matches(folded, list(shape.folded), n=1, cutoff=0.6)
    return shape.folded[close[0]] if close else None


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
        # A ValidationException's Elements echo the whole submitted document (invoice, contact,
        # ...), while the spec's Element lists only ids and ValidationErrors; the shape varies by
        # endpoint (XeroAPI/Xero-OpenAPI#461, reference/xero-api.md §10), so it stays open.
        defs["Element"] = {**defs["Element"], "additionalProperties": True}
    return defs


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")
