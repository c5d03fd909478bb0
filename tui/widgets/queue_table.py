"""The live queue table: rows keyed by outbox id, only changed cells rewritten (dolphie-style)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist

from tui.format import STATE_STYLE, money

COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("number", "Number", 10),
    ("customer", "Customer", 16),
    ("org", "Org", 8),
    ("state", "State", 8),
    ("total", "Total", 13),
    ("updated", "Updated", 11),
)


def row_cells(item: dict[str, Any], orgs: dict[str, str] | None = None) -> tuple[Any, ...]:
    state = str(item.get("state") or "")
    number = item.get("number") or item.get("xero_number") or f"#{item.get('autotask_id', '?')}"
    if item.get("kind") not in (None, "invoice"):
        number = f"{number} ({str(item['kind']).replace('_', ' ')})"
    updated = str(item.get("updated_at") or "")
    short = updated[5:16].replace("T", " ") if len(updated) >= 16 else updated
    return (
        str(number),
        str(item.get("customer") or ""),
        (orgs or {}).get(str(item.get("org")))
        or str(item.get("org_name") or item.get("org") or ""),
        Text(state, style=STATE_STYLE.get(state, "")),
        Text(money(item.get("total"), item.get("currency")), justify="right"),
        short,
    )


class QueueTable(DataTable[Any]):
    """Outbox rows; ``upsert`` adds or rewrites in place, ``drop`` removes one."""

    class NearEnd(Message):
        """Scrolled (mouse wheel, scroll bar) to within a screen of the last row loaded: the
        screen loads the next page, as it does when the cursor nears the end."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.items: dict[str, dict[str, Any]] = {}
        self._cells: dict[str, tuple[Any, ...]] = {}
        self.org_labels: dict[str, str] = {}

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value > old_value and new_value >= self.max_scroll_y - self.size.height:
            self.post_message(self.NearEnd())

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    def fit_width(self, width: int) -> None:
        """Give the customer column what the terminal has beyond 80 columns."""
        spare = max(0, width - 80)
        column = self.columns.get("customer")  # type: ignore[call-overload]
        if column is not None and column.width != 16 + spare:
            column.width = 16 + spare
            self._require_update_dimensions = True
            self.refresh()

    def replace_all(self, items: Iterable[dict[str, Any]]) -> None:
        self.clear()
        self.items.clear()
        self._cells.clear()
        self.add_items(items)

    def add_items(self, items: Iterable[dict[str, Any]]) -> None:
        rows = []
        for item in items:
            key = str(item.get("id"))
            if key in self.items:
                self.upsert(item)
                continue
            cells = row_cells(item, self.org_labels)
            self.items[key] = item
            self._cells[key] = cells
            rows.append((cells, key))
        for cells, key in rows:
            self.add_row(*cells, key=key)

    def upsert(self, item: dict[str, Any]) -> bool:
        """Rewrite the changed cells of a known row, or add it; True when it was new."""
        key = str(item.get("id"))
        cells = row_cells(item, self.org_labels)
        old = self._cells.get(key)
        self.items[key] = item
        self._cells[key] = cells
        if old is None:
            self.add_row(*cells, key=key)
            return True
        for (column, _, _), before, after in zip(COLUMNS, old, cells, strict=True):
            if before != after:
                self.update_cell(key, column, after)
        return False

    def drop(self, key: str) -> None:
        self.items.pop(key, None)
        self._cells.pop(key, None)
        with contextlib.suppress(RowDoesNotExist):
            self.remove_row(key)

    def current(self) -> dict[str, Any] | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None
        return self.items.get(str(key))
