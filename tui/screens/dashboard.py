"""Dashboard: agent health, connections, cycles, counts per state, API budgets, attention."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

from tui.client import AgentEvent
from tui.format import STATE_STYLE, STATES, when
from tui.screens.base import AgentScreen
from tui.screens.confirm import ConfirmScreen

COUNTS_EVERY_SECONDS = 1.0


class Panel(Static):
    """A bordered block whose content is replaced only when it changed (cheap over SSH)."""

    def __init__(self, title: str, *, id: str) -> None:
        super().__init__("…", id=id, classes="panel")
        self.border_title = title
        self._shown: str | None = None

    def show(self, content: Text) -> None:
        key = content.markup
        if key != self._shown:
            self._shown = key
            self.update(content)


def agent_text(status: dict[str, Any]) -> Text:
    agent = status.get("agent") or {}
    state = agent.get("state") or "?"
    out = Text()
    out.append("● ", style="green" if state in ("idle", "cycling") else "yellow")
    out.append(f"{state}", style="bold")
    out.append(f"  v{agent.get('version', '?')}  since {when(agent.get('started_at'))}\n")
    last = agent.get("last_cycle") or {}
    if last:
        ok = last.get("ok")
        out.append("Last cycle ")
        out.append(when(last.get("finished_at") or last.get("started_at")))
        out.append("  ✓ ok" if ok else "  ✗ with failures", style="green" if ok else "red")
        out.append(
            f"\n  {last.get('seen', 0)} seen, {last.get('posted', 0)} posted,"
            f" {last.get('marked', 0)} marked, {last.get('blocked', 0)} blocked,"
            f" {last.get('failed', 0)} failed\n"
        )
    else:
        out.append("No cycle yet\n")
    out.append(f"Next cycle {when(agent.get('next_cycle_at'))}")
    if agent.get("interval_minutes"):
        out.append(f"  (every {agent['interval_minutes']} min)")
    return out


def counts_text(status: dict[str, Any]) -> Text:
    counts = status.get("counts") or {}
    out = Text()
    shown = [s for s in STATES if counts.get(s)] + [s for s in counts if s not in STATES]
    if not shown:
        return Text("The queue is empty.")
    for i, state in enumerate(shown):
        if i:
            out.append("  ")
        out.append(f"{state} ", style=STATE_STYLE.get(state, ""))
        out.append(str(counts.get(state, 0)), style="bold")
    return out


def connections_text(status: dict[str, Any]) -> Text:
    items = status.get("connections") or []
    if not items:
        return Text("No Xero organisation connected: press s for the setup.", style="yellow")
    out = Text()
    for i, conn in enumerate(items):
        if i:
            out.append("\n")
        mark = "●" if conn.get("selected", True) else "○"
        out.append(f"{mark} {conn.get('name') or conn.get('tenant_id')}", style="bold")
        days = conn.get("refresh_expires_in_days")
        if days is not None:
            style = "yellow" if float(days) <= 14 else ""
            out.append(f"  token {float(days):.0f} days left", style=style)
        out.append(f"  refreshed {when(conn.get('last_refresh_at'))}")
        if conn.get("paused_until"):
            out.append(f"  paused until {when(conn['paused_until'])}", style="yellow")
        if conn.get("warning"):
            out.append(f"\n  ⚠ {conn['warning']}", style="yellow")
    return out


def budgets_text(status: dict[str, Any]) -> Text:
    budgets = status.get("budgets") or {}
    out = Text()
    autotask = budgets.get("autotask")
    if autotask:
        percent = float(autotask.get("percent") or 0)
        style = "red" if percent >= 90 else "yellow" if percent >= 75 else "green"
        out.append("Autotask  ")
        out.append(f"{autotask.get('used', 0)}/{autotask.get('limit', 0)} this hour", style=style)
        out.append(f" ({percent:.0f}%)")
    else:
        out.append("Autotask  no calls yet")
    for org in budgets.get("xero") or []:
        out.append(f"\nXero {org.get('name') or org.get('org')}  ")
        minute, day = org.get("minute_remaining"), org.get("day_remaining")
        if minute is None and day is None:
            out.append("no calls yet")
        else:
            out.append(f"{_or_dash(minute)}/min  {_or_dash(day)}/day left")
        if org.get("paused_until"):
            out.append(f"  paused until {when(org['paused_until'])}", style="yellow")
    return out


def attention_text(status: dict[str, Any]) -> Text:
    items = status.get("attention") or []
    if not items:
        return Text("Nothing needs you.", style="green")
    out = Text()
    for i, item in enumerate(items):
        if i:
            out.append("\n")
        count = item.get("count")
        out.append("⚠ ", style="yellow")
        out.append(f"{item.get('message', '')}" + (f" ({count})" if count else ""), style="bold")
        if item.get("fix"):
            out.append(f"\n  → {item['fix']}")
    return out


class DashboardScreen(AgentScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "cycle", "Sync now"),
        Binding("f", "retry_failed", "Retry failed"),
        Binding("x", "reconnect", "Reconnect Xero"),
        Binding("r", "reload", "Reload"),
    ]

    _reload_due = False

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="dashboard"):
            yield Panel("Agent", id="agent")
            yield Panel("Queue", id="counts")
            yield Panel("Needs attention", id="attention")
            yield Panel("Xero connections", id="connections")
            yield Panel("API budgets", id="budgets")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Dashboard"
        if self.atx.status:
            self.show(self.atx.status)
        super().on_mount()

    def action_reload(self) -> None:
        self.reload()

    async def fetch(self) -> None:
        status = await self.guarded(self.client.status())
        if status is not None:
            self.atx.status = status
            self.show(status)

    def _reload_counts(self) -> None:
        self._reload_due = False
        self.reload()

    def show(self, status: dict[str, Any]) -> None:
        self.query_one("#agent", Panel).show(agent_text(status))
        self.query_one("#counts", Panel).show(counts_text(status))
        self.query_one("#attention", Panel).show(attention_text(status))
        self.query_one("#connections", Panel).show(connections_text(status))
        self.query_one("#budgets", Panel).show(budgets_text(status))

    def agent_event(self, event: AgentEvent) -> None:
        if event.event == "status":
            self.show(event.data)
        elif event.event == "budget":
            self.query_one("#budgets", Panel).show(budgets_text({"budgets": event.data}))
        elif event.event == "queue" and not self._reload_due:
            # Counts follow the queue; a burst of row changes is one reload a second at most.
            self._reload_due = True
            self.set_timer(COUNTS_EVERY_SECONDS, self._reload_counts)
        elif event.event == "cycle" and event.data.get("phase") == "finished":
            self.reload()
        elif event.event == "cycle":
            agent = self.query_one("#agent", Panel)
            agent.border_subtitle = (
                f"cycle: {event.data.get('phase')} {event.data.get('done', 0)}"
                f"/{event.data.get('total', 0)}"
            )

    async def action_reconnect(self) -> None:
        """The Xero step of the setup: a new connect flow (a token near its end, a new org)."""
        from tui.screens.setup import SetupScreen

        await self.app.switch_mode("setup")
        screen = self.app.screen
        if isinstance(screen, SetupScreen):
            screen.go_to("xero")

    @work(group="dashboard-actions", exit_on_error=False)
    async def action_cycle(self) -> None:
        answer = await self.guarded(self.client.run_cycle())
        if answer is not None:
            self.notify(answer.get("message") or "Cycle requested")

    def action_retry_failed(self) -> None:
        failed = sum((self.atx.status.get("counts") or {}).get(s, 0) for s in ("failed", "dead"))

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._retry_failed()

        self.app.push_screen(
            ConfirmScreen(
                f"Queue every failed and dead document again ({failed} now)?",
                "They go back to pending and are sent in the next cycle.",
            ),
            confirmed,
        )

    @work(group="dashboard-actions", exit_on_error=False)
    async def _retry_failed(self) -> None:
        answer = await self.guarded(self.client.retry_failed())
        if answer is not None:
            self.notify(answer.get("message") or f"{answer.get('count', 0)} queued again")
            self.reload()


def _or_dash(value: object) -> str:
    return "—" if value is None else str(value)
