"""Dashboard, mappings, logs and the unreachable agent, against a real agent (pilot, 80x24)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_control_kit import short_dir
from test_mapping_support import SEEDED_TAX
from test_tui_kit import (
    SMALL,
    TuiAgent,
    api,
    attached,
    free_port,
    screen_text,
    shows,
    tui_agent,
    until,
)
from textual.pilot import Pilot
from textual.widgets import OptionList, RichLog, Select, TabbedContent

from tui.app import AtxApp
from tui.client import ControlClient, ControlTarget
from tui.screens.confirm import ConfirmScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.logs import LogsScreen
from tui.screens.mappings import MappingsScreen, MappingTable
from tui.screens.picker import PickerScreen
from tui.screens.unreachable import UnreachableScreen


@pytest.fixture
def agent(tmp_path: Path) -> Any:
    with tui_agent(tmp_path) as running:
        yield running


def notified(app: AtxApp, text: str) -> bool:
    return any(text in n.message or text in n.title for n in app._notifications)


# -- dashboard ---------------------------------------------------------------------------------


async def test_dashboard_shows_health_connections_counts_budgets_and_attention(
    agent: TuiAgent,
) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        await attached(pilot)
        assert isinstance(app.screen, DashboardScreen)
        text = await shows(pilot, "Acme IT UK Ltd")
        assert "● idle" in text
        assert "Last cycle 2026-03-02 12:00  ✓ ok" in text
        assert "done 22" in text and "blocked 4" in text
        assert "token 60 days left" in text
        assert "Autotask " in text and "/10000 this hour" in text
        assert "/min" in text and "/day left" in text
        assert "blocked" in screen_text(app) and "→ open the queue" in text


async def test_sync_now_asks_the_agent_for_a_cycle(agent: TuiAgent) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        await attached(pilot)
        await pilot.press("c")
        await until(pilot, lambda: notified(app, "cycle"))


async def test_dashboard_retry_failed_confirms_first(agent: TuiAgent) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        await attached(pilot)
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await shows(pilot, "(0 now)")
        await pilot.press("y")
        await until(pilot, lambda: list(app._notifications))


async def test_a_status_event_updates_the_dashboard(agent: TuiAgent) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        await attached(pilot)
        await shows(pilot, "blocked 4")
        blocked = api(agent).get("/queue", params={"state": "blocked"}).json()["items"]
        api(agent).post(f"/queue/{blocked[0]['id']}/skip", json={"reason": None})
        await shows(pilot, "skipped 1", timeout=5)


# -- mappings ----------------------------------------------------------------------------------


async def open_mappings(pilot: Pilot[Any]) -> MappingsScreen:
    await attached(pilot)
    await pilot.press("m")
    screen = await until(pilot, lambda: isinstance(pilot.app.screen, MappingsScreen)
                         and pilot.app.screen)  # fmt: skip
    await shows(pilot, "mapped for")
    return screen  # type: ignore[no-any-return]


async def test_mappings_list_autotask_keys_with_their_xero_values(agent: TuiAgent) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        await open_mappings(pilot)
        text = await shows(pilot, "Microsoft 365 Licences")
        assert "200  Sales" in text  # value and its name from the catalog
        assert "Accounts  Tax  Currencies  Themes  Items  Contacts  Routing" in text


async def test_every_mapping_tab_loads(agent: TuiAgent) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        screen = await open_mappings(pilot)
        for kind, key_label in (
            ("tax", "Australia GST / Standard"),
            ("branding_theme", "Standard"),
            ("routing", ""),
            ("routing_company", ""),
            ("routing_udf", "routing_udf_name"),  # no UDF named yet: says which setting
            ("routing_currency", "GBP  Pound Sterling"),  # any organisation's currencies
            ("contact", ""),
            ("item", "(product)"),  # products, services and bundles: the item keys
            ("currency", ""),
        ):
            screen.query_one(TabbedContent).active = f"tab-{kind}"
            await until(pilot, lambda kind=kind: screen.table().spec.kind == kind)
            await shows(pilot, f"{screen.table().spec.title}: ")
            if key_label:
                await shows(pilot, key_label)


async def test_saving_a_tax_mapping_requeues_what_it_unblocks(tmp_path: Path) -> None:
    with tui_agent(tmp_path, skip_tax=(1, 1)) as agent:
        blocked = api(agent).get("/queue", params={"state": "blocked"}).json()["total"]
        app = agent.app(start_mode="dashboard")
        async with app.run_test(size=SMALL) as pilot:
            screen = await open_mappings(pilot)
            screen.query_one(TabbedContent).active = "tab-tax"
            au = agent.rig.au
            screen.query_one("#map-org", Select).value = au
            await shows(pilot, "for this organisation")
            table = screen.query_one("#map-tax", MappingTable)
            await until(pilot, lambda: "1:1" in table.rows_by_key)
            table.focus()
            table.move_cursor(row=table.get_row_index("1:1"))
            await pilot.press("enter")
            picker = await until(pilot, lambda: isinstance(app.screen, PickerScreen)
                                 and app.screen)  # fmt: skip
            wanted = SEEDED_TAX[0][(1, 1)]
            await pilot.press(*wanted)
            options = picker.query_one(OptionList)
            index = next(
                i for i in range(options.option_count)
                if options.get_option_at_index(i).id == wanted
            )  # fmt: skip
            options.highlighted = index
            options.focus()
            await pilot.press("enter")
            await until(pilot, lambda: notified(app, "are queued"))
            assert table.rows_by_key["1:1"][1] == wanted
        after = api(agent).get("/queue", params={"state": "blocked"}).json()["total"]
        assert after < blocked


async def test_removing_a_mapping(agent: TuiAgent) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        screen = await open_mappings(pilot)
        table = screen.table()
        key = next(k for k, (_, value, _) in table.rows_by_key.items() if value)
        table.focus()
        table.move_cursor(row=table.get_row_index(key))
        await pilot.press("delete")
        await until(pilot, lambda: notified(app, "mapping removed"))
        rows = api(agent).get("/mappings", params={"kind": "account"}).json()["items"]
        assert key not in {r["key"] for r in rows if r["org"] == ""}


async def test_refresh_catalogs_from_xero(agent: TuiAgent) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        await open_mappings(pilot)
        await pilot.press("f")
        await until(pilot, lambda: len(app._notifications) >= 2, timeout=30)


# -- logs --------------------------------------------------------------------------------------


async def test_logs_show_recent_lines_filter_and_follow(agent: TuiAgent) -> None:
    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        await attached(pilot)
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen))
        log = app.screen.query_one(RichLog)
        await until(pilot, lambda: len(log.lines) > 5)
        await pilot.press("slash", *"cycle:", "enter")
        await until(pilot, lambda: 0 < len(log.lines) <= 3)
        assert all("cycle:" in line.text for line in log.lines)
        before = len(log.lines)
        api(agent).post("/cycle")
        await until(pilot, lambda: len(log.lines) > before, timeout=30)


# -- the agent stopped or not there --------------------------------------------------------------


async def test_no_agent_shows_how_to_start_it_then_attaches_when_it_starts(
    tmp_path: Path,
) -> None:
    with short_dir() as folder:
        app = AtxApp(ControlClient(ControlTarget(socket=folder / "c.sock")), backoff=lambda n: 0.1)
        async with app.run_test(size=SMALL) as pilot:
            await until(pilot, lambda: isinstance(app.screen, UnreachableScreen))
            text = await shows(pilot, "Trying again by itself")
            assert "The agent is not running" in text
            assert "atx agent" in text and "docker compose up -d" in text
            with tui_agent(tmp_path, socket_dir=folder):
                await until(pilot, lambda: not isinstance(app.screen, UnreachableScreen))
                await attached(pilot)
                assert app.current_mode in ("setup", "dashboard")
                # Let the new screen settle before the app closes: Textual's Header sets its
                # title on a later tick, and fails if the app is torn down first.
                await shows(pilot, "atx — ")
                await pilot.pause(0.5)


async def test_agent_stopping_shows_the_unreachable_screen(tmp_path: Path) -> None:
    with tui_agent(tmp_path) as agent:
        app = agent.app(start_mode="dashboard")
        async with app.run_test(size=SMALL) as pilot:
            await attached(pilot)
            agent.running.agent.loop.request_stop()
            agent.running.thread.join(timeout=30)
            # Usually at once (the stream ends, the next status call fails). A connection the
            # stopping server drops without closing is noticed by the client's read timeout
            # (45 s: three missed keep-alives), which is what a busy machine sometimes shows.
            await until(pilot, lambda: isinstance(app.screen, UnreachableScreen), timeout=60)
            await shows(pilot, "The agent is not running")


# -- TCP with a token ------------------------------------------------------------------------------


async def test_tui_attaches_over_tcp_with_the_token(tmp_path: Path) -> None:
    port = free_port()
    with tui_agent(tmp_path, control_listen=f"127.0.0.1:{port}", control_token="s3cret-token"):
        target = ControlTarget.from_environment(
            url=f"127.0.0.1:{port}", env={"ATX_CONTROL_TOKEN": "s3cret-token"}
        )
        app = AtxApp(ControlClient(target), backoff=lambda n: 0.1, start_mode="dashboard")
        async with app.run_test(size=SMALL) as pilot:
            await attached(pilot)
            await shows(pilot, "Acme IT UK Ltd")


async def test_a_wrong_token_says_so_instead_of_agent_stopped(tmp_path: Path) -> None:
    port = free_port()
    with tui_agent(tmp_path, control_listen=f"127.0.0.1:{port}", control_token="s3cret-token"):
        target = ControlTarget(url=f"http://127.0.0.1:{port}", token="wrong")
        app = AtxApp(ControlClient(target), backoff=lambda n: 5.0)
        async with app.run_test(size=SMALL) as pilot:
            await until(pilot, lambda: isinstance(app.screen, UnreachableScreen))
            text = await shows(pilot, "The agent refused the TUI")
            assert "bearer token" in text


async def test_reconnect_from_the_dashboard_opens_the_xero_step(agent: TuiAgent) -> None:
    from tui.screens.setup import SetupScreen

    app = agent.app(start_mode="dashboard")
    async with app.run_test(size=SMALL) as pilot:
        await attached(pilot)
        await pilot.press("x")
        screen = await until(pilot, lambda: isinstance(app.screen, SetupScreen) and app.screen)
        await until(pilot, lambda: screen.step_key == "xero")
        await shows(pilot, "Connect Xero")
