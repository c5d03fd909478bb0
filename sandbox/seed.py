"""Deterministic generator of a realistic MSP world: "Acme IT", in Autotask and in two Xero orgs.

``generate(invoices, seed=..., today=...)`` builds the same ``World`` for the same arguments: all
randomness comes from ``random.Random`` seeded with ``seed`` (one stream per side, so the Xero
books do not change when the Autotask generator grows), and all dates are relative to ``today``.
Nothing reads the wall clock except the default ``today=None``, which means "today in UTC" so that
``atx demo`` always finds fresh invoices in the agent's days-back window; tests pass ``today``.

What is in it (sizes for ``invoices = n``, 10 <= n <= 20,000):

- Autotask: customers = n/5 clamped to [5, 2000] (up to six fixed archetypes first: AUD, GBP, an
  NZD export customer with a unicode name, a tax-exempt one, and customers billed in a currency
  their region's Xero org has not enabled), 7 vendors, billing contacts and locations; currencies
  AUD (internal), NZD, GBP, USD; tax regions x categories; billing codes (many with a Xero account
  code in ``externalNumber``, some without, one pointing at an archived account); products,
  services, bundles; the MSP's employees (``Resources``: every creator, approver and expense
  submitter the records name, a few more, one inactive); n invoices dated within the last 30
  days of ``today``, with 1-8 billing items each and the project/ticket/contract charges and
  expense items behind them; about n/10 purchase orders with items and receipts.
- Two Autotask API users: the sandbox user who sees everything, and ``RESTRICTED_AUTOTASK_USERNAME``
  who sees only the Australian Managed Services and Projects lines of business, so invoices with
  hardware or UK lines come back silently incomplete.
- Xero: "Acme IT Pty Ltd" (AU, AUD) and "Acme IT UK Ltd" (GB, GBP) with charts of accounts, tax
  rates, currencies, branding themes, near-duplicate customer contacts, suppliers and items; the
  PKCE, code and custom-connection apps.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

from sandbox import seed_autotask, seed_billing, seed_xero
from sandbox import seed_catalog as cat
from sandbox.world import (
    SANDBOX_AUTOTASK_INTEGRATION_CODE,
    SANDBOX_AUTOTASK_SECRET,
    SANDBOX_AUTOTASK_USERNAME,
    AutotaskApiUser,
    World,
)

MIN_INVOICES = 10
MAX_INVOICES = 20_000

# The second API user, limited to two lines of business (Autotask filters billing items by them).
RESTRICTED_AUTOTASK_USERNAME = "lob-limited@sandbox.example"
RESTRICTED_AUTOTASK_SECRET = "sandbox-lob-limited-secret"  # public, sandbox-only
RESTRICTED_LOB_ASSOCIATION_IDS = frozenset(
    {
        cat.association_id("AU", cat.LOB_MANAGED),
        cat.association_id("AU", cat.LOB_PROJECTS),
    }
)


def generate(invoices: int = 50, *, seed: int = 1, today: date | None = None) -> World:
    """A world with ``invoices`` Autotask invoices (10 to 20,000) dated within 30 days of ``today``.

    ``today`` defaults to the current UTC date; the result is otherwise a pure function of the
    arguments.
    """
    if not MIN_INVOICES <= invoices <= MAX_INVOICES:
        raise ValueError(f"invoices must be between {MIN_INVOICES} and {MAX_INVOICES}")
    today = today or datetime.now(UTC).date()
    autotask_rng = random.Random(f"atx-seed:{seed}:autotask")
    xero_rng = random.Random(f"atx-seed:{seed}:xero")

    autotask = seed_autotask.reference_data(today)
    customers = seed_autotask.customers(autotask_rng, min(max(invoices // 5, 5), 2000), today)
    companies, contacts, locations = seed_autotask.company_records(autotask_rng, customers, today)
    autotask |= {"Companies": companies, "Contacts": contacts, "CompanyLocations": locations}
    autotask |= seed_autotask.catalogue(autotask_rng, today)
    billing = seed_billing.BillingGenerator(
        autotask_rng,
        today,
        customers,
        autotask["Products"],
        autotask["Services"],
        autotask["ServiceBundles"],
        autotask["Taxes"],
        {r["id"]: r["name"] for r in autotask["TaxRegions"]},
    )
    autotask |= billing.generate(invoices)
    seed_billing.strip_private(autotask["ExpenseReports"])
    autotask |= seed_autotask.purchase_orders(
        autotask_rng, min(max(invoices // 10, 3), 2000), today, autotask["Products"], customers
    )

    orgs = seed_xero.organisations(xero_rng, today, customers, autotask["Products"])
    return World(
        autotask=autotask,
        autotask_users=[
            AutotaskApiUser(
                SANDBOX_AUTOTASK_USERNAME,
                SANDBOX_AUTOTASK_SECRET,
                SANDBOX_AUTOTASK_INTEGRATION_CODE,
            ),
            AutotaskApiUser(
                RESTRICTED_AUTOTASK_USERNAME,
                RESTRICTED_AUTOTASK_SECRET,
                SANDBOX_AUTOTASK_INTEGRATION_CODE,
                visible_lob_association_ids=set(RESTRICTED_LOB_ASSOCIATION_IDS),
            ),
        ],
        xero_orgs=orgs,
        xero_apps=seed_xero.apps(custom_tenant_id=orgs[0].tenant_id),
    )
