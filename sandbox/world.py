"""The data both simulated services start from.

``sandbox.seed.generate()`` builds a realistic one; tests may build small ones by hand. Records are
plain dicts using the wire names of each service: camelCase Autotask fields as in the Autotask
Swagger (``sandbox/specs``), PascalCase Xero fields as in Xero's OpenAPI (``sandbox/specs``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Record = dict[str, Any]


@dataclass
class AutotaskApiUser:
    username: str
    secret: str
    integration_code: str
    # Line-of-business visibility: None sees everything; otherwise only billing items whose
    # organizationalLevelAssociationID is None or in this set (as the real service filters them).
    visible_lob_association_ids: set[int] | None = None
    # The other way round: billing items of these associations are invisible to this user (a
    # tenant where the API user's security level lacks one line of business). Both apply.
    hidden_lob_association_ids: set[int] = field(default_factory=set)


@dataclass
class XeroOrg:
    tenant_id: str
    name: str
    short_code: str
    country_code: str  # "AU", "NZ", "GB", "US"
    base_currency: str  # ISO code
    tier: Literal["starter", "core"] = "core"  # daily call limit 1,000 or 5,000
    accounts: list[Record] = field(default_factory=list)
    tax_rates: list[Record] = field(default_factory=list)
    currencies: list[Record] = field(default_factory=list)
    branding_themes: list[Record] = field(default_factory=list)
    contacts: list[Record] = field(default_factory=list)
    items: list[Record] = field(default_factory=list)
    invoices: list[Record] = field(default_factory=list)
    credit_notes: list[Record] = field(default_factory=list)
    purchase_orders: list[Record] = field(default_factory=list)
    payments: list[Record] = field(default_factory=list)


@dataclass
class XeroApp:
    """An OAuth client registered with the simulated Xero."""

    client_id: str
    client_secret: str | None  # None: a PKCE app, which Xero issues no secret for
    kind: Literal["pkce", "code", "custom"]
    redirect_uris: list[str] = field(default_factory=lambda: ["http://localhost:8742/callback"])
    # A custom connection (client_credentials) is bound to exactly one organisation.
    custom_tenant_id: str | None = None


@dataclass
class World:
    autotask: dict[str, list[Record]] = field(default_factory=dict)  # entity name -> records
    autotask_users: list[AutotaskApiUser] = field(default_factory=list)
    xero_orgs: list[XeroOrg] = field(default_factory=list)
    xero_apps: list[XeroApp] = field(default_factory=list)


# Well-known sandbox credentials, used by `atx demo`, the README and the tests.
SANDBOX_AUTOTASK_USERNAME = "api-user@sandbox.example"
SANDBOX_AUTOTASK_SECRET = "sandbox-secret"
SANDBOX_AUTOTASK_INTEGRATION_CODE = "SANDBOXINTEGRATIONCODE"
SANDBOX_XERO_PKCE_CLIENT_ID = "SANDBOX-PKCE-CLIENT"
SANDBOX_XERO_CODE_CLIENT_ID = "SANDBOX-CODE-CLIENT"
SANDBOX_XERO_CODE_CLIENT_SECRET = "sandbox-code-secret"
SANDBOX_XERO_CUSTOM_CLIENT_ID = "SANDBOX-CUSTOM-CLIENT"
SANDBOX_XERO_CUSTOM_CLIENT_SECRET = "sandbox-custom-secret"
