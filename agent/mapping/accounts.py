"""The Xero account of one line, from its Autotask billing code (allocation code).

In order (issue 3 §3; autotask-api §8 "prefer externalNumber … then an explicit mapping table"):

1. the user's account mapping for the billing code. It comes *before* ``externalNumber``, unlike
   the order the issue lists, because it is the only one of the two the user can change from
   here: a billing code whose external number is a valid but wrong account (an expense category
   carrying its purchase account, say) must be fixable in one step, without editing Autotask;
2. the billing code's ``externalNumber`` when it is the Code of an account in Xero. Autotask
   calls the field "a reference number or the general ledger account", so a value that is no
   account code at all is taken for a reference number and skipped; one that names an account
   Xero will not take (archived, deleted, bank, system) blocks: the intent was that account;
3. the default sales account from the settings;
4. none: the line blocks, naming the billing code.

An account mapped explicitly (1 or 3) that Xero will not take blocks: archived is unmapped, never
silently replaced (product-and-patterns A2 #3).
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.autotask.records import BillingItem
from agent.autotask.refdata import BillingCode
from agent.mapping.catalog import OrgCatalog, Record, account_problem, describe_account
from agent.mapping.document import BlockReason
from agent.mapping.inputs import MappingOptions, MappingTables
from agent.mapping.text import single_line

_FIX = "map the billing code to an active account in Mappings → Accounts"


@dataclass(frozen=True, slots=True)
class AccountChoice:
    code: str
    account: Record
    rule: str


def code_label(code: BillingCode | None, item: BillingItem) -> str:
    if code is None:
        if item.billingCodeID is None:
            return f"billing item {item.id} (no billing code)"
        return f"billing code id {item.billingCodeID}"
    name = single_line(code.name, 120)
    return f'billing code "{name}" (id {code.id})' if name else f"billing code id {code.id}"


def choose_account(
    item: BillingItem,
    code: BillingCode | None,
    tables: MappingTables,
    catalog: OrgCatalog,
    options: MappingOptions,
) -> AccountChoice | BlockReason:
    label = code_label(code, item)
    code_id = item.billingCodeID
    key = None if code_id is None else str(code_id)
    notes: list[str] = []

    mapped = None if code_id is None else tables.accounts.get(code_id)
    if mapped:
        return _checked(
            mapped,
            f"account mapping for {label}",
            catalog,
            f"the account mapping for {label}",
            key,
            _FIX,
        )

    external = single_line(code.externalNumber if code else None, 100)
    if external:
        account = catalog.account(external)
        if account is not None:
            return _checked(
                external,
                f"{label} external number {external}",
                catalog,
                f"{label} has external number {external}",
                key,
                _FIX,
            )
        notes.append(f"external number {external} is not an account code in {catalog.name}")

    default = (options.default_sales_account or "").strip()
    if default:
        why = "; ".join(notes) or "no account mapping or external number"
        return _checked(
            default,
            f"default sales account ({label}: {why})",
            catalog,
            "the default sales account",
            None,
            "change it in Settings → Invoices",
        )
    extra = f" ({notes[0]})" if notes else ""
    return BlockReason(
        "account",
        f"no Xero account for {label}{extra}; {_FIX}, or set a default sales account",
        "account" if key else None,
        key,
    )


def _checked(
    code: str, rule: str, catalog: OrgCatalog, context: str, key: str | None, fix: str
) -> AccountChoice | BlockReason:
    account = catalog.account(code)
    problem = account_problem(account, code)
    if account is None or problem is not None:
        return BlockReason(
            "account",
            f"{context}: {problem} ({catalog.name}); {fix}",
            "account" if key else None,
            key,
        )
    return AccountChoice(code.strip(), account, f"{rule} → {describe_account(account)}")
