"""State and behaviour of the simulated Autotask, without HTTP.

Records live in ``world.autotask[EntityName]`` (plain dicts, Swagger field names) and are changed
in place, so the world always shows the current state. Every method is safe to call from any
thread (uvicorn serves on its own loop while a test pokes the service directly).
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sandbox import conformance
from sandbox.autotask import paging, writes
from sandbox.autotask import query as query_engine
from sandbox.autotask.errors import AutotaskError
from sandbox.autotask.limits import RequestBudget, ThreadSlots
from sandbox.autotask.metadata import entity_information, field_information, udf_information
from sandbox.autotask.schema import Entity, entities
from sandbox.autotask.values import format_datetime
from sandbox.world import AutotaskApiUser, Record

if TYPE_CHECKING:
    from sandbox.clock import SandboxClock
    from sandbox.core import SandboxOptions
    from sandbox.world import World

# Entities carrying a line of business per record that the API hides from a user outside it
# (reference §2, BillingItemsEntity; the charges carry the same organizationalLevelAssociationID).
LOB_FILTERED = frozenset({"BillingItems", "ProjectCharges", "TicketCharges", "ContractCharges"})
LOB_FIELD = "organizationalLevelAssociationID"


class UnknownEntity(KeyError):
    pass


@dataclass(frozen=True)
class Write:
    """One PATCH or PUT the API applied: the fields it set, as stored (tests count these)."""

    entity: str
    record_id: int
    method: str  # "PATCH" or "PUT"
    fields: dict[str, Any] = field(default_factory=dict)


class AutotaskService:
    def __init__(self, world: World, clock: SandboxClock, options: SandboxOptions) -> None:
        self.world = world
        self.clock = clock
        self.options = options
        self.budget = RequestBudget(clock, options)
        self.threads = ThreadSlots(options)
        self._lock = threading.RLock()
        self._picklists: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._writes: list[Write] = []

    # ----------------------------------------------------------------- Python API (tests, seed)

    def entity(self, name: str) -> Entity:
        found = entities().get(name.lower())
        if found is None:
            raise UnknownEntity(name)
        return found

    def records(self, entity: str) -> list[Record]:
        """Copies of every record of an entity, by id, regardless of any user's visibility."""
        with self._lock:
            return copy.deepcopy(self._sorted(self.entity(entity)))

    def get(self, entity: str, record_id: int) -> Record | None:
        with self._lock:
            found = self._find(self.entity(entity), record_id)
            return copy.deepcopy(found) if found is not None else None

    def add(self, entity: str, record: Record) -> Record:
        """Store a record (a copy), numbering it after the highest id when it has none."""
        with self._lock:
            table = self._table(self.entity(entity), create=True)
            stored = copy.deepcopy(record)
            if stored.get("id") is None:
                stored["id"] = max((r.get("id") or 0 for r in table), default=0) + 1
            table.append(stored)
            return copy.deepcopy(stored)

    def update(self, entity: str, record_id: int, **fields: Any) -> Record:
        """Change any fields directly, as the Autotask UI would (no API rules apply)."""
        with self._lock:
            found = self._find(self.entity(entity), record_id)
            if found is None:
                raise KeyError(f"{entity} {record_id} does not exist")
            found.update(copy.deepcopy(fields))
            return copy.deepcopy(found)

    def void_invoice(self, invoice_id: int, by_resource_id: int | None = None) -> Record:
        """Void an invoice in the UI: sets isVoided, voidedDate (now) and voidedByResourceID."""
        return self.update(
            "Invoices",
            invoice_id,
            isVoided=True,
            voidedDate=format_datetime(self.clock.now().replace(tzinfo=None)),
            voidedByResourceID=by_resource_id,
        )

    def request_count(self) -> int:
        """Requests counted in the current rolling hour (all integrations of the database)."""
        return self.budget.used()

    def record_foreign_requests(self, count: int) -> None:
        """Spend budget as another integration of the same database would."""
        self.budget.consume(count)

    def writes(self, entity: str | None = None) -> list[Write]:
        """Every write the API applied, in order (optionally of one entity); UI changes made
        with ``update`` are not API writes and are not listed."""
        wanted = None if entity is None else self.entity(entity).name
        with self._lock:
            return [copy.deepcopy(w) for w in self._writes if wanted in (None, w.entity)]

    def write_counts(self, entity: str, field_name: str) -> Counter[int]:
        """Record id -> how many API writes set ``field_name`` to a value (not null)."""
        return Counter(
            w.record_id for w in self.writes(entity) if w.fields.get(field_name) is not None
        )

    def set_picklist(self, entity: str, field: str, values: list[dict[str, Any]]) -> None:
        """Picklist values (``{"value", "label", "isActive"}``) for entityInformation/fields."""
        found = self.entity(entity)
        name = found.field_name(field)
        if name is None:
            raise KeyError(f"{found.name} has no field {field}")
        with self._lock:
            self._picklists[(found.name, name)] = copy.deepcopy(values)

    # ------------------------------------------------------------------------- API behaviour

    def zone_user(self, username: str) -> AutotaskApiUser | None:
        wanted = username.strip().lower()
        return next((u for u in self.world.autotask_users if u.username.lower() == wanted), None)

    def authenticate(
        self, username: str, secret: str, integration_code: str
    ) -> AutotaskApiUser | None:
        user = self.zone_user(username)
        if user is None or user.secret != secret or user.integration_code != integration_code:
            return None
        return user

    def threshold_information(self) -> dict[str, int]:
        return {
            "externalRequestThreshold": self.budget.limit,
            "requestThresholdTimeframe": 60,
            "currentTimeframeRequestCount": self.budget.used(),
        }

    def query(
        self,
        entity_name: str,
        body: Any,
        user: AutotaskApiUser,
        base_url: str,
        paging_token: str | None = None,
    ) -> dict[str, Any]:
        """One page: ``{"items": [...], "pageDetails": {...}}``."""
        entity = self.entity(entity_name)
        parsed = self._parse(entity, body)
        cursor = paging.Cursor.decode(paging_token, entity.name) if paging_token else None
        pageable = parsed.include_fields is None or "id" in parsed.include_fields
        with self._lock:
            matched = [r for r in self._visible(entity, user) if parsed.matches(r)]
            page = paging.slice_page(
                entity.name, matched, parsed.max_records, cursor, pageable=pageable
            )
            items = [entity.shape(r, parsed.include_fields) for r in page.records]
            items = copy.deepcopy(items)
        details = paging.page_details(base_url, entity.name, page, parsed.max_records, parsed.body)
        return {"items": items, "pageDetails": details}

    def count(self, entity_name: str, body: Any, user: AutotaskApiUser) -> int:
        entity = self.entity(entity_name)
        parsed = self._parse(entity, body)
        with self._lock:
            return sum(1 for r in self._visible(entity, user) if parsed.matches(r))

    def read(self, entity_name: str, record_id: int, user: AutotaskApiUser) -> Record | None:
        """``GET /{Entity}/{id}``: the shaped record, or None (answered as ``{"item": null}``)."""
        entity = self.entity(entity_name)
        with self._lock:
            found = self._find(entity, record_id)
            if found is None or not self._can_see(entity, user, found):
                return None
            return copy.deepcopy(entity.shape(found))

    def write(self, entity_name: str, body: Any, user: AutotaskApiUser, *, replace: bool) -> int:
        """PATCH (or PUT with ``replace``) on the collection URL; answers the id."""
        entity = self.entity(entity_name)
        if not entity.updatable:
            # Writes other than the agent's two are outside the simulation.
            raise AutotaskError(f"The sandbox does not simulate updates to {entity.name}.")
        record_id = writes.body_id(entity, body)
        if self.options.strict_requests:
            self._check_write_body(entity, body)
        new_values = writes.changes(entity, body, replace=replace)
        with self._lock:
            found = self._find(entity, record_id)
            if found is None or not self._can_see(entity, user, found):
                raise AutotaskError(
                    f"{entity.internal_name} with id {record_id} does not exist or you do not "
                    "have the adequate permissions to update it."
                )
            found.update(new_values)
            method = "PUT" if replace else "PATCH"
            self._writes.append(Write(entity.name, record_id, method, copy.deepcopy(new_values)))
        return record_id

    def field_information(self, entity_name: str) -> list[dict[str, Any]]:
        entity = self.entity(entity_name)
        with self._lock:
            picklists = {f: v for (e, f), v in self._picklists.items() if e == entity.name}
            return field_information(entity, copy.deepcopy(picklists))

    def entity_information(self, entity_name: str) -> dict[str, Any]:
        return entity_information(self.entity(entity_name))

    def udf_information(self, entity_name: str) -> list[dict[str, Any]]:
        entity = self.entity(entity_name)
        with self._lock:
            return udf_information(entity, self._table(entity))

    # ---------------------------------------------------------------------------- internals

    def _parse(self, entity: Entity, body: Any) -> query_engine.Query:
        strict = self.options.strict_requests
        if strict:
            # Checked first, so a misspelled key is named rather than reported as missing.
            normalised = query_engine.normalise_body(body)
            problems = conformance.request_errors(
                "autotask", "QueryModel", query_engine.body_for_conformance(normalised)
            )
            if problems:
                raise AutotaskError(*problems)
        return query_engine.parse(entity, body, strict=strict)

    def _check_write_body(self, entity: Entity, body: dict[str, Any]) -> None:
        # Nulls clear fields on the real service, so known fields sent as null are not the
        # schema's business; unknown (misspelled) names still are.
        checked = {
            k: v
            for k, v in writes.canonical_body(entity, body).items()
            if not (v is None and k in entity.kinds)
        }
        problems = conformance.request_errors("autotask", entity.model, checked, partial=True)
        if problems:
            raise AutotaskError(*problems)

    def _table(self, entity: Entity, *, create: bool = False) -> list[Record]:
        for key, table in self.world.autotask.items():
            if key.lower() == entity.name.lower():
                return table
        if not create:
            return []
        return self.world.autotask.setdefault(entity.name, [])

    def _sorted(self, entity: Entity) -> list[Record]:
        rows = [r for r in self._table(entity) if isinstance(r.get("id"), int)]
        return sorted(rows, key=lambda r: int(r["id"]))

    def _find(self, entity: Entity, record_id: int) -> Record | None:
        return next((r for r in self._table(entity) if r.get("id") == record_id), None)

    def _can_see(self, entity: Entity, user: AutotaskApiUser, record: Record) -> bool:
        allowed, hidden = user.visible_lob_association_ids, user.hidden_lob_association_ids
        if (allowed is None and not hidden) or entity.name not in LOB_FILTERED:
            return True
        lob = record.get(LOB_FIELD)
        return lob is None or ((allowed is None or lob in allowed) and lob not in hidden)

    def _visible(self, entity: Entity, user: AutotaskApiUser) -> list[Record]:
        return [r for r in self._sorted(entity) if self._can_see(entity, user, r)]
