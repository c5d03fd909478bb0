"""Pick one value from a long list (a Xero catalog), typing to narrow it down."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

REMOVE = "\x00remove"


class PickerScreen(ModalScreen[str | None]):
    """Dismisses with the chosen value, ``REMOVE`` to clear it, or ``None`` when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "to_list", "List", show=False),
    ]

    def __init__(
        self, title: str, choices: list[tuple[str, str]], *, current: str | None = None
    ) -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Static(self.title_text, id="picker-title")
            yield Input(placeholder="type to filter", compact=True, id="picker-filter")
            yield OptionList(id="picker-options")

    def on_mount(self) -> None:
        self._fill("")

    def _fill(self, text: str) -> None:
        wanted = text.lower()
        options = self.query_one(OptionList)
        options.clear_options()
        if self.current:
            options.add_option(Option(f"(remove the mapping: {self.current})", id=REMOVE))
        for value, label in self.choices:
            shown = f"{value}  {label}" if label and label != value else value
            if not wanted or wanted in shown.lower():
                options.add_option(Option(shown, id=value))
        if options.option_count:
            options.highlighted = 0

    @on(Input.Changed, "#picker-filter")
    def _filter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#picker-filter")
    def _take_first(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            self.dismiss(options.get_option_at_index(options.highlighted).id)

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_to_list(self) -> None:
        self.query_one(OptionList).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)
