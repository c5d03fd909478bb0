"""Everything the running sandbox answers fits the official API descriptions.

A tour drives both simulated services over HTTP through every operation the agent uses, on a
seeded MSP. An httpx response hook checks each JSON answer against the response schema the spec
names for that operation and status; the tour then fails on any mismatch, and also if it checked
too few answers (so it cannot pass by checking nothing).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from sandbox.conformance import Service, operation_response_schema, response_errors
from sandbox.core import Sandbox
from sandbox.seed import generate
from sandbox.server import SandboxUrls, running_sandbox
from sandbox.world import (
    SANDBOX_AUTOTASK_INTEGRATION_CODE,
    SANDBOX_AUTOTASK_SECRET,
    SANDBOX_AUTOTASK_USERNAME,
    SANDBOX_XERO_CODE_CLIENT_ID,
    SANDBOX_XERO_CODE_CLIENT_SECRET,
    World,
)

TODAY = date(2026, 11, 20)
AUTOTASK_ENTITIES = [
    "Invoices",
    "BillingItems",
    "Companies",
    "Contacts",
    "BillingCodes",
    "TaxRegions",
    "TaxCategories",
    "Taxes",
    "Currencies",
    "OrganizationalLevel1s",
    "OrganizationalLevel2s",
    "OrganizationalLevelAssociations",
    "InvoiceTemplates",
    "PaymentTerms",
    "Products",
    "Services",
    "ServiceBundles",
    "PurchaseOrders",
    "PurchaseOrderItems",
    "ProjectCharges",
    "TicketCharges",
    "ContractCharges",
    "ExpenseReports",
    "ExpenseItems",
    "Resources",
]


class ResponseChecker:
    """httpx response hook: validates each JSON answer against its operation's schema."""

    def __init__(self, service: Service, prefix: str = "") -> None:
        self.service = service
        self.prefix = prefix
        self.checked: list[str] = []
        self.unchecked: list[str] = []
        self.problems: list[str] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        path = request.url.path
        service: Service = self.service
        if self.service == "xero" and not path.startswith("/api.xro/"):
            service = "xero_identity"
        where = f"{request.method} {path} -> {response.status_code}"
        schema = operation_response_schema(service, request.method, path, response.status_code)
        if schema is None or "json" not in response.headers.get("content-type", ""):
            self.unchecked.append(where)
            return
        errors = response_errors(service, schema, response.json())
        self.checked.append(where)
        self.problems.extend(f"{where} ({schema}): {e}" for e in errors)


@pytest.fixture(scope="module")
def world() -> World:
    return generate(30, seed=3, today=TODAY)


@pytest.fixture(scope="module")
def urls(world: World) -> Iterator[SandboxUrls]:
    with running_sandbox(Sandbox(world)) as running:
        yield running


def test_every_autotask_answer_fits_the_swagger(world: World, urls: SandboxUrls) -> None:
    checker = ResponseChecker("autotask")
    headers = {
        "ApiIntegrationCode": SANDBOX_AUTOTASK_INTEGRATION_CODE,
        "UserName": SANDBOX_AUTOTASK_USERNAME,
        "Secret": SANDBOX_AUTOTASK_SECRET,
    }
    with httpx.Client(headers=headers, event_hooks={"response": [checker]}) as http:
        zone = http.get(
            f"{urls.autotask_zone_lookup_url}v1.0/zoneInformation",
            params={"user": SANDBOX_AUTOTASK_USERNAME},
        ).json()["url"]
        base = f"{zone}V1.0/"
        http.get(f"{base}ThresholdInformation").raise_for_status()
        everything = {"filter": [{"op": "gte", "field": "id", "value": 0}]}
        for entity in AUTOTASK_ENTITIES:
            page = http.post(f"{base}{entity}/query", json={"maxRecords": 5, **everything})
            page.raise_for_status()
            items = page.json()["items"]
            assert items, f"the seeded world has no {entity}"
            http.get(f"{base}{entity}/{items[0]['id']}").raise_for_status()
            http.post(f"{base}{entity}/query/count", json=everything).raise_for_status()
        invoice_id = world.autotask["Invoices"][0]["id"]
        patched = http.patch(
            f"{base}Invoices", json={"id": invoice_id, "webServiceDate": "2026-11-20T10:00:00.000"}
        )
        assert patched.status_code == 200
    assert checker.problems == []
    assert len(checker.checked) >= 3 * len(AUTOTASK_ENTITIES) + 3


def _authorize(urls: SandboxUrls) -> str:
    """The authorization-code flow of the code app; returns an access token."""
    redirect = "http://localhost:8742/callback"
    consent = httpx.get(
        f"{urls.xero_login_url}/identity/connect/authorize",
        params={
            "response_type": "code",
            "client_id": SANDBOX_XERO_CODE_CLIENT_ID,
            "redirect_uri": redirect,
            "scope": "offline_access accounting.invoices accounting.payments "
            "accounting.contacts accounting.settings",
            "state": "tour",
        },
    )
    assert consent.status_code == 302
    code = parse_qs(urlparse(consent.headers["location"]).query)["code"][0]
    token = httpx.post(
        f"{urls.xero_identity_url}/connect/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect},
        auth=(SANDBOX_XERO_CODE_CLIENT_ID, SANDBOX_XERO_CODE_CLIENT_SECRET),
    )
    token.raise_for_status()
    access_token: str = token.json()["access_token"]
    return access_token


def test_every_xero_answer_fits_the_openapi(world: World, urls: SandboxUrls) -> None:
    checker = ResponseChecker("xero")
    token = _authorize(urls)
    org = world.xero_orgs[0]
    customer = next(c for c in org.contacts if c.get("ContactStatus") == "ACTIVE")
    headers = {"Authorization": f"Bearer {token}", "xero-tenant-id": org.tenant_id}
    api = f"{urls.xero_api_url}/api.xro/2.0"
    write = {"summarizeErrors": "false", "unitdp": "4"}
    with httpx.Client(headers=headers, event_hooks={"response": [checker]}) as http:
        connections = http.get(f"{urls.xero_api_url}/connections")
        assert {c["tenantId"] for c in connections.json()} == {o.tenant_id for o in world.xero_orgs}
        for collection in [
            "Organisation",
            "Accounts",
            "TaxRates",
            "Currencies",
            "BrandingThemes",
            "Contacts",
            "Items",
            "Invoices",
            "CreditNotes",
            "PurchaseOrders",
            "Payments",
        ]:
            http.get(f"{api}/{collection}").raise_for_status()
        line = {
            "Description": "Managed services",
            "Quantity": 2,
            "UnitAmount": 110.0,
            "AccountCode": "200",
            "TaxType": "OUTPUT",
        }
        day = TODAY.isoformat()
        invoices = http.put(
            f"{api}/Invoices",
            params=write,
            json={
                "Invoices": [
                    {
                        "Type": "ACCREC",
                        "Contact": {"ContactID": customer["ContactID"]},
                        "Date": day,
                        "DueDate": (TODAY + timedelta(days=14)).isoformat(),
                        "InvoiceNumber": "TOUR-1",
                        "Status": "AUTHORISED",
                        "LineItems": [line],
                    },
                    {
                        "Type": "ACCREC",
                        "Contact": {"ContactID": customer["ContactID"]},
                        "Date": day,
                        "InvoiceNumber": "TOUR-2",
                        "LineItems": [{**line, "AccountCode": "215"}],
                    },
                ]
            },
        )
        assert invoices.status_code == 200
        results = invoices.json()["Invoices"]
        assert [r["HasErrors"] for r in results] == [False, True]
        invoice_id = results[0]["InvoiceID"]
        http.get(f"{api}/Invoices/{invoice_id}").raise_for_status()
        summarised = http.put(
            f"{api}/Invoices",
            json={
                "Invoices": [
                    {
                        "Type": "ACCREC",
                        "Contact": {"ContactID": customer["ContactID"]},
                        "Date": day,
                        "InvoiceNumber": "TOUR-1",
                        "LineItems": [line],
                    }
                ]
            },
        )
        assert summarised.status_code == 400
        payment = http.put(
            f"{api}/Payments",
            json={
                "Payments": [
                    {
                        "Invoice": {"InvoiceID": invoice_id},
                        "Account": {"Code": "090"},
                        "Date": day,
                        "Amount": 100.0,
                    }
                ]
            },
        )
        payment.raise_for_status()
        credit = http.put(
            f"{api}/CreditNotes",
            params=write,
            json={
                "CreditNotes": [
                    {
                        "Type": "ACCRECCREDIT",
                        "Contact": {"ContactID": customer["ContactID"]},
                        "Date": day,
                        "Status": "AUTHORISED",
                        "LineItems": [line],
                    }
                ]
            },
        )
        credit.raise_for_status()
        credit_id = credit.json()["CreditNotes"][0]["CreditNoteID"]
        allocation = http.put(
            f"{api}/CreditNotes/{credit_id}/Allocations",
            json={
                "Allocations": [{"Invoice": {"InvoiceID": invoice_id}, "Amount": 10.0, "Date": day}]
            },
        )
        allocation.raise_for_status()
        http.put(
            f"{api}/Contacts",
            params={"summarizeErrors": "false"},
            json={"Contacts": [{"Name": "Tour Contact Pty Ltd", "ContactNumber": "TOUR-9"}]},
        ).raise_for_status()
        http.post(
            f"{api}/Items",
            params=write,
            json={"Items": [{"Code": "TOUR-ITEM", "Name": "Tour item"}]},
        ).raise_for_status()
        http.put(
            f"{api}/PurchaseOrders",
            params={"summarizeErrors": "false"},
            json={
                "PurchaseOrders": [
                    {
                        "Contact": {"ContactID": customer["ContactID"]},
                        "Date": day,
                        "LineItems": [{**line, "AccountCode": "310", "TaxType": "INPUT"}],
                    }
                ]
            },
        ).raise_for_status()
        since = {"If-Modified-Since": "2020-01-01T00:00:00"}
        http.get(f"{api}/Payments", headers=since).raise_for_status()
    assert checker.problems == [], json.dumps(checker.problems[:5], indent=1)
    assert len(checker.checked) >= 22, checker.unchecked
