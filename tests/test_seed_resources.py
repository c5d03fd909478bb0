"""The seeded MSP's employees (Autotask ``Resources``) and how the sandbox serves them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from test_sandbox_autotask_kit import ANY_ID, Api, serving

from sandbox import seed_catalog as cat
from sandbox.seed import generate
from sandbox.world import World

# Every field of a seeded record that names a resource (an employee).
RESOURCE_FIELDS = ("submitterID", "approverID")


@pytest.fixture(scope="module")
def world() -> World:
    return generate(40, seed=3, today=date(2026, 11, 20))


@pytest.fixture(scope="module")
def api(world: World) -> Iterator[Api]:
    with serving(world) as running:
        yield running


def named_resources(world: World) -> set[int]:
    return {
        int(value)
        for entity, records in world.autotask.items()
        if entity != "Resources"
        for record in records
        for field, value in record.items()
        if value is not None and (field.lower().endswith("resourceid") or field in RESOURCE_FIELDS)
    }


def test_every_resource_a_record_names_is_seeded(world: World) -> None:
    seeded = {r["id"] for r in world.autotask["Resources"]}
    named = named_resources(world)
    assert {cat.CREATOR_RESOURCE_ID, cat.APPROVER_RESOURCE_ID} <= named
    assert named <= seeded
    submitters = {r["submitterID"] for r in world.autotask["ExpenseReports"]}
    assert submitters and submitters <= seeded


def test_resources_look_like_employees(world: World) -> None:
    resources = world.autotask["Resources"]
    assert len(resources) == len(cat.RESOURCES) >= 5
    assert len({r["id"] for r in resources}) == len(resources)
    assert len({r["email"] for r in resources}) == len(resources)
    assert all(r["firstName"] and r["lastName"] and "@" in r["email"] for r in resources)
    assert all(r["resourceType"] == "Employee" and r["userName"] for r in resources)
    assert [r["isActive"] for r in resources].count(False) == 1  # someone who has left


def test_the_sandbox_queries_resources_with_filters(api: Api, world: World) -> None:
    everyone = api.items("Resources", ANY_ID)
    assert [r["id"] for r in everyone] == sorted(r["id"] for r in world.autotask["Resources"])
    # Every Swagger field is answered, null when the record has none.
    assert {"firstName", "lastName", "email", "isActive", "mobilePhone"} <= set(everyone[0])
    assert everyone[0]["mobilePhone"] is None
    active = api.items("Resources", [{"op": "eq", "field": "isActive", "value": True}])
    assert len(active) == len(everyone) - 1
    named: list[dict[str, Any]] = [
        {
            "op": "or",
            "items": [
                {"op": "contains", "field": "firstName", "value": "grace"},
                {"op": "contains", "field": "lastName", "value": "grace"},
            ],
        }
    ]
    found = api.items("Resources", named)
    assert [r["id"] for r in found] == [cat.APPROVER_RESOURCE_ID]
    submitter = world.autotask["ExpenseReports"][0]["submitterID"]
    one = api.client.get(f"{api.base}Resources/{submitter}").json()["item"]
    assert one["id"] == submitter and one["lastName"]


def test_resources_page_and_count_like_other_entities(api: Api, world: World) -> None:
    first = api.query("Resources", {"filter": ANY_ID, "maxRecords": 2}).json()
    assert len(first["items"]) == 2 and first["pageDetails"]["nextPageUrl"]
    ids = [r["id"] for r in first["items"]]
    url = first["pageDetails"]["nextPageUrl"]
    while url:
        page = api.client.post(url, json={"filter": ANY_ID, "maxRecords": 2}).json()
        ids += [r["id"] for r in page["items"]]
        url = page["pageDetails"]["nextPageUrl"]
    assert ids == sorted(r["id"] for r in world.autotask["Resources"])
    count = api.client.post(f"{api.base}Resources/query/count", json={"filter": ANY_ID})
    assert count.json() == {"queryCount": len(world.autotask["Resources"])}
