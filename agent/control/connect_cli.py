"""``atx xero connect``: the connect flow without the terminal UI.

Prints the link, the one-time code, its expiry and the ``ssh -L`` line, serves the connect pages,
and finishes on whichever comes first: Xero's redirect reaching ``/callback``, or the redirected
address pasted on stdin (browser on another machine). With ATX_XERO_AUTH_MODE=client_credentials
it connects the custom connection at once. Exit statuses as the rest of ``atx``: 0 connected,
1 the sign-in failed or expired, 2 set-up missing, 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TextIO

from agent.config import Settings, load_settings
from agent.control.connect import ConnectError, ConnectFlows, ConnectNotConfigured, FlowFinished
from agent.store import Store, StoreError
from agent.xero import XeroClient, XeroConfigError, XeroError

EXIT_OK = 0
TICK_SECONDS = 0.5


class UserError(Exception):
    """The sign-in failed, expired or was refused (exit 1)."""


class SetupError(UserError):
    """Something to set up first (exit 2)."""


def xero_connect(
    args: argparse.Namespace, user_error: type[Exception], setup_error: type[Exception]
) -> int:
    """Run the command; failures leave as ``user_error`` or ``setup_error``, the CLI's one-line
    errors (passed in: agent.cli may run as ``__main__``, a second copy of its module)."""
    settings = load_settings()
    atx_log = logging.getLogger("atx")
    if not atx_log.handlers:
        # No log lines on the terminal: what went wrong ends as the command's one error line.
        atx_log.addHandler(logging.NullHandler())
    try:
        with _opened(settings) as (store, xero):
            if settings.xero_auth_mode == "client_credentials":
                return _custom_connection(settings, store, xero)
            return _browser_flow(settings, store, xero, paste_only=args.paste_only)
    except SetupError as exc:
        raise setup_error(str(exc)) from None
    except UserError as exc:
        raise user_error(str(exc)) from None


@contextmanager
def _opened(settings: Settings) -> Iterator[tuple[Store, XeroClient]]:
    from agent.sync.runtime import open_store, require_secret_key

    try:
        require_secret_key(settings)
        store = open_store(settings)
    except StoreError as exc:
        raise SetupError(str(exc)) from None
    try:
        with XeroClient(settings, store) as xero:
            yield store, xero
    finally:
        store.close()


def _custom_connection(settings: Settings, store: Store, xero: XeroClient) -> int:
    flows = ConnectFlows(settings, store, xero)
    try:
        cards = flows.connect_client_credentials()
    except ConnectError as exc:
        raise UserError(str(exc)) from None
    except XeroConfigError as exc:
        raise SetupError(str(exc)) from None
    _print_connected(cards)
    return EXIT_OK


def _browser_flow(settings: Settings, store: Store, xero: XeroClient, *, paste_only: bool) -> int:
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    flows = ConnectFlows(settings, store, xero, publish=lambda flow: events.put(("flow", flow)))
    serving = False
    try:
        flows.check_configured()
    except ConnectNotConfigured as exc:
        raise SetupError(str(exc)) from None
    try:
        if not paste_only:
            try:
                flows.serve()
                serving = True
            except ConnectError as exc:
                print(f"note: {exc.error}: paste the redirected address instead", file=sys.stderr)
        try:
            flow = flows.start()
        except ConnectNotConfigured as exc:
            raise SetupError(str(exc)) from None
        # Without the pages here (--paste-only, or the port is taken, by the running agent say)
        # nothing can take the code: the Xero address is printed instead.
        direct = None if serving else flows.authorize(flow["code"])
        _print_instructions(flow, direct)
        _read_lines(sys.stdin, lambda line: events.put(("paste", line)))
        final = _wait(flows, flow["flow_id"], events, announce=serving)
    finally:
        flows.stop()
    if final["state"] != "connected":
        raise UserError(final["error"] or f"the connect ended {final['state']}")
    _print_connected(final["organisations"])
    return EXIT_OK


def _print_instructions(flow: dict[str, Any], direct: str | None) -> None:
    until = datetime.fromisoformat(flow["expires_at"]).strftime("%H:%M:%S %Z").strip()
    lines = ["Connect Xero", ""]
    if direct is None:
        lines += [
            f"  1. Open {flow['link']} in a browser.",
            f"     Browser on another machine? There, first run: {flow['ssh_hint']}",
            f"  2. Type the code {flow['code']} (valid until {until}).",
            "  3. Sign in to Xero and allow access; this command goes on by itself.",
        ]
    else:
        lines += [
            f"  Open this address in a browser, sign in to Xero and allow access (until {until}):",
            "",
            f"  {direct}",
        ]
    lines += [
        "",
        "If the browser ends on a page that cannot load or says 'Not connected' (an address"
        f" starting with {flow['redirect_uri']}?code=...),",
        "copy that whole address from the address bar, paste it here and press Enter.",
        "Waiting... (Ctrl+C to cancel)",
    ]
    print("\n".join(lines), flush=True)


def _read_lines(stream: TextIO, put: Callable[[str], None]) -> None:
    def pump() -> None:
        try:
            for line in stream:
                if line.strip():
                    put(line.strip())
        except (OSError, ValueError):
            return

    threading.Thread(target=pump, name="connect-stdin", daemon=True).start()


def _wait(
    flows: ConnectFlows, flow_id: str, events: queue.Queue[tuple[str, Any]], *, announce: bool
) -> dict[str, Any]:
    while True:
        try:
            kind, value = events.get(timeout=TICK_SECONDS)
        except queue.Empty:
            flow = flows.get(flow_id)  # notices the expiry
            if flow["state"] in ("connected", "failed", "expired"):
                return flow
            continue
        if kind == "paste":
            try:
                flow = flows.paste(flow_id, value)
            except FlowFinished as exc:
                flow = flows.get(flow_id)
                if flow["state"] in ("connected", "failed", "expired"):
                    return flow
                # The callback reached the pages first and is finishing the same sign-in.
                print(f"note: {exc.error}", file=sys.stderr, flush=True)
                continue
            except ConnectError as exc:
                print(f"That address did not work: {exc}", file=sys.stderr, flush=True)
                continue
            except (XeroError, StoreError) as exc:
                raise UserError(str(exc)) from None
        else:
            flow = value
            if flow["flow_id"] != flow_id:
                continue
        if flow["state"] == "authorizing" and announce:
            print("The code was accepted: sign in to Xero in the browser...", flush=True)
        if flow["state"] in ("connected", "failed", "expired"):
            return flow


def _print_connected(cards: list[dict[str, Any]]) -> None:
    print("Connected to Xero:")
    for card in cards:
        print(f"  {card['name']}  (tenant {card['tenant_id']})")
    sys.stdout.flush()
