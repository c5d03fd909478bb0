"""What the sync does, from the settings (ATX_*) overridden by run-time settings in the store.

Run-time settings (``store.settings``, edited by the setup wizard / TUI, or by scripts) apply
where the environment does not set the same setting: a variable given in the environment wins over
a stored plain key (the control API reports it as set by the environment and refuses to edit it).
A key may also be set for one organisation as ``<key>:<tenant id>``, which wins over the plain key
(and the environment) for that organisation. Keys:

| key | value | default |
| --- | --- | --- |
| ``invoice_status`` | ``DRAFT`` / ``SUBMITTED`` / ``AUTHORISED`` | ATX_INVOICE_STATUS |
| ``invoice_numbering`` | ``autotask`` / ``xero`` | ATX_INVOICE_NUMBERING |
| ``invoice_number_prefix`` | text (<= 20) | ATX_INVOICE_NUMBER_PREFIX |
| ``credit_note_prefix`` | text (<= 20) or null | the invoice prefix |
| ``days_back`` | whole number of days | ATX_DAYS_BACK |
| ``default_org`` | tenant id for invoices no routing decides | the only connected organisation |
| ``routing_udf_name`` | the company user-defined field the ``routing_udf`` mappings read | none |
| ``mixed_invoice`` | ``block`` (held) / ``split`` (a document per organisation) | ``block`` |
| ``default_sales_account`` * | account Code | ``200`` when it is an active revenue account |
| ``default_branding_theme_id`` * | BrandingThemeID | Xero's default theme |
| ``tax_mapping_enabled`` * | true / false | true |
| ``exempt_tax_type`` * | TaxType for tax-exempt customers | ``EXEMPTOUTPUT`` when active |
| ``rounding_line`` * | true / false | false |
| ``rounding_account_code`` * | account Code | the ROUNDING system account |
| ``catalog_max_age_hours`` | number | 24 |
| ``item_sync`` | ``off`` / ``create`` (missing items only) / ``create_update`` | ``off`` |
| ``sync_expenses`` | true / false (approved expense reports as Xero bills) | false |
| ``sync_purchase_orders`` | true / false (Autotask purchase orders to Xero) | false |
| ``po_trigger_status`` | ``submitted`` / ``partially_received`` / ``received`` | ``submitted`` |
| ``po_document`` | ``purchase_order`` / ``bill`` | ``purchase_order`` |
| ``po_status`` | ``DRAFT`` / ``SUBMITTED`` / ``AUTHORISED`` | ``DRAFT`` |
| ``po_cogs_account`` * / ``po_freight_account`` * | account Code for PO lines / freight | none |

(* also per organisation.) A value of the wrong type is ignored with a warning in the log, so a
bad entry cannot stop the sync; the default applies.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, get_args

from agent.config import Settings
from agent.mapping import MappingOptions, OrgCatalog
from agent.mapping.catalog import account_problem, tax_rate_problem, text
from agent.mapping.inputs import Numbering, Status
from agent.mapping.purchase_orders import PO_DOCUMENTS, PO_STATUSES, PO_TRIGGERS

log = logging.getLogger("atx.sync")

STATUSES: tuple[str, ...] = get_args(Status)
NUMBERINGS: tuple[str, ...] = get_args(Numbering)
DEFAULT_SALES_ACCOUNT = "200"
DEFAULT_EXEMPT_TAX_TYPE = "EXEMPTOUTPUT"
DEFAULT_CATALOG_MAX_AGE_HOURS = 24.0
# ``mixed_invoice`` (``agent.sync.routing``): an invoice whose lines of business are routed to
# different organisations is held ("block"), or split into one document per organisation
# ("split", ``agent.sync.split``).
MIXED_CHOICES: tuple[str, ...] = ("block", "split")
# ``item_sync`` (issue 5 §3, ``agent.sync.items``): Autotask products and services as Xero items.
ITEM_SYNC_CHOICES: tuple[str, ...] = ("off", "create", "create_update")

RUNTIME_KEYS: tuple[str, ...] = (
    "invoice_status",
    "invoice_numbering",
    "invoice_number_prefix",
    "credit_note_prefix",
    "days_back",
    "default_org",
    "routing_udf_name",
    "mixed_invoice",
    "default_sales_account",
    "default_branding_theme_id",
    "tax_mapping_enabled",
    "exempt_tax_type",
    "rounding_line",
    "rounding_account_code",
    "catalog_max_age_hours",
    "item_sync",
    "sync_expenses",
    "sync_purchase_orders",
    "po_trigger_status",
    "po_document",
    "po_status",
    "po_cogs_account",
    "po_freight_account",
)
PO_TRIGGER_CHOICES: tuple[str, ...] = tuple(PO_TRIGGERS)


# Run-time keys that are also ATX_* settings: given in the environment, the environment wins.
ENV_KEYS: frozenset[str] = frozenset(
    {"invoice_status", "invoice_numbering", "invoice_number_prefix", "days_back"}
)


class RuntimeView:
    """The run-time settings of one moment (read once per cycle), with per-org overrides."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def under(self, settings: Settings) -> RuntimeView:
        """This view without the plain keys the environment sets (``model_fields_set``)."""
        given = ENV_KEYS & settings.model_fields_set
        if not given or not given & self._values.keys():
            return self
        return RuntimeView({k: v for k, v in self._values.items() if k not in given})

    def get(self, key: str, org: str | None = None) -> Any:
        if org and f"{key}:{org}" in self._values:
            return self._values[f"{key}:{org}"]
        return self._values.get(key)

    def text(self, key: str, org: str | None = None, *, limit: int = 255) -> str | None:
        value = self.get(key, org)
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > limit:
            log.warning(
                "run-time setting %s ignored: expected text of <= %d characters", key, limit
            )
            return None
        return value

    def choice(self, key: str, allowed: tuple[str, ...], org: str | None = None) -> str | None:
        value = self.get(key, org)
        if value is None:
            return None
        if isinstance(value, str) and value.strip().upper() in (a.upper() for a in allowed):
            wanted = value.strip().upper()
            return next(a for a in allowed if a.upper() == wanted)
        log.warning("run-time setting %s ignored: expected one of %s", key, ", ".join(allowed))
        return None

    def flag(self, key: str, org: str | None = None) -> bool | None:
        value = self.get(key, org)
        if value is None or isinstance(value, bool):
            return value
        log.warning("run-time setting %s ignored: expected true or false", key)
        return None

    def number(self, key: str, *, minimum: float, maximum: float) -> float | None:
        value = self.get(key)
        if value is None:
            return None
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and minimum <= value <= maximum
        ):
            return float(value)
        log.warning("run-time setting %s ignored: expected a number in [%s, %s]", key, minimum,
                    maximum)  # fmt: skip
        return None


@dataclass(frozen=True)
class SyncOptions:
    """The organisation-independent part: polling window, numbering, routing default."""

    days_back: int
    numbering: str
    default_org: str | None
    catalog_max_age_hours: float
    routing_udf_name: str | None = None
    mixed_invoice: str = "block"
    item_sync: str = "off"
    sync_expenses: bool = False
    sync_purchase_orders: bool = False
    po_trigger_status: str = "submitted"
    po_document: str = "purchase_order"
    po_status: str = "DRAFT"

    @classmethod
    def resolve(cls, settings: Settings, runtime: RuntimeView) -> SyncOptions:
        runtime = runtime.under(settings)
        days = runtime.number("days_back", minimum=1, maximum=3650)
        age = runtime.number("catalog_max_age_hours", minimum=0, maximum=24 * 365)
        return cls(
            days_back=int(days) if days is not None else settings.days_back,
            numbering=runtime.choice("invoice_numbering", NUMBERINGS) or settings.invoice_numbering,
            default_org=(runtime.text("default_org") or "").strip() or None,
            catalog_max_age_hours=DEFAULT_CATALOG_MAX_AGE_HOURS if age is None else age,
            routing_udf_name=(runtime.text("routing_udf_name", limit=100) or "").strip() or None,
            mixed_invoice=runtime.choice("mixed_invoice", MIXED_CHOICES) or MIXED_CHOICES[0],
            item_sync=runtime.choice("item_sync", ITEM_SYNC_CHOICES) or ITEM_SYNC_CHOICES[0],
            sync_expenses=bool(runtime.flag("sync_expenses")),
            sync_purchase_orders=bool(runtime.flag("sync_purchase_orders")),
            po_trigger_status=runtime.choice("po_trigger_status", PO_TRIGGER_CHOICES)
            or PO_TRIGGER_CHOICES[0],
            po_document=runtime.choice("po_document", PO_DOCUMENTS) or PO_DOCUMENTS[0],
            po_status=runtime.choice("po_status", PO_STATUSES) or PO_STATUSES[0],
        )


def mapping_options(
    settings: Settings, runtime: RuntimeView, org: str, catalog: OrgCatalog, today: date
) -> MappingOptions:
    """The invoice settings for one organisation (``MappingOptions``)."""
    runtime = runtime.under(settings)
    status = runtime.choice("invoice_status", STATUSES, org) or settings.invoice_status
    numbering = runtime.choice("invoice_numbering", NUMBERINGS, org) or settings.invoice_numbering
    prefix = runtime.text("invoice_number_prefix", org, limit=20)
    credit_prefix = runtime.text("credit_note_prefix", org, limit=20)
    sales = runtime.text("default_sales_account", org, limit=10)
    exempt = runtime.text("exempt_tax_type", org, limit=50)
    tax_on = runtime.flag("tax_mapping_enabled", org)
    rounding = runtime.flag("rounding_line", org)
    return MappingOptions(
        today=today,
        status=status,  # type: ignore[arg-type]  # checked against STATUSES above
        numbering=numbering,  # type: ignore[arg-type]
        number_prefix=settings.invoice_number_prefix if prefix is None else prefix,
        credit_note_prefix=credit_prefix,
        default_sales_account=sales.strip() if sales else default_sales_account(catalog),
        default_branding_theme_id=runtime.text("default_branding_theme_id", org, limit=64),
        tax_mapping_enabled=True if tax_on is None else tax_on,
        exempt_tax_type=exempt.strip() if exempt else default_exempt_tax_type(catalog),
        rounding_line=bool(rounding),
        rounding_account_code=runtime.text("rounding_account_code", org, limit=10),
    )


def default_sales_account(catalog: OrgCatalog) -> str | None:
    """ "200" (Sales in Xero's default charts) only when it is an active revenue account there;
    otherwise none, and lines no rule maps block with a reason asking for one."""
    account = catalog.account(DEFAULT_SALES_ACCOUNT)
    if account is None or account_problem(account, DEFAULT_SALES_ACCOUNT) is not None:
        return None
    return DEFAULT_SALES_ACCOUNT if text(account, "Class") == "REVENUE" else None


def default_exempt_tax_type(catalog: OrgCatalog) -> str | None:
    rate = catalog.tax_rate(DEFAULT_EXEMPT_TAX_TYPE)
    if rate is None or tax_rate_problem(rate, DEFAULT_EXEMPT_TAX_TYPE, None) is not None:
        return None
    return DEFAULT_EXEMPT_TAX_TYPE if rate.get("CanApplyToRevenue") is not False else None
