"""What every screen that shows the agent's state shares: the client, reloads, events, errors."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from textual import work
from textual.screen import Screen

from tui.client import AgentEvent, AgentUnreachable, ControlClient, ControlError
from tui.messages import AgentEventArrived, AgentReconnected

if TYPE_CHECKING:
    from tui.app import AtxApp

T = TypeVar("T")


class AgentScreen(Screen[None]):
    """A screen fed by the control API: ``reload()`` on show and reconnect, ``agent_event()``."""

    @property
    def atx(self) -> AtxApp:
        return cast("AtxApp", self.app)

    @property
    def client(self) -> ControlClient:
        return self.atx.client

    def on_mount(self) -> None:
        self.atx.listeners.add(self)
        self.reload()

    def on_unmount(self) -> None:
        self.atx.listeners.discard(self)

    def on_agent_reconnected(self, _: AgentReconnected) -> None:
        self.reload()

    def on_agent_event_arrived(self, message: AgentEventArrived) -> None:
        self.agent_event(message.event)

    @work(exclusive=True, group="fetch", exit_on_error=False)
    async def reload(self) -> None:
        """Fetch what the screen shows, in a worker (a newer reload cancels an older one)."""
        await self.fetch()

    async def fetch(self) -> None:
        """What ``reload`` runs."""

    def agent_event(self, event: AgentEvent) -> None:
        """One live event; most screens look at a few kinds only."""

    async def guarded(self, call: Awaitable[T]) -> T | None:
        """The answer, or ``None`` after a one-line notification of the error (cause and fix)."""
        try:
            return await call
        except AgentUnreachable:
            return None  # the app shows the unreachable screen
        except ControlError as exc:
            self.notify(exc.fix or "", title=exc.message, severity="error", timeout=8)
            return None


def text(value: Any, default: str = "") -> str:
    return default if value is None else str(value)
