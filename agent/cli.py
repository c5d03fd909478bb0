"""The `atx` command.

Every failure a user can cause ends in one line on stderr that names the cause and the fix, and a
non-zero exit status; never a traceback. Exit statuses:

- 0: done (for ``sync``: nothing failed; blocked invoices are reported, they wait for a person);
- 1: something failed (a document, a step of the cycle, a file to import) or nothing was found;
- 2: bad settings or arguments, or set-up missing (no ATX_SECRET_KEY, no Autotask API user, no
  Xero organisation connected);
- 3: ``sync`` only: nothing failed but work was left for later (a Xero organisation paused by its
  daily limit, the Autotask budget nearly spent): run it again later;
- 130: interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from agent.config import Settings, SettingsInvalid, load_settings, masked_items
from agent.memory import limit_malloc_arenas

if TYPE_CHECKING:  # the heavy modules load only for the commands that use them
    from agent.store import Store
    from agent.sync import CycleReport, SyncEngine

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_DEFERRED = 3


class UserError(Exception):
    """A failure with a one-line explanation for the user (cause and fix)."""

    exit_status = EXIT_FAILURE


class SetupError(UserError):
    """Something to set up before the command can work (exit status 2)."""

    exit_status = EXIT_USAGE


@contextmanager
def _user_errors() -> Iterator[None]:
    """The errors of the layers below, as one-line UserErrors."""
    from agent.autotask import AutotaskConfigError, AutotaskError
    from agent.store import SecretKeyMismatch, SecretKeyMissing, StoreError
    from agent.sync import NoOrganisation
    from agent.xero import XeroConfigError, XeroError

    try:
        yield
    except (AutotaskConfigError, SecretKeyMissing, SecretKeyMismatch, XeroConfigError) as exc:
        raise SetupError(str(exc)) from None
    except NoOrganisation as exc:
        raise SetupError(str(exc)) from None
    except (AutotaskError, XeroError, StoreError) as exc:
        raise UserError(str(exc)) from None


def _settings_with_logging() -> Settings:
    from agent.logs import setup_logging

    settings = load_settings()
    setup_logging(settings)
    return settings


def _cmd_config_show(args: argparse.Namespace) -> int:
    settings = load_settings()
    items = masked_items(settings)
    width = max(len(name) for name, _ in items)
    for name, value in items:
        print(f"{name.ljust(width)}  {value}")
    return EXIT_OK


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from sandbox import seed
    from sandbox.clock import SandboxClock
    from sandbox.core import Sandbox, SandboxOptions
    from sandbox.server import SandboxUrls, serve
    from sandbox.world import (
        SANDBOX_AUTOTASK_INTEGRATION_CODE,
        SANDBOX_AUTOTASK_SECRET,
        SANDBOX_AUTOTASK_USERNAME,
        SANDBOX_XERO_CUSTOM_CLIENT_ID,
        SANDBOX_XERO_CUSTOM_CLIENT_SECRET,
    )

    if not 10 <= args.invoices <= 20_000:
        raise UserError("--invoices must be between 10 and 20000")
    if args.time_scale <= 0:
        raise UserError("--time-scale must be a positive number, e.g. 60 to run an hour a minute")
    print(f"Generating a sandbox MSP: {args.invoices} invoices, seed {args.seed}", flush=True)
    clock = SandboxClock(scale=args.time_scale)
    # Invoices are dated relative to the sandbox's today, inside the agent's days-back window.
    world = seed.generate(args.invoices, seed=args.seed, today=clock.now().date())
    options = SandboxOptions(strict_requests=not args.lenient, latency=args.latency)
    for uri in args.xero_redirect_uri or []:
        for app in world.xero_apps:  # as a user registers a redirect URI in their Xero app
            if app.kind != "custom" and uri not in app.redirect_uris:
                app.redirect_uris.append(uri)
    sandbox = Sandbox(world, clock=clock, options=options)

    def ready(urls: SandboxUrls) -> None:
        lines = [
            f"Autotask sandbox: {urls.autotask_zone_url}",
            f"Xero sandbox:     {urls.xero_api_url}",
            "",
            "Point the agent at it with:",
            *(f"  export {name}={value}" for name, value in urls.environment().items()),
            f"  export ATX_AUTOTASK_USERNAME={SANDBOX_AUTOTASK_USERNAME}",
            f"  export ATX_AUTOTASK_SECRET={SANDBOX_AUTOTASK_SECRET}",
            f"  export ATX_AUTOTASK_INTEGRATION_CODE={SANDBOX_AUTOTASK_INTEGRATION_CODE}",
            # A custom connection needs no browser; the PKCE connect flow comes with the TUI.
            "  export ATX_XERO_AUTH_MODE=client_credentials",
            f"  export ATX_XERO_CLIENT_ID={SANDBOX_XERO_CUSTOM_CLIENT_ID}",
            f"  export ATX_XERO_CLIENT_SECRET={SANDBOX_XERO_CUSTOM_CLIENT_SECRET}",
            "  export ATX_SECRET_KEY=any-demo-key ATX_DATA_DIR=./atx-demo-data",
            "then run: atx sync --once   (and atx status)",
            "",
            "Press Ctrl+C to stop.",
        ]
        print("\n".join(lines), flush=True)

    try:
        serve(
            sandbox,
            host=args.host,
            autotask_port=args.autotask_port,
            xero_port=args.xero_port,
            on_ready=ready,
        )
    except OSError as exc:
        raise UserError(f"{exc}; choose free ports with --autotask-port and --xero-port") from None
    return EXIT_OK


# -- sync -----------------------------------------------------------------------------------------


def _cmd_sync(args: argparse.Namespace) -> int:
    from agent.sync.runtime import open_runtime

    if args.once == (args.invoice is not None):
        raise SetupError(
            "choose what to sync: --once for one full cycle, or --invoice ID for one invoice"
        )
    if args.dry_run and args.invoice is None:
        raise SetupError("--dry-run goes with --invoice ID")
    settings = _settings_with_logging() if not args.dry_run else load_settings()
    with _user_errors(), open_runtime(settings) as runtime:
        if args.refresh_catalogs:
            runtime.engine.refresh_catalogs()
        if args.dry_run:
            return _dry_run(runtime.engine, args.invoice)
        done = True
        if args.invoice is not None:
            report = runtime.engine.run_invoice(args.invoice)
            _print_invoice(runtime.store, args.invoice)
            done = _invoice_done(runtime.store, args.invoice)
        else:
            report = runtime.engine.run_cycle()
        _print_report(report)
    if not report.ok:
        return EXIT_FAILURE
    if not report.complete:
        return EXIT_DEFERRED
    # One named invoice that did not reach Xero (blocked, say) is what the user asked about.
    return EXIT_OK if done else EXIT_FAILURE


def _dry_run(engine: SyncEngine, invoice_id: int) -> int:
    from agent.sync.dryrun import InvoiceNotFound, dry_run

    try:
        result = dry_run(engine, invoice_id)
    except InvoiceNotFound as exc:
        raise UserError(str(exc)) from None
    print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False, default=str))
    return EXIT_OK if result.mapped else EXIT_FAILURE


def _invoice_done(store: Store, invoice_id: int) -> bool:
    from agent.store import OutboxState
    from agent.sync.intake import DOCUMENT_KINDS

    rows = store.outbox.for_autotask_ids([invoice_id], kinds=DOCUMENT_KINDS)
    live = [r for r in rows if r.state is not OutboxState.SKIPPED]
    return bool(live) and all(r.state is OutboxState.DONE for r in live)


def _print_invoice(store: Store, invoice_id: int) -> None:
    from agent.sync.intake import DOCUMENT_KINDS

    rows = store.outbox.for_autotask_ids([invoice_id], kinds=DOCUMENT_KINDS)
    names = {c.tenant_id: c.tenant_name for c in store.connections.list_connections()}
    for row in rows:
        where = names.get(row.org, row.org or "no organisation yet")
        number = f" as {row.xero_number}" if row.xero_number else ""
        print(f"Invoice {invoice_id}: {row.kind.value}{number} in {where}: {row.state.value}")
        for reason in row.block_reasons or ((row.last_error,) if row.last_error else ()):
            print(f"  {reason}")


def _print_report(report: CycleReport) -> None:
    print(f"Sync {report.scope}: {report.summary()}")
    shown = ", ".join(f"{n} {s}" for s, n in report.states.items() if n) or "empty"
    print(f"Outbox: {shown}")
    for error in report.errors:
        print(f"Error: {error}")
    for why in report.deferred:
        print(f"Deferred: {why}")
    waiting = report.states.get("blocked", 0) + report.states.get("dead", 0)
    if waiting:
        print(f"{waiting} invoice(s) need a person: `atx status` lists them with the reasons")


# -- status, retry -------------------------------------------------------------------------------


def _cmd_status(args: argparse.Namespace) -> int:
    from agent.store.clock import utc_now
    from agent.sync import status
    from agent.sync.runtime import open_store

    settings = load_settings()
    with _user_errors(), open_store(settings) as store:
        data = status.collect(store, utc_now())
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print("\n".join(status.render(data)))
    return EXIT_OK


def _cmd_retry(args: argparse.Namespace) -> int:
    from agent.sync.maintenance import retry_invoice
    from agent.sync.runtime import open_store

    if args.failed == (args.invoice_id is not None):
        raise SetupError("give an Autotask invoice id, or --failed for every failed invoice")
    if args.resync and args.invoice_id is None:
        raise SetupError("--resync goes with an invoice id")
    settings = load_settings()
    with _user_errors(), open_store(settings) as store:
        if args.failed:
            count = store.outbox.retry_all_failed()
            print(f"{count} failed or dead invoice(s) queued again for the next cycle")
            return EXIT_OK
        result = retry_invoice(store, args.invoice_id, resync=args.resync)
    for row in result.retried:
        what = "resync queued" if args.resync and row.xero_id else "queued again"
        print(f"Invoice {args.invoice_id} ({row.kind.value}, row {row.id}): {what}")
    for row in result.waiting:
        print(
            f"Invoice {args.invoice_id} ({row.kind.value}, row {row.id}): already {row.state.value}"
        )
    if result.done and not result.retried:
        number = result.done[0].xero_number or result.done[0].xero_id
        raise UserError(
            f"invoice {args.invoice_id} is in Xero already (as {number}) and marked in Autotask;"
            f" to send it again as an update of that document: atx retry {args.invoice_id}"
            " --resync"
        )
    if not (result.retried or result.waiting):
        raise UserError(
            f"no outbox row for Autotask invoice {args.invoice_id}: the agent has not seen it;"
            f" `atx sync --invoice {args.invoice_id}` sends it now"
        )
    return EXIT_OK


# -- mappings -------------------------------------------------------------------------------------


def _cmd_mappings_export(args: argparse.Namespace) -> int:
    from agent.sync.mappings_io import export_mappings
    from agent.sync.runtime import open_store

    settings = load_settings()
    with _user_errors(), open_store(settings) as store:
        data = export_mappings(store.mappings.list_all())
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if args.file == "-":
        sys.stdout.write(text)
    else:
        try:
            Path(args.file).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot write {args.file}: {exc.strerror}") from None
        print(f"{len(data['mappings'])} mapping(s) written to {args.file}")
    return EXIT_OK


def _cmd_mappings_import(args: argparse.Namespace) -> int:
    from agent.store.clock import utc_now
    from agent.sync.maintenance import requeue_unblocked
    from agent.sync.mappings_io import ImportProblems, parse, save
    from agent.sync.runtime import open_store

    settings = load_settings()
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {args.file}: {exc}") from None
    with _user_errors(), open_store(settings) as store:
        connected = {c.tenant_id for c in store.connections.list_connections()}
        try:
            entries, warnings = parse(text, source=args.file, connected=connected)
        except ImportProblems as exc:
            for problem in exc.problems:
                print(f"atx mappings import: {problem}", file=sys.stderr)
            raise UserError(
                f"{len(exc.problems)} problem(s) in {args.file}; nothing was imported"
            ) from None
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
        count = save(store, entries)
        outcome = requeue_unblocked(store, settings, utc_now().date())
    print(f"{count} mapping(s) imported")
    print(f"{outcome.unblocked} blocked invoice(s) map now and are queued for the next cycle")
    return EXIT_OK


# -- settings -------------------------------------------------------------------------------------


def _cmd_settings_list(args: argparse.Namespace) -> int:
    from agent.control.service import SPECS
    from agent.settings_cli import describe, view

    settings = load_settings()
    with _user_errors():
        values = view(settings)
    for spec in SPECS:
        if spec.name in values and (args.all or not spec.env):
            print(describe(spec, values[spec.name]))
    return EXIT_OK


def _cmd_settings_set(args: argparse.Namespace) -> int:
    from agent.settings_cli import SettingsProblem, check_name, parse_value, put

    settings = load_settings()
    try:
        value = None if args.unset else parse_value(args.name, args.value)
        check_name(args.name)
        with _user_errors():
            message, live = put(settings, {args.name: value})
    except SettingsProblem as exc:
        raise SetupError(str(exc)) from None
    where = "the running agent applies it now" if live else "the agent reads it at its next cycle"
    print(f"{message} ({where})")
    return EXIT_OK


# -- xero -----------------------------------------------------------------------------------------


def _cmd_xero_connect(args: argparse.Namespace) -> int:
    from agent.control.connect_cli import xero_connect

    return xero_connect(args, UserError, SetupError)


# -- agent ----------------------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    from agent.demo import DemoError, run_demo

    if not 10 <= args.invoices <= 20_000:
        raise UserError("--invoices must be between 10 and 20000")
    try:
        return run_demo(
            invoices=args.invoices,
            seed=args.seed,
            data_dir=Path(args.data_dir) if args.data_dir else None,
            tui=not args.no_tui,
        )
    except DemoError as exc:
        raise UserError(str(exc)) from None


def _cmd_agent(args: argparse.Namespace) -> int:
    # Runs before the set-up is complete too: it serves the control API (for `atx tui`) and
    # the Xero connect pages, and starts syncing once Autotask and Xero are set up.
    from agent.control.runner import run_agent
    from agent.control.server import ControlServerError

    settings = _settings_with_logging()
    with _user_errors():
        try:
            return run_agent(settings)
        except ControlServerError as exc:
            raise SetupError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    from agent import ops  # the operator's commands

    parser = argparse.ArgumentParser(
        prog="atx",
        description="Self-hosted Autotask PSA to Xero sync agent.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    config = commands.add_parser("config", help="inspect the settings")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    show = config_commands.add_parser("show", help="print the effective settings, secrets masked")
    show.set_defaults(handler=_cmd_config_show)
    ops.add_config_commands(config_commands)  # check, example, reference

    sandbox = commands.add_parser(
        "sandbox", help="serve the simulated Autotask and Xero on loopback (no accounts needed)"
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on")
    sandbox.add_argument("--autotask-port", type=int, default=8780, help="default 8780")
    sandbox.add_argument("--xero-port", type=int, default=8781, help="default 8781")
    sandbox.add_argument("--invoices", type=int, default=200, help="size of the MSP (10-20000)")
    sandbox.add_argument("--seed", type=int, default=1, help="seed of the generated data")
    sandbox.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="speed of sandbox time: 60 makes Autotask's hour a minute",
    )
    sandbox.add_argument(
        "--latency", action="store_true", help="slow Autotask down as its hourly budget is used"
    )
    sandbox.add_argument(
        "--lenient",
        action="store_true",
        help="do not reject request fields unknown to the official API descriptions",
    )
    sandbox.add_argument(
        "--xero-redirect-uri",
        action="append",
        metavar="URI",
        help="one more redirect URI the sandbox's Xero apps accept"
        " (http://localhost:8742/callback always is)",
    )
    sandbox.set_defaults(handler=_cmd_sandbox)

    demo = commands.add_parser(
        "demo",
        help="try it with no accounts: a simulated Autotask and Xero, the agent, the terminal UI",
    )
    demo.add_argument("--invoices", type=int, default=200, help="size of the MSP (10-20000)")
    demo.add_argument("--seed", type=int, default=1, help="seed of the generated data")
    demo.add_argument(
        "--data-dir",
        metavar="DIR",
        help="keep the demo's database and logs here (default: a temporary folder, removed"
        " on exit); emptied at start, since the sandbox starts afresh each time",
    )
    demo.add_argument(
        "--no-tui",
        action="store_true",
        help="start the sandbox and the agent only, print how to attach, run until Ctrl+C",
    )
    demo.set_defaults(handler=_cmd_demo)

    sync = commands.add_parser(
        "sync",
        help="send Autotask invoices to Xero now (exit 0: nothing failed, 1: failures,"
        " 3: work left for later)",
    )
    sync.add_argument("--once", action="store_true", help="one full cycle, then exit")
    sync.add_argument("--invoice", type=int, metavar="ID", help="only this Autotask invoice")
    sync.add_argument(
        "--dry-run",
        action="store_true",
        help="with --invoice: print the Xero document (or why it is held); send nothing",
    )
    sync.add_argument(
        "--refresh-catalogs",
        action="store_true",
        help="read the Xero catalogs (accounts, tax rates, contacts, ...) again first",
    )
    sync.set_defaults(handler=_cmd_sync)

    status = commands.add_parser("status", help="outbox counts, connections, budgets")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=_cmd_status)

    retry = commands.add_parser("retry", help="queue failed, dead or blocked invoices again")
    retry.add_argument("invoice_id", type=int, nargs="?", metavar="ID", help="Autotask invoice id")
    retry.add_argument("--failed", action="store_true", help="every failed and dead invoice")
    retry.add_argument(
        "--resync",
        action="store_true",
        help="an invoice already in Xero: send it again as an update of the same document",
    )
    retry.set_defaults(handler=_cmd_retry)

    mappings = commands.add_parser("mappings", help="export or import the mapping table (JSON)")
    mapping_commands = mappings.add_subparsers(
        dest="mappings_command", required=True, metavar="ACTION"
    )
    export = mapping_commands.add_parser("export", help="write every mapping to FILE (- = stdout)")
    export.add_argument("file", metavar="FILE")
    export.set_defaults(handler=_cmd_mappings_export)
    imports = mapping_commands.add_parser(
        "import", help="add or replace the mappings in FILE (- = stdin); all or nothing"
    )
    imports.add_argument("file", metavar="FILE")
    imports.set_defaults(handler=_cmd_mappings_import)

    settings = commands.add_parser(
        "settings",
        help="the run-time settings (those the setup wizard edits): list, set, unset",
    )
    settings_commands = settings.add_subparsers(
        dest="settings_command", required=True, metavar="ACTION"
    )
    listing = settings_commands.add_parser(
        "list", help="each run-time setting, its value and where it comes from"
    )
    listing.add_argument(
        "--all", action="store_true", help="the ATX_* settings too (as the agent has them)"
    )
    listing.set_defaults(handler=_cmd_settings_list)
    setting = settings_commands.add_parser(
        "set", help="set NAME to VALUE (through the running agent when there is one)"
    )
    setting.add_argument("name", metavar="NAME")
    setting.add_argument("value", metavar="VALUE")
    setting.set_defaults(handler=_cmd_settings_set, unset=False)
    unsetting = settings_commands.add_parser("unset", help="back to the default for NAME")
    unsetting.add_argument("name", metavar="NAME")
    unsetting.set_defaults(handler=_cmd_settings_set, unset=True, value=None)

    xero = commands.add_parser("xero", help="connect Xero organisations")
    xero_commands = xero.add_subparsers(dest="xero_command", required=True, metavar="ACTION")
    xero_connect = xero_commands.add_parser(
        "connect",
        help="sign in to Xero with a link and a one-time code (or connect a custom connection)",
    )
    xero_connect.add_argument(
        "--paste-only",
        action="store_true",
        help="serve no connect pages: print Xero's address, read the redirected one on stdin",
    )
    xero_connect.set_defaults(handler=_cmd_xero_connect)

    agent = commands.add_parser(
        "agent", help="run the agent: a sync cycle every ATX_SYNC_INTERVAL_MINUTES until stopped"
    )
    agent.set_defaults(handler=_cmd_agent)

    from tui import cli as tui_cli  # argparse only; Textual loads when the command runs

    tui = commands.add_parser("tui", help="attach the terminal UI to the running agent")
    tui_cli.add_arguments(tui)
    tui.set_defaults(handler=tui_cli.run)
    ops.add_commands(commands)  # health, backup, restore
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    if args.command in ("agent", "sync"):
        limit_malloc_arenas()  # before any thread exists (agent/memory.py)
    try:
        return handler(args)
    except SettingsInvalid as exc:
        for line in exc.lines:
            print(f"atx: {line}", file=sys.stderr)
        return EXIT_USAGE
    except UserError as exc:
        print(f"atx {args.command}: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
