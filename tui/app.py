"""The Textual app: one event stream from the agent feeding every screen, and the screens.

The app owns the connection: it checks ``/health``, shows the unreachable screen while the agent
does not answer (with a backoff of 0.5 s up to 10 s), and reads ``/events`` with Last-Event-ID so a
reconnection misses nothing; after an outage or a ``reset`` every screen reloads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from tui.client import AgentEvent, AgentUnreachable, ControlClient, ControlError, default_backoff
from tui.messages import AgentEventArrived, AgentReconnected
from tui.screens.dashboard import DashboardScreen
from tui.screens.logs import LogsScreen
from tui.screens.mappings import MappingsScreen
from tui.screens.queue import QueueScreen
from tui.screens.setup import SetupScreen
from tui.screens.unreachable import UnreachableScreen

if TYPE_CHECKING:
    from agent.demo import DemoHints

SETUP_STEPS = ("autotask", "xero", "options", "accounts", "test_invoice")


class ConnectingScreen(Screen[None]):
    """Shown only until the agent first answers."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Connecting to the agent…", id="connecting")
        yield Footer()


class AtxApp(App[None]):
    """``atx tui``: attach to the running agent."""

    CSS_PATH = "app.tcss"
    TITLE = "atx"
    ENABLE_COMMAND_PALETTE = False
    MODES: ClassVar[dict[str, Any]] = {
        "connecting": ConnectingScreen,
        "setup": SetupScreen,
        "dashboard": DashboardScreen,
        "queue": QueueScreen,
        "mappings": MappingsScreen,
        "logs": LogsScreen,
    }
    DEFAULT_MODE = "connecting"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "go('dashboard')", "Dashboard"),
        Binding("q", "go('queue')", "Queue"),
        Binding("m", "go('mappings')", "Mappings"),
        Binding("l", "go('logs')", "Logs"),
        Binding("s", "go('setup')", "Setup"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        client: ControlClient,
        *,
        backoff: Callable[[int], float] = default_backoff,
        start_mode: str | None = None,
        watch: bool = True,
        demo: DemoHints | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.demo = demo  # atx demo: the sandbox's credentials, a simulated browser
        self.backoff = backoff
        self.start_mode = start_mode
        self.follow = watch
        self.listeners: set[Screen[Any]] = set()
        self.status: dict[str, Any] = {}
        self.last_event_id: int | None = None
        self.agent_up = False
        self.events_seen = 0
        self._down_screen: UnreachableScreen | None = None

    # -- navigation -------------------------------------------------------------------------

    def action_go(self, mode: str) -> None:
        if self.current_mode != mode:
            self.switch_mode(mode)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "go":
            return (self.agent_up and self.current_mode != "connecting") or None
        return True

    # -- the connection ---------------------------------------------------------------------

    def on_mount(self) -> None:
        if self.follow:
            self.run_worker(
                self._watch_agent(), group="events", exclusive=True, exit_on_error=False
            )

    async def on_unmount(self) -> None:
        await self.client.close()

    def setup_done(self) -> bool:
        setup = self.status.get("setup") or {}
        return all(setup.get(step, False) for step in SETUP_STEPS)

    async def _watch_agent(self) -> None:
        failures = 0
        while True:
            try:
                self.status = await self.client.status()  # answers only when the agent is up
            except ControlError as exc:
                failures += 1
                self._show_down(exc, failures)
                await asyncio.sleep(self.backoff(failures))
                continue
            failures = 0
            await self._show_up()
            try:
                async for event in self.client.events_once(self.last_event_id):
                    self._dispatch(event)
                error: ControlError = AgentUnreachable("the agent closed the event stream", None)
            except ControlError as exc:
                error = exc
            except OSError as exc:
                error = AgentUnreachable(str(exc), None)
            self.agent_up = False
            failures += 1
            self._show_down(error, failures)
            await asyncio.sleep(self.backoff(failures))

    def _show_down(self, error: ControlError, failures: int) -> None:
        self.agent_up = False
        self.refresh_bindings()
        if self._down_screen is None:
            self._down_screen = UnreachableScreen(self.client.target.where)
            self.push_screen(self._down_screen)
        self._down_screen.show_attempt(error, failures, self.backoff(failures))

    async def _show_up(self) -> None:
        first = self.current_mode == "connecting"
        self.agent_up = True
        if self._down_screen is not None:
            screen, self._down_screen = self._down_screen, None
            if screen.is_attached:
                screen.dismiss()
        if first:
            mode = self.start_mode or ("dashboard" if self.setup_done() else "setup")
            await self.switch_mode(mode)
        else:
            self.broadcast(AgentReconnected)
        self.refresh_bindings()

    def _dispatch(self, event: AgentEvent) -> None:
        self.events_seen += 1
        if event.id is not None:
            self.last_event_id = event.id
        if event.event == "reset":
            self.broadcast(AgentReconnected)
            return
        if event.event == "status":
            self.status = event.data
        self.broadcast(lambda: AgentEventArrived(event))

    def broadcast(self, make: Callable[[], Message]) -> None:
        """A new message for each listening screen (a message is delivered once)."""
        for screen in list(self.listeners):
            screen.post_message(make())
