"""Live queue: the outbox, filtered and searched, updated in place from ``queue`` events.

The first page (60 rows) paints at once; further pages load as the cursor nears the end. Events
are collected and applied together every 50 ms, so a burst during a cycle is one repaint.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header, Input, Select, Static

from tui.client import AgentEvent
from tui.format import STATES, org_labels
from tui.screens.base import AgentScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.queue_detail import QueueDetailScreen, confirm_action
from tui.widgets.queue_table import QueueTable

PAGE = 60  # more than a tall terminal shows; the next pages load as the cursor nears them
FLUSH_SECONDS = 0.05
KINDS = (
    "invoice",
    "credit_note",
    "void",
    "expense",
    "purchase_order",
    "payment",
    "contact",
    "item",
)


class QueueScreen(AgentScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "detail", "Detail", show=False),
        Binding("r", "act('retry')", "Retry"),
        Binding("x", "act('skip')", "Skip"),
        Binding("y", "act('resync')", "Resync"),
        Binding("f", "retry_failed", "Retry failed"),
        Binding("slash", "search", "Search"),
        Binding("escape", "focus_table", "Table", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.next_cursor: str | None = None
        self.total = 0
        self.generation = 0  # of the rows shown: a reload makes pages still loading stale
        self._more_cursor: str | None = None
        self.pending: dict[str, dict[str, Any]] = {}
        self.flushes = 0

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="queue-filters"):
            yield Select(
                [(s, s) for s in STATES], prompt="any state", compact=True, id="filter-state"
            )
            yield Select([], prompt="any org", compact=True, id="filter-org")
            yield Select(
                [(k.replace("_", " "), k) for k in KINDS],
                prompt="any kind",
                compact=True,
                id="filter-kind",
            )
            yield Input(placeholder="/ number or customer", compact=True, id="filter-q")
        yield Static("Loading…", id="queue-info")
        yield QueueTable(id="queue-table")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Queue"
        self._fill_orgs()
        super().on_mount()
        self.query_one(QueueTable).focus()

    def on_resize(self) -> None:
        self.query_one(QueueTable).fit_width(self.size.width)

    def _fill_orgs(self) -> None:
        conns = self.atx.status.get("connections") or []
        self.query_one(QueueTable).org_labels = org_labels(conns)
        options = [
            (str(c.get("name") or c.get("tenant_id")), str(c.get("tenant_id"))) for c in conns
        ]
        select = self.query_one("#filter-org", Select)
        if options and not select._options[1:]:
            with select.prevent(Select.Changed):
                select.set_options(options)

    # -- filters ----------------------------------------------------------------------------

    def filters(self) -> dict[str, Any]:
        def chosen(selector: str) -> str | None:
            value = self.query_one(selector, Select).value
            return None if value is Select.NULL else str(value)

        state, kind = chosen("#filter-state"), chosen("#filter-kind")
        return {
            "states": [state] if state else [],
            "kinds": [kind] if kind else [],
            "org": chosen("#filter-org"),
            "q": self.query_one("#filter-q", Input).value.strip() or None,
        }

    def matches(self, item: dict[str, Any]) -> bool:
        f = self.filters()
        if f["states"] and item.get("state") not in f["states"]:
            return False
        if f["kinds"] and item.get("kind") not in f["kinds"]:
            return False
        if f["org"] and item.get("org") != f["org"]:
            return False
        if f["q"]:
            wanted = f["q"].lower()
            fields = (item.get("number"), item.get("xero_number"), item.get("customer"))
            return any(wanted in str(v).lower() for v in fields if v)
        return True

    @on(Select.Changed)
    def _filter_changed(self) -> None:
        self.reload()

    @on(Input.Submitted, "#filter-q")
    def _search(self) -> None:
        self.reload()
        self.query_one(QueueTable).focus()

    def action_search(self) -> None:
        self.query_one("#filter-q", Input).focus()

    def action_focus_table(self) -> None:
        self.query_one(QueueTable).focus()

    # -- loading ----------------------------------------------------------------------------

    async def fetch(self) -> None:
        self._fill_orgs()
        self.generation += 1
        generation = self.generation
        page = await self.guarded(self.client.queue(limit=PAGE, **self.filters()))
        if page is None or generation != self.generation:
            return
        self._more_cursor = None
        table = self.query_one(QueueTable)
        with self.app.batch_update():
            table.replace_all(page.get("items") or [])
        self.next_cursor = page.get("next_cursor")
        self.total = int(page.get("total") or table.row_count)
        self.pending.clear()
        self._show_info()
        if self.next_cursor and table.cursor_row >= table.row_count - 10:
            self.load_more()  # the first page does not reach far below the cursor

    def load_more(self) -> None:
        """The page after the last one loaded, once (a reload drops a page still on its way)."""
        if not self.next_cursor or self._more_cursor == self.next_cursor:
            return
        self._more_cursor = self.next_cursor
        self.run_worker(
            self._load_page(self.next_cursor, self.generation),
            group="queue-more",
            exit_on_error=False,
        )

    async def _load_page(self, cursor: str, generation: int) -> None:
        page = await self.guarded(self.client.queue(limit=PAGE, cursor=cursor, **self.filters()))
        if generation != self.generation:
            return
        self._more_cursor = None
        if page is None:
            return
        table = self.query_one(QueueTable)
        table.add_items(page.get("items") or [])
        self.next_cursor = page.get("next_cursor")
        self._show_info()
        if self.next_cursor and table.cursor_row >= table.row_count - 10:
            self.load_more()  # the cursor is still near the end

    def _show_info(self) -> None:
        table = self.query_one(QueueTable)
        more = "  ↓ more below" if self.next_cursor else ""
        self.query_one("#queue-info", Static).update(
            f"{table.row_count:,} of {self.total:,} shown{more}  ·  enter: detail"
        )

    @on(DataTable.RowHighlighted)
    def _near_end(self, event: DataTable.RowHighlighted) -> None:
        table = self.query_one(QueueTable)
        if self.next_cursor and event.cursor_row >= table.row_count - 10:
            self.load_more()

    @on(QueueTable.NearEnd)
    def _scrolled_near_end(self) -> None:
        if self.next_cursor:
            self.load_more()

    # -- live updates -----------------------------------------------------------------------

    def agent_event(self, event: AgentEvent) -> None:
        if event.event == "queue" and event.data.get("id") is not None:
            first = not self.pending
            self.pending[str(event.data["id"])] = event.data
            if first:
                self.set_timer(FLUSH_SECONDS, self.flush)
        elif event.event == "status":
            self._fill_orgs()

    def flush(self) -> None:
        """Apply the collected queue events in one batch."""
        items, self.pending = list(self.pending.values()), {}
        if not items:
            return
        table = self.query_one(QueueTable)
        with self.app.batch_update():
            for item in items:
                self.apply(table, item)
        self.flushes += 1
        self._show_info()

    def apply(self, table: QueueTable, item: dict[str, Any]) -> None:
        key = str(item.get("id"))
        known = key in table.items
        if not self.matches(item):
            if known:
                table.drop(key)
                self.total = max(0, self.total - 1)
            return
        if known or not self.next_cursor:
            # Rows beyond the loaded pages arrive with their page; known ones change in place.
            if table.upsert(item):
                self.total += 1
        else:
            self.total += 1

    # -- actions ----------------------------------------------------------------------------

    def action_detail(self) -> None:
        item = self.query_one(QueueTable).current()
        if item is not None:
            self.app.push_screen(QueueDetailScreen(item))

    @on(DataTable.RowSelected)
    def _selected(self) -> None:
        self.action_detail()

    def action_act(self, action: str) -> None:
        item = self.query_one(QueueTable).current()
        if item is not None:
            confirm_action(self, item, action, self.query_one(QueueTable).upsert)

    def action_retry_failed(self) -> None:
        org = self.filters()["org"]
        where = " of this organisation" if org else ""
        counts = self.atx.status.get("counts") or {}
        count = counts.get("failed", 0) + counts.get("dead", 0)

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._retry_failed(org)

        self.app.push_screen(
            ConfirmScreen(
                f"Queue every failed and dead document{where} again ({count} in all orgs)?",
                "They go back to pending and are sent in the next cycle.",
            ),
            confirmed,
        )

    @work(group="queue-actions", exit_on_error=False)
    async def _retry_failed(self, org: str | None) -> None:
        answer = await self.guarded(self.client.retry_failed(org))
        if answer is not None:
            self.notify(answer.get("message") or f"{answer.get('count', 0)} queued again")
