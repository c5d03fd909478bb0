"""HTTP surface of the simulated Xero: identity, login and the Accounting API on one host.

Layers, outermost first: the rate governor (so a request slowed by an injected fault keeps its
concurrency slot), the round trip (``SandboxOptions.round_trip``), fault injection, then the routes
(identity, `/api.xro/2.0/...`, `/_sandbox/...`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.admin import admin_routes
from sandbox.faults import FaultInjectionMiddleware
from sandbox.xero.access import rate_key
from sandbox.xero.accounting import accounting_routes
from sandbox.xero.identity import identity_routes
from sandbox.xero.limits import RateLimitMiddleware
from sandbox.xero.serialize import fault_error_body

if TYPE_CHECKING:
    from sandbox.core import Sandbox


def create_app(sandbox: Sandbox) -> Starlette:
    service = sandbox.xero
    routes = [
        *identity_routes(sandbox),
        *accounting_routes(sandbox),
        *admin_routes(sandbox, sandbox.xero_faults),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(
                RateLimitMiddleware,
                governor=service.governor,
                resolve=lambda headers: rate_key(service, headers),
            ),
            Middleware(RoundTripMiddleware, seconds=sandbox.options.round_trip),
            Middleware(
                FaultInjectionMiddleware, plan=sandbox.xero_faults, error_body=fault_error_body
            ),
        ],
    )


class RoundTripMiddleware:
    """Every request but the sandbox's own routes waits ``seconds`` (real) before it is handled."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sandbox_route = scope["type"] == "http" and scope["path"].startswith("/_sandbox")
        if self.seconds > 0 and scope["type"] == "http" and not sandbox_route:
            await asyncio.sleep(self.seconds)
        await self.app(scope, receive, send)
