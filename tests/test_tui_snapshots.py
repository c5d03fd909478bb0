"""Snapshots of the main screens at 80x24 and 120x40, against one real agent whose clock is
all but stopped (every timestamp is 2026-03-02 12:00) on the seeded sandbox (seed 3).

Update with ``pytest tests/test_tui_snapshots.py --snapshot-update`` after a deliberate change,
and look at the SVGs in __snapshots__/ before committing them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_control_kit import short_dir
from test_tui_kit import LARGE, SMALL, TuiAgent, attached, shows, tui_agent, until
from textual.pilot import Pilot

from tui.app import AtxApp
from tui.client import ControlClient, ControlTarget
from tui.screens.queue_detail import QueueDetailScreen
from tui.screens.unreachable import UnreachableScreen
from tui.widgets.queue_table import QueueTable

SIZES = [pytest.param(SMALL, id="80x24"), pytest.param(LARGE, id="120x40")]


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TuiAgent]:
    with tui_agent(tmp_path_factory.mktemp("snapshots"), frozen=True) as running:
        yield running


def app_for(agent: TuiAgent, mode: str) -> AtxApp:
    return agent.app(start_mode=mode)


async def idle(pilot: Pilot[Any]) -> None:
    """Every worker done but the event stream's, which runs for ever."""
    await until(pilot, lambda: all(w.group == "events" or w.is_finished for w in pilot.app.workers))
    await pilot.pause(0.2)


async def settled(pilot: Pilot[Any]) -> None:
    await attached(pilot)
    await pilot.pause(0.5)
    await idle(pilot)


# The dashboard first: the other screens read Autotask lists, which the budget counts.
@pytest.mark.parametrize("size", SIZES)
def test_dashboard(agent: TuiAgent, snap_compare: Any, size: tuple[int, int]) -> None:
    async def ready(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        await shows(pilot, "Acme IT UK Ltd")

    assert snap_compare(app_for(agent, "dashboard"), terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_queue(agent: TuiAgent, snap_compare: Any, size: tuple[int, int]) -> None:
    async def ready(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        await shows(pilot, "26 of 26 shown")

    assert snap_compare(app_for(agent, "queue"), terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_queue_detail(agent: TuiAgent, snap_compare: Any, size: tuple[int, int]) -> None:
    async def ready(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        await shows(pilot, "26 of 26 shown")
        # A blocked row: what is wrong and the fix (a posted one's history names its worker's
        # lease, which differs per run).
        table = pilot.app.screen.query_one(QueueTable)
        key = next(k for k, item in table.items.items() if item["state"] == "blocked")
        table.move_cursor(row=table.get_row_index(key))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, QueueDetailScreen))
        await shows(pilot, "Fix:")
        await idle(pilot)

    assert snap_compare(app_for(agent, "queue"), terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_mappings(agent: TuiAgent, snap_compare: Any, size: tuple[int, int]) -> None:
    async def ready(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        await shows(pilot, "mapped for all organisations")

    assert snap_compare(app_for(agent, "mappings"), terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_setup_options(agent: TuiAgent, snap_compare: Any, size: tuple[int, int]) -> None:
    async def ready(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        pilot.app.screen.query_one("#steps").index = 2  # type: ignore[attr-defined]
        await shows(pilot, "Invoice status in Xero")
        await idle(pilot)

    assert snap_compare(app_for(agent, "setup"), terminal_size=size, run_before=ready)


def test_agent_unreachable(snap_compare: Any, tmp_path: Path) -> None:
    with short_dir() as folder:
        target = ControlTarget(socket=folder / "control.sock")
        app = AtxApp(ControlClient(target), backoff=lambda failures: 30.0)

        async def ready(pilot: Pilot[Any]) -> None:
            await until(pilot, lambda: isinstance(pilot.app.screen, UnreachableScreen))
            await shows(pilot, "Trying again by itself")

        # The path differs per run: shown as a fixed one.
        app.client.target = ControlTarget(socket=Path("/data/control.sock"))
        assert snap_compare(app, terminal_size=SMALL, run_before=ready)
