"""The live queue against a real agent: rows, filters, search, detail, actions, live updates,
paging (Textual pilot at 80x24)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from test_control_kit import wait_for
from test_tui_kit import SMALL, TuiAgent, api, attached, screen_text, shows, tui_agent, until
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Select

import tui.screens.queue as queue_screen
from tui.screens.confirm import ConfirmScreen
from tui.screens.queue import QueueScreen
from tui.screens.queue_detail import QueueDetailScreen
from tui.widgets.queue_table import QueueTable


@pytest.fixture
def agent(tmp_path: Path) -> Any:
    with tui_agent(tmp_path) as running:
        yield running


async def open_queue(pilot: Pilot[Any]) -> QueueTable:
    await attached(pilot)
    await pilot.press("q")
    table = await until(pilot, lambda: isinstance(pilot.app.screen, QueueScreen)
                        and pilot.app.screen.query_one(QueueTable))  # fmt: skip
    await until(pilot, lambda: table.row_count > 0)
    return table


def row_of(table: QueueTable, state: str) -> tuple[str, int]:
    for index, row in enumerate(table.ordered_rows):
        key = str(row.key.value)
        if table.items[key]["state"] == state:
            return key, index
    raise AssertionError(f"no {state} row")


async def put_cursor(pilot: Pilot[Any], table: QueueTable, index: int) -> None:
    table.focus()
    table.move_cursor(row=index)
    await pilot.pause()


async def test_queue_shows_every_row_with_state_and_total(agent: TuiAgent) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        table = await open_queue(pilot)
        total = api(agent).get("/queue").json()["total"]
        await shows(pilot, f"{total} of {total} shown")
        text = screen_text(app)
        assert "done" in text and "NZD" in text
        assert table.row_count == total


async def test_filter_by_state_lists_only_that_state(agent: TuiAgent) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        table = await open_queue(pilot)
        app.screen.query_one("#filter-state", Select).value = "blocked"
        blocked = api(agent).get("/queue", params={"state": "blocked"}).json()["total"]
        await until(pilot, lambda: table.row_count == blocked)
        assert {item["state"] for item in table.items.values()} == {"blocked"}


async def test_search_finds_by_customer(agent: TuiAgent) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        table = await open_queue(pilot)
        before = table.row_count
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"humber", "enter")
        await until(pilot, lambda: 0 < table.row_count < before)
        assert all("Humber" in item["customer"] for item in table.items.values())


async def test_detail_shows_error_provenance_history_and_payload(agent: TuiAgent) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        table = await open_queue(pilot)
        _, index = row_of(table, "done")
        await put_cursor(pilot, table, index)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, QueueDetailScreen))
        await shows(pilot, "account:")
        text = screen_text(app)
        assert "Lines: where each value came from" in text
        assert "In Xero:" in text
        detail = app.screen
        assert "History" in str(detail.query_one("#detail-history").border_title)
        assert "LineItems" in str(detail.query_one("#detail-payload").render())
        assert "y Resync" in text and "r Retry" not in text  # only what the state allows
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, QueueScreen))


async def test_blocked_detail_says_what_to_fix(agent: TuiAgent) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        table = await open_queue(pilot)
        key, index = row_of(table, "blocked")
        await put_cursor(pilot, table, index)
        await pilot.press("enter")
        detail = api(agent).get(f"/queue/{key}").json()
        text = await shows(pilot, "Fix:")
        reason = detail["block_reasons"][0]
        assert f"• {reason.split()[0]} {reason.split()[1]}" in text  # e.g. "• currency: currency"


async def test_skip_confirms_then_the_row_changes_in_place(agent: TuiAgent) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        table = await open_queue(pilot)
        key, index = row_of(table, "blocked")
        rows = table.row_count
        await put_cursor(pilot, table, index)
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await shows(pilot, "will not be sent to Xero")
        await pilot.press("y")
        await until(pilot, lambda: table.items[key]["state"] == "skipped")
        assert table.row_count == rows
        assert table.get_row_index(key) == index
        assert api(agent).get(f"/queue/{key}").json()["state"] == "skipped"


async def test_declining_the_confirmation_changes_nothing(agent: TuiAgent) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        table = await open_queue(pilot)
        key, index = row_of(table, "blocked")
        await put_cursor(pilot, table, index)
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, QueueScreen))
        await pilot.pause(0.3)
        assert api(agent).get(f"/queue/{key}").json()["state"] == "blocked"


async def test_retry_puts_a_blocked_row_back_to_pending(agent: TuiAgent) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        table = await open_queue(pilot)
        key, index = row_of(table, "blocked")
        await put_cursor(pilot, table, index)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await shows(pilot, "goes back to pending")
        await pilot.press("y")
        await until(pilot, lambda: table.items[key]["state"] != "blocked")


async def test_resync_says_the_document_is_updated_not_duplicated(agent: TuiAgent) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        table = await open_queue(pilot)
        key, index = row_of(table, "done")
        await put_cursor(pilot, table, index)
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await shows(pilot, "updated in place, never")
        await pilot.press("y")
        await until(pilot, lambda: table.items[key]["state"] != "done")
        assert api(agent).get(f"/queue/{key}").json()["state"] in ("pending", "posting", "done")


async def test_refused_action_shows_the_agents_reason(agent: TuiAgent) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        table = await open_queue(pilot)
        key, index = row_of(table, "done")
        await put_cursor(pilot, table, index)
        await pilot.press("x")  # a document in Xero cannot be skipped
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: any(n.severity == "error" for n in app._notifications))
        assert table.items[key]["state"] == "done"


async def test_retry_all_failed_confirms_with_the_count(agent: TuiAgent) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        await open_queue(pilot)
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await shows(pilot, "every failed and dead document")
        await pilot.press("y")
        await until(pilot, lambda: list(app._notifications))


async def test_a_change_made_elsewhere_updates_the_row_in_place(agent: TuiAgent) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        table = await open_queue(pilot)
        key, index = row_of(table, "blocked")
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        flushes = screen.flushes
        api(agent).post(f"/queue/{key}/skip", json={"reason": "done by hand"})
        await until(pilot, lambda: table.items[key]["state"] == "skipped", timeout=5)
        assert table.get_row_index(key) == index
        assert screen.flushes > flushes  # through the event stream, not a reload


async def test_large_queue_pages_in_as_the_cursor_moves(
    agent: TuiAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue_screen, "PAGE", 10)
    # Paging is tested on a queue that holds still: the agent's first cycle may still be
    # settling rows (a row that changes while the pages load moves in the order).
    seen: list[tuple[Any, ...]] = []

    def still() -> bool:
        items = api(agent).get("/queue", params={"limit": 500}).json()["items"]
        seen.append(tuple((i["id"], i["state"], i["updated_at"]) for i in items))
        return len(seen) > 1 and seen[-1] == seen[-2]

    wait_for(still, step=0.5)
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        table = await open_queue(pilot)
        await until(pilot, lambda: table.row_count == 20)  # a page past the cursor
        text = await shows(pilot, "↓ more below")
        # (the total as the screen has it: earlier tests' retries and resyncs on this module's
        # agent may still be changing the queue's size)
        found = re.search(r"20 of (\d+) shown  ↓ more below", text)
        assert found, text
        total = int(found.group(1))
        assert total > 20
        table.focus()
        await until(pilot, lambda: table.has_focus)
        for _ in range(total):  # the cursor down the table, a row at a time, as a person would
            if table.row_count == total:
                break
            await pilot.press("down")
            await pilot.pause(0.05)
        await until(pilot, lambda: table.row_count == total)
        assert len(set(table.items)) == total


async def test_the_mouse_wheel_pages_in_too(
    agent: TuiAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scrolling with the wheel (the cursor stays on the first row) loads the next pages."""
    monkeypatch.setattr(queue_screen, "PAGE", 10)
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        table = await open_queue(pilot)
        await until(pilot, lambda: table.row_count == 20)
        start = table.row_count
        for _ in range(20):
            table.post_message(events.MouseScrollDown(table, 2, 2, 0, 1, 0, False, False, False))
            await pilot.pause(0.05)
            if table.row_count > start + 10:
                break
        await until(pilot, lambda: table.row_count > start)
        assert table.cursor_row == 0  # it was the wheel, not the cursor
