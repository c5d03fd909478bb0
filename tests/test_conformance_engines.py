"""The fast compiled checker answers exactly as jsonschema / OAS30Validator do, and is fast."""

from __future__ import annotations

import copy
import threading
import time
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from xero_python.accounting import Contact, Invoice, Invoices, LineItem, LineItemTracking
from xero_python.api_client.serializer import serialize

from sandbox import conformance
from sandbox.conformance import request_errors
from sandbox.seed import generate
from sandbox.spec_book import autotask_entity_model

CONTACT_ID = "430fa14a-f945-44d3-9f97-5df5e28441b8"


def both_engines(service: str, schema: str, body: Any, *, response: bool = False) -> list[Any]:
    # The engines are an implementation detail, so this reaches into the private book.
    book = conformance._book(service)  # type: ignore[arg-type]
    return [
        sorted(book.errors(schema, body, partial=False, envelope=response, engine=engine))
        for engine in ("compiled", "jsonschema")
    ]


def batch(invoices: int, lines: int) -> dict[str, Any]:
    return serialize(
        Invoices(
            invoices=[
                Invoice(
                    type="ACCREC",
                    contact=Contact(contact_id=CONTACT_ID),
                    date=date(2026, 11, 1),
                    invoice_number=str(1001 + n),
                    line_items=[
                        LineItem(
                            description="Managed workstation - per device",
                            quantity=Decimal(12),
                            unit_amount=Decimal("65.00"),
                            account_code="200",
                            tax_type="OUTPUT",
                            tracking=[LineItemTracking(name="LOB", option="Managed Services")],
                        )
                        for _ in range(lines)
                    ],
                )
                for n in range(invoices)
            ]
        )
    )


BROKEN_XERO: list[tuple[str, Any]] = [
    ("Invoices", {"Invoices": [{"Type": "ACCRECC", "Contact": {"ContactID": "nope"}}]}),
    ("Invoices", {"Invoices": [{"LineItems": [{"Quantity": "2", "AcountCode": "200"}]}]}),
    ("Invoices", {"Invoices": [{"Reference": None, "CurrencyCode": 36, "Total": True}]}),
    ("Invoices", {"Invoices": {"Type": "ACCREC"}}),
    ("Invoices", [1, 2]),
    ("Items", {"Items": [{"Name": "x" * 51}, {"Code": "A"}, {}]}),
    ("Contacts", {"Contacts": [{"Name": "A", "ContactPersons": [{"FirstNme": "B"}] * 2}]}),
    ("Allocations", {"Allocations": [{"Amount": "1"}]}),
    ("CreditNotes", {"CreditNotes": [{"Type": "ACCRECCREDIT", "Allocations": [{}]}]}),
    ("PurchaseOrders", {"PurchaseOrders": [{"DeliveryAddress": 5, "Status": "SENT"}]}),
]
BROKEN_AUTOTASK: list[tuple[str, Any]] = [
    ("InvoiceModel", {"id": "1", "webServiceDte": "x", "isVoided": "false"}),
    ("InvoiceModel", {"ID": 1, "Id": 2, "invoiceTotal": [1]}),
    ("QueryModel", {"maxRecords": 1.5, "filter": [{"op": 1, "items": [{"udf": "no"}]}]}),
    ("QueryModel", {"includeFields": [None, 3]}),
    ("BillingItemModel", {"quantity": "1", "extendedPrice": None, "itemNme": "x"}),
]


@pytest.mark.parametrize(("schema", "body"), BROKEN_XERO)
def test_engines_agree_on_broken_xero_bodies(schema: str, body: Any) -> None:
    compiled, reference = both_engines("xero", schema, body)

    assert compiled == reference
    assert compiled  # each body really is broken


@pytest.mark.parametrize(("schema", "body"), BROKEN_AUTOTASK)
def test_engines_agree_on_broken_autotask_bodies(schema: str, body: Any) -> None:
    compiled, reference = both_engines("autotask", schema, body)

    assert compiled == reference
    assert compiled


def test_engines_agree_on_the_seeded_world() -> None:
    world = generate(10, seed=3, today=date(2026, 11, 20))
    for entity, records in world.autotask.items():
        model = autotask_entity_model(entity)
        assert model is not None
        for record in records[:20]:
            assert both_engines("autotask", model, record, response=True) == [[], []]
    org = world.xero_orgs[0]
    body = {"Contacts": org.contacts, "Items": org.items, "Accounts": org.accounts}
    for schema in ("Contacts", "Items", "Accounts"):
        assert both_engines("xero", schema, {schema: body[schema]}, response=True) == [[], []]


def test_engines_agree_when_a_seeded_record_is_damaged() -> None:
    world = generate(10, seed=3, today=date(2026, 11, 20))
    item = copy.deepcopy(world.autotask["BillingItems"][0])
    item |= {"quantity": "2", "rate": None, "organisationalLevelAssociationID": 101}
    contact = copy.deepcopy(world.xero_orgs[0].contacts[0])
    contact |= {"ContactStatus": "active", "Addresses": [{"AddressType": "HOME", "Line1": "x"}]}

    for service, schema, body in (
        ("autotask", "BillingItemModel", item),
        ("xero", "Contact", contact),
    ):
        compiled, reference = both_engines(service, schema, body, response=True)
        assert compiled == reference
        assert len(compiled) >= 2


def test_a_fifty_invoice_batch_validates_in_well_under_50_ms() -> None:
    body = batch(invoices=50, lines=8)
    request_errors("xero", "Invoices", body)  # compile once

    best = min(_timed(lambda: request_errors("xero", "Invoices", body)) for _ in range(5))

    assert best < 0.05


def test_concurrent_first_use_builds_one_validator_set() -> None:
    conformance._make_book.cache_clear()
    body = batch(invoices=2, lines=2)
    body["Invoices"][1]["LineItems"][0]["AcountCode"] = "200"
    start = threading.Barrier(8)
    results: list[list[str]] = []

    def work() -> None:
        start.wait()
        results.append(request_errors("xero", "Invoices", body))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert conformance._make_book.cache_info().currsize == 1
    assert results == [results[0]] * 8
    assert results[0] == [
        "Invoices[1].LineItems[0].AcountCode: unknown field (did you mean AccountCode?)"
    ]


def _timed(action: Any) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started
