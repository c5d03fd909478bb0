"""Autotask reference lists for the mapping editors (``GET /autotask/{name}``).

Each item has ``id`` (the mapping's source key, as text: a billing code id, a tax region id, an
organizational level association id, ...) and ``label`` (what the user reads), plus a few facts.
One or two queries per list; the service caches the answers for ten minutes (the Autotask budget
is shared by every integration of the customer).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice
from typing import Any, ClassVar

from agent.autotask import AutotaskClient
from agent.autotask.client import ANY_ID
from agent.autotask.records import AutotaskRecord
from agent.autotask.refdata import (
    BillingCode,
    Company,
    InvoiceTemplate,
    OrganizationalLevel1,
    OrganizationalLevel2,
    OrganizationalLevelAssociation,
    TaxCategory,
    TaxRegion,
)

COMPANY_LIMIT = 50
RESOURCE_LIMIT = 500  # one page: an MSP's staff, past and present
Item = dict[str, Any]


class Resource(AutotaskRecord):
    """An Autotask resource (an employee): the submitter of expense reports, the key of
    ``expense_contact`` mappings. Only the fields the list shows (Swagger ``ResourceModel``)."""

    entity: ClassVar[str] = "Resources"

    email: str | None = None
    firstName: str | None = None
    isActive: bool | None = None
    lastName: str | None = None
    resourceType: str | None = None
    title: str | None = None
    userName: str | None = None


RESOURCE_FIELDS = tuple(name for name in Resource.model_fields if name != "id")


def _active(value: bool | None) -> bool:
    return value is not False


def billing_codes(client: AutotaskClient, q: str | None) -> list[Item]:
    return [
        {
            "id": str(code.id),
            "label": code.name or f"billing code {code.id}",
            "external_number": code.externalNumber,
            "active": _active(code.isActive),
            "use_type": code.useType,
        }
        for code in client.records(BillingCode, [ANY_ID])
    ]


def tax_regions(client: AutotaskClient, q: str | None) -> list[Item]:
    return [
        {"id": str(r.id), "label": r.name or f"tax region {r.id}", "active": _active(r.isActive)}
        for r in client.records(TaxRegion, [ANY_ID])
    ]


def tax_categories(client: AutotaskClient, q: str | None) -> list[Item]:
    return [
        {
            "id": str(c.id),
            "label": c.name or f"tax category {c.id}",
            "active": _active(c.isActive),
        }
        for c in client.records(TaxCategory, [ANY_ID])
    ]


def invoice_templates(client: AutotaskClient, q: str | None) -> list[Item]:
    return [
        {"id": str(t.id), "label": t.name or f"template {t.id}"}
        for t in client.records(InvoiceTemplate, [ANY_ID])
    ]


def lines_of_business(client: AutotaskClient, q: str | None) -> list[Item]:
    """Organizational level associations (the routing key), labelled "Level 1 / Level 2"."""
    level1 = {r.id: r.name for r in client.records(OrganizationalLevel1, [ANY_ID])}
    level2 = {r.id: r.name for r in client.records(OrganizationalLevel2, [ANY_ID])}
    items = []
    for a in client.records(OrganizationalLevelAssociation, [ANY_ID]):
        first = level1.get(a.organizationalLevel1ID or -1) or f"level 1 #{a.organizationalLevel1ID}"
        second = (
            level2.get(a.organizationalLevel2ID or -1) or f"level 2 #{a.organizationalLevel2ID}"
        )
        items.append(
            {"id": str(a.id), "label": f"{first} / {second}", "active": _active(a.isActive)}
        )
    return items


def companies(client: AutotaskClient, q: str | None) -> list[Item]:
    """Up to 50 companies whose name contains ``q`` (all, up to 50, without it)."""
    text = (q or "").strip()
    filters = [{"op": "contains", "field": "companyName", "value": text}] if text else [ANY_ID]
    found = islice(client.records(Company, filters, page_size=COMPANY_LIMIT), COMPANY_LIMIT)
    return [
        {
            "id": str(c.id),
            "label": c.companyName or f"company {c.id}",
            "number": c.companyNumber,
            "active": _active(c.isActive),
        }
        for c in found
    ]


def resources(client: AutotaskClient, q: str | None) -> list[Item]:
    """Resources (employees), the keys of ``expense_contact`` mappings (an expense report's
    ``submitterID``), labelled "First Last", inactive ones too (a report outlives a leaver).
    One query of up to 500; ``q`` narrows to first name, last name, email or user name
    containing it."""
    text = (q or "").strip()
    filters: list[Any] = [ANY_ID]
    if text:
        filters = [
            {
                "op": "or",
                "items": [
                    {"op": "contains", "field": field, "value": text}
                    for field in ("firstName", "lastName", "email", "userName")
                ],
            }
        ]
    found = islice(
        client.records(Resource, filters, include_fields=RESOURCE_FIELDS), RESOURCE_LIMIT
    )
    items = []
    for r in found:
        name = " ".join(part for part in (r.firstName, r.lastName) if part and part.strip())
        items.append(
            {
                "id": str(r.id),
                "label": name or r.userName or r.email or f"resource {r.id}",
                "email": r.email,
                "title": r.title,
                "active": _active(r.isActive),
            }
        )
    return items


def udf_values(client: AutotaskClient, q: str | None) -> list[Item]:
    """The values the companies hold in the user-defined field named ``q`` (the
    ``routing_udf_name`` setting): the keys of ``routing_udf`` mappings. One query (one UDF
    filter, autotask-api §5) of up to 500 companies that have the field set."""
    name = (q or "").strip()
    if not name:
        return []
    filters = [{"op": "exist", "field": name, "udf": True}]
    found = islice(client.records(Company, filters), 500)
    counts: dict[str, int] = {}
    for company in found:
        for udf in company.userDefinedFields:
            value = (udf.value or "").strip()
            if udf.name.strip().casefold() == name.casefold() and value:
                counts[value] = counts.get(value, 0) + 1
    return [
        {"id": value, "label": f"{value} ({n} compan{'y' if n == 1 else 'ies'})"}
        for value, n in sorted(counts.items(), key=lambda kv: kv[0].casefold())
    ]


def products_and_services(client: AutotaskClient, q: str | None) -> list[Item]:
    """Products, services and service bundles: the keys of ``item`` mappings
    (``product:<id>``, ``service:<id>``, ``bundle:<id>``). Three queries; ``q`` narrows by name."""
    from agent.autotask.refdata import Product, Service, ServiceBundle

    text = (q or "").strip().lower()
    items: list[Item] = []
    for prefix, model, noun in (
        ("product", Product, "product"),
        ("service", Service, "service"),
        ("bundle", ServiceBundle, "service bundle"),
    ):
        for record in client.records(model, [ANY_ID]):
            name = getattr(record, "name", None) or f"{noun} {record.id}"
            if text and text not in name.lower():
                continue
            items.append(
                {
                    "id": f"{prefix}:{record.id}",
                    "label": f"{name} ({noun})",
                    "active": _active(getattr(record, "isActive", None)),
                }
            )
    return items


UNSENT_LIMIT = 30


def unsent_invoices(client: AutotaskClient, q: str | None) -> list[Item]:
    """The newest invoices not yet sent (no ``webServiceDate``), at most 30: what the setup
    wizard's test invoice is picked from before the first cycle has queued anything. ``q``
    narrows to invoice numbers containing it. One query for the invoices (one page of up to
    500, the oldest first, of which the newest are kept) and one for their companies."""
    from agent.autotask.records import Invoice

    filters: list[Any] = [{"op": "notExist", "field": "webServiceDate"}]
    text = (q or "").strip()
    if text:
        filters.append({"op": "contains", "field": "invoiceNumber", "value": text})
    found = list(islice(client.records(Invoice, filters), 500))
    newest = sorted((i for i in found if not i.isVoided), key=lambda i: i.id, reverse=True)[
        :UNSENT_LIMIT
    ]
    names = {
        c.id: c.companyName
        for c in client.records_in(
            Company, "id", sorted({i.companyID for i in newest if i.companyID is not None})
        )
    }
    return [
        {
            "id": str(i.id),
            "label": " ".join(
                part
                for part in (
                    i.invoiceNumber or f"#{i.id}",
                    names.get(i.companyID or -1) or "",
                    f"{i.invoiceTotal:,.2f}" if i.invoiceTotal is not None else "",
                )
                if part
            ),
            "number": i.invoiceNumber,
            "date": i.invoiceDateTime.date().isoformat() if i.invoiceDateTime else None,
        }
        for i in newest
    ]


LISTS: dict[str, Callable[[AutotaskClient, str | None], list[Item]]] = {
    "billing_codes": billing_codes,
    "tax_regions": tax_regions,
    "tax_categories": tax_categories,
    "invoice_templates": invoice_templates,
    "lines_of_business": lines_of_business,
    "companies": companies,
    "unsent_invoices": unsent_invoices,
    "udf_values": udf_values,
    "products": products_and_services,
    "resources": resources,
}
UNCACHED = frozenset({"unsent_invoices"})  # changes as invoices are sent
