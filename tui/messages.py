"""Messages the app sends to every screen that shows the agent's state."""

from __future__ import annotations

from textual.message import Message

from tui.client import AgentEvent


class AgentEventArrived(Message):
    """One event from the agent's ``/events`` stream."""

    def __init__(self, event: AgentEvent) -> None:
        super().__init__()
        self.event = event


class AgentReconnected(Message):
    """The agent answers again (or the events it held ran out: ``reset``): reload everything."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, AgentReconnected)
