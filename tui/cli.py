"""``atx tui``: attach the terminal UI to the running agent (the handler agent/cli.py calls)."""

from __future__ import annotations

import argparse

from tui.client import ControlClient, ControlTarget


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        metavar="HOST:PORT",
        help="the agent's TCP control address (ATX_CONTROL_LISTEN; needs ATX_CONTROL_TOKEN);"
        " default: its Unix socket (ATX_CONTROL_SOCKET or <ATX_DATA_DIR>/control.sock)",
    )
    parser.add_argument("--socket", metavar="PATH", help="the agent's control socket")


def run(args: argparse.Namespace) -> int:
    from tui.app import AtxApp

    target = ControlTarget.from_environment(
        url=getattr(args, "url", None), socket=getattr(args, "socket", None)
    )
    AtxApp(ControlClient(target)).run()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="atx tui", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args())
