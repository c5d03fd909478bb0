"""The mapping tabs of purchase orders and expenses, against a real agent (pilot, 80x24): PO
accounts (``purchase_account``), Expense accounts (``expense_account``) and Expense people
(``expense_contact``), and the Autotask ``resources`` list their people come from."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from test_tui_kit import SMALL, TuiAgent, api, attached, shows, tui_agent, until
from textual.pilot import Pilot
from textual.widgets import OptionList, TabbedContent

from sandbox import seed_catalog as cat
from tui.app import AtxApp
from tui.screens.mappings import MappingsScreen
from tui.screens.picker import PickerScreen

EXPENSE_CATEGORIES = {spec.id for spec in cat.BILLING_CODES if spec.use_type == 4}


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TuiAgent]:
    with tui_agent(tmp_path_factory.mktemp("mapping-tabs")) as running:
        yield running


@pytest.fixture
def c(agent: TuiAgent) -> Iterator[httpx.Client]:
    with api(agent) as client:
        yield client


def notified(app: AtxApp, text: str) -> bool:
    return any(text in n.message or text in n.title for n in app._notifications)


def catalog(c: httpx.Client, org: str, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = c.get(f"/catalogs/{org}/{name}").json()["items"]
    return items


def saved(c: httpx.Client, kind: str) -> dict[str, str]:
    rows = c.get("/mappings", params={"kind": kind}).json()["items"]
    return {r["key"]: r["value"] for r in rows if r["org"] == "" and r["kind"] == kind}


# -- the resources list ------------------------------------------------------------------------


def test_the_resources_list_names_every_employee(c: httpx.Client) -> None:
    items = c.get("/autotask/resources").json()["items"]
    by_id = {i["id"]: i for i in items}
    assert set(by_id) == {str(spec.id) for spec in cat.RESOURCES}
    creator = by_id[str(cat.CREATOR_RESOURCE_ID)]
    assert creator["label"] == "Sam Carter"
    assert creator["email"] == "sam.carter@acme-it.example" and creator["active"] is True
    assert [i["active"] for i in items].count(False) == 1
    # Every expense report's submitter is there: the keys of expense_contact mappings.
    assert str(cat.CREATOR_RESOURCE_ID) in by_id


def test_the_resources_list_is_narrowed_by_q(c: httpx.Client) -> None:
    by_name = c.get("/autotask/resources", params={"q": "whitfield"}).json()["items"]
    assert [i["id"] for i in by_name] == [str(cat.APPROVER_RESOURCE_ID)]
    by_email = c.get("/autotask/resources", params={"q": "priya.nair@"}).json()["items"]
    assert [i["label"] for i in by_email] == ["Priya Nair"]
    assert c.get("/autotask/resources", params={"q": "nobody-here"}).json()["items"] == []


# -- the tabs ----------------------------------------------------------------------------------


async def open_tab(pilot: Pilot[Any], kind: str) -> MappingsScreen:
    await attached(pilot)
    await pilot.press("m")
    screen: MappingsScreen = await until(
        pilot, lambda: isinstance(pilot.app.screen, MappingsScreen) and pilot.app.screen
    )
    await shows(pilot, "mapped for")
    screen.query_one(TabbedContent).active = f"tab-{kind}"
    await until(pilot, lambda: screen.table().spec.kind == kind)
    await shows(pilot, f"{screen.table().spec.title}: ")
    return screen


async def map_row(pilot: Pilot[Any], screen: MappingsScreen, key: str, value: str) -> None:
    """Edit the row of ``key`` in the active tab: Enter, pick ``value``, wait for the save."""
    app = pilot.app
    table = screen.table()
    await until(pilot, lambda: key in table.rows_by_key)
    table.focus()
    table.move_cursor(row=table.get_row_index(key))
    await pilot.press("enter")
    picker: PickerScreen = await until(
        pilot, lambda: isinstance(app.screen, PickerScreen) and app.screen
    )
    options = picker.query_one(OptionList)
    index = next(
        i for i in range(options.option_count) if options.get_option_at_index(i).id == value
    )
    options.highlighted = index
    options.focus()
    await pilot.press("enter")
    await until(pilot, lambda: app.screen is screen and table.rows_by_key[key][1] == value)


async def test_po_accounts_map_products_to_accounts(agent: TuiAgent, c: httpx.Client) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        screen = await open_tab(pilot, "purchase_account")
        table = screen.table()
        await until(pilot, lambda: table.row_count > 0)
        keys = list(table.rows_by_key)
        # Products only: services and bundles are never on a purchase order.
        assert keys and all(k.startswith("product:") for k in keys)
        products = {f"product:{p['id']}" for p in agent.rig.world.autotask["Products"]}
        assert set(keys) <= products
        codes = {a["Code"] for a in catalog(c, agent.rig.au, "accounts") if a.get("Code")}
        account = "429" if "429" in codes else sorted(codes)[0]
        await map_row(pilot, screen, keys[0], account)
        await shows(pilot, "PO accounts: 1 of")
    assert saved(c, "purchase_account") == {keys[0]: account}


async def test_expense_accounts_map_expense_categories(agent: TuiAgent, c: httpx.Client) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        screen = await open_tab(pilot, "expense_account")
        table = screen.table()
        await until(pilot, lambda: table.row_count > 0)
        # Only the billing codes that are expense categories (what ExpenseItems name).
        assert {int(k) for k in table.rows_by_key} == EXPENSE_CATEGORIES
        await shows(pilot, "Travel")
        travel = str(cat.BC["Travel"])
        codes = sorted(a["Code"] for a in catalog(c, agent.rig.au, "accounts") if a.get("Code"))
        account = "493" if "493" in codes else codes[0]
        await map_row(pilot, screen, travel, account)
    assert saved(c, "expense_account") == {travel: account}


async def test_expense_people_map_resources_to_contacts(agent: TuiAgent, c: httpx.Client) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        screen = await open_tab(pilot, "expense_contact")
        await shows(pilot, "Sam Carter")
        await shows(pilot, "Liam O'Brien (inactive)")
        contact = next(
            x for x in catalog(c, agent.rig.au, "contacts") if x.get("ContactID") and x.get("Name")
        )
        submitter = str(agent.rig.world.autotask["ExpenseReports"][0]["submitterID"])
        await map_row(pilot, screen, submitter, contact["ContactID"])
        await shows(pilot, contact["Name"][:20])
    assert saved(c, "expense_contact") == {submitter: contact["ContactID"]}


async def test_brackets_step_through_every_tab(agent: TuiAgent) -> None:
    """At 80 columns the tab bar shows a few of the fourteen tabs: ] and [ reach them all."""
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        await attached(pilot)
        await pilot.press("m")
        screen: MappingsScreen = await until(
            pilot, lambda: isinstance(pilot.app.screen, MappingsScreen) and pilot.app.screen
        )
        await shows(pilot, "mapped for")
        tabs = screen.query_one(TabbedContent)
        seen = [tabs.active]
        for _ in range(13):
            await pilot.press("right_square_bracket")
            await until(pilot, lambda: tabs.active != seen[-1])
            seen.append(tabs.active)
        assert seen[-1] == "tab-expense_contact" and len(set(seen)) == 14
        await pilot.press("right_square_bracket")  # round to the first again
        await until(pilot, lambda: tabs.active == "tab-account")
        await pilot.press("left_square_bracket")
        await until(pilot, lambda: tabs.active == "tab-expense_contact")
        await shows(pilot, "Expense people: ")


async def test_po_tax_maps_tax_regions_to_tax_rates(agent: TuiAgent, c: httpx.Client) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        screen = await open_tab(pilot, "purchase_tax")
        table = screen.table()
        await until(pilot, lambda: table.row_count > 0)
        regions = {str(r["id"]) for r in agent.rig.world.autotask["TaxRegions"]}
        keys = list(table.rows_by_key)
        assert set(keys) == regions
        await map_row(pilot, screen, keys[0], "BASEXCLUDED")
        await shows(pilot, "PO tax: 1 of")
    assert saved(c, "purchase_tax") == {keys[0]: "BASEXCLUDED"}
