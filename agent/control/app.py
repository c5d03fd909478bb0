"""The control API as a FastAPI app (docs/control-api.md): HTTP only translates, the work and the
state are ``AgentService``'s. Handlers are plain ``def`` (FastAPI runs them in its thread pool),
except ``/events`` (an async stream).

Every error is ``{"error": one line, "fix": one line | null}`` (400 for bad input, including what
FastAPI's validation finds, 404, 409, 503); the response models make ``/openapi.json`` precise
(schemathesis tests the app against it).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Body, FastAPI, Header, Path, Query
from fastapi import Request as HttpRequest
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model, model_validator
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent.control.connect import ConnectError
from agent.control.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from agent.control.service import SPECS, AgentService, ApiError, SettingSpec, __version__
from agent.store import CATALOGS, OutboxKind, OutboxState
from agent.store.mappings import KNOWN_MAPPING_TYPES

log = logging.getLogger("atx.control")

KEEP_ALIVE_SECONDS = 15.0
NOT_BLANK = r"\S"  # at least one character that is not a space
CURSOR_PATTERN = r"^[0-9TZ:.+-]{1,40}\|[0-9]{1,15}$"  # next_cursor as /queue gives it
POLL_SECONDS = 0.05

StateName = StrEnum("StateName", {s.value: s.value for s in OutboxState})  # type: ignore[misc]
KindName = StrEnum("KindName", {k.value: k.value for k in OutboxKind})  # type: ignore[misc]


# -- models ---------------------------------------------------------------------------------------


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _json_number(value: Any) -> Any:
    # JSON numbers only: 7389.0 is the integer 7389, "7389" is not a number.
    if isinstance(value, str | bool):
        raise ValueError("expected a whole number")
    return value


def json_int(minimum: float | None, maximum: float | None) -> Any:
    """A whole JSON number within bounds (the bounds in the schema, before the check)."""
    return Annotated[
        int, Field(ge=minimum, le=maximum, strict=False), BeforeValidator(_json_number)
    ]


class Request(Model):
    """A request body: strict (no "1" for 1, no 0 for false)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Open(BaseModel):
    """A model that may carry more fields than it names (from lower layers)."""

    model_config = ConfigDict(extra="allow")


class ErrorBody(Model):
    error: str
    fix: str | None
    fields: dict[str, str] | None = None
    flow: dict[str, Any] | None = None


class Health(Model):
    ok: bool
    version: str


class Healthz(Model):
    ok: bool
    state: str
    version: str


class CycleSummary(Model):
    started_at: str | None
    finished_at: str | None
    seen: int
    posted: int
    adopted: int
    marked: int
    blocked: int
    failed: int
    ok: bool
    errors: list[str]


class AgentInfo(Model):
    version: str
    started_at: str | None
    state: Literal["setup", "idle", "cycling", "stopping"]
    last_cycle: CycleSummary | None
    next_cycle_at: str | None
    interval_minutes: int


class SetupFlags(Model):
    autotask: bool
    xero: bool
    options: bool
    accounts: bool
    test_invoice: bool


class Connection(Model):
    tenant_id: str
    name: str
    short_code: str | None
    selected: bool
    auth_mode: str
    last_refresh_at: str | None
    access_expires_at: str | None
    refresh_expires_in_days: float | None
    warning: str | None
    paused_until: str | None


class AutotaskBudget(Model):
    used: int
    limit: int
    percent: float


class XeroBudget(Model):
    org: str
    name: str
    minute_remaining: int | None
    day_remaining: int | None
    paused_until: str | None


class Budgets(Model):
    autotask: AutotaskBudget | None
    xero: list[XeroBudget]


class Attention(Model):
    kind: str
    message: str
    fix: str | None
    count: int


class Status(Model):
    agent: AgentInfo
    setup: SetupFlags
    counts: dict[str, int]
    connections: list[Connection]
    budgets: Budgets
    attention: list[Attention]


class QueueItem(Model):
    id: int
    kind: str
    autotask_id: str
    number: str | None
    customer: str | None
    org: str
    org_name: str | None
    state: str
    total: str | None
    currency: str | None
    xero_id: str | None
    xero_number: str | None
    attempts: int
    next_attempt_at: str | None
    last_error: str | None
    block_reasons: list[str]
    updated_at: str


class LineProvenance(Open):
    line: int
    description: str | None = None
    billing_item_id: int | None = None
    account: str | None = None
    tax: str | None = None
    item: str | None = None
    amounts: str | None = None
    notes: list[str] = Field(default_factory=list)


class HistoryEntry(Model):
    id: int
    at: str
    from_state: str | None
    to_state: str
    detail: str | None


class QueueDetail(QueueItem):
    payload: dict[str, Any] | None
    provenance: list[LineProvenance]
    history: list[HistoryEntry]
    fix: str | None
    actions: list[Literal["retry", "skip", "resync"]]
    amount_paid: str | None = None
    amount_credited: str | None = None
    amount_due: str | None = None
    paid_date: str | None = None
    payment_problem: str | None = None


class QueuePage(Model):
    items: list[QueueItem]
    next_cursor: str | None
    total: int


class RowResult(Model):
    item: QueueItem
    message: str


class SkipRequest(Request):
    reason: str | None = Field(default=None, max_length=500)


class RetryFailedRequest(Request):
    org: str | None = None


class CountResult(Model):
    count: int
    message: str


class CycleAnswer(Model):
    accepted: bool
    message: str


class SyncInvoiceRequest(Request):
    autotask_id: json_int(1, 2**53)  # type: ignore[valid-type]
    dry_run: bool = False


class SyncInvoiceAnswer(Model):
    outcome: Literal["previewed", "posted", "blocked", "failed"]
    org: str
    payload: dict[str, Any] | None
    provenance: list[LineProvenance]
    reasons: list[str]
    xero_number: str | None
    message: str
    # A split invoice (mixed_invoice = split): each part, in its organisation (the dry run's
    # parts: organisation, routing, billing items, document or blocked reasons); else empty.
    parts: list[dict[str, Any]] = []


class SettingValue(Model):
    value: Any = None
    source: Literal["env", "stored", "default"]
    secret: bool
    set: bool
    editable: bool
    choices: list[str] | None


class SettingsAnswer(Model):
    values: dict[str, SettingValue]
    message: str | None = None


def _setting_field(spec: SettingSpec) -> tuple[Any, Any]:
    kind: Any
    if spec.kind in ("text", "url"):
        kind = Annotated[str, Field(max_length=spec.max_length or 2000)]
    elif spec.kind == "secret":
        kind = Annotated[str, Field(min_length=1, max_length=2000)]
    elif spec.kind == "int":
        kind = json_int(spec.minimum, spec.maximum)
    elif spec.kind == "number":
        kind = Annotated[
            float,
            Field(ge=spec.minimum, le=spec.maximum, strict=False),
            BeforeValidator(_json_number),
        ]
    elif spec.kind == "bool":
        kind = bool
    else:
        assert spec.choices is not None
        kind = Literal[spec.choices]
    return (kind | None, None)


class _SettingsBody(Request):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"minProperties": 1})

    @model_validator(mode="after")
    def _not_empty(self) -> _SettingsBody:
        if not self.model_fields_set:
            raise ValueError("give at least one setting")
        return self


# PUT /settings: every setting the API knows, each optional; null removes a stored value.
if TYPE_CHECKING:
    SettingsPut = _SettingsBody
else:
    SettingsPut = create_model(
        "SettingsPut",
        __base__=_SettingsBody,
        **{spec.name: _setting_field(spec) for spec in SPECS},
    )


class SetupAutotaskRequest(Request):
    username: str = Field(max_length=200)
    secret: str = Field(max_length=500)
    integration_code: str = Field(max_length=200)


class SetupAutotaskAnswer(Model):
    ok: bool
    zone_url: str | None
    error: str | None
    fix: str | None
    # After a passing test: the API user seems not to see every line of business.
    warning: str | None = None


MappingKind = Literal[KNOWN_MAPPING_TYPES]  # type: ignore[valid-type]


class MappingItem(Model):
    kind: str
    org: str
    key: str
    value: str | None
    label: str | None


class MappingsAnswer(Model):
    items: list[MappingItem]


class MappingPut(Request):
    kind: MappingKind
    org: str = Field(default="", max_length=64)
    key: str = Field(max_length=200, pattern=NOT_BLANK)
    value: str | None = Field(max_length=200, pattern=NOT_BLANK)
    label: str | None = Field(default=None, max_length=200)


class MappingPutAnswer(Model):
    item: MappingItem
    unblocked: int
    message: str


CatalogName = Literal[CATALOGS]  # type: ignore[valid-type]
AutotaskListName = Literal[
    "billing_codes",
    "tax_regions",
    "tax_categories",
    "invoice_templates",
    "lines_of_business",
    "companies",
    "unsent_invoices",
    "udf_values",
    "products",
    "resources",
]


class CatalogAnswer(Model):
    items: list[dict[str, Any]]
    refreshed_at: str | None


class CatalogRefreshAnswer(Model):
    counts: dict[str, int]
    message: str


class AutotaskItem(Open):
    id: str
    label: str


class AutotaskListAnswer(Model):
    items: list[AutotaskItem]


class ConnectionsAnswer(Model):
    items: list[Connection]


class SelectRequest(Request):
    tenant_ids: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=100)


class ConnectFlow(Model):
    flow_id: str
    state: Literal["waiting", "authorizing", "connected", "failed", "expired"]
    link: str
    code: str
    expires_at: str | None
    redirect_uri: str
    ssh_hint: str
    organisations: list[Connection]
    error: str | None


class PasteRequest(Request):
    url: str = Field(max_length=4000)


class ClientCredentialsRequest(Request):
    client_id: str | None = Field(default=None, max_length=200)
    client_secret: str | None = Field(default=None, max_length=500)


class LogLine(Model):
    id: int
    at: str
    level: str
    logger: str
    message: str


class LogsAnswer(Model):
    items: list[LogLine]


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "debug", "info", "warning", "error"]
RowId = Annotated[int, Path(ge=1, le=2**53)]

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "bad input"},
    404: {"model": ErrorBody, "description": "not found"},
    409: {"model": ErrorBody, "description": "not allowed now (state, setup incomplete)"},
    503: {"model": ErrorBody, "description": "the agent is stopping"},
}


# -- the app --------------------------------------------------------------------------------------


def create_app(
    service: AgentService,
    *,
    keep_alive_seconds: float = KEEP_ALIVE_SECONDS,
) -> FastAPI:
    app = FastAPI(
        title="atx agent control API",
        version=__version__,
        description="The agent's control API (docs/control-api.md).",
        responses=ERRORS,
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    app.state.closing = False

    @app.exception_handler(ApiError)
    async def api_error(request: HttpRequest, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status)

    @app.exception_handler(ConnectError)
    async def connect_error(request: HttpRequest, exc: ConnectError) -> JSONResponse:
        body: dict[str, Any] = exc.to_dict()
        if exc.flow is not None:
            body["flow"] = exc.flow
        return JSONResponse(body, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: HttpRequest, exc: RequestValidationError) -> JSONResponse:
        fields: dict[str, str] = {}
        for error in exc.errors():
            loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path")]
            fields[".".join(loc) or "body"] = str(error.get("msg", "invalid"))
        first = next(iter(fields.items()), ("body", "invalid"))
        return JSONResponse(
            {
                "error": f"{first[0]}: {first[1]}",
                "fix": "correct the request as the API description (/openapi.json) says",
                "fields": fields,
            },
            status_code=400,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: HttpRequest, exc: StarletteHTTPException) -> JSONResponse:
        status = 400 if exc.status_code == 422 else exc.status_code
        fix = "see /openapi.json for the paths and methods" if status in (404, 405) else None
        headers = dict(exc.headers or {})
        if status == 405:
            # Every method of the path (Starlette names only those of the first route found).
            headers["Allow"] = ", ".join(_allowed_methods(app, request.scope))
        return JSONResponse(
            {"error": str(exc.detail), "fix": fix}, status_code=status, headers=headers
        )

    @app.exception_handler(Exception)
    async def internal_error(request: HttpRequest, exc: Exception) -> JSONResponse:
        log.error(
            "control API %s %s failed: %s: %s",
            request.method,
            request.url.path,
            type(exc).__name__,
            " ".join(str(exc).split())[:300],
        )
        return JSONResponse(
            {"error": f"internal error ({type(exc).__name__})", "fix": "see the agent's log"},
            status_code=500,
        )

    # -- health and status --------------------------------------------------------------------

    @app.get("/health", response_model=Health)
    def health() -> dict[str, Any]:
        return {"ok": True, "version": __version__}

    @app.get(
        "/healthz",
        response_model=Healthz,
        responses={503: {"model": Healthz, "description": "the agent is stopping"}},
    )
    def healthz() -> JSONResponse:
        """Liveness for an orchestrator or a monitor: 200 while the agent runs, 503 while it
        stops. (Whether it syncs well is in /status and /metrics.)"""
        state = service.state()
        ok = state != "stopping"
        return JSONResponse(
            {"ok": ok, "state": state, "version": __version__}, status_code=200 if ok else 503
        )

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {METRICS_CONTENT_TYPE: {"schema": {"type": "string"}}}}},
    )
    def metrics() -> Response:
        """Prometheus text format: outbox rows per state, cycles and their durations, API calls
        and budgets per service and organisation, Xero sign-in expiry."""
        return Response(service.metrics.render(), media_type=METRICS_CONTENT_TYPE)

    @app.get("/status", response_model=Status)
    def status() -> dict[str, Any]:
        return service.status()

    # -- queue ----------------------------------------------------------------------------------

    @app.get("/queue", response_model=QueuePage)
    def queue(
        state: Annotated[list[StateName] | None, Query()] = None,
        kind: Annotated[list[KindName] | None, Query()] = None,
        org: Annotated[str | None, Query(max_length=64)] = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
        cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> dict[str, Any]:
        return service.queue(
            states=[s.value for s in state] if state else None,
            kinds=[k.value for k in kind] if kind else None,
            org=org,
            text=q,
            cursor=cursor,
            limit=limit,
        )

    @app.post("/queue/retry-failed", response_model=CountResult)
    def retry_failed(
        body: Annotated[RetryFailedRequest | None, Body()] = None,
    ) -> dict[str, Any]:
        return service.retry_failed(body.org if body else None)

    @app.get("/queue/{id:int}", response_model=QueueDetail)
    def queue_detail(id: RowId) -> dict[str, Any]:
        return service.queue_detail(id)

    @app.post("/queue/{id:int}/retry", response_model=RowResult)
    def retry(id: RowId) -> dict[str, Any]:
        return service.retry_row(id)

    @app.post("/queue/{id:int}/skip", response_model=RowResult)
    def skip(
        id: RowId,
        body: Annotated[SkipRequest | None, Body()] = None,
    ) -> dict[str, Any]:
        return service.skip_row(id, body.reason if body else None)

    @app.post("/queue/{id:int}/resync", response_model=RowResult)
    def resync(id: RowId) -> dict[str, Any]:
        return service.resync_row(id)

    # -- cycles -----------------------------------------------------------------------------------

    @app.post("/cycle", response_model=CycleAnswer, status_code=202)
    def cycle() -> dict[str, Any]:
        return service.request_cycle()

    @app.post("/sync-invoice", response_model=SyncInvoiceAnswer)
    def sync_invoice(body: SyncInvoiceRequest) -> dict[str, Any]:
        return service.sync_invoice(body.autotask_id, body.dry_run)

    # -- settings and setup -----------------------------------------------------------------------

    @app.get("/settings", response_model=SettingsAnswer)
    def get_settings() -> dict[str, Any]:
        return {"values": service.settings_view(), "message": None}

    @app.put("/settings", response_model=SettingsAnswer)
    def put_settings(body: SettingsPut) -> dict[str, Any]:
        changes = body.model_dump(exclude_unset=True)
        return service.put_settings(changes)

    @app.post("/setup/autotask", response_model=SetupAutotaskAnswer)
    def setup_autotask(body: SetupAutotaskRequest) -> dict[str, Any]:
        return service.setup_autotask(body.username, body.secret, body.integration_code)

    # -- mappings, catalogs, Autotask lists ------------------------------------------------------

    @app.post("/setup/finish", response_model=CycleAnswer)
    def finish_setup() -> dict[str, Any]:
        return service.finish_setup()

    @app.get("/mappings", response_model=MappingsAnswer)
    def mappings(
        kind: Annotated[MappingKind | None, Query()] = None,
        org: Annotated[str | None, Query(max_length=64)] = None,
    ) -> dict[str, Any]:
        return service.mappings(kind, org)

    @app.put("/mappings", response_model=MappingPutAnswer)
    def put_mapping(body: MappingPut) -> dict[str, Any]:
        return service.put_mapping(body.kind, body.org, body.key, body.value, body.label)

    @app.get("/catalogs/{org}/{name:catalog}", response_model=CatalogAnswer)
    def catalog(
        org: Annotated[str, Path(max_length=64)],
        name: CatalogName,
    ) -> dict[str, Any]:
        return service.catalog(org, name)

    @app.post("/catalogs/{org}/refresh", response_model=CatalogRefreshAnswer)
    def refresh_catalogs(org: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
        return service.refresh_catalogs(org)

    @app.get("/autotask/{name}", response_model=AutotaskListAnswer)
    def autotask_list(
        name: AutotaskListName,
        q: Annotated[str | None, Query(max_length=100)] = None,
    ) -> dict[str, Any]:
        return service.autotask_list(name, q)

    # -- connections and the connect flow ---------------------------------------------------------

    @app.get("/connections", response_model=ConnectionsAnswer)
    def connections() -> dict[str, Any]:
        return {"items": service.connections()}

    @app.post("/connections/select", response_model=ConnectionsAnswer)
    def select_connections(body: SelectRequest) -> dict[str, Any]:
        return {"items": service.select_connections(body.tenant_ids)}

    def flows() -> Any:
        if service.connect is None:
            service.attach_connect()
        return service.connect

    @app.post("/connect/client-credentials", response_model=ConnectionsAnswer)
    def client_credentials(
        body: Annotated[ClientCredentialsRequest | None, Body()] = None,
    ) -> dict[str, Any]:
        given = body or ClientCredentialsRequest()
        return {"items": service.connect_client_credentials(given.client_id, given.client_secret)}

    @app.post("/connect", response_model=ConnectFlow)
    def start_connect() -> dict[str, Any]:
        result: dict[str, Any] = flows().start()
        return result

    @app.get("/connect/{flow_id}", response_model=ConnectFlow)
    def get_connect(flow_id: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
        result: dict[str, Any] = flows().get(flow_id)
        return result

    @app.post("/connect/{flow_id}/paste", response_model=ConnectFlow)
    def paste(flow_id: Annotated[str, Path(max_length=64)], body: PasteRequest) -> dict[str, Any]:
        connect = flows()
        connect.get(flow_id)  # an unknown flow is a 404 whatever was pasted
        result: dict[str, Any] = connect.paste(flow_id, body.url)
        return result

    # -- logs and events ------------------------------------------------------------------------

    @app.get("/logs", response_model=LogsAnswer)
    def logs(
        level: Annotated[LogLevel | None, Query()] = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=2000)] = 200,
    ) -> dict[str, Any]:
        return service.log_lines(level, q, limit)

    @app.get(
        "/events",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "Server-Sent Events (docs/control-api.md)",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            }
        },
    )
    async def events(
        request: HttpRequest,
        last_event_id: Annotated[str | None, Header(max_length=20)] = None,
    ) -> StreamingResponse:
        bus = service.bus
        if last_event_id is not None and last_event_id.strip().isdigit():
            start = int(last_event_id.strip())
        else:
            start = bus.last_id

        async def stream() -> AsyncIterator[str]:
            last = start
            yield ": connected\n\n"
            idle = 0.0
            since_check = 0.0
            while not app.state.closing and not service.stop_event.is_set():
                found, lost = bus.after(last)
                if lost:
                    last = bus.last_id
                    yield f"id: {last}\nevent: reset\ndata: {{}}\n\n"
                    continue
                if found:
                    idle = 0.0
                    chunk = []
                    for event in found:
                        data = json.dumps(event.data, default=str, separators=(",", ":"))
                        chunk.append(f"id: {event.id}\nevent: {event.name}\ndata: {data}\n\n")
                        last = event.id
                    yield "".join(chunk)
                    continue
                await asyncio.sleep(POLL_SECONDS)
                idle += POLL_SECONDS
                since_check += POLL_SECONDS
                if idle >= keep_alive_seconds:
                    idle = 0.0
                    yield ": keep-alive\n\n"
                if since_check >= 1.0:
                    since_check = 0.0
                    if await request.is_disconnected():
                        return

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    _tidy_openapi(app)
    return app


class _CatalogName(Convertor[str]):
    """Routes /catalogs/{org}/{name} only for catalog names (so .../refresh is the refresh)."""

    regex = "|".join(CATALOGS)

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("catalog", _CatalogName())


def _allowed_methods(app: FastAPI, scope: Any) -> list[str]:
    from starlette.routing import Match, Route

    # The routes of the most literal template that matches: /catalogs/x/refresh is the refresh
    # (POST), not a catalog named "refresh" (GET /catalogs/{org}/{name}).
    found: dict[int, set[str]] = {}
    for route in app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches({**scope, "method": next(iter(route.methods))})
            if match is Match.FULL:
                found.setdefault(route.path.count("{"), set()).update(route.methods)
    return sorted(found[min(found)]) if found else []


def _tidy_openapi(app: FastAPI) -> None:
    """The description without FastAPI's 422 (this API answers 400 for invalid input)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        for methods in schema.get("paths", {}).values():
            for operation in methods.values():
                operation.get("responses", {}).pop("422", None)
        components = schema.get("components", {}).get("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
