"""Setup step 2: connect Xero (link + code, paste-back, organisations, custom connection)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, SelectionList, Static

from tui.client import AgentEvent
from tui.format import when
from tui.screens.setup_steps import Step

if TYPE_CHECKING:
    from tui.app import AtxApp

# -- 2. Xero ----------------------------------------------------------------------------------


class XeroStep(Step):
    step = "xero"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.flow: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        yield Static(
            "Connect your Xero organisations: open the link on any machine with a browser"
            " and type the code.",
            classes="intro",
        )
        with Horizontal(classes="buttons"):
            yield Button("Connect Xero", variant="primary", id="xero-start")
            yield Button("Custom connection", id="xero-custom")
        with Vertical(id="flow"):
            yield Static("", id="flow-link", classes="big")
            yield Static("", id="flow-code", classes="big")
            yield Static("", id="flow-help")
            yield Input(
                placeholder="paste the address the browser ended on", compact=True, id="flow-paste"
            )
            yield Button("Demo: play the browser", id="xero-simulate")
            yield Static("", id="flow-state")
        with Vertical(id="orgs"):
            yield Label("Organisations to send to (space to tick):")
            yield SelectionList[str](id="xero-orgs")
            yield Button("Use these organisations", variant="primary", id="xero-select")

    def on_mount(self) -> None:
        self.query_one("#flow").display = False
        self.query_one("#orgs").display = False

    async def fetch(self) -> None:
        answer = await self.guarded(self.client.connections())
        if answer and answer.get("items"):
            self.show_orgs(answer["items"])

    def show_orgs(self, orgs: list[dict[str, Any]]) -> None:
        box = self.query_one("#orgs")
        box.display = bool(orgs)
        chooser = self.query_one("#xero-orgs", SelectionList)
        chooser.clear_options()
        for org in orgs:
            label = f"{org.get('name') or org.get('tenant_id')}"
            if org.get("short_code"):
                label += f" ({org['short_code']})"
            chooser.add_option((label, str(org.get("tenant_id")), bool(org.get("selected", True))))

    @on(Button.Pressed, "#xero-start")
    @work(exclusive=True, group="setup-xero", exit_on_error=False)
    async def start(self) -> None:
        flow = await self.guarded(self.client.start_connect())
        if flow:
            self.show_flow(flow)
            demo = cast("AtxApp", self.app).demo is not None
            self.query_one("#xero-simulate" if demo else "#flow-paste").focus()

    @on(Button.Pressed, "#xero-custom")
    @work(exclusive=True, group="setup-xero", exit_on_error=False)
    async def custom(self) -> None:
        answer = await self.guarded(self.client.connect_client_credentials())
        if answer is not None:
            self.notify("Custom connection made")
            self.show_orgs(answer.get("items") or [])

    def show_flow(self, flow: dict[str, Any]) -> None:
        self.flow = flow
        self.query_one("#flow").display = True
        self.query_one("#xero-simulate").display = (
            cast("AtxApp", self.app).demo is not None and flow.get("state") == "waiting"
        )
        self.query_one("#flow-link", Static).update(Text(f"Open  {flow.get('link')}", "bold"))
        self.query_one("#flow-code", Static).update(Text(f"Code  {flow.get('code')}", "bold"))
        self.query_one("#flow-help", Static).update(
            f"The code expires at {when(flow.get('expires_at'))} UTC.\n"
            "Browser on another machine? First run there:\n"
            f"  {flow.get('ssh_hint') or 'ssh -L 8742:127.0.0.1:8742 <host>'}\n"
            f"or, when the browser ends on a page that does not load ({flow.get('redirect_uri')}"
            "…), copy its address and paste it here:"
        )
        state = flow.get("state")
        line = {
            "waiting": Text("Waiting for the browser…"),
            "authorizing": Text("Signing in to Xero…"),
            "connected": Text("✓ Connected", style="green"),
            "expired": Text("✗ The code expired: press Connect Xero again", style="red"),
            "failed": Text(f"✗ {flow.get('error') or 'the connection failed'}", style="red"),
        }.get(str(state), Text(str(state)))
        self.query_one("#flow-state", Static).update(line)
        if state == "connected":
            self.show_orgs(flow.get("organisations") or [])
            self.query_one("#xero-orgs").focus()

    @on(Button.Pressed, "#xero-simulate")
    @work(exclusive=True, group="setup-xero", exit_on_error=False)
    async def simulate(self) -> None:
        """``atx demo`` only: do what the user's browser would (open the link, type the code,
        consent on the sandbox's Xero page, land on the callback), for a demo run where no
        browser can reach the agent."""
        from tui.demo import play_browser

        link, code = self.flow.get("link"), self.flow.get("code")
        if not link or not code:
            return
        error = await play_browser(str(link), str(code))
        if error:
            self.notify(error, title="The simulated browser failed", severity="error")

    @on(Input.Submitted, "#flow-paste")
    @work(exclusive=True, group="setup-xero", exit_on_error=False)
    async def paste(self) -> None:
        url = self.query_one("#flow-paste", Input).value.strip()
        if not url or not self.flow.get("flow_id"):
            return
        flow = await self.guarded(self.client.paste_redirect(self.flow["flow_id"], url))
        if flow:
            self.show_flow(flow)

    @on(Button.Pressed, "#xero-select")
    @work(exclusive=True, group="setup-xero", exit_on_error=False)
    async def select(self) -> None:
        chosen = list(self.query_one("#xero-orgs", SelectionList).selected)
        if not chosen:
            self.notify("Tick at least one organisation (space)", severity="warning")
            return
        answer = await self.guarded(self.client.select_connections(chosen))
        if answer is not None:
            self.notify(f"{len(chosen)} organisation(s) in use")
            self.done()

    def agent_event(self, event: AgentEvent) -> None:
        if event.event == "connect" and (
            not self.flow or event.data.get("flow_id") == self.flow.get("flow_id")
        ):
            self.show_flow(event.data)
