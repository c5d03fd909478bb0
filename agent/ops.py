"""The operator's commands: ``atx health``, ``atx backup``, ``atx restore`` and ``atx config
check | example | reference``. ``agent/cli.py`` registers them with ``add_commands`` and
``add_config_commands``; the work is in agent/health.py, agent/backup.py, agent/config_check.py
and agent/config_docs.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agent.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UserError
from agent.config import SettingsInvalid, load_settings


def _cmd_health(args: argparse.Namespace) -> int:
    from agent.health import Healthy, probe

    try:
        settings = load_settings()
    except SettingsInvalid as exc:
        # Docker reserves exit status 2: a health check says 0 or 1 only.
        print(f"atx health: {exc.lines[0]}", file=sys.stderr)
        return EXIT_FAILURE
    found = probe(settings)
    if isinstance(found, Healthy):
        print(found.describe())
        return EXIT_OK
    print(f"atx health: {found}", file=sys.stderr)
    return EXIT_FAILURE


def _cmd_backup(args: argparse.Namespace) -> int:
    from agent.backup import BackupError, backup

    settings = load_settings()
    try:
        facts = backup(settings, Path(args.file))
    except BackupError as exc:
        raise UserError(str(exc)) from None
    print(f"backup written to {args.file} ({facts.describe()})")
    print("restore it with ATX_SECRET_KEY unchanged: the Xero tokens inside are encrypted with it")
    return EXIT_OK


def _cmd_restore(args: argparse.Namespace) -> int:
    from agent.backup import BackupError, restore

    settings = load_settings()
    try:
        facts, kept = restore(settings, Path(args.file))
    except BackupError as exc:
        raise UserError(str(exc)) from None
    print(f"restored {args.file} to {settings.database_path} ({facts.describe()})")
    if kept is not None:
        print(f"the database it replaced is kept as {kept}")
    if facts.schema_version < facts_latest():
        print("its schema is upgraded the next time atx opens it")
    return EXIT_OK


def facts_latest() -> int:
    from agent.store.migrations import LATEST_VERSION

    return LATEST_VERSION


def _cmd_config_check(args: argparse.Namespace) -> int:
    import logging

    from agent.config_check import check

    # The report says what went wrong; the clients' retry warnings would only repeat it.
    logging.getLogger("atx").setLevel(logging.ERROR)
    try:
        settings = load_settings()
    except SettingsInvalid as exc:
        for line in exc.lines:
            print(f"PROBLEM  {line}")
            print("  fix:   correct that variable in .env (docs/configuration.md lists them)")
        return EXIT_USAGE
    report = check(settings)
    for line in report.lines():
        print(line)
    problems = report.problems
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return EXIT_USAGE
    print("all checks passed")
    return EXIT_OK


def _cmd_config_example(args: argparse.Namespace) -> int:
    from agent.config_docs import env_example

    sys.stdout.write(env_example())
    return EXIT_OK


def _cmd_config_reference(args: argparse.Namespace) -> int:
    from agent.config_docs import reference_markdown

    sys.stdout.write(reference_markdown())
    return EXIT_OK


def add_config_commands(
    config_commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    check = config_commands.add_parser(
        "check",
        help="validate the settings and try Autotask and Xero (exit 2 on problems, with fixes)",
    )
    check.set_defaults(handler=_cmd_config_check)
    example = config_commands.add_parser(
        "example", help="print .env.example: every ATX_ variable, its default and meaning"
    )
    example.set_defaults(handler=_cmd_config_example)
    reference = config_commands.add_parser(
        "reference", help="print docs/configuration.md, the configuration reference"
    )
    reference.set_defaults(handler=_cmd_config_reference)


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    health = commands.add_parser(
        "health",
        help="exit 0 when the running agent answers on its control socket, else 1 (Docker)",
    )
    health.set_defaults(handler=_cmd_health)
    backup = commands.add_parser(
        "backup", help="copy the database to FILE while the agent runs (SQLite online backup)"
    )
    backup.add_argument("file", metavar="FILE", help="a new file")
    backup.set_defaults(handler=_cmd_backup)
    restore = commands.add_parser(
        "restore", help="replace the database with the backup FILE (the agent must be stopped)"
    )
    restore.add_argument("file", metavar="FILE")
    restore.set_defaults(handler=_cmd_restore)
