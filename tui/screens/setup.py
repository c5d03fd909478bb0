"""The setup wizard: five steps, each ticked from the agent's ``setup`` flags when done."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import ContentSwitcher, Footer, Header, ListItem, ListView, Static

from tui.client import AgentEvent
from tui.screens.base import AgentScreen
from tui.screens.setup_invoice import InvoiceTestStep
from tui.screens.setup_steps import AccountsStep, AutotaskStep, OptionsStep, Step, StepDone
from tui.screens.setup_xero import XeroStep

STEPS: tuple[tuple[str, str], ...] = (
    ("autotask", "Autotask"),
    ("xero", "Xero"),
    ("options", "Sync options"),
    ("accounts", "Accounts"),
    ("test_invoice", "Test invoice"),
)


class SetupScreen(AgentScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "step(1)", "Next step"),
        Binding("ctrl+b", "step(-1)", "Previous step"),
        Binding("escape", "focus_steps", "Steps", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.flags: dict[str, bool] = {}
        self.step_key = STEPS[0][0]

    def first_open_step(self) -> int:
        return next((i for i, (key, _) in enumerate(STEPS) if not self.flags.get(key)), 0)

    def compose(self) -> ComposeResult:
        self.flags = {key: bool((self.atx.status.get("setup") or {}).get(key)) for key, _ in STEPS}
        yield Header()
        with Horizontal(id="setup"):
            yield ListView(
                *(
                    ListItem(Static(self._label(i, key, title)), id=f"step-{key}")
                    for i, (key, title) in enumerate(STEPS)
                ),
                id="steps",
                # The list sets its index when it mounts, after this screen's on_mount: set
                # here, not there, or it is put back to 0.
                initial_index=self.first_open_step(),
            )
            with ContentSwitcher(initial="body-autotask", id="step-body"):
                yield AutotaskStep(id="body-autotask")
                yield XeroStep(id="body-xero")
                yield OptionsStep(id="body-options")
                yield AccountsStep(id="body-accounts")
                yield InvoiceTestStep(id="body-test_invoice")
        yield Footer()

    def _label(self, index: int, key: str, title: str) -> str:
        mark = "✓" if self.flags.get(key) else " "
        return f"{mark} {index + 1} {title}"

    def on_mount(self) -> None:
        self.sub_title = "Setup"
        self.show_flags(self.atx.status.get("setup") or {})
        self.open_step(STEPS[self.first_open_step()][0])
        super().on_mount()

    def show_flags(self, flags: dict[str, Any]) -> None:
        self.flags = {key: bool(flags.get(key)) for key, _ in STEPS}
        for i, (key, title) in enumerate(STEPS):
            self.query_one(f"#step-{key} Static", Static).update(self._label(i, key, title))

    def current(self) -> Step:
        return self.query_one(f"#body-{self.step_key}", Step)

    def open_step(self, key: str) -> None:
        self.step_key = key
        switcher = self.query_one("#step-body", ContentSwitcher)
        if switcher.current != f"body-{key}":
            switcher.current = f"body-{key}"
        self.current().load()

    @on(ListView.Highlighted, "#steps")
    def _highlighted(self, event: ListView.Highlighted) -> None:
        if event.item is not None and event.item.id:
            self.open_step(event.item.id.removeprefix("step-"))

    @on(ListView.Selected, "#steps")
    def _selected(self) -> None:
        self.focus_next()

    def go_to(self, key: str) -> None:
        self.query_one("#steps", ListView).index = [k for k, _ in STEPS].index(key)

    def action_step(self, delta: int) -> None:
        steps = self.query_one("#steps", ListView)
        steps.index = max(0, min(len(STEPS) - 1, (steps.index or 0) + delta))

    def action_focus_steps(self) -> None:
        self.query_one("#steps", ListView).focus()

    @on(StepDone)
    def _step_done(self, message: StepDone) -> None:
        self.flags[message.step] = True
        self.show_flags(self.flags)
        self.reload()
        keys = [key for key, _ in STEPS]
        after = keys.index(message.step) + 1
        if not message.advance:
            return
        if after < len(keys):
            self.query_one("#steps", ListView).index = after
            # Keyboard users go on where the step left them: in the next step's first control.
            self.set_timer(0.2, lambda: self.current().focus_first())
        else:
            self.notify("Setup complete: the first sync cycle starts now. d: dashboard")

    async def fetch(self) -> None:
        status = await self.guarded(self.client.status())
        if status is not None:
            self.atx.status = status
            done = {key: True for key, value in self.flags.items() if value}
            self.show_flags({**(status.get("setup") or {}), **done})

    def agent_event(self, event: AgentEvent) -> None:
        if event.event == "status":
            self.show_flags(event.data.get("setup") or {})
        for step in self.query(Step):
            step.agent_event(event)
