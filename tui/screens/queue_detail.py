"""One outbox row in full: what was sent, where each line's account and tax came from, its
history, the error and what to do; retry, skip and resync from here too."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Static

from tui.client import AgentEvent, AgentUnreachable, ControlError
from tui.format import STATE_STYLE, money, when
from tui.messages import AgentEventArrived, AgentReconnected
from tui.screens.confirm import ConfirmScreen

ACTIONS = {
    "retry": (
        "Queue {name} again?",
        "It goes back to pending and is sent to Xero in the next cycle.",
    ),
    "skip": (
        "Skip {name}?",
        "It will not be sent to Xero; retry it later to send it after all.",
    ),
    "resync": (
        "Send {name} to Xero again?",
        "The Xero document {xero} is updated in place, never duplicated.",
    ),
}


def item_name(item: dict[str, Any]) -> str:
    number = item.get("number") or f"Autotask #{item.get('autotask_id')}"
    customer = f" ({item['customer']})" if item.get("customer") else ""
    return f"{number}{customer}"


def confirm_action(
    screen: Screen[Any],
    item: dict[str, Any],
    action: str,
    changed: Callable[[dict[str, Any]], Any] | None = None,
) -> None:
    """Ask, then call the action; the answer's item goes to ``changed``."""
    question, detail = ACTIONS[action]
    xero = item.get("xero_number") or item.get("xero_id") or "already there"

    def confirmed(yes: bool | None) -> None:
        if yes:
            screen.run_worker(
                _act(screen, item, action, changed), group="queue-actions", exit_on_error=False
            )

    screen.app.push_screen(
        ConfirmScreen(
            question.format(name=item_name(item)), detail.format(xero=xero), yes=action.title()
        ),
        confirmed,
    )


async def _act(
    screen: Screen[Any],
    item: dict[str, Any],
    action: str,
    changed: Callable[[dict[str, Any]], Any] | None,
) -> None:
    client = screen.app.client  # type: ignore[attr-defined]
    call = {"retry": client.retry, "skip": client.skip, "resync": client.resync}[action]
    try:
        answer = await call(item["id"])
    except AgentUnreachable:
        return
    except ControlError as exc:
        screen.notify(exc.fix or "", title=exc.message, severity="error", timeout=8)
        return
    screen.notify(answer.get("message") or f"{action}: done")
    if changed is not None and isinstance(answer.get("item"), dict):
        changed(answer["item"])


def detail_text(detail: dict[str, Any]) -> Text:
    out = Text()
    state = str(detail.get("state") or "")
    out.append(item_name(detail), style="bold")
    out.append("  ")
    out.append(state, style=STATE_STYLE.get(state, "bold"))
    out.append(f"\n{str(detail.get('kind') or '').replace('_', ' ')}")
    out.append(f"  Autotask #{detail.get('autotask_id')}")
    out.append(f"  → {detail.get('org_name') or detail.get('org')}")
    out.append(f"  {money(detail.get('total'), detail.get('currency'))}")
    if detail.get("xero_number") or detail.get("xero_id"):
        out.append(f"\nIn Xero: {detail.get('xero_number') or detail.get('xero_id')}")
    payments = payment_text(detail)
    if payments is not None:
        out.append("\n")
        out.append_text(payments)
    out.append(f"\nAttempts {detail.get('attempts', 0)}")
    if detail.get("next_attempt_at"):
        out.append(f"  next {when(detail['next_attempt_at'])}")
    out.append(f"  updated {when(detail.get('updated_at'))}")
    if detail.get("last_error"):
        out.append("\n\nError: ", style="bold red")
        out.append(str(detail["last_error"]))
    for reason in detail.get("block_reasons") or []:
        out.append("\n• ", style="red")
        out.append(str(reason))
    if detail.get("fix"):
        out.append("\nFix: ", style="bold green")
        out.append(str(detail["fix"]))
    return out


def payment_text(detail: dict[str, Any]) -> Text | None:
    """Payments back: what Xero last showed paid and due, and the paidDate written to Autotask
    (Autotask holds only a date, so a part payment shows here alone). None before any payment."""
    if detail.get("amount_paid") is None and detail.get("amount_due") is None:
        return None
    currency = detail.get("currency")
    out = Text("Payments: ", style="bold")
    out.append(f"paid {money(detail.get('amount_paid'), currency)}")
    if detail.get("amount_credited") not in (None, "0", "0.00"):
        out.append(f", credited {money(detail.get('amount_credited'), currency)}")
    due = detail.get("amount_due")
    out.append(f", due {money(due, currency)}")
    if detail.get("paid_date"):
        out.append(f"  · paid on {detail['paid_date']} (set in Autotask)", style="green")
    elif due not in (None, "0", "0.00"):
        out.append("  · part paid", style="yellow")
    if detail.get("payment_problem"):
        out.append(f"\n{detail['payment_problem']}", style="red")
    return out


def provenance_text(lines: list[dict[str, Any]]) -> Text:
    """Each line and which rule chose its account, tax and item (words, or value + source)."""
    out = Text()
    if not lines:
        return Text("No lines mapped yet.", style="dim")
    for line in lines:
        description = " ".join(str(line.get("description") or "").split())
        if len(description) > 70:
            description = description[:69] + "…"
        out.append(f"{line.get('line', '?')}. {description}\n", style="bold")
        for name in ("account", "tax", "item", "amounts"):
            value = line.get(name)
            if isinstance(value, dict):
                value = f"{value.get('value')} ← {value.get('source')}"
            if value:
                out.append(f"   {name}: ", style="dim")
                out.append(f"{value}\n")
        for note in line.get("notes") or []:
            out.append(f"   note: {note}\n", style="yellow")
    out.rstrip()
    return out


def history_text(history: list[dict[str, Any]]) -> Text:
    out = Text()
    for entry in history:
        out.append(f"{when(entry.get('at'))}  ")
        before = entry.get("from_state") or "·"
        out.append(f"{before} → {entry.get('to_state')}", style="bold")
        if entry.get("detail"):
            out.append(f"  {entry['detail']}")
        out.append("\n")
    return out or Text("No history.", style="dim")


class QueueDetailScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "close", "Close"),
        Binding("r", "act('retry')", "Retry"),
        Binding("x", "act('skip')", "Skip"),
        Binding("y", "act('resync')", "Resync"),
    ]

    def __init__(self, item: dict[str, Any]) -> None:
        super().__init__()
        self.item = item
        self.detail: dict[str, Any] = dict(item)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield Static(detail_text(self.item), id="detail-head")
            yield Static("", id="detail-provenance", classes="section")
            yield Static("", id="detail-history", classes="section")
            yield Static("", id="detail-payload", classes="section")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#detail-provenance").border_title = "Lines: where each value came from"
        self.query_one("#detail-history").border_title = "History"
        self.query_one("#detail-payload").border_title = "Payload sent to Xero"
        self.app.listeners.add(self)  # type: ignore[attr-defined]
        self.load()

    def on_unmount(self) -> None:
        self.app.listeners.discard(self)  # type: ignore[attr-defined]

    def on_agent_event_arrived(self, message: AgentEventArrived) -> None:
        event: AgentEvent = message.event
        if event.event == "queue" and str(event.data.get("id")) == str(self.item.get("id")):
            self.load()

    def on_agent_reconnected(self, _: AgentReconnected) -> None:
        self.load()

    @work(exclusive=True, group="detail", exit_on_error=False)
    async def load(self) -> None:
        try:
            detail = await self.app.client.queue_item(self.item["id"])  # type: ignore[attr-defined]
        except AgentUnreachable:
            return
        except ControlError as exc:
            self.notify(exc.fix or "", title=exc.message, severity="error")
            return
        self.detail = detail
        self.query_one("#detail-head", Static).update(detail_text(detail))
        self.query_one("#detail-provenance", Static).update(
            provenance_text(detail.get("provenance") or [])
        )
        self.query_one("#detail-history", Static).update(history_text(detail.get("history") or []))
        payload = detail.get("payload")
        self.query_one("#detail-payload", Static).update(
            Text(json.dumps(payload, indent=2)) if payload else Text("Not mapped yet.", style="dim")
        )
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "act" and "actions" in self.detail:
            return parameters[0] in (self.detail.get("actions") or [])
        return True

    def action_close(self) -> None:
        self.dismiss()

    def action_act(self, action: str) -> None:
        confirm_action(self, self.detail, action, lambda item: self.load())
