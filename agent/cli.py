"""The `atx` command.

Every failure a user can cause ends in one line on stderr that names the cause and the fix, and a
non-zero exit status (2 for bad settings or arguments); never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from agent.config import SettingsInvalid, load_settings, masked_items

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class UserError(Exception):
    """A failure with a one-line explanation for the user (cause and fix)."""


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
        SANDBOX_XERO_PKCE_CLIENT_ID,
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
            f"  export ATX_XERO_CLIENT_ID={SANDBOX_XERO_PKCE_CLIENT_ID}",
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="atx",
        description="Self-hosted Autotask PSA to Xero sync agent.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    config = commands.add_parser("config", help="inspect the settings")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    show = config_commands.add_parser("show", help="print the effective settings, secrets masked")
    show.set_defaults(handler=_cmd_config_show)

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
    sandbox.set_defaults(handler=_cmd_sandbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except SettingsInvalid as exc:
        for line in exc.lines:
            print(f"atx: {line}", file=sys.stderr)
        return EXIT_USAGE
    except UserError as exc:
        print(f"atx {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
