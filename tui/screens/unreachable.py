"""The agent is stopped or unreachable: say so, say how to start it, and keep trying."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from tui.client import AgentUnreachable, ControlError


class UnreachableScreen(ModalScreen[None]):
    """Covers whatever was shown until the agent answers again (the app dismisses it)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "app.quit", "Quit")]

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where

    def compose(self) -> ComposeResult:
        with Vertical(id="unreachable"):
            yield Static("The agent is not running", id="unreachable-title")
            yield Static(
                f"Nothing answers at {self.where}.\n\n"
                "Start it with one of:\n"
                "  atx agent                  (on this machine)\n"
                "  docker compose up -d       (where it runs in Docker)\n\n"
                "Elsewhere? Set ATX_CONTROL_SOCKET, or run `atx tui --url HOST:PORT`\n"
                "with ATX_CONTROL_TOKEN.",
                id="unreachable-help",
            )
            yield Static("", id="unreachable-attempt")
        yield Footer()

    def show_attempt(self, error: ControlError, failures: int, wait: float) -> None:
        if not self.is_mounted:
            self.call_after_refresh(self.show_attempt, error, failures, wait)
            return
        detail = error.message
        if not isinstance(error, AgentUnreachable):  # it answers, but refuses us (a 401, say)
            self.query_one("#unreachable-title", Static).update("The agent refused the TUI")
            detail = f"{error.message}: {error.fix}" if error.fix else error.message
        self.query_one("#unreachable-attempt", Static).update(
            f"{detail}\nTrying again by itself (attempt {failures}, next in {wait:.0f} s)…"
        )
