"""Logs: the agent's recent lines, filtered by level and text, and new ones as they come."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Input, RichLog, Select

from tui.client import AgentEvent
from tui.format import when
from tui.screens.base import AgentScreen

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LEVEL_STYLE = {"DEBUG": "dim", "INFO": "", "WARNING": "yellow", "ERROR": "bold red"}
MAX_LINES = 2000
FLUSH_SECONDS = 0.1


def log_line(item: dict[str, Any]) -> Text:
    level = str(item.get("level") or "INFO").upper()
    out = Text()
    out.append(when(item.get("at"))[5:] + " ", style="dim")
    out.append(f"{level[:4]:<4} ", style=LEVEL_STYLE.get(level, ""))
    out.append(str(item.get("message") or ""))
    return out


class LogsScreen(AgentScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Filter"),
        Binding("escape", "focus_log", "Log", show=False),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="logs-filters"):
            yield Select(
                [(f"{level} and up", level) for level in LEVELS],
                prompt="any level",
                compact=True,
                id="logs-level",
            )
            yield Input(placeholder="/ text", compact=True, id="logs-q")
        yield RichLog(id="logs", max_lines=MAX_LINES, wrap=False, markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Logs"
        super().on_mount()

    def level(self) -> str | None:
        value = self.query_one("#logs-level", Select).value
        return None if value is Select.NULL else str(value)

    def wanted(self, item: dict[str, Any]) -> bool:
        level = self.level()
        if level:
            have = str(item.get("level") or "INFO").upper()
            if have in LEVELS and LEVELS.index(have) < LEVELS.index(level):
                return False
        q = self.query_one("#logs-q", Input).value.strip().lower()
        return not q or q in str(item.get("message") or "").lower()

    @on(Select.Changed)
    @on(Input.Submitted)
    def _filter(self) -> None:
        self.reload()

    def action_search(self) -> None:
        self.query_one("#logs-q", Input).focus()

    def action_focus_log(self) -> None:
        self.query_one(RichLog).focus()

    def action_reload(self) -> None:
        self.reload()

    async def fetch(self) -> None:
        q = self.query_one("#logs-q", Input).value.strip() or None
        answer = await self.guarded(self.client.logs(level=self.level(), q=q, limit=MAX_LINES))
        if answer is None:
            return
        log = self.query_one(RichLog)
        log.clear()
        for item in answer.get("items") or []:
            if self.wanted(item):
                log.write(log_line(item))

    def agent_event(self, event: AgentEvent) -> None:
        if event.event == "log" and self.wanted(event.data):
            # A cycle logs a line per document: written together, one repaint per 100 ms.
            if not self.pending:
                self.set_timer(FLUSH_SECONDS, self.flush)
            self.pending.append(event.data)

    def flush(self) -> None:
        lines, self.pending = self.pending, []
        log = self.query_one(RichLog)
        with self.app.batch_update():
            for item in lines:
                log.write(log_line(item))
