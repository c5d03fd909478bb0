"""The largest world (20,000 invoices) is built in seconds, with the expected proportions."""

from __future__ import annotations

import random
import time
from datetime import date

import pytest

from sandbox.conformance import response_errors
from sandbox.seed import generate
from sandbox.spec_book import autotask_entity_model
from sandbox.world import World

LARGEST = 20_000


@pytest.fixture(scope="module")
def timed_world() -> tuple[World, float]:
    started = time.perf_counter()
    world = generate(LARGEST, seed=1, today=date(2026, 11, 20))
    return world, time.perf_counter() - started


def test_largest_world_is_built_within_15_seconds(timed_world: tuple[World, float]) -> None:
    _, seconds = timed_world

    assert seconds < 15


def test_largest_world_has_the_expected_counts(timed_world: tuple[World, float]) -> None:
    world, _ = timed_world
    at = world.autotask

    assert len(at["Invoices"]) == LARGEST
    assert sum(1 for c in at["Companies"] if c["companyType"] == 1) == 2000
    assert 3 * LARGEST < len(at["BillingItems"]) < 5 * LARGEST
    assert len(at["PurchaseOrders"]) == 2000
    assert len({i["invoiceNumber"] for i in at["Invoices"]}) == LARGEST
    assert len({i["id"] for i in at["BillingItems"]}) == len(at["BillingItems"])
    negative = sum(1 for i in at["Invoices"] if i["invoiceTotal"] < 0)
    assert 0.04 * LARGEST <= negative <= 0.06 * LARGEST


def test_largest_world_conforms_to_the_specs_on_a_sample(timed_world: tuple[World, float]) -> None:
    world, _ = timed_world
    sample = random.Random(0)
    problems = []
    for entity, records in world.autotask.items():
        model = str(autotask_entity_model(entity))
        for record in sample.sample(records, min(len(records), 300)):
            problems += response_errors("autotask", model, record)
    for org in world.xero_orgs:
        problems += response_errors("xero", "Contacts", {"Contacts": org.contacts})
        problems += response_errors("xero", "Items", {"Items": org.items})

    assert problems == []
