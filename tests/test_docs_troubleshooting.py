"""docs/troubleshooting.md lists messages the agent can show: each must still exist in the code.

A message is matched piece by piece: the text between its `<...>` placeholders must appear in one
string of agent/ (f-strings count, with module-level string constants such as a shared "fix" text
filled in), so rewording a message in the code without updating the table fails here.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "troubleshooting.md"
HOLE = "\0"
STRIP = " \t:;,()."


def _module_constants(tree: ast.Module) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
            if (
                isinstance(target, ast.Name)
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
            ):
                found[target.id] = value.value
    return found


def _render(node: ast.AST, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            elif isinstance(value, ast.FormattedValue) and isinstance(value.value, ast.Name):
                parts.append(constants.get(value.value.id, HOLE))
            else:
                parts.append(HOLE)
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _render(node.left, constants), _render(node.right, constants)
        if left is not None and right is not None:
            return left + right
    return None


@cache
def code_texts() -> tuple[str, ...]:
    texts: list[str] = []
    for path in sorted((REPO / "agent").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = _module_constants(tree)
        for node in ast.walk(tree):
            text = _render(node, constants)
            if text:
                texts.extend(re.split(r"%[-\d.]*[sdfr]|\{[^{}]*\}|" + HOLE, text))
    return tuple(texts)


def documented_messages() -> list[str]:
    messages = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `"):
            continue
        first_cell = line.split(" | ")[0]
        messages += re.findall(r"`([^`]+)`", first_cell)
    return messages


def pieces(message: str) -> list[str]:
    return [p.strip(STRIP) for p in re.split(r"<[^<>]+>", message) if p.strip(STRIP)]


def test_the_table_lists_many_messages() -> None:
    assert len(documented_messages()) >= 80


@pytest.mark.parametrize("message", documented_messages())
def test_documented_message_exists_in_the_code(message: str) -> None:
    found = pieces(message)
    assert found and max(len(p) for p in found) >= 7, f"too little fixed text: {message!r}"
    texts = code_texts()
    missing = [p for p in found if not any(p in text for text in texts)]
    assert not missing, f"{message!r}: not in agent/: {missing}"
