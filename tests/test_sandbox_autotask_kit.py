"""Shared helpers for the simulated Autotask tests: small worlds and an HTTP client on the sandbox.

(No tests here; the ``test_`` prefix only keeps the file among the Autotask sandbox tests.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from sandbox.core import Sandbox, SandboxOptions
from sandbox.server import SandboxUrls, running_sandbox
from sandbox.world import (
    SANDBOX_AUTOTASK_INTEGRATION_CODE,
    SANDBOX_AUTOTASK_SECRET,
    SANDBOX_AUTOTASK_USERNAME,
    AutotaskApiUser,
    World,
)

OTHER_USERNAME = "other-tool@sandbox.example"
OTHER_SECRET = "other-secret"  # a sandbox-only value
OTHER_CODE = "OTHERINTEGRATIONCODE"
LOB_USERNAME = "lob-user@sandbox.example"
LOB_CODE = "LOBINTEGRATIONCODE"
ANY_ID = [{"op": "gte", "field": "id", "value": 0}]


def api_users() -> list[AutotaskApiUser]:
    return [
        AutotaskApiUser(
            SANDBOX_AUTOTASK_USERNAME, SANDBOX_AUTOTASK_SECRET, SANDBOX_AUTOTASK_INTEGRATION_CODE
        ),
        AutotaskApiUser(OTHER_USERNAME, OTHER_SECRET, OTHER_CODE),
        AutotaskApiUser(LOB_USERNAME, OTHER_SECRET, LOB_CODE, visible_lob_association_ids={1}),
    ]


def invoice(invoice_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": invoice_id,
        "companyID": 100 + invoice_id % 3,
        "invoiceNumber": f"INV-{invoice_id:05d}",
        "invoiceDateTime": f"2026-03-{1 + invoice_id % 28:02d}T00:00:00",
        "invoiceTotal": float(invoice_id),
        "isVoided": False,
        **fields,
    }


def small_world() -> World:
    """A handful of records for filter tests; ids out of order on purpose."""
    world = World(autotask_users=api_users())
    world.autotask["Invoices"] = [
        invoice(3, invoiceNumber="INV-Alpha", webServiceDate="2026-03-05T10:00:00.250"),
        invoice(1, invoiceNumber="inv-beta", invoiceDateTime="2026-03-01T08:30:00"),
        invoice(2, invoiceNumber=None, isVoided=True, voidedDate="2026-03-04T12:00:00"),
        invoice(5, invoiceNumber="X-ALPHA-9", invoiceTotal=-20.5),
        invoice(4, invoiceNumber="INV-Gamma", paidDate="2026-03-10T00:00:00"),
    ]
    world.autotask["BillingItems"] = [
        {"id": 10, "invoiceID": 1, "itemName": "Labour", "organizationalLevelAssociationID": 1},
        {"id": 11, "invoiceID": 1, "itemName": "Laptop", "organizationalLevelAssociationID": 2},
        {"id": 12, "invoiceID": 1, "itemName": "Freight", "organizationalLevelAssociationID": None},
    ]
    world.autotask["Companies"] = [
        {
            "id": 100,
            "companyName": "Acme",
            "userDefinedFields": [{"name": "Xero Org", "value": "NZ"}],
        },
        {
            "id": 101,
            "companyName": "Globex",
            "userDefinedFields": [{"name": "Xero Org", "value": "AU"}],
        },
    ]
    return world


def invoice_world(count: int) -> World:
    world = World(autotask_users=api_users())
    world.autotask["Invoices"] = [invoice(i) for i in range(1, count + 1)]
    return world


def headers(
    username: str = SANDBOX_AUTOTASK_USERNAME,
    secret: str = SANDBOX_AUTOTASK_SECRET,
    code: str = SANDBOX_AUTOTASK_INTEGRATION_CODE,
) -> dict[str, str]:
    return {"ApiIntegrationCode": code, "UserName": username, "Secret": secret}


@dataclass
class Api:
    """An httpx client on a running sandbox, signed as one API user."""

    sandbox: Sandbox
    urls: SandboxUrls
    client: httpx.Client

    @property
    def base(self) -> str:
        return self.urls.autotask_zone_url + "V1.0/"

    def record(self, entity: str, record_id: int) -> dict[str, Any]:
        """The stored record, read through the service (not the API)."""
        found = self.sandbox.autotask.get(entity, record_id)
        assert found is not None
        return found

    def query(self, entity: str, body: dict[str, Any]) -> httpx.Response:
        return self.client.post(f"{self.base}{entity}/query", json=body)

    def items(self, entity: str, filters: list[dict[str, Any]], **extra: Any) -> list[Any]:
        response = self.query(entity, {"filter": filters, **extra})
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    def ids(self, entity: str, filters: list[dict[str, Any]]) -> list[int]:
        return [item["id"] for item in self.items(entity, filters)]

    def errors(self, entity: str, body: dict[str, Any]) -> list[str]:
        response = self.query(entity, body)
        assert response.status_code == 500, response.text
        return list(response.json()["errors"])


@contextlib.contextmanager
def serving(
    world: World, options: SandboxOptions | None = None, **header_args: str
) -> Iterator[Api]:
    sandbox = Sandbox(world, options=options)
    with (
        running_sandbox(sandbox) as urls,
        httpx.Client(headers=headers(**header_args), timeout=10) as client,
    ):
        yield Api(sandbox, urls, client)
