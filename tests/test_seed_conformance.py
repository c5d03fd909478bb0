"""Every seeded record is shaped exactly as the official specs describe it."""

from __future__ import annotations

from datetime import date

import pytest

from sandbox.conformance import response_errors
from sandbox.seed import generate
from sandbox.spec_book import autotask_entity_model
from sandbox.world import World

XERO_SCHEMAS = {
    "accounts": "Account",
    "tax_rates": "TaxRate",
    "currencies": "Currency",
    "branding_themes": "BrandingTheme",
    "contacts": "Contact",
    "items": "Item",
}


@pytest.fixture(scope="module")
def world() -> World:
    return generate(200, seed=11, today=date(2026, 11, 20))


def test_every_autotask_entity_has_a_swagger_model(world: World) -> None:
    assert {e for e in world.autotask if autotask_entity_model(e) is None} == set()


def test_every_autotask_record_conforms_to_its_swagger_model(world: World) -> None:
    problems = [
        f"{entity}#{record['id']}: {error}"
        for entity, records in world.autotask.items()
        for record in records
        for error in response_errors("autotask", str(autotask_entity_model(entity)), record)
    ]

    assert problems == []


def test_every_xero_record_conforms_to_its_schema(world: World) -> None:
    problems = [
        f"{org.name} {schema}: {error}"
        for org in world.xero_orgs
        for attribute, schema in XERO_SCHEMAS.items()
        for record in getattr(org, attribute)
        for error in response_errors("xero", schema, record)
    ]

    assert problems == []
