"""The setup wizard's steps 1, 3 and 4 and what every step shares (2: setup_xero.py, 5:
setup_invoice.py); each step is a widget that talks to the agent itself.

Each step posts ``StepDone`` when it finished, so the wizard ticks it and moves on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static, Switch

from tui.client import AgentEvent, AgentUnreachable, ControlClient, ControlError

if TYPE_CHECKING:
    from tui.app import AtxApp

OPTION_FIELDS: tuple[tuple[str, str], ...] = (
    ("invoice_status", "Invoice status in Xero"),
    ("sync_purchase_orders", "Purchase orders"),
    ("po_trigger_status", "  sent once"),
    ("po_document", "  sent as"),
    ("po_status", "  status in Xero"),
    ("sync_expenses", "Expenses"),
    ("days_back", "Days back"),
    ("invoice_numbering", "Invoice numbering"),
    ("invoice_number_prefix", "Number prefix"),
    ("sync_interval_minutes", "Sync every (minutes)"),
)
STATUS_LABELS = {
    "DRAFT": "Draft",
    "SUBMITTED": "Awaiting Approval",
    "AUTHORISED": "Approved",
    # purchase orders: the trigger status in Autotask, and what they become in Xero
    "submitted": "Submitted",
    "partially_received": "Partly received",
    "received": "Received in full",
    "purchase_order": "Purchase order",
    "bill": "Bill",
}
ACCOUNT_FIELDS: tuple[tuple[str, str, str, str], ...] = (
    # setting, label, catalog, catalog field
    ("default_sales_account", "Default sales account", "accounts", "Code"),
    ("default_currency", "Default currency", "currencies", "Code"),
    ("po_cogs_account", "Purchase orders: COGS account", "accounts", "Code"),
    ("po_freight_account", "Purchase orders: freight account", "accounts", "Code"),
)


class StepDone(Message):
    def __init__(self, step: str, *, advance: bool = True) -> None:
        super().__init__()
        self.step = step
        self.advance = advance  # False: ticked, but the step stays open (a warning to read)


class Step(VerticalScroll):
    """A step: ``load()`` when shown, ``agent_event()`` for live events."""

    step = ""

    @property
    def client(self) -> ControlClient:
        return cast("AtxApp", self.app).client

    async def guarded(self, call: Any) -> Any:
        try:
            return await call
        except AgentUnreachable:
            return None
        except ControlError as exc:
            self.notify(exc.fix or "", title=exc.message, severity="error", timeout=8)
            if exc.fields:
                self.show_fields(exc.fields)
            return None

    def show_fields(self, fields: dict[str, str]) -> None:
        """Field problems of a rejected PUT /settings."""

    @work(exclusive=True, group="fetch", exit_on_error=False)
    async def load(self) -> None:
        """Fetch what the step shows, in a worker."""
        await self.fetch()

    async def fetch(self) -> None:
        pass

    def agent_event(self, event: AgentEvent) -> None:
        pass

    def done(self, *, advance: bool = True) -> None:
        self.post_message(StepDone(self.step, advance=advance))

    def focus_first(self) -> None:
        """Put the keyboard on the step's first control (a step opened by the previous one)."""
        for widget in self.query("*"):
            if widget.focusable and widget.display and widget is not self:
                widget.focus()
                return


def fixed_row(name: str, label: str, current: Any) -> Widget:
    """A setting the environment gives: shown, not editable (the environment wins)."""
    shown = Text("—" if current is None else str(current))
    shown.append("  set by environment", style="dim italic")
    return Horizontal(
        Label(label, classes="field"), Static(shown, id=f"opt-{name}", classes="fixed"),
        classes="row",
    )  # fmt: skip


# -- 1. Autotask ------------------------------------------------------------------------------


class AutotaskStep(Step):
    step = "autotask"

    def compose(self) -> ComposeResult:
        yield Static(
            "The Autotask API user: Admin → Resources → API user, with its integration code.",
            classes="intro",
        )
        yield Label("Username (an API user's email)")
        yield Input(placeholder="api-user@example.com", compact=True, id="at-username")
        yield Label("Secret")
        yield Input(password=True, compact=True, id="at-secret")
        yield Label("Integration code")
        yield Input(password=True, compact=True, id="at-code")
        yield Button("Test and save", variant="primary", id="at-test")
        yield Static("", id="at-result")

    async def fetch(self) -> None:
        answer = await self.guarded(self.client.settings())
        values = (answer or {}).get("values") or {}
        env = [
            n
            for n in ("autotask_username", "autotask_secret", "autotask_integration_code")
            if (values.get(n) or {}).get("source") == "env"
        ]
        user = values.get("autotask_username") or {}
        if user.get("value"):
            self.query_one("#at-username", Input).value = str(user["value"])
        demo = cast("AtxApp", self.app).demo
        if demo is not None and not env and not self.query_one("#at-username", Input).value:
            self.query_one("#at-username", Input).value = demo.autotask_username
            self.query_one("#at-secret", Input).value = demo.autotask_secret
            self.query_one("#at-code", Input).value = demo.autotask_integration_code
            self.query_one("#at-result", Static).update(
                "Demo: the sandbox's API user is filled in. Press Test and save."
            )
            self.query_one("#at-test", Button).focus()
        if env:
            for selector in ("#at-username", "#at-secret", "#at-code", "#at-test"):
                self.query_one(selector).disabled = True
            self.query_one("#at-result", Static).update(
                Text("The Autotask user is set by environment (ATX_AUTOTASK_*).", style="green")
            )

    @on(Input.Submitted, "#at-code")
    @on(Button.Pressed, "#at-test")
    def _test(self) -> None:
        self.test()

    @work(exclusive=True, group="setup-autotask", exit_on_error=False)
    async def test(self) -> None:
        result = self.query_one("#at-result", Static)
        result.update("Testing: zone discovery and one query…")
        answer = await self.guarded(
            self.client.setup_autotask(
                self.query_one("#at-username", Input).value.strip(),
                self.query_one("#at-secret", Input).value,
                self.query_one("#at-code", Input).value.strip(),
            )
        )
        if answer is None:
            result.update("")
            return
        if answer.get("ok"):
            out = Text(f"✓ Connected. Zone: {answer.get('zone_url')}", style="green")
            warning = answer.get("warning")
            if warning:
                # Saved, but the user must read this before going on (ctrl+n: next step).
                out.append(f"\n⚠ {warning}", style="yellow")
            result.update(out)
            self.done(advance=not warning)
        else:
            out = Text(f"✗ {answer.get('error')}", style="red")
            if answer.get("fix"):
                out.append(f"\n→ {answer['fix']}", style="")
            result.update(out)


# -- 3. Options --------------------------------------------------------------------------------


class OptionsStep(Step):
    step = "options"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.values: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        yield Static("What to send and how.", classes="intro")
        yield Vertical(id="options-form")
        yield Button("Save options", variant="primary", id="options-save")

    async def fetch(self) -> None:
        answer = await self.guarded(self.client.settings())
        if answer is None:
            return
        self.values = answer.get("values") or {}
        form = self.query_one("#options-form", Vertical)
        await form.remove_children()
        rows = [self._row(name, label) for name, label in OPTION_FIELDS if name in self.values]
        await form.mount_all(rows)

    def _row(self, name: str, label: str) -> Widget:
        value = self.values[name]
        editable = value.get("editable", True)
        current = value.get("value")
        widget: Widget
        if not editable:
            return fixed_row(name, label, STATUS_LABELS.get(str(current), current))
        if value.get("choices"):
            options = [(STATUS_LABELS.get(c, c), c) for c in value["choices"]]
            widget = Select(
                options,
                allow_blank=False,
                value=current or options[0][1],
                compact=True,
                id=f"opt-{name}",
            )
        elif isinstance(current, bool) or (name.startswith("sync_") and "minutes" not in name):
            widget = Switch(value=bool(current), id=f"opt-{name}")
        else:
            widget = Input(
                "" if current is None else str(current),
                type="integer" if isinstance(current, int) else "text",
                compact=True,
                id=f"opt-{name}",
            )
        note = Static("", classes="note", id=f"note-{name}")
        return Horizontal(Label(label, classes="field"), widget, note, classes="row")

    def show_fields(self, fields: dict[str, str]) -> None:
        for name, problem in fields.items():
            for note in self.query(f"#note-{name}"):
                cast(Static, note).update(Text(problem, style="red"))

    @on(Button.Pressed, "#options-save")
    @work(exclusive=True, group="setup-options", exit_on_error=False)
    async def save(self) -> None:
        changes: dict[str, Any] = {}
        for name, _ in OPTION_FIELDS:
            found = list(self.query(f"#opt-{name}"))
            if not found:
                continue
            widget = found[0]
            if isinstance(widget, (Switch, Select)):
                changes[name] = widget.value
            elif isinstance(widget, Input):
                text = widget.value.strip()
                changes[name] = int(text) if widget.type == "integer" and text else text
        if not changes:
            self.done()
            return
        answer = await self.guarded(self.client.put_settings(changes))
        if answer is not None:
            self.notify(answer.get("message") or "Options saved")
            self.done()


# -- 4. Chart of accounts ---------------------------------------------------------------------


class AccountsStep(Step):
    step = "accounts"

    def compose(self) -> ComposeResult:
        yield Static(
            "Accounts from the organisation's live chart (refreshed from Xero).", classes="intro"
        )
        yield Select([], prompt="organisation", compact=True, id="acc-org")
        yield Vertical(id="accounts-form")
        yield Button("Save accounts", variant="primary", id="accounts-save")

    async def fetch(self) -> None:
        conns = await self.guarded(self.client.connections())
        orgs = [c for c in (conns or {}).get("items") or [] if c.get("selected", True)]
        select = self.query_one("#acc-org", Select)
        if orgs and not select._options[1:]:
            with select.prevent(Select.Changed):
                select.set_options([(str(c.get("name")), str(c["tenant_id"])) for c in orgs])
                select.value = str(orgs[0]["tenant_id"])
        await self.fill()

    @on(Select.Changed, "#acc-org")
    def _org(self) -> None:
        self.load()

    async def fill(self) -> None:
        org = self.query_one("#acc-org", Select).value
        settings = await self.guarded(self.client.settings())
        values = (settings or {}).get("values") or {}
        rows: list[Widget] = []
        catalogs: dict[str, list[dict[str, Any]]] = {}
        if org is not Select.NULL:
            answer = await self.guarded(self.client.catalog(str(org), "accounts"))
            if not (answer or {}).get("items"):  # never read yet (a new connection): read now
                self.query_one("#accounts-form", Vertical).loading = True
                try:
                    await self.guarded(self.client.refresh_catalogs(str(org)))
                finally:
                    self.query_one("#accounts-form", Vertical).loading = False
        for name, label, catalog, field in ACCOUNT_FIELDS:
            if org is Select.NULL:
                continue
            if catalog not in catalogs:
                answer = await self.guarded(self.client.catalog(str(org), catalog))
                catalogs[catalog] = list((answer or {}).get("items") or [])
            entries = catalogs[catalog]
            if catalog == "accounts":
                entries = [e for e in entries if e.get("Status", "ACTIVE") == "ACTIVE"]
            options = [
                (
                    f"{e.get(field)}  {e.get('Name') or e.get('Description') or ''}".strip(),
                    str(e.get(field)),
                )
                for e in entries
                if e.get(field)
            ]
            value = values.get(name) or {}
            current = value.get("value")
            if not value.get("editable", True):
                rows.append(fixed_row(name, label, current))
                continue
            known = {v for _, v in options}
            select = Select(
                options,
                prompt="(not set)",
                value=str(current) if current in known else Select.NULL,
                compact=True,
                id=f"acc-{name}",
            )
            note = Static("", classes="note", id=f"note-{name}")
            rows.append(Horizontal(Label(label, classes="field"), select, note, classes="row"))
        form = self.query_one("#accounts-form", Vertical)
        await form.remove_children()
        await form.mount_all(rows)
        if org is not Select.NULL and not any(catalogs.values()):
            self.notify("Refresh the catalogs from the Mappings screen (f)", severity="warning")

    def show_fields(self, fields: dict[str, str]) -> None:
        for name, problem in fields.items():
            for note in self.query(f"#note-{name}"):
                cast(Static, note).update(Text(problem, style="red"))

    @on(Button.Pressed, "#accounts-save")
    @work(exclusive=True, group="setup-accounts", exit_on_error=False)
    async def save(self) -> None:
        changes: dict[str, Any] = {}
        for name, *_ in ACCOUNT_FIELDS:
            for select in self.query(f"#acc-{name}").results(Select):
                if select.value is not Select.NULL:
                    changes[name] = select.value
        if not changes:
            self.notify("Pick at least the default sales account", severity="warning")
            return
        answer = await self.guarded(self.client.put_settings(changes))
        if answer is not None:
            self.notify(answer.get("message") or "Accounts saved")
            self.done()
