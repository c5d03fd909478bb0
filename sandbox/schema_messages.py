"""Wording of conformance problems: one line each, led by a JSON-path-like location.

``sandbox.conformance`` reports two kinds of problem: unknown field names (its own walk) and
``jsonschema`` ``ValidationError``s, translated here by ``describe`` from the error's
``absolute_path``, ``validator`` and ``validator_value``. Each problem is a ``(path, line)`` pair so
the caller can sort them by where they are in the body.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from jsonschema.exceptions import ValidationError

MAX_SHOWN = 60  # characters of a bad value quoted in a message

Path = tuple[str | int, ...]
Problem = tuple[Path, str]


def location(path: Iterable[str | int]) -> str:
    """``("Invoices", 0, "LineItems", 1, "Code")`` -> ``Invoices[0].LineItems[1].Code``; ``$`` for
    the body itself."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "$"


def path_sort_key(path: Path) -> tuple[tuple[int, int, str], ...]:
    """Body order by location: array indexes numerically (``[2]`` before ``[10]``)."""
    return tuple((0, part, "") if isinstance(part, int) else (1, 0, part) for part in path)


# -- the unknown-field walk


def unknown_field(path: Path, suggestion: str | None) -> Problem:
    hint = f" (did you mean {suggestion}?)" if suggestion else ""
    return path, f"{location(path)}: unknown field{hint}"


def duplicate_field(path: Path, canonical: str) -> Problem:
    return path, (
        f"{location(path)}: duplicate of field {canonical} (field names are case-insensitive)"
    )


def not_a_name(path: Path) -> Problem:
    return path, f"{location(path)}: field names must be strings"


# -- jsonschema errors

_REQUIRED = re.compile(r"^(?P<name>'.*'|\".*\") is a required property$")


def describe(error: ValidationError) -> Problem:
    """A ``jsonschema`` error as one line at its location in the body."""
    path: Path = tuple(error.absolute_path)
    where = location(path)
    kind = error.validator
    expected = error.validator_value
    value = error.instance
    if kind == "required":
        # One error per missing name; jsonschema puts the name (as a Python repr) in the message.
        match = _REQUIRED.match(error.message)
        missing = ast.literal_eval(match.group("name")) if match else str(expected)
        path = (*path, missing)
        return path, f"{location(path)}: required field missing"
    if kind == "type":
        label = " or ".join(expected) if isinstance(expected, list) else str(expected)
        return path, f"{where}: expected {label}, got {_json_type(value)}" + (
            "" if value is None else f" {_shown(value)}"
        )
    if kind == "enum":
        return path, f"{where}: {_shown(value)} {_not_allowed(value, expected)}"
    if kind == "maxLength" and isinstance(value, str):
        return path, f"{where}: longer than {expected} characters ({len(value)})"
    if kind == "minLength" and isinstance(value, str):
        return path, f"{where}: shorter than {expected} characters ({len(value)})"
    if kind == "format":
        return path, f"{where}: {_shown(value)} is not a valid {expected}"
    return path, f"{where}: {error.message}"


def _not_allowed(value: Any, allowed: Sequence[Any]) -> str:
    names = [str(v) for v in allowed]
    if len(names) <= 8:
        return f"is not one of {', '.join(names)}"
    close = difflib.get_close_matches(str(value), names, n=3, cutoff=0.6)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    return f"is not an allowed value{hint}"


_JSON_TYPES: Sequence[tuple[type | tuple[type, ...], str]] = (
    (bool, "boolean"),
    ((int, float), "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    for python_type, name in _JSON_TYPES:
        if isinstance(value, python_type):
            return name
    return type(value).__name__


def _shown(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."
