"""The configuration reference, generated from the settings model so it cannot drift.

``atx config example`` prints ``.env.example`` and ``atx config reference`` prints
``docs/configuration.md``; tests/test_config_docs.py checks the committed files equal the output.
Every field of ``Settings`` needs a ``description``; a default that is not a plain value (a
folder computed at start, a value derived from another setting) is described by
``json_schema_extra={"shown_default": ...}``.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from agent.config import PROCESS_VARIABLES, SECRET_FIELDS, Settings, env_name

# Sections, in order, by field-name prefix; a field matching none goes under "Other".
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Storage", ("data_dir",)),
    ("Autotask", ("autotask_",)),
    ("Xero", ("xero_",)),
    ("Secrets at rest", ("secret_key", "allow_plaintext_secrets")),
    ("Control API and connect pages", ("control_", "oauth_")),
    ("Sync", ("sync_", "days_back", "invoice_")),
    ("Logging", ("log_",)),
)
OTHER = "Other"
ENVIRONMENT_ONLY = "Read from the environment only"


@dataclass(frozen=True)
class Variable:
    name: str
    group: str
    description: str
    default: str  # "" when there is none
    plain_default: bool  # the default can be written as the value itself
    choices: tuple[str, ...] = ()
    secret: bool = False


def _group(field: str) -> str:
    for title, prefixes in GROUPS:
        if any(field == p or (p.endswith("_") and field.startswith(p)) for p in prefixes):
            return title
    return OTHER


def _choices(annotation: Any) -> tuple[str, ...]:
    if typing.get_origin(annotation) is typing.Literal:
        return tuple(str(v) for v in typing.get_args(annotation))
    for arg in typing.get_args(annotation):
        found = _choices(arg)
        if found:
            return found
    return ()


def _default(info: FieldInfo) -> tuple[str, bool]:
    extra = info.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("shown_default"), str):
        return str(extra["shown_default"]), False
    value = info.default
    if value is PydanticUndefined or value is None:
        return "", True
    if isinstance(value, bool):
        return str(value).lower(), True
    if isinstance(value, Enum):
        return str(value.value), True
    if isinstance(value, str | int | float | Path):
        return str(value), True
    return repr(value), False


def variables() -> list[Variable]:
    """Every ATX_ variable: the settings model's fields, then the environment-only ones."""
    found = []
    for field, info in Settings.model_fields.items():
        if not info.description:
            raise ValueError(f"Settings.{field} has no description (agent/config.py)")
        default, plain = _default(info)
        found.append(
            Variable(
                name=env_name(field),
                group=_group(field),
                description=" ".join(info.description.split()),
                default=default,
                plain_default=plain,
                choices=_choices(info.annotation),
                secret=field in SECRET_FIELDS,
            )
        )
    order = [title for title, _ in GROUPS] + [OTHER]
    found.sort(key=lambda v: order.index(v.group))  # stable: model order inside a group
    for name, (default, description) in PROCESS_VARIABLES.items():
        found.append(Variable(name, ENVIRONMENT_ONLY, description, default, True))
    return found


def _grouped(items: list[Variable]) -> list[tuple[str, list[Variable]]]:
    groups: dict[str, list[Variable]] = {}
    for item in items:
        groups.setdefault(item.group, []).append(item)
    return list(groups.items())


def env_example() -> str:
    """The text of .env.example."""
    lines = [
        "# atx settings. Copy this file to .env and fill in what you use; compose.yaml reads it.",
        "# Generated from agent/config.py by `atx config example`: do not edit by hand.",
        "# A line left commented keeps its default. Secrets may instead go in ./secrets/ files",
        "# (Docker secrets, see compose.yaml); a value set here wins over a secret file.",
        "# Reference: docs/configuration.md",
    ]
    for title, items in _grouped(variables()):
        lines += ["", f"## {title}"]
        if title == ENVIRONMENT_ONLY:
            lines.append("# (set these in the environment or compose.yaml, not in .env)")
        for item in items:
            note = item.description
            if item.choices:
                note += f" One of: {', '.join(item.choices)}."
            if item.default and not item.plain_default:
                note += f" Default: {item.default}."
            lines.append(f"# {note}")
            value = item.default if item.plain_default else ""
            lines.append(f"# {item.name}={value}")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def reference_markdown() -> str:
    """The text of docs/configuration.md."""
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated from agent/config.py by `atx config reference`: do not edit by hand."
        " tests/test_config_docs.py fails when this file and the settings model differ. -->",
        "",
        "Every setting is an `ATX_*` environment variable. Sources, highest priority first:",
        "",
        "1. the process environment (in Docker: `environment:` and `env_file: .env` in"
        " compose.yaml);",
        "2. a `.env` file in the working directory (or the file named by `ATX_ENV_FILE`);",
        "3. a secrets folder (`ATX_SECRETS_DIR`, default `/run/secrets`): one file per variable,"
        " named like it in lower case, e.g. `/run/secrets/atx_secret_key`. compose.yaml mounts"
        " `atx_autotask_secret`, `atx_xero_client_secret` and `atx_secret_key` there; an empty"
        " file counts as not set.",
        "",
        "A bad value stops `atx` with one line naming the variable and what it expects (exit"
        " status 2); `atx config show` prints the effective values with secrets masked, and"
        " `atx config check` also tries the Autotask and Xero credentials.",
        "",
        "Secret values (marked *secret*) are never printed, logged or returned by the control API.",
        "A copy of this list with every default, ready to fill in, is `.env.example`.",
    ]
    for title, items in _grouped(variables()):
        lines += ["", f"## {title}", "", "| variable | default | meaning |", "| --- | --- | --- |"]
        for item in items:
            default = f"`{item.default}`" if item.default else ""
            meaning = item.description
            if item.choices:
                meaning += " One of " + ", ".join(f"`{c}`" for c in item.choices) + "."
            if item.secret:
                meaning += " *secret*"
            lines.append(f"| `{item.name}` | {_cell(default)} | {_cell(meaning)} |")
    return "\n".join(lines) + "\n"
