"""Every invoice of the seeded MSP, mapped against its Xero organisation's catalogs.

No invoice raises; each maps or says why; mapped documents total Autotask's figure to the cent;
and the sandbox's own model of Xero (``sandbox.xero.lines``, written independently from the
reference) accepts every mapped line and computes the same total.
"""

from __future__ import annotations

import copy
from collections import Counter
from decimal import Decimal
from functools import cache

from test_mapping_support import (
    TODAY,
    SeededCase,
    seeded_cases,
    seeded_catalog,
    seeded_options,
    seeded_tables,
)

from agent.mapping import Blocked, MappedDocument, MappingResult, map_invoice
from sandbox import conformance
from sandbox.clock import SandboxClock
from sandbox.seed import generate
from sandbox.world import World
from sandbox.xero.ledger import Ledger
from sandbox.xero.lines import LineRules, build_lines, totals


@cache
def world() -> World:
    return generate(150, today=TODAY)


@cache
def results(rounding_line: bool = False) -> tuple[tuple[SeededCase, MappingResult], ...]:
    catalogs = [seeded_catalog(org) for org in world().xero_orgs]
    return tuple(
        (
            case,
            map_invoice(
                case.snapshot,
                seeded_tables(case.org_index),
                catalogs[case.org_index],
                seeded_options(case.org_index, rounding_line=rounding_line),
            ),
        )
        for case in seeded_cases(world())
    )


def test_every_seeded_invoice_maps_or_has_reasons() -> None:
    outcomes = Counter(type(result).__name__ for _, result in results())
    assert outcomes["MappedDocument"] + outcomes["Blocked"] == len(world().autotask["Invoices"])
    assert outcomes["MappedDocument"] > 0.8 * len(world().autotask["Invoices"])
    for _, result in results():
        if isinstance(result, Blocked):
            assert result.reasons and all(r.code != "internal" for r in result.reasons)


def test_seeded_blocks_are_the_planted_problems() -> None:
    codes = Counter(r.code for _, res in results() if isinstance(res, Blocked) for r in res.reasons)
    # Customers billed in a currency their org has not enabled, voided invoices, and invoices
    # whose lines span both regions (routed to one org, the other region's tax pair is unmapped).
    assert set(codes) <= {"currency", "voided", "tax"}
    assert codes["currency"] > 0 and codes["voided"] > 0


def test_seeded_documents_total_autotask_to_the_cent() -> None:
    for _, result in results():
        if isinstance(result, MappedDocument):
            assert result.expected_total == result.autotask_total


def test_seeded_negative_invoices_become_credit_notes() -> None:
    kinds = Counter(
        (result.kind, (case.snapshot.invoice.invoiceTotal or 0) < 0)
        for case, result in results()
        if isinstance(result, MappedDocument)
    )
    assert kinds[("credit_note", True)] > 0
    assert kinds[("credit_note", False)] == kinds[("invoice", True)] == 0


def test_seeded_contacts_are_matched_where_xero_has_them() -> None:
    rules = Counter(
        result.contact_rule.split(" ")[2] if result.new_contact is None else "new"
        for _, result in results()
        if isinstance(result, MappedDocument)
    )
    assert rules["ContactNumber"] and rules["AccountNumber"] and rules["name"] and rules["new"]


def test_seeded_payloads_conform_to_xeros_schemas() -> None:
    for _, result in results():
        if isinstance(result, MappedDocument):
            body = {result.collection: [result.payload]}
            assert conformance.request_errors("xero", result.collection, body) == []
            if result.new_contact is not None:
                contacts = {"Contacts": [result.new_contact]}
                assert conformance.request_errors("xero", "Contacts", contacts) == []


def test_sandbox_xero_accepts_every_mapped_line_and_agrees_on_the_total() -> None:
    ledgers = [Ledger(copy.deepcopy(org), SandboxClock()) for org in world().xero_orgs]
    for case, result in results():
        if not isinstance(result, MappedDocument):
            continue
        rules = LineRules(sales=True, discounts_refused=None, account_required=True, unitdp=4)
        built = build_lines(
            ledgers[case.org_index], result.payload["LineItems"], "Exclusive", rules
        )
        assert built.errors == [], (case.snapshot.invoice.id, built.errors)
        assert totals(built.lines, "Exclusive")["Total"] == result.expected_total


def test_rounding_line_setting_changes_nothing_when_totals_already_match() -> None:
    plain = [r for _, r in results() if isinstance(r, MappedDocument)]
    rounded = [r for _, r in results(rounding_line=True) if isinstance(r, MappedDocument)]
    assert [r.payload for r in plain] == [r.payload for r in rounded]
    assert sum((r.expected_total for r in plain), Decimal(0)) > 0
