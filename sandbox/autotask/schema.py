"""The entities of the simulated Autotask, read from the vendor's Swagger document.

Every path ``/V1.0/{Entity}/query`` in the Swagger is a queryable entity; its response type
``QueryActionResult[<Model>,<InternalName>]`` names the model (the record's fields) and the internal
entity name Autotask uses in error texts ("Unable to find x in the Account Entity." for Companies,
as seen live in WYRE-AI/autotask-mcp#282). Records are answered with every model property, null
where the record has no value, as the real API does.
"""

from __future__ import annotations

import functools
import json
import pathlib
import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

SPECS = pathlib.Path(__file__).resolve().parent.parent / "specs"
SWAGGER_PATH = SPECS / "autotask-rest-v1.0-swagger.json"

_QUERY_PATH = re.compile(r"^/V1\.0/(?P<entity>\w+)/query$")
_RESULT_REF = re.compile(r"QueryActionResult\[(?P<model>\w+),(?P<internal>\w+)\]")

# The only fields the API lets a PATCH/PUT change; every other field of these entities is
# read-only and silently ignored (reference §8: ecitsolutions/Autotask Set-AtwsInvoice.ps1,
# Set-AtwsBillingItem.ps1).
UPDATABLE_FIELDS: dict[str, tuple[str, ...]] = {
    "Invoices": ("invoiceNumber", "webServiceDate", "paidDate"),
    "BillingItems": ("webServiceDate",),
}

# Fields the entity help pages document as not filterable (reference §5).
NOT_QUERYABLE: dict[str, frozenset[str]] = {
    "Invoices": frozenset({"dueDate", "taxRegionID"}),
    "BillingItems": frozenset({"lineItemFullDescription", "lineItemGroupDescription"}),
}

# Known string lengths (reference §8: invoiceNumber ≤100); others are not in the Swagger.
FIELD_LENGTHS: dict[tuple[str, str], int] = {("Invoices", "invoiceNumber"): 100}

UDF_PROPERTY = "userDefinedFields"


def field_kind(prop: dict[str, Any]) -> str:
    """The Autotask data type of a Swagger property, as entityInformation/fields names it."""
    kind = prop.get("type")
    fmt = prop.get("format")
    if kind == "integer":
        return "long" if fmt == "int64" else "integer"
    if kind == "number":
        return "double"
    if kind == "boolean":
        return "boolean"
    if kind == "string":
        return "datetime" if fmt == "date-time" else "string"
    if kind == "array":
        return "array"
    return "object"


@dataclass(frozen=True)
class Entity:
    name: str  # path spelling, e.g. "Invoices"
    model: str  # Swagger definition, e.g. "InvoiceModel"
    internal_name: str  # e.g. "Invoice", "Account"
    # property name -> field_kind, in Swagger order
    kinds: dict[str, str] = dataclass_field(hash=False)
    can_update: bool = False

    @functools.cached_property
    def _by_lower(self) -> dict[str, str]:
        return {name.lower(): name for name in self.kinds}

    def field_name(self, name: str) -> str | None:
        """The canonical spelling of a field, matched case-insensitively, or None."""
        return self._by_lower.get(name.lower())

    @property
    def has_udfs(self) -> bool:
        return UDF_PROPERTY in self.kinds

    @property
    def updatable(self) -> tuple[str, ...]:
        return UPDATABLE_FIELDS.get(self.name, ())

    def is_queryable(self, name: str) -> bool:
        return self.kinds[name] not in ("array", "object") and name not in NOT_QUERYABLE.get(
            self.name, frozenset()
        )

    def shape(self, record: dict[str, Any], include: list[str] | None = None) -> dict[str, Any]:
        """The record as the API answers it: every model field (or only ``include``), in order."""
        names = include or list(self.kinds)
        out: dict[str, Any] = {}
        for name in names:
            value = record.get(name)
            if value is None and self.kinds[name] == "array":
                value = []
            out[name] = value
        return out


@functools.lru_cache(maxsize=1)
def _swagger() -> dict[str, Any]:
    with SWAGGER_PATH.open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


@functools.lru_cache(maxsize=1)
def entities() -> dict[str, Entity]:
    """Every queryable entity, keyed by its lower-cased path name."""
    swagger = _swagger()
    definitions = swagger["definitions"]
    paths = swagger["paths"]
    found: dict[str, Entity] = {}
    for path, operations in paths.items():
        match = _QUERY_PATH.match(path)
        if not match or "post" not in operations:
            continue
        ref = operations["post"]["responses"]["200"]["schema"]["$ref"]
        result = _RESULT_REF.search(ref)
        if result is None:
            continue
        name = match["entity"]
        model = result["model"]
        props = definitions[model].get("properties", {})
        found[name.lower()] = Entity(
            name=name,
            model=model,
            internal_name=result["internal"],
            kinds={prop: field_kind(spec) for prop, spec in props.items()},
            can_update="patch" in paths.get(f"/V1.0/{name}", {}),
        )
    return found


def entity(name: str) -> Entity | None:
    return entities().get(name.lower())
