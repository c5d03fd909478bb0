"""The setup wizard against a real agent that is not set up yet (pilot, 80x24): Autotask
credentials tested at once, Xero connect with link + code and paste-back, organisations, sync
options, chart of accounts, the test invoice."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from test_tui_kit import SMALL, TuiAgent, api, attached, screen_text, shows, tui_agent, until
from textual.content import Content
from textual.pilot import Pilot
from textual.widgets import Button, Input, ListView, Select, SelectionList, Static, Switch

from sandbox.seed import RESTRICTED_AUTOTASK_SECRET, RESTRICTED_AUTOTASK_USERNAME
from sandbox.world import (
    SANDBOX_AUTOTASK_INTEGRATION_CODE,
    SANDBOX_AUTOTASK_SECRET,
    SANDBOX_AUTOTASK_USERNAME,
)
from tui.app import AtxApp
from tui.screens.setup import SetupScreen
from tui.screens.setup_xero import XeroStep

NO_AUTOTASK = {"unset": ("autotask_username", "autotask_secret", "autotask_integration_code")}


@pytest.fixture
def fresh(tmp_path: Path) -> Any:
    """An agent with nothing set up: no Autotask user, no Xero organisation."""
    with tui_agent(tmp_path, connect=False, mappings=False, cycle=False, **NO_AUTOTASK) as agent:
        yield agent


@pytest.fixture
def configured(tmp_path: Path) -> Any:
    with tui_agent(tmp_path) as agent:
        yield agent


async def open_setup(pilot: Pilot[Any]) -> SetupScreen:
    await attached(pilot)
    if pilot.app.current_mode != "setup":  # type: ignore[attr-defined]
        await pilot.press("s")
    screen: SetupScreen = await until(
        pilot, lambda: isinstance(pilot.app.screen, SetupScreen) and pilot.app.screen
    )
    await until(pilot, lambda: list(screen.query("#at-username")) and screen.current())
    # The step list highlights its first step when it mounts, which may come after this: a
    # step chosen before that would be put back.
    await until(pilot, lambda: screen.query_one("#steps", ListView).index is not None)
    return screen


async def to_step(pilot: Pilot[Any], screen: SetupScreen, step: str) -> None:
    keys = ["autotask", "xero", "options", "accounts", "test_invoice"]
    screen.query_one("#steps").index = keys.index(step)  # type: ignore[attr-defined]
    await until(pilot, lambda: screen.current().step == step)
    await pilot.pause(0.3)


async def click(pilot: Pilot[Any], app: AtxApp, selector: str) -> None:
    app.screen.query_one(selector, Button).press()
    await pilot.pause()


async def type_into(pilot: Pilot[Any], app: AtxApp, selector: str, text: str) -> None:
    app.screen.query_one(selector, Input).value = text
    await pilot.pause()


async def test_a_new_agent_opens_the_wizard_with_nothing_ticked(fresh: TuiAgent) -> None:
    app = fresh.app()
    async with app.run_test(size=SMALL) as pilot:
        screen = await open_setup(pilot)
        assert app.current_mode == "setup"
        text = await shows(pilot, "Test invoice")
        assert "✓ 1" not in text and "✓ 2" not in text and "✓ 5" not in text
        assert screen.current().step == "autotask"


async def test_autotask_credentials_are_tested_at_once(fresh: TuiAgent) -> None:
    app = fresh.app()
    async with app.run_test(size=SMALL) as pilot:
        screen = await open_setup(pilot)
        await type_into(pilot, app, "#at-username", SANDBOX_AUTOTASK_USERNAME)
        await type_into(pilot, app, "#at-secret", "not the secret")
        await type_into(pilot, app, "#at-code", SANDBOX_AUTOTASK_INTEGRATION_CODE)
        await click(pilot, app, "#at-test")
        text = await shows(pilot, "✗ ")
        assert "→ " in text  # the fix
        assert not api(fresh).get("/status").json()["setup"]["autotask"]

        await type_into(pilot, app, "#at-secret", SANDBOX_AUTOTASK_SECRET)
        app.screen.query_one("#at-code", Input).focus()
        await pilot.press("enter")
        await until(pilot, lambda: screen.current().step == "xero")  # moved on by itself
        text = await shows(pilot, "✓ 1 Autotask")
        assert api(fresh).get("/status").json()["setup"]["autotask"]
        await to_step(pilot, screen, "autotask")
        await shows(pilot, "Zone: http://127.0.0.1:")


async def test_an_autotask_user_blind_to_a_line_of_business_is_warned_in_yellow(
    fresh: TuiAgent,
) -> None:
    app = fresh.app()
    async with app.run_test(size=SMALL) as pilot:
        screen = await open_setup(pilot)
        await type_into(pilot, app, "#at-username", RESTRICTED_AUTOTASK_USERNAME)
        await type_into(pilot, app, "#at-secret", RESTRICTED_AUTOTASK_SECRET)
        await type_into(pilot, app, "#at-code", SANDBOX_AUTOTASK_INTEGRATION_CODE)
        await click(pilot, app, "#at-test")
        await shows(pilot, "✓ 1 Autotask")  # saved and ticked ...
        await shows(pilot, "⚠ ")
        assert screen.current().step == "autotask"  # ... but the step stays open to be read
        result = app.screen.query_one("#at-result", Static).render()
        assert isinstance(result, Content)
        start = result.plain.index("⚠")
        warned = [span for span in result.spans if span.start <= start < span.end]
        assert "ansi=3" in repr(warned[-1].style)  # yellow (ANSI colour 3), over the green
        assert "line of business" in result.plain[start : warned[-1].end]


def browser_consent(agent: TuiAgent, code: str) -> str:
    """The browser part: /link with the code, then Xero's authorize page (the sandbox consents
    at once); returns the address Xero sends the browser back to, not followed."""
    service = agent.running.service
    pages = f"http://127.0.0.1:{service.connect.pages.address[1]}"
    with httpx.Client(timeout=10) as http:
        to_xero = http.get(pages + "/link", params={"code": code})
        assert to_xero.status_code == 302, to_xero.text
        back = http.get(to_xero.headers["location"])
        assert back.status_code == 302, back.text
        return str(back.headers["location"])


def register_redirect(agent: TuiAgent, flow_redirect: str) -> None:
    for xero_app in agent.rig.sandbox.world.xero_apps:
        if xero_app.kind != "custom" and flow_redirect not in xero_app.redirect_uris:
            xero_app.redirect_uris.append(flow_redirect)


async def start_connect(pilot: Pilot[Any], app: AtxApp, agent: TuiAgent) -> XeroStep:
    screen = await open_setup(pilot)
    await to_step(pilot, screen, "xero")
    await click(pilot, app, "#xero-start")
    step = app.screen.query_one(XeroStep)
    await until(pilot, lambda: step.flow.get("code"))
    register_redirect(agent, step.flow["redirect_uri"])
    return step


async def test_xero_connect_shows_link_code_and_ssh_hint_then_takes_the_pasted_address(
    fresh: TuiAgent,
) -> None:
    app = fresh.app()
    async with app.run_test(size=SMALL) as pilot:
        step = await start_connect(pilot, app, fresh)
        flow = step.flow
        text = await shows(pilot, f"Code  {flow['code']}")
        assert f"Open  {flow['link']}" in text
        assert "ssh -L 8742:127.0.0.1:" in text or "ssh -L" in text
        assert "expires at" in text

        back = browser_consent(fresh, flow["code"])
        assert urlsplit(back).path == "/callback"
        await type_into(pilot, app, "#flow-paste", back)
        app.screen.query_one("#flow-paste", Input).focus()
        await pilot.press("enter")
        await shows(pilot, "✓ Connected")
        chooser = app.screen.query_one("#xero-orgs", SelectionList)
        await until(pilot, lambda: chooser.option_count == 2)

        first = chooser.get_option_at_index(0).value
        chooser.deselect(chooser.get_option_at_index(1).value)
        await click(pilot, app, "#xero-select")
        screen = app.screen
        assert isinstance(screen, SetupScreen)
        await until(pilot, lambda: screen.current().step == "options")
        await shows(pilot, "✓ 2 Xero")
        cards = api(fresh).get("/connections").json()["items"]
        assert [c["tenant_id"] for c in cards if c["selected"]] == [first]


async def test_xero_connect_moves_on_by_itself_when_the_browser_reaches_the_agent(
    fresh: TuiAgent,
) -> None:
    app = fresh.app()
    async with app.run_test(size=SMALL) as pilot:
        step = await start_connect(pilot, app, fresh)
        back = browser_consent(fresh, step.flow["code"])
        pages = f"http://127.0.0.1:{fresh.running.service.connect.pages.address[1]}"
        parts = urlsplit(back)
        with httpx.Client(timeout=10) as http:
            assert http.get(f"{pages}{parts.path}?{parts.query}").status_code == 200
        await shows(pilot, "✓ Connected")  # from the `connect` event alone
        await until(pilot, lambda: app.screen.query_one("#xero-orgs", SelectionList).option_count)


async def test_a_wrong_pasted_address_says_why(fresh: TuiAgent) -> None:
    app = fresh.app()
    async with app.run_test(size=SMALL) as pilot:
        step = await start_connect(pilot, app, fresh)
        wrong = f"{step.flow['redirect_uri']}?code=abc&state=not-this-flow"
        await type_into(pilot, app, "#flow-paste", wrong)
        app.screen.query_one("#flow-paste", Input).focus()
        await pilot.press("enter")
        await until(pilot, lambda: any(n.severity == "error" for n in app._notifications)
                    or "✗" in screen_text(app))  # fmt: skip
        assert not api(fresh).get("/connections").json()["items"]


async def test_custom_connection_is_the_alternative_entry(tmp_path: Path) -> None:
    with tui_agent(tmp_path, connect=False, mappings=False, cycle=False,
                   mode_custom=True) if False else _custom_agent(tmp_path) as agent:  # fmt: skip
        app = agent.app()
        async with app.run_test(size=SMALL) as pilot:
            screen = await open_setup(pilot)
            await to_step(pilot, screen, "xero")
            await click(pilot, app, "#xero-custom")
            chooser = app.screen.query_one("#xero-orgs", SelectionList)
            await until(pilot, lambda: chooser.option_count >= 1)


def _custom_agent(tmp_path: Path) -> Any:
    from sandbox.world import SANDBOX_XERO_CUSTOM_CLIENT_ID, SANDBOX_XERO_CUSTOM_CLIENT_SECRET

    return tui_agent(
        tmp_path,
        connect=False,
        mappings=False,
        cycle=False,
        xero_auth_mode="client_credentials",
        xero_client_id=SANDBOX_XERO_CUSTOM_CLIENT_ID,
        xero_client_secret=SANDBOX_XERO_CUSTOM_CLIENT_SECRET,
        **NO_AUTOTASK,
    )


async def test_sync_options_are_saved_and_environment_values_are_read_only(
    configured: TuiAgent,
) -> None:
    app = configured.app()
    async with app.run_test(size=SMALL) as pilot:
        screen = await open_setup(pilot)
        await to_step(pilot, screen, "options")
        await until(pilot, lambda: list(app.screen.query("#opt-invoice_status")))
        status = app.screen.query_one("#opt-invoice_status", Select)
        assert "Awaiting Approval" in [str(label) for label, _ in status._options]
        status.value = "AUTHORISED"
        app.screen.query_one("#opt-sync_purchase_orders", Switch).value = True
        app.screen.query_one("#opt-days_back", Input).value = "45"
        # ATX_INVOICE_NUMBER_PREFIX is given: shown, not editable
        assert not isinstance(app.screen.query_one("#opt-invoice_number_prefix"), Input)
        await shows(pilot, "AT-  set by environment")
        await click(pilot, app, "#options-save")
        await until(pilot, lambda: screen.current().step == "accounts" or [
            n.title for n in app._notifications if n.severity == "error"])  # fmt: skip
        assert screen.current().step == "accounts", [n.title for n in app._notifications]
        values = api(configured).get("/settings").json()["values"]
        assert values["invoice_status"]["value"] == "AUTHORISED"
        assert values["sync_purchase_orders"]["value"] is True
        assert values["days_back"]["value"] == 45


async def test_a_rejected_option_shows_the_field_problem(configured: TuiAgent) -> None:
    app = configured.app()
    async with app.run_test(size=SMALL) as pilot:
        screen = await open_setup(pilot)
        await to_step(pilot, screen, "options")
        await until(pilot, lambda: list(app.screen.query("#opt-days_back")))
        app.screen.query_one("#opt-days_back", Input).value = "0"
        await click(pilot, app, "#options-save")
        await until(pilot, lambda: any(n.severity == "error" for n in app._notifications))
        assert screen.current().step == "options"


async def test_chart_of_accounts_is_picked_from_the_live_chart(configured: TuiAgent) -> None:
    app = configured.app()
    async with app.run_test(size=SMALL) as pilot:
        screen = await open_setup(pilot)
        await to_step(pilot, screen, "accounts")
        await until(pilot, lambda: list(app.screen.query("#acc-default_sales_account")))
        sales = app.screen.query_one("#acc-default_sales_account", Select)
        codes = [value for _, value in sales._options if isinstance(value, str)]
        assert "200" in codes
        sales.value = "200"
        currency = app.screen.query_one("#acc-default_currency", Select)
        assert any(value == "AUD" for _, value in currency._options)
        currency.value = "AUD"
        await click(pilot, app, "#accounts-save")
        await until(pilot, lambda: screen.current().step == "test_invoice")
        values = api(configured).get("/settings").json()["values"]
        assert values["default_sales_account"]["value"] == "200"
        assert values["default_currency"]["value"] == "AUD"


async def test_test_invoice_is_previewed_then_posted(configured: TuiAgent) -> None:
    app = configured.app()
    done = api(configured).get("/queue", params={"state": "done", "kind": "invoice"}).json()
    invoice = str(done["items"][0]["autotask_id"])
    async with app.run_test(size=SMALL) as pilot:
        screen = await open_setup(pilot)
        await to_step(pilot, screen, "test_invoice")
        await type_into(pilot, app, "#test-id", invoice)
        await click(pilot, app, "#test-preview")
        await shows(pilot, "PREVIEWED")
        assert "nothing was sent" in screen_text(app)
        payload = app.screen.query_one("#test-payload")
        assert payload.display and "LineItems" in str(payload.render())
        assert "account:" in str(app.screen.query_one("#test-provenance").render())
        await click(pilot, app, "#test-post")
        await shows(pilot, "POSTED")
        await until(pilot, lambda: any("Setup complete" in n.message for n in app._notifications))
