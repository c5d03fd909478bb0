"""HTTP surface of the simulated Xero (placeholder until written)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette

from sandbox.admin import admin_routes

if TYPE_CHECKING:
    from sandbox.core import Sandbox


def create_app(sandbox: Sandbox) -> Starlette:
    return Starlette(routes=admin_routes(sandbox, sandbox.xero_faults))
