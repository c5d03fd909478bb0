"""The official API descriptions in ``sandbox/specs/``, loaded once per process, and lookups.

The files are verbatim copies of ``shared/specs`` (a test proves it): the Autotask Swagger 2.0
document, Xero's Accounting OpenAPI 3.0 document and Xero's Identity OpenAPI 3.0 document. Nothing
here edits them; ``sandbox.conformance`` layers its few documented corrections on private copies.

Loading costs about 0.1 s for the Autotask JSON (3 MB) and 0.6 s for the Xero YAML (0.9 MB, with
libyaml's C loader), so each document is parsed lazily on first use and kept for the process.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

Service = Literal["autotask", "xero", "xero_identity"]

SPEC_DIR = Path(__file__).resolve().parent / "specs"
SPEC_FILES: dict[str, str] = {
    "autotask": "autotask-rest-v1.0-swagger.json",
    "xero": "xero_accounting.yaml",
    "xero_identity": "xero-identity.yaml",
}
# Where each document keeps its named schemas, as a JSON pointer prefix.
SCHEMA_POINTERS: dict[str, str] = {
    "autotask": "#/definitions/",
    "xero": "#/components/schemas/",
    "xero_identity": "#/components/schemas/",
}
# URL path prefixes in front of the spec's paths on the wire (matched case-insensitively).
_PATH_PREFIXES: dict[str, tuple[str, ...]] = {
    "autotask": ("/atservicesrest",),
    "xero": ("/api.xro/2.0",),
    "xero_identity": (),
}
_HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

# functools.cache alone may run a cold loader twice when two threads race; the lock makes
# "parsed once per process" literal. Re-entrant because loaders call each other.
_lock = threading.RLock()


def spec(service: Service) -> Mapping[str, Any]:
    """The parsed document for ``service``. Shared by every caller: never mutate it."""
    with _lock:
        return _load(service)


@cache
def _load(service: str) -> dict[str, Any]:
    path = SPEC_DIR / SPEC_FILES[service]
    with path.open("rb") as f:
        if path.suffix == ".json":
            doc: dict[str, Any] = json.load(f)
        else:
            doc = yaml.load(f, Loader=yaml.CSafeLoader)
    return doc


def schemas(service: Service) -> Mapping[str, Any]:
    """Named schemas: Swagger ``definitions`` or OpenAPI ``components.schemas``."""
    doc = spec(service)
    if service == "autotask":
        return doc["definitions"]
    return doc["components"]["schemas"]


def schema_name_of_ref(ref: str) -> str:
    """``"#/components/schemas/Invoices"`` -> ``"Invoices"`` (JSON pointer unescaped)."""
    return ref.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")


@dataclass(frozen=True)
class Operation:
    """One operation of a description, with the names of its body and response schemas."""

    service: str
    method: str  # upper case
    path_template: str  # as written in the spec, e.g. "/V1.0/Invoices/{id}"
    operation_id: str
    request_schema: str | None
    response_schemas: Mapping[str, str] = field(default_factory=dict)  # status -> schema name


def find_operation(service: Service, method: str, path: str) -> Operation | None:
    """The operation serving ``method path``.

    ``path`` may be a template from the spec or a concrete wire path (``/V1.0/Invoices/123``,
    ``/api.xro/2.0/Invoices``, with or without a query string). Matching ignores case, as both
    services do; a literal segment beats a ``{parameter}`` (``/Invoices/query`` is the query
    operation, not ``/Invoices/{id}``).
    """
    index = _operation_index(service)
    segments = _segments(service, path)
    candidates = index.get((method.upper(), len(segments), segments[0] if segments else ""), [])
    best: Operation | None = None
    best_score = -1
    for template_segments, operation in candidates:
        score = 0
        for want, got in zip(template_segments, segments, strict=True):
            if want is None:
                continue
            if want != got:
                break
            score += 1
        else:
            if score > best_score:
                best, best_score = operation, score
    return best


def operation_request_schema(service: Service, method: str, path: str) -> str | None:
    """Name of the JSON body schema of an operation (e.g. PATCH /V1.0/Invoices -> InvoiceModel)."""
    operation = find_operation(service, method, path)
    return operation.request_schema if operation else None


def operation_response_schema(
    service: Service, method: str, path: str, status: int | str = 200
) -> str | None:
    """Name of the JSON schema of a response, e.g. POST /V1.0/Invoices/query, 200 ->
    ``QueryActionResult[InvoiceModel,Invoice]``; ``"Connection[]"`` for a bare array of a named
    schema; None when the spec names none."""
    operation = find_operation(service, method, path)
    return operation.response_schemas.get(str(status)) if operation else None


def autotask_entity_model(entity: str) -> str | None:
    """The Swagger model of an Autotask entity named as in URLs: "Invoices" -> "InvoiceModel".

    Read from the item type of the entity's ``POST /V1.0/{entity}/query`` response, so it covers
    every queryable entity (221 of them) without a hand-kept table.
    """
    return _autotask_entity_models().get(entity.casefold())


@cache
def _autotask_entity_models() -> dict[str, str]:
    models: dict[str, str] = {}
    definitions = schemas("autotask")
    for path, ops in spec("autotask")["paths"].items():
        parts = path.split("/")
        if len(parts) != 4 or parts[3] != "query" or "post" not in ops:
            continue
        result = ops["post"]["responses"].get("200", {}).get("schema", {}).get("$ref")
        if not result:
            continue
        props = definitions[schema_name_of_ref(result)].get("properties", {})
        item_ref = props.get("items", {}).get("items", {}).get("$ref")
        if item_ref:
            models[parts[2].casefold()] = schema_name_of_ref(item_ref)
    return models


def _segments(service: str, path: str) -> list[str]:
    path = path.split("?", 1)[0].casefold()
    for prefix in _PATH_PREFIXES[service]:
        if path.startswith(prefix + "/"):
            path = path[len(prefix) :]
            break
    return [s for s in path.split("/") if s]


_IndexKey = tuple[str, int, str]
_Index = dict[_IndexKey, list[tuple[list[str | None], Operation]]]


def _operation_index(service: str) -> _Index:
    with _lock:
        return _build_operation_index(service)


@cache
def _build_operation_index(service: str) -> _Index:
    doc = _load(service)
    index: _Index = {}
    for template, ops in doc["paths"].items():
        segs = _segments(service, template)
        # None marks a "{parameter}" segment (no spec here mixes text and parameters in one).
        pattern: list[str | None] = [None if s.startswith("{") else s for s in segs]
        for method, op in ops.items():
            if method not in _HTTP_METHODS:
                continue
            operation = Operation(
                service=service,
                method=method.upper(),
                path_template=template,
                operation_id=op.get("operationId", ""),
                request_schema=_request_schema(doc, op),
                response_schemas=_response_schemas(doc, op),
            )
            key = (method.upper(), len(segs), segs[0] if segs else "")
            index.setdefault(key, []).append((pattern, operation))
    return index


def _deref(doc: Mapping[str, Any], node: Any) -> Any:
    """Follow a local ``$ref`` to a request body / response object (not into schemas)."""
    while isinstance(node, Mapping) and "$ref" in node:
        target: Any = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _json_schema_ref(doc: Mapping[str, Any], holder: Any) -> str | None:
    """The schema name from a Swagger body parameter / response, or an OpenAPI content map."""
    holder = _deref(doc, holder)
    if not isinstance(holder, Mapping):
        return None
    schema = holder.get("schema")
    if schema is None:
        content = holder.get("content", {})
        media = content.get("application/json") or content.get("text/json")
        schema = media.get("schema") if media else None
    if isinstance(schema, Mapping) and "$ref" in schema:
        return schema_name_of_ref(schema["$ref"])
    # A bare array of a named schema (Xero Identity's GET /Connections) is named "Name[]".
    if isinstance(schema, Mapping) and schema.get("type") == "array":
        items = schema.get("items")
        if isinstance(items, Mapping) and "$ref" in items:
            return schema_name_of_ref(items["$ref"]) + "[]"
    return None


def _request_schema(doc: Mapping[str, Any], op: Mapping[str, Any]) -> str | None:
    if "requestBody" in op:
        return _json_schema_ref(doc, op["requestBody"])
    for param in op.get("parameters", []):
        param = _deref(doc, param)
        if param.get("in") == "body":
            return _json_schema_ref(doc, param)
    return None


def _response_schemas(doc: Mapping[str, Any], op: Mapping[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for status, response in op.get("responses", {}).items():
        name = _json_schema_ref(doc, response)
        if name:
            found[str(status)] = name
    return found
