"""Wording of conformance problems: one line each, led by a JSON-path-like location.

Both engines of ``sandbox.conformance`` speak through these functions, so the compiled checker and
jsonschema report a problem in the same words (the tests compare them line for line).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from jsonschema.exceptions import ValidationError

MAX_SHOWN = 60  # characters of a bad value quoted in a message


def location(path: Iterable[str | int]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "$"


def error_sort_key(error: ValidationError) -> tuple[str, str]:
    return (location(error.absolute_path), error.message)


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


_REQUIRED = re.compile(r"^'(?P<name>.+)' is a required property$")


def type_message(where: str, expected: str, value: Any) -> str:
    got = _json_type(value)
    return f"{where}: expected {expected}, got {got}" + (
        "" if value is None else f" {_shown(value)}"
    )


def enum_message(where: str, value: Any, allowed: Sequence[Any]) -> str:
    names = [str(v) for v in allowed]
    if len(names) <= 8:
        return f"{where}: {_shown(value)} is not one of {', '.join(names)}"
    close = difflib.get_close_matches(str(value), names, n=3, cutoff=0.6)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    return f"{where}: {_shown(value)} is not an allowed value{hint}"


def length_message(where: str, too_long: bool, limit: int, value: str) -> str:
    if too_long:
        return f"{where}: longer than {limit} characters ({len(value)})"
    return f"{where}: shorter than {limit} characters ({len(value)})"


def format_message(where: str, value: Any, fmt: str) -> str:
    return f"{where}: {_shown(value)} is not a valid {fmt}"


def describe(error: ValidationError) -> str:
    """A jsonschema error in the same words as the compiled checker's."""
    where = location(error.absolute_path)
    kind = error.validator
    value = error.instance
    if kind == "required":
        match = _REQUIRED.match(error.message)
        missing = match.group("name") if match else str(error.validator_value)
        return f"{location((*error.absolute_path, missing))}: required field missing"
    if kind == "type":
        expected = error.validator_value
        label = " or ".join(expected) if isinstance(expected, list) else str(expected)
        return type_message(where, label, value)
    if kind == "enum":
        return enum_message(where, value, error.validator_value)
    if kind in ("maxLength", "minLength"):
        return length_message(where, kind == "maxLength", int(error.validator_value), value)
    if kind == "format":
        return format_message(where, value, str(error.validator_value))
    return f"{where}: {error.message}"
