"""Which Autotask operation a request path names, matched case-insensitively.

Real clients send both ``/V1.0/`` and ``/v1.0/``, ``ATServicesRest`` and ``atservicesrest``, and
entity names in any case; IIS and ASP.NET route them all alike. Unknown paths answer ASP.NET Web
API's 404 and wrong methods its 405 (``PATCH …/Invoices/{id}``, GET on ``…/query/next``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sandbox.autotask.schema import Entity, entity

_PREFIX = re.compile(r"^/atservicesrest/v1\.0/(?P<rest>.+?)/*$", re.IGNORECASE)
_ID = re.compile(r"^-?\d+$")

# (lower-case path parts after the entity) -> (operation, allowed methods)
_ENTITY_OPERATIONS: dict[tuple[str, ...], tuple[str, tuple[str, ...]]] = {
    ("query",): ("query", ("GET", "POST")),
    ("query", "next"): ("next", ("POST",)),
    ("query", "count"): ("count", ("GET", "POST")),
    ("entityinformation",): ("info", ("GET",)),
    ("entityinformation", "fields"): ("fields", ("GET",)),
    ("entityinformation", "userdefinedfields"): ("udfs", ("GET",)),
}

_SERVICE_OPERATIONS: dict[str, tuple[str, str]] = {
    "zoneinformation": ("zone", "ZoneInformation"),
    "thresholdinformation": ("threshold", "ThresholdInformation"),
    "version": ("version", "Version"),
}


@dataclass(frozen=True)
class Target:
    operation: str  # zone, threshold, version, collection, query, next, count, item, info, ...
    methods: tuple[str, ...]
    endpoint: str  # the "object endpoint" threads are limited by
    entity: Entity | None = None
    record_id: int | None = None


def resolve(path: str) -> Target | None:
    match = _PREFIX.match(path)
    if match is None:
        return None
    parts = match["rest"].split("/")
    head = parts[0].lower()
    if len(parts) == 1 and head in _SERVICE_OPERATIONS:
        operation, endpoint = _SERVICE_OPERATIONS[head]
        return Target(operation, ("GET",), endpoint)
    found = entity(parts[0])
    if found is None:
        return None
    rest = tuple(p.lower() for p in parts[1:])
    if not rest:
        methods: tuple[str, ...] = ("PATCH", "PUT", "POST") if found.can_update else ()
        return Target("collection", methods, found.name, found)
    if rest in _ENTITY_OPERATIONS:
        operation, methods = _ENTITY_OPERATIONS[rest]
        return Target(operation, methods, found.name, found)
    if len(rest) == 1 and _ID.match(rest[0]):
        return Target("item", ("GET",), found.name, found, int(rest[0]))
    return None


def not_found_body(url: str) -> dict[str, str]:
    return {"Message": f"No HTTP resource was found that matches the request URI '{url}'."}


def not_allowed_body(method: str) -> dict[str, str]:
    return {"Message": f"The requested resource does not support http method '{method}'."}
