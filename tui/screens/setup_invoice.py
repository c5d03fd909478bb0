"""Setup step 5: one test invoice, previewed (dry run) and then posted."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Input, Select, Static

from tui.screens.queue_detail import provenance_text
from tui.screens.setup_steps import Step

# -- 5. Test invoice ---------------------------------------------------------------------------


def outcome_text(answer: dict[str, Any]) -> Text:
    outcome = str(answer.get("outcome") or "?")
    style = {"previewed": "cyan", "posted": "green", "blocked": "red", "failed": "red"}
    out = Text(f"{outcome.upper()}  ", style=f"bold {style.get(outcome, '')}")
    out.append(str(answer.get("message") or ""))
    if answer.get("xero_number"):
        out.append(f"\nXero number: {answer['xero_number']}")
    for reason in answer.get("reasons") or []:
        out.append(f"\n• {reason}", style="red")
    return out


class InvoiceTestStep(Step):
    step = "test_invoice"

    def compose(self) -> ComposeResult:
        yield Static(
            "Send one invoice first: preview its Xero payload, then post it. Scheduled syncs"
            " start after this step.",
            classes="intro",
        )
        yield Select(
            [], prompt="pick an invoice (queued, or not yet sent)", compact=True, id="test-pick"
        )
        yield Input(
            placeholder="or type an Autotask invoice id", type="integer", compact=True, id="test-id"
        )
        with Horizontal(classes="buttons"):
            yield Button("Preview (dry run)", variant="primary", id="test-preview")
            yield Button("Post to Xero", variant="warning", id="test-post")
            yield Button("Skip: start syncing", id="test-skip")
        yield Static("", id="test-outcome")
        yield Static("", id="test-provenance", classes="section")
        yield Static("", id="test-payload", classes="section")

    def on_mount(self) -> None:
        self.query_one("#test-provenance").display = False
        self.query_one("#test-payload").display = False

    async def fetch(self) -> None:
        page = await self.guarded(
            self.client.queue(kinds=["invoice"], states=["pending", "blocked", "failed"], limit=30)
        )
        items = (page or {}).get("items") or []
        options = [
            (
                f"{i.get('number') or i.get('autotask_id')}  {i.get('customer') or ''}"[:60],
                str(i.get("autotask_id")),
            )
            for i in items
            if i.get("autotask_id") is not None
        ]
        if not options:  # before the first cycle: Autotask's unsent invoices
            unsent = await self.guarded(self.client.autotask_list("unsent_invoices"))
            options = [
                (str(i.get("label"))[:60], str(i["id"]))
                for i in (unsent or {}).get("items") or []
                if i.get("id")
            ]
        select = self.query_one("#test-pick", Select)
        select.set_options(dict.fromkeys(options).keys())

    @on(Select.Changed, "#test-pick")
    def _picked(self, event: Select.Changed) -> None:
        if event.value is not Select.NULL:
            self.query_one("#test-id", Input).value = str(event.value)

    def invoice_id(self) -> int | None:
        text = self.query_one("#test-id", Input).value.strip()
        if not text.isdigit():
            self.notify("Pick an invoice or type its Autotask id", severity="warning")
            return None
        return int(text)

    @on(Button.Pressed, "#test-preview")
    @on(Input.Submitted, "#test-id")
    def _preview(self) -> None:
        invoice = self.invoice_id()
        if invoice is not None:
            self.run_test_invoice(invoice, dry_run=True)

    @on(Button.Pressed, "#test-post")
    def _post(self) -> None:
        invoice = self.invoice_id()
        if invoice is not None:
            self.run_test_invoice(invoice, dry_run=False)

    @on(Button.Pressed, "#test-skip")
    @work(exclusive=True, group="setup-test", exit_on_error=False)
    async def skip(self) -> None:
        answer = await self.guarded(self.client.finish_setup())
        if answer is not None:
            self.query_one("#test-outcome", Static).update(str(answer.get("message") or ""))
            self.done()

    @work(exclusive=True, group="setup-test", exit_on_error=False)
    async def run_test_invoice(self, invoice: int, *, dry_run: bool) -> None:
        self.query_one("#test-outcome", Static).update(
            "Mapping the invoice…" if dry_run else "Sending the invoice to Xero…"
        )
        answer = await self.guarded(self.client.sync_invoice(invoice, dry_run=dry_run))
        if answer is None:
            self.query_one("#test-outcome", Static).update("")
            return
        self.query_one("#test-outcome", Static).update(outcome_text(answer))
        provenance = self.query_one("#test-provenance", Static)
        provenance.border_title = "Lines: where each value came from"
        provenance.display = bool(answer.get("provenance"))
        provenance.update(provenance_text(answer.get("provenance") or []))
        payload = self.query_one("#test-payload", Static)
        payload.border_title = "Payload"
        payload.display = bool(answer.get("payload"))
        payload.update(Text(json.dumps(answer.get("payload"), indent=2)))
        if answer.get("outcome") == "posted":
            self.done()
