"""HTTP surface of the simulated Xero: identity, login and the Accounting API on one host.

Layers, outermost first: the rate governor (so a request slowed by an injected fault keeps its
concurrency slot), fault injection, then the routes (identity, `/api.xro/2.0/...`, `/_sandbox/...`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware

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
            Middleware(
                FaultInjectionMiddleware, plan=sandbox.xero_faults, error_body=fault_error_body
            ),
        ],
    )
