"""`/_sandbox/...` routes, mounted on both simulated services: faults, the clock, a summary of
the state (``/_sandbox/state``: Autotask's budget use, documents per Xero organisation), and the
lines of business an Autotask API user cannot see (``/_sandbox/autotask/hidden-lines-of-business``),
and payments entered in Xero (``/_sandbox/xero/payments``).

These paths exist only in the sandbox; tests and benchmarks use them to steer it from outside.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.faults import Fault, FaultPlan
from sandbox.xero.service import XeroError

HIDE_LOB_PATH = "/_sandbox/autotask/hidden-lines-of-business"
PAY_PATH = "/_sandbox/xero/payments"

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

    async def get_state(request: Request) -> JSONResponse:
        return JSONResponse(state_summary(sandbox))

    async def hide_lines_of_business(request: Request) -> JSONResponse:
        """``{"username": str, "hidden": [association id, ...]}``: billing items of those lines
        of business become invisible to that Autotask API user ([] shows them again)."""
        try:
            body = await request.json()
            hidden = {int(i) for i in body["hidden"]}
            user = next(
                (u for u in sandbox.world.autotask_users if u.username == body["username"]), None
            )
        except (ValueError, TypeError, KeyError) as exc:
            return JSONResponse({"error": f"bad request: {exc}"}, status_code=400)
        if user is None:
            return JSONResponse({"error": "no such Autotask API user"}, status_code=404)
        user.hidden_lob_association_ids = hidden
        return JSONResponse({"username": user.username, "hidden": sorted(hidden)})

    async def pay_invoice(request: Request) -> JSONResponse:
        """``{"tenant_id", "invoice_id", "amount" (omitted: what is due), "date", "approve"}``:
        a customer's payment entered in Xero; with ``approve`` a draft is approved first, as
        the accountant would before entering it. Xero's refusal comes back as 400."""
        try:
            body = await request.json()
            tenant, invoice_id = str(body["tenant_id"]), str(body["invoice_id"])
            xero = sandbox.xero
            with xero.lock:
                ledger = xero.ledger(tenant)
                doc = next((d for d in ledger.org.invoices if d["InvoiceID"] == invoice_id), None)
                if doc is None:
                    return JSONResponse({"error": "no such invoice"}, status_code=404)
                if body.get("approve") and doc["Status"] in ("DRAFT", "SUBMITTED"):
                    doc["Status"] = "AUTHORISED"
                amount = body.get("amount") or doc["AmountDue"]
            payment = xero.record_payment(tenant, invoice_id, amount, body.get("date"))
        except (ValueError, TypeError, KeyError) as exc:
            return JSONResponse({"error": f"bad request: {exc}"}, status_code=400)
        except XeroError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"PaymentID": payment.get("PaymentID")}, status_code=201)

    return [
        Route(PAY_PATH, pay_invoice, methods=["POST"]),
        Route("/_sandbox/state", get_state, methods=["GET"]),
        Route("/_sandbox/faults", list_faults, methods=["GET"]),
        Route("/_sandbox/faults", add_fault, methods=["POST"]),
        Route("/_sandbox/faults", clear_faults, methods=["DELETE"]),
        Route("/_sandbox/clock", get_clock, methods=["GET"]),
        Route("/_sandbox/clock", set_clock, methods=["POST"]),
        Route(HIDE_LOB_PATH, hide_lines_of_business, methods=["POST"]),
    ]


def state_summary(sandbox: Sandbox) -> dict[str, object]:
    """What a benchmark or test run in another process needs to read back: the clock, Autotask's
    hourly budget use and the latency it adds now, and each Xero organisation's documents."""
    budget = sandbox.autotask.budget
    xero = sandbox.xero
    organisations = []
    with xero.lock:
        for tenant_id, ledger in xero.ledgers.items():
            org = ledger.org
            organisations.append(
                {
                    "tenant_id": tenant_id,
                    "name": org.name,
                    "country_code": org.country_code,
                    "invoices": len(org.invoices),
                    "credit_notes": len(org.credit_notes),
                    "contacts": len(org.contacts),
                }
            )
    return {
        "now": sandbox.clock.now().isoformat(),
        "scale": sandbox.clock.scale,
        "autotask": {
            "requests_in_window": budget.used(),
            "hourly_budget": budget.limit,
            "added_latency_seconds": budget.latency(),
        },
        "xero": {"organisations": organisations},
    }
