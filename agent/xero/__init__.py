"""The Xero client: xero-python behind a small facade (DESIGN.md layers).

Tokens in the store with single-flight refresh, one rate governor per organisation, batches of
at most 50 documents with per-document results and deterministic idempotency keys, lookups for
crash safety, and cached catalogs. Start with ``XeroClient(settings, store)``.
"""

from agent.xero.authorize import authorize_url, pkce_pair
from agent.xero.batches import KINDS, MAX_BATCH, DocumentKind, DocumentResult
from agent.xero.catalogs import (
    Organisation,
    active_accounts,
    active_contacts,
    active_tax_rates,
    find_account,
    find_tax_rate,
)
from agent.xero.client import XeroClient
from agent.xero.errors import (
    XeroAuthError,
    XeroConfigError,
    XeroError,
    XeroNotFound,
    XeroOrgPaused,
    XeroOutcomeUnknown,
    XeroRequestError,
    XeroUnavailable,
)
from agent.xero.governor import GovernorPolicy, OrgStatus, RateGovernor
from agent.xero.idempotency import batch_key, document_key, payload_hash
from agent.xero.tokens import TokenGrant, TokenProvider

__all__ = [
    "KINDS",
    "MAX_BATCH",
    "DocumentKind",
    "DocumentResult",
    "GovernorPolicy",
    "OrgStatus",
    "Organisation",
    "RateGovernor",
    "TokenGrant",
    "TokenProvider",
    "XeroAuthError",
    "XeroClient",
    "XeroConfigError",
    "XeroError",
    "XeroNotFound",
    "XeroOrgPaused",
    "XeroOutcomeUnknown",
    "XeroRequestError",
    "XeroUnavailable",
    "active_accounts",
    "active_contacts",
    "active_tax_rates",
    "authorize_url",
    "batch_key",
    "document_key",
    "find_account",
    "find_tax_rate",
    "payload_hash",
    "pkce_pair",
]
