"""Typed records: every entity the sync uses parses what the (simulated) Autotask answers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from test_autotask_client_kit import Served, api_user, serving

from agent.autotask.records import (
    AutotaskRecord,
    BillingItem,
    ContractCharge,
    Invoice,
    ProjectCharge,
    PurchaseOrder,
    PurchaseOrderItem,
    PurchaseOrderItemReceiving,
    TicketCharge,
)
from agent.autotask.refdata import (
    BillingCode,
    Company,
    CompanyLocation,
    Contact,
    Currency,
    InvoiceTemplate,
    OrganizationalLevel1,
    OrganizationalLevel2,
    OrganizationalLevelAssociation,
    PaymentTerm,
    Product,
    Service,
    ServiceBundle,
    Tax,
    TaxCategory,
    TaxRegion,
)
from sandbox import seed
from sandbox.autotask.schema import entity
from sandbox.world import World

MODELS: list[type[AutotaskRecord]] = [
    Invoice,
    BillingItem,
    ProjectCharge,
    TicketCharge,
    ContractCharge,
    PurchaseOrder,
    PurchaseOrderItem,
    PurchaseOrderItemReceiving,
    Company,
    Contact,
    CompanyLocation,
    BillingCode,
    TaxRegion,
    TaxCategory,
    Tax,
    Currency,
    OrganizationalLevel1,
    OrganizationalLevel2,
    OrganizationalLevelAssociation,
    InvoiceTemplate,
    PaymentTerm,
    Product,
    Service,
    ServiceBundle,
]

# The Python type each Autotask data type (sandbox.autotask.schema.field_kind) must parse to.
KIND_TYPES: dict[str, type] = {
    "integer": int,
    "long": int,
    "double": Decimal,
    "boolean": bool,
    "string": str,
    "datetime": datetime,
    "array": list,
}


def msp_world() -> World:
    """One month of a small MSP: a customer, its lookups, a mixed invoice and a PO."""
    world = World(autotask_users=[api_user()])
    at = world.autotask
    at["Companies"] = [
        {
            "id": 0,
            "companyName": "Northwind IT (owner)",
            "companyType": 5,
            "isActive": True,
        },
        {
            "id": 29683,
            "companyName": "Contoso Pharmacy Ltd",
            "companyNumber": "CUST-0042",
            "companyType": 1,
            "billingAddress1": "12 Queen St",
            "billToCity": "Auckland",
            "billToZipCode": "1010",
            "taxRegionID": 3,
            "taxID": "123-456-789",
            "isTaxExempt": False,
            "currencyID": 2,
            "invoiceTemplateID": 102,
            "isActive": True,
            "lastActivityDate": "2026-03-30T21:14:05.573",
            "userDefinedFields": [{"name": "Xero Org", "value": "NZ"}],
        },
    ]
    at["Contacts"] = [
        {
            "id": 30682955,
            "companyID": 29683,
            "firstName": "Aroha",
            "lastName": "Ngata",
            "emailAddress": "accounts@contoso.example",
            "billingContact": True,
            "primaryContact": False,
            "isActive": 1,
            "lastModifiedDate": "2026-02-01T03:00:00",
        }
    ]
    at["CompanyLocations"] = [
        {"id": 8, "companyID": 29683, "name": "Head office", "isPrimary": True, "taxRegionID": 3}
    ]
    at["TaxRegions"] = [{"id": 3, "name": "New Zealand", "isActive": True}]
    at["TaxCategories"] = [{"id": 1, "name": "Standard", "description": "GST", "isActive": True}]
    at["Taxes"] = [
        {
            "id": 11,
            "taxRegionID": 3,
            "taxCategoryID": 1,
            "taxName": "GST",
            "taxRate": 15.0,
            "isCompounded": False,
        }
    ]
    at["Currencies"] = [
        {"id": 1, "name": "AUD", "isInternalCurrency": True, "exchangeRate": 1.0, "isActive": True},
        {
            "id": 2,
            "name": "NZD",
            "isInternalCurrency": False,
            "exchangeRate": 1.0923,
            "isActive": True,
            "lastModifiedDateTime": "2026-03-01T00:00:00",
        },
    ]
    at["BillingCodes"] = [
        {
            "id": 29682801,
            "name": "Remote support",
            "billingCodeType": 0,
            "useType": 1,
            "externalNumber": "200",
            "taxCategoryID": 1,
            "unitPrice": 165.0,
            "isActive": True,
        }
    ]
    at["OrganizationalLevel1s"] = [{"id": 1, "name": "Auckland", "isActive": True}]
    at["OrganizationalLevel2s"] = [{"id": 4, "name": "Managed services", "isActive": True}]
    at["OrganizationalLevelAssociations"] = [
        {"id": 7, "organizationalLevel1ID": 1, "organizationalLevel2ID": 4, "isActive": True}
    ]
    at["InvoiceTemplates"] = [{"id": 102, "name": "Standard (NZ)", "paymentTerms": 5}]
    at["PaymentTerms"] = [{"id": 5, "name": "Net 20", "paymentDueInDays": 20, "isActive": True}]
    at["Products"] = [
        {
            "id": 232,
            "name": "Dell Latitude 5450",
            "sku": "LAT-5450",
            "unitPrice": 1899.99,
            "unitCost": 1410.5,
            "productBillingCodeID": 29682801,
            "isActive": True,
        }
    ]
    at["Services"] = [
        {
            "id": 40,
            "name": "Managed workstation",
            "invoiceDescription": "Managed workstation \u2013 per device",
            "billingCodeID": 29682801,
            "unitPrice": 45.0,
            "lastModifiedDate": "2026-01-15T09:30:00",
        }
    ]
    at["ServiceBundles"] = [{"id": 41, "name": "Office bundle", "unitPrice": 120.0}]
    at["Invoices"] = [
        {
            "id": 5001,
            "companyID": 29683,
            "invoiceNumber": "T20260331.0042",
            "invoiceDateTime": "2026-03-31T00:00:00",
            "createDateTime": "2026-03-31T22:41:07.1234567",
            "dueDate": "2026-04-20T00:00:00",
            "invoiceTotal": 2530.49,
            "totalTaxValue": 330.06,
            "isVoided": False,
            "orderNumber": "PO-7781",
            "paymentTerm": 5,
            "taxRegionName": "New Zealand",
            "invoiceEditorTemplateID": 102,
        }
    ]
    at["BillingItems"] = [
        {
            "id": 9001,
            "invoiceID": 5001,
            "companyID": 29683,
            "itemName": "Remote support",
            "description": "Printer won\u2019t print \u2013 fixed driver",
            "quantity": 1.75,
            "rate": 165.0,
            "extendedPrice": 288.75,
            "taxDollars": 43.31,
            "totalAmount": 332.06,
            "billingCodeID": 29682801,
            "taxCategoryID": 1,
            "organizationalLevelAssociationID": 7,
            "postedDate": "2026-03-31T22:40:00",
            "ticketID": 77,
        },
        {
            "id": 9002,
            "invoiceID": 5001,
            "companyID": 29683,
            "itemName": "Dell Latitude 5450",
            "quantity": 1.0,
            "rate": 1899.99,
            "extendedPrice": 1899.99,
            "taxDollars": 285.0,
            "totalAmount": 2184.99,
            "projectChargeID": 600,
            "taxCategoryID": 1,
        },
    ]
    at["ProjectCharges"] = [
        {"id": 600, "projectID": 12, "productID": 232, "unitQuantity": 1.0, "unitPrice": 1899.99}
    ]
    at["TicketCharges"] = [{"id": 601, "ticketID": 77, "productID": 232, "unitQuantity": 2.0}]
    at["ContractCharges"] = [{"id": 602, "contractID": 9, "productID": 232, "isBilled": True}]
    at["PurchaseOrders"] = [
        {
            "id": 70,
            "vendorID": 29683,
            "status": 2,
            "submitDateTime": "2026-03-10T04:00:00",
            "freight": 25.5,
            "purchaseOrderNumber": "PO-7781",
        }
    ]
    at["PurchaseOrderItems"] = [
        {"id": 71, "orderID": 70, "productID": 232, "quantity": 3, "unitCost": 1410.5}
    ]
    at["PurchaseOrderItemReceiving"] = [
        {
            "id": 72,
            "purchaseOrderItemID": 71,
            "quantityNowReceiving": 3,
            "vendorInvoiceNumber": "V1",
        }
    ]
    return world


@pytest.fixture(scope="module")
def msp() -> Iterator[Served]:
    with serving(msp_world()) as served:
        yield served


def _all(served: Served, model: type[AutotaskRecord]) -> list[Any]:
    return list(served.client().records(model, []))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.entity)
def test_every_record_of_the_entity_parses_from_the_sandbox(
    msp: Served, model: type[AutotaskRecord]
) -> None:
    parsed = _all(msp, model)
    assert [r.id for r in parsed] == [r["id"] for r in msp_world().autotask[model.entity]]
    assert all(isinstance(r, model) for r in parsed)


def test_an_invoice_parses_money_as_decimals_and_times_as_utc(msp: Served) -> None:
    found = msp.client().invoice(5001)
    assert found is not None
    assert found.invoiceTotal == Decimal("2530.49")
    assert found.totalTaxValue == Decimal("330.06")
    assert found.invoiceDateTime == datetime(2026, 3, 31, tzinfo=UTC)
    # .NET's seven fractional digits are cut to Python's six.
    assert found.createDateTime == datetime(2026, 3, 31, 22, 41, 7, 123456, tzinfo=UTC)
    assert found.webServiceDate is None


def test_billing_items_of_invoices_are_read_with_their_charge_links(msp: Served) -> None:
    lines = list(msp.client().billing_items_for_invoices([5001]))
    assert [(line.id, line.quantity, line.projectChargeID) for line in lines] == [
        (9001, Decimal("1.75"), None),
        (9002, Decimal("1.0"), 600),
    ]
    assert lines[0].description == "Printer won\u2019t print \u2013 fixed driver"


def test_user_defined_fields_are_read_as_name_value_pairs(msp: Served) -> None:
    company = msp.client().record(Company, 29683)
    assert company is not None
    assert [(u.name, u.value) for u in company.userDefinedFields] == [("Xero Org", "NZ")]


def test_company_zero_the_owner_is_read_like_any_other(msp: Served) -> None:
    owner = msp.client().record(Company, 0)
    assert owner is not None and owner.companyName == "Northwind IT (owner)"


def test_a_record_read_with_fewer_fields_leaves_the_others_none(msp: Served) -> None:
    [found] = msp.client().records(Invoice, [], include_fields=["invoiceNumber"])
    assert found.invoiceNumber == "T20260331.0042"
    assert found.invoiceTotal is None


def test_unknown_extra_fields_are_tolerated() -> None:
    raw = {"id": 1, "invoiceTotal": "10.50", "someFieldFromANewRelease": {"x": 1}}
    assert Invoice.model_validate(raw).invoiceTotal == Decimal("10.50")


def test_an_aware_time_is_converted_to_utc() -> None:
    raw = {"id": 1, "invoiceDateTime": "2026-04-01T12:00:00+12:00"}
    assert Invoice.model_validate(raw).invoiceDateTime == datetime(2026, 4, 1, tzinfo=UTC)


def _full_record(model: type[AutotaskRecord], record_id: int) -> dict[str, Any]:
    """A record with a value in every Swagger field of the entity."""
    swagger = entity(model.entity)
    assert swagger is not None
    values = {
        "integer": 7,
        "long": 7,
        "double": 12.34,
        "boolean": True,
        "string": "text",
        "datetime": "2026-03-31T23:59:59.997",
        "array": [{"name": "Xero Org", "value": "NZ"}],
    }
    out: dict[str, Any] = {k: values.get(kind) for k, kind in swagger.kinds.items()}
    out["id"] = record_id
    return out


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.entity)
def test_every_field_is_a_swagger_field_and_parses_to_its_type(
    model: type[AutotaskRecord],
) -> None:
    swagger = entity(model.entity)
    assert swagger is not None
    parsed = model.model_validate(_full_record(model, 1))
    for name in model.model_fields:
        assert name in swagger.kinds, f"{model.__name__}.{name} is not in {swagger.model}"
        value = getattr(parsed, name)
        assert isinstance(value, KIND_TYPES[swagger.kinds[name]]), (name, value)
        if isinstance(value, datetime):
            assert value.tzinfo is UTC


def test_records_with_every_field_filled_parse_for_every_entity() -> None:
    world = World(autotask_users=[api_user()])
    for model in MODELS:
        world.autotask[model.entity] = [_full_record(model, 1)]
    with serving(world) as served:
        client = served.client()
        for model in MODELS:
            found = client.record(model, 1)
            assert found is not None, model.entity
            values = found.model_dump()
            assert None not in values.values(), (model.entity, values)


def test_every_record_of_the_seeded_world_parses() -> None:
    world = seed.generate(50)
    if not world.autotask.get("Invoices"):
        pytest.skip("sandbox.seed.generate() does not build Autotask records yet")
    with serving(world) as served:
        client = served.client(budget=None)
        for model in MODELS:
            rows = world.autotask.get(model.entity, [])
            assert len(list(client.records(model, []))) == len(rows), model.entity
