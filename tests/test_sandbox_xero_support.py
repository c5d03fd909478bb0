"""Small Xero worlds and helpers shared by the simulated-Xero tests (plus checks of the helpers).

Two organisations: an Australian one in AUD (core tier) and a British one in GBP (starter tier),
with the three kinds of OAuth app the sandbox knows (PKCE, code + secret, custom connection).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import pathlib
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import yaml
from xero_python.accounting import AccountingApi
from xero_python.api_client import ApiClient, Configuration
from xero_python.api_client.oauth2 import OAuth2Token, TokenApi

from sandbox.clock import SandboxClock
from sandbox.core import Sandbox, SandboxOptions
from sandbox.server import SandboxUrls, running_sandbox
from sandbox.world import (
    SANDBOX_XERO_CODE_CLIENT_ID,
    SANDBOX_XERO_CODE_CLIENT_SECRET,
    SANDBOX_XERO_CUSTOM_CLIENT_ID,
    SANDBOX_XERO_CUSTOM_CLIENT_SECRET,
    SANDBOX_XERO_PKCE_CLIENT_ID,
    World,
    XeroApp,
    XeroOrg,
)

AU = "6a1f0f59-8d3e-4c53-9f36-2f0c1b9a0a01"
GB = "0d3c2b1a-5e4f-4a6b-8c7d-9e0f1a2b3c04"
REDIRECT = "http://localhost:8742/callback"
SCOPES = (
    "openid offline_access accounting.invoices accounting.payments accounting.contacts "
    "accounting.settings"
)
ACME = "11111111-1111-4111-8111-111111111111"
GLOBEX = "22222222-2222-4222-8222-222222222222"
SPEC = pathlib.Path(__file__).resolve().parent.parent / "sandbox" / "specs" / "xero_accounting.yaml"


def make_world() -> World:
    au = XeroOrg(
        tenant_id=AU,
        name="Sandbox Services Pty Ltd",
        short_code="!AU01",
        country_code="AU",
        base_currency="AUD",
        tier="core",
        accounts=[
            {"Code": "090", "Name": "Business Bank Account", "Type": "BANK"},
            {"Code": "200", "Name": "Sales", "Type": "REVENUE", "TaxType": "OUTPUT"},
            {"Code": "260", "Name": "Other Revenue", "Type": "REVENUE", "Status": "ARCHIVED"},
            {"Code": "400", "Name": "Advertising", "Type": "EXPENSE", "TaxType": "INPUT"},
            {"Code": "860", "Name": "Rounding", "Type": "CURRLIAB", "SystemAccount": "ROUNDING"},
        ],
        tax_rates=[
            {"TaxType": "OUTPUT", "Name": "GST on Income", "EffectiveRate": 10},
            {
                "TaxType": "INPUT",
                "Name": "GST on Expenses",
                "EffectiveRate": 10,
                "CanApplyToRevenue": False,
            },
            {"TaxType": "EXEMPTOUTPUT", "Name": "GST Free Income", "EffectiveRate": 0},
            {"TaxType": "OLDGST", "Name": "Old GST", "EffectiveRate": 5, "Status": "DELETED"},
        ],
        currencies=[
            {"Code": "AUD", "Description": "Australian Dollar"},
            {"Code": "USD", "Description": "United States Dollar"},
        ],
        branding_themes=[
            {
                "BrandingThemeID": "33333333-3333-4333-8333-333333333333",
                "Name": "Standard",
                "SortOrder": 0,
            }
        ],
        contacts=[
            {"ContactID": ACME, "Name": "Acme Corp", "ContactNumber": "AT-1"},
            {"ContactID": GLOBEX, "Name": "Globex", "ContactNumber": "AT-2"},
            {"Name": "Initech", "ContactNumber": "AT-3", "ContactStatus": "ARCHIVED"},
        ],
        items=[
            {
                "Code": "SVC-HOUR",
                "Name": "Service hour",
                "Description": "Service hour",
                "SalesDetails": {"UnitPrice": 150, "AccountCode": "200", "TaxType": "OUTPUT"},
            }
        ],
    )
    gb = XeroOrg(
        tenant_id=GB,
        name="Sandbox Services Ltd",
        short_code="!GB01",
        country_code="GB",
        base_currency="GBP",
        tier="starter",
        accounts=[
            {"Code": "090", "Name": "Business Bank Account", "Type": "BANK"},
            {"Code": "200", "Name": "Sales", "Type": "SALES", "TaxType": "OUTPUT2"},
        ],
        tax_rates=[{"TaxType": "OUTPUT2", "Name": "20% (VAT on Income)", "EffectiveRate": 20}],
        currencies=[{"Code": "GBP", "Description": "British Pound"}],
        contacts=[{"Name": "Brit Co", "ContactNumber": "AT-9"}],
    )
    apps = [
        XeroApp(SANDBOX_XERO_PKCE_CLIENT_ID, None, "pkce", [REDIRECT]),
        XeroApp(SANDBOX_XERO_CODE_CLIENT_ID, SANDBOX_XERO_CODE_CLIENT_SECRET, "code", [REDIRECT]),
        XeroApp(
            SANDBOX_XERO_CUSTOM_CLIENT_ID,
            SANDBOX_XERO_CUSTOM_CLIENT_SECRET,
            "custom",
            [],
            custom_tenant_id=AU,
        ),
    ]
    return World(xero_orgs=[au, gb], xero_apps=apps)


@dataclass
class Env:
    sandbox: Sandbox
    urls: SandboxUrls
    http: httpx.Client

    @property
    def api(self) -> str:
        return self.urls.xero_api_url + "/api.xro/2.0"


@contextmanager
def running(clock: SandboxClock | None = None, **options: Any) -> Iterator[Env]:
    sandbox = Sandbox(make_world(), clock=clock, options=SandboxOptions(**options))
    names = ("refresh_token_url", "client_credentials_token_url", "revoke_token_url")
    saved = {name: getattr(TokenApi, name) for name in names}
    with running_sandbox(sandbox) as urls, httpx.Client(timeout=10) as http:
        # The SDK's token endpoints are class attributes (reference §14): point them here for
        # the test and put them back afterwards.
        TokenApi.refresh_token_url = urls.xero_identity_url + "/connect/token"
        TokenApi.client_credentials_token_url = urls.xero_identity_url + "/connect/token"
        TokenApi.revoke_token_url = urls.xero_identity_url + "/connect/revocation"
        try:
            yield Env(sandbox, urls, http)
        finally:
            for name, value in saved.items():
                setattr(TokenApi, name, value)


def stored_invoice(env: Env, key: str, tenant: str = AU) -> dict[str, Any]:
    """The sandbox's own record of an invoice (Python values), by id or number."""
    invoice = env.sandbox.xero.invoice(tenant, key)
    assert invoice is not None, key
    return invoice


# -- OAuth -------------------------------------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize(env: Env, client_id: str, challenge: str | None, **extra: str) -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": SCOPES,
        "state": "xyz",
        **extra,
    }
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return env.http.get(env.urls.xero_login_url + "/identity/connect/authorize", params=params)


def code_from(response: httpx.Response) -> str:
    assert response.status_code == 302, response.text
    query = parse_qs(urlparse(response.headers["location"]).query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


def pkce_login(env: Env, **extra: str) -> dict[str, Any]:
    verifier, challenge = pkce_pair()
    code = code_from(authorize(env, SANDBOX_XERO_PKCE_CLIENT_ID, challenge, **extra))
    response = env.http.post(
        env.urls.xero_identity_url + "/connect/token",
        data={
            "grant_type": "authorization_code",
            "client_id": SANDBOX_XERO_PKCE_CLIENT_ID,
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def code_login(env: Env) -> dict[str, Any]:
    code = code_from(authorize(env, SANDBOX_XERO_CODE_CLIENT_ID, None))
    response = env.http.post(
        env.urls.xero_identity_url + "/connect/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        auth=(SANDBOX_XERO_CODE_CLIENT_ID, SANDBOX_XERO_CODE_CLIENT_SECRET),
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def bearer(token: dict[str, Any], tenant: str | None = AU) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    return headers | ({"xero-tenant-id": tenant} if tenant else {})


# -- xero-python -------------------------------------------------------------------------------


@dataclass
class Sdk:
    api: AccountingApi
    client: ApiClient
    store: dict[str, Any] = field(default_factory=dict)


def sdk(env: Env, token: dict[str, Any], client_id: str, secret: str | None = None) -> Sdk:
    """An AccountingApi pointed at the sandbox, with the token store the SDK expects (§14)."""
    store: dict[str, Any] = {}
    if token:
        store.update(token)
        store["scope"] = str(token["scope"]).split()  # a list, or the SDK mangles it (§14 #1)
        store["expires_at"] = time.time() + token["expires_in"]  # §14 #2
    # Configuration is a copy-of-the-first-instance "singleton" in xero-python: constructor
    # arguments after the first call are ignored, so the token object is set explicitly.
    configuration = Configuration()
    configuration.oauth2_token = OAuth2Token(client_id=client_id, client_secret=secret)
    client = ApiClient(configuration, pool_threads=1)
    client.oauth2_token_getter(lambda: dict(store))
    client.oauth2_token_saver(lambda new: store.update(new))
    return Sdk(AccountingApi(client, base_url=env.api), client, store)


# -- checking responses against Xero's published schemas ---------------------------------------


@functools.cache
def _schemas() -> dict[str, Any]:
    spec = yaml.load(SPEC.read_text(), Loader=yaml.CSafeLoader)
    return dict(spec["components"]["schemas"])


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = _schemas()[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def unknown_fields(value: Any, schema_name: str) -> list[str]:
    """Keys in a response that the spec's schema does not describe (paths, for assertions)."""
    found: list[str] = []

    def walk(node: Any, schema: dict[str, Any], path: str) -> None:
        schema = _resolve(schema)
        if isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, schema.get("items", {}), f"{path}[{i}]")
        elif isinstance(node, dict) and "properties" in schema:
            for key, child in node.items():
                if key not in schema["properties"]:
                    found.append(f"{path}.{key}")
                else:
                    walk(child, schema["properties"][key], f"{path}.{key}")

    # The response envelope (Id, Status, ProviderName, DateTimeUTC) is in Xero's examples but
    # not in the collection schemas.
    envelope = {"Id", "Status", "ProviderName", "DateTimeUTC"}
    body = (
        {k: v for k, v in value.items() if k not in envelope} if isinstance(value, dict) else value
    )
    walk(body, _schemas()[schema_name], schema_name)
    return found


def invoice_body(**overrides: Any) -> dict[str, Any]:
    invoice = {
        "Type": "ACCREC",
        "Contact": {"ContactID": ACME},
        "Date": "2026-03-02",
        "DueDate": "2026-03-30",
        "Status": "AUTHORISED",
        "LineItems": [
            {
                "Description": "Managed services",
                "Quantity": 2,
                "UnitAmount": 100,
                "AccountCode": "200",
                "TaxType": "OUTPUT",
            }
        ],
    }
    invoice.update(overrides)
    return invoice


# -- checks of the helpers themselves ----------------------------------------------------------


def test_seeded_world_is_normalised_in_place() -> None:
    sandbox = Sandbox(make_world())
    org = sandbox.world.xero_orgs[0]
    assert all(a["AccountID"] and a["Status"] for a in org.accounts)
    assert next(a for a in org.accounts if a["Code"] == "200")["Class"] == "REVENUE"
    initech = next(c for c in org.contacts if c["Name"] == "Initech")
    # Seeded ids without an explicit one are derived from the natural key: stable across runs.
    assert (
        initech["ContactID"]
        == next(
            c for c in Sandbox(make_world()).world.xero_orgs[0].contacts if c["Name"] == "Initech"
        )["ContactID"]
    )


def test_seeded_documents_are_stored_as_if_created_through_the_api() -> None:
    world = make_world()
    au = world.xero_orgs[0]
    line = {"Description": "Support", "Quantity": 1, "UnitAmount": 100, "AccountCode": "200"}
    au.invoices = [
        {"Type": "ACCREC", "InvoiceNumber": "INV-0002", "Contact": {"ContactNumber": "AT-1"},
         "Date": "2026-01-05", "Status": "PAID", "LineItems": [line]},
        {"Type": "ACCREC", "InvoiceNumber": "AT-500", "Contact": {"ContactID": GLOBEX},
         "Date": "2026-01-06", "Status": "AUTHORISED", "LineItems": [line]},
        {"Type": "ACCREC", "Contact": {"ContactID": GLOBEX}, "Date": "2026-01-07",
         "Status": "VOIDED", "LineItems": [line]},
    ]  # fmt: skip
    au.credit_notes = [
        {"Type": "ACCRECCREDIT", "Contact": {"ContactID": GLOBEX}, "Date": "2026-01-08",
         "Status": "AUTHORISED", "LineItems": [line | {"UnitAmount": 10}],
         "Allocations": [{"Invoice": {"InvoiceNumber": "AT-500"}, "Amount": 11,
                          "Date": "2026-01-09"}]},
    ]  # fmt: skip
    au.payments = [
        {"Invoice": {"InvoiceNumber": "AT-500"}, "Amount": 50, "Date": "2026-01-10",
         "Status": "DELETED"},
        {"Invoice": {"InvoiceNumber": "AT-500"}, "Amount": 20, "Date": "2026-01-11"},
    ]  # fmt: skip
    xero = Sandbox(world).xero
    paid, open_one, voided = au.invoices
    assert paid["Status"] == "PAID" and paid["AmountDue"] == 0 and paid["Total"] == 110
    assert paid["FullyPaidOnDate"] is not None
    assert open_one["AmountDue"] == 110 - 11 - 20 and open_one["AmountCredited"] == 11
    # Numbering skips numbers the seed already used.
    assert voided["InvoiceNumber"] == "INV-0001" and voided["Status"] == "VOIDED"
    assert xero.ledger(AU).next_number("invoice", xero.ledger(AU).numbers("invoice")) == "INV-0003"
    assert [p["Status"] for p in au.payments] == ["DELETED", "AUTHORISED", "AUTHORISED"]


def test_schema_checker_spots_unknown_fields() -> None:
    assert unknown_fields({"Invoices": [{"InvoiceID": "x", "Bogus": 1}]}, "Invoices") == [
        "Invoices.Invoices[0].Bogus"
    ]
