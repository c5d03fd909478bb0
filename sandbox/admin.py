"""`/_sandbox/...` routes, mounted on both simulated services: faults and the clock.

These paths exist only in the sandbox; tests and benchmarks use them to steer it from outside.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.faults import Fault, FaultPlan

if TYPE_CHECKING:
    from sandbox.core import Sandbox


def admin_routes(sandbox: Sandbox, faults: FaultPlan) -> list[Route]:
    async def list_faults(request: Request) -> JSONResponse:
        return JSONResponse({"faults": [f.to_dict() for f in faults.pending()]})

    async def add_fault(request: Request) -> JSONResponse:
        try:
            body = await request.json()
            fault = faults.add(Fault(**body))
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": f"bad fault: {exc}"}, status_code=400)
        return JSONResponse(fault.to_dict(), status_code=201)

    async def clear_faults(request: Request) -> JSONResponse:
        faults.clear()
        return JSONResponse({"faults": []})

    async def get_clock(request: Request) -> JSONResponse:
        clock = sandbox.clock
        return JSONResponse({"now": clock.now().isoformat(), "scale": clock.scale})

    async def set_clock(request: Request) -> JSONResponse:
        try:
            body = await request.json()
            if "scale" in body:
                sandbox.clock.set_scale(float(body["scale"]))
            if "advance" in body:
                sandbox.clock.advance(float(body["advance"]))
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": f"bad clock change: {exc}"}, status_code=400)
        return await get_clock(request)

    return [
        Route("/_sandbox/faults", list_faults, methods=["GET"]),
        Route("/_sandbox/faults", add_fault, methods=["POST"]),
        Route("/_sandbox/faults", clear_faults, methods=["DELETE"]),
        Route("/_sandbox/clock", get_clock, methods=["GET"]),
        Route("/_sandbox/clock", set_clock, methods=["POST"]),
    ]
