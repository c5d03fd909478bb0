"""HTTP surface of the simulated Autotask REST API v1.0.

Order of checks for a request: route (404/405) -> zone discovery needs no credentials -> credentials
(401) -> thread slot (Itgenatr005) -> hourly budget (429) -> added latency (the usage penalty and
``round_trip``) -> the operation.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.admin import admin_routes
from sandbox.autotask.errors import AutotaskError, error_body
from sandbox.autotask.routes import Target, not_allowed_body, not_found_body, resolve
from sandbox.faults import FaultInjectionMiddleware

if TYPE_CHECKING:
    from sandbox.autotask.service import AutotaskService
    from sandbox.core import Sandbox
    from sandbox.world import AutotaskApiUser

VERSION = {"majorVersion": "1", "minorVersion": "0", "build": "sandbox", "customerType": "Sandbox"}
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

ZONE_UNKNOWN_TEXT = "Zone information could not be determined"  # measured live, reference §3
BUDGET_TEXT = (
    "The API request threshold of {limit} requests per 60 minutes has been exceeded for this "
    "Autotask database; API requests are refused for every integration until usage falls "
    "below the threshold."
)
# The status is deliberately not 429: the reference (§7, n8n-nodes-autotask retryHandler.ts)
# warns the thread error may come with a non-429 status, so clients must match on the text.
THREAD_STATUS = 500
THREAD_TEXT = (
    "Thread Threshold Exceeded: Itgenatr005: the threshold of {limit} threads has been exceeded "
    "for the {endpoint} endpoint and API tracking identifier; retry when a request completes."
)


def create_app(sandbox: Sandbox) -> Starlette:
    service = sandbox.autotask

    async def handle(request: Request) -> Response:
        target = resolve(request.url.path)
        if target is None:
            return JSONResponse(not_found_body(str(request.url)), status_code=404)
        if request.method not in target.methods:
            return JSONResponse(
                not_allowed_body(request.method),
                status_code=405,
                headers={"Allow": ", ".join(target.methods)},
            )
        if target.operation == "zone":
            return _zone(service, request)
        user = service.authenticate(
            request.headers.get("UserName", ""),
            request.headers.get("Secret", ""),
            request.headers.get("ApiIntegrationCode", ""),
        )
        if user is None:
            # One message for every credential failure, so nothing tells which value is wrong
            # (some connectors report an empty 401 body; the {"errors": [...]} shape is the
            # documented error form, reference/autotask-api.md §6).
            return JSONResponse(
                {"errors": ["Unauthorized: UserName, Secret or ApiIntegrationCode is invalid."]},
                status_code=401,
            )
        return await _limited(service, request, target, user)

    routes: list[Any] = [
        *admin_routes(sandbox, sandbox.autotask_faults),
        Route("/{path:path}", handle, methods=ALL_METHODS),
    ]
    middleware = [
        Middleware(
            FaultInjectionMiddleware,
            plan=sandbox.autotask_faults,
            error_body=error_body,
        )
    ]
    return Starlette(routes=routes, middleware=middleware)


def _base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}/ATServicesRest/"


def _zone(service: AutotaskService, request: Request) -> Response:
    # Exempt from credentials, thread limits and (sandbox choice) the hourly budget: reference §3.
    user = service.zone_user(request.query_params.get("user", ""))
    if user is None:
        return JSONResponse({"errors": [ZONE_UNKNOWN_TEXT]}, status_code=500)
    return JSONResponse(
        {
            "zoneName": "Sandbox (simulated Autotask)",
            "url": _base_url(request),
            "webUrl": f"{request.url.scheme}://{request.url.netloc}/",
            "ci": 1,
        }
    )


async def _limited(
    service: AutotaskService, request: Request, target: Target, user: AutotaskApiUser
) -> Response:
    code = user.integration_code
    if not service.threads.acquire(code, target.endpoint):
        text = THREAD_TEXT.format(limit=service.threads.limit, endpoint=target.endpoint)
        return JSONResponse({"errors": [text]}, status_code=THREAD_STATUS)
    try:
        if not service.budget.try_consume():
            text = BUDGET_TEXT.format(limit=service.budget.limit)
            return JSONResponse({"errors": [text]}, status_code=429)
        delay = service.budget.latency() + service.options.round_trip
        if delay > 0:
            # Real seconds, not scaled by the sandbox clock: the delay is what a client waits.
            await asyncio.sleep(delay)
        try:
            return await _operate(service, request, target, user)
        except AutotaskError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)
    finally:
        service.threads.release(code, target.endpoint)


async def _off_the_loop(answer: Callable[[], Response]) -> Response:
    """A page of up to 500 records takes the simulation ~0.1 s to select, copy and render: done
    in a thread, so that requests arriving meanwhile (a client's PATCHes on 3 threads, say) are
    not held behind it, as the real service, which serves requests side by side, would not."""
    return await asyncio.to_thread(answer)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise AutotaskError(f"The request body is not valid JSON: {exc}") from exc


def _search(request: Request) -> Any:
    text = request.query_params.get("search")
    if text is None:
        raise AutotaskError("The 'search' parameter is required.")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise AutotaskError(f"The 'search' parameter is not valid JSON: {exc}") from exc


async def _operate(
    service: AutotaskService, request: Request, target: Target, user: AutotaskApiUser
) -> Response:
    entity = target.entity.name if target.entity is not None else ""
    op = target.operation
    if op == "threshold":
        return JSONResponse(service.threshold_information())
    if op == "version":
        return JSONResponse(VERSION)
    if op in ("query", "count"):
        body = _search(request) if request.method == "GET" else await _json_body(request)
        if op == "count":
            return JSONResponse({"queryCount": service.count(entity, body, user)})
        base = _base_url(request)
        return await _off_the_loop(lambda: JSONResponse(service.query(entity, body, user, base)))
    if op == "next":
        token = request.query_params.get("paging")
        if not token:
            raise AutotaskError("The 'paging' parameter is required.")
        # The next page is POSTed with the query's body; the URL's copy stands in for an empty one.
        body = await _json_body(request)
        if body is None:
            body = _search(request)
        base = _base_url(request)
        return await _off_the_loop(
            lambda: JSONResponse(service.query(entity, body, user, base, token))
        )
    if op == "item":
        assert target.record_id is not None
        return JSONResponse({"item": service.read(entity, target.record_id, user)})
    if op == "collection":
        if request.method == "POST":
            raise AutotaskError(f"The sandbox does not simulate creating {entity}.")
        body = await _json_body(request)
        record_id = service.write(entity, body, user, replace=request.method == "PUT")
        return JSONResponse({"itemId": record_id})
    if op == "info":
        return JSONResponse({"info": service.entity_information(entity)})
    if op == "fields":
        return JSONResponse({"fields": service.field_information(entity)})
    return JSONResponse({"fields": service.udf_information(entity)})
