"""``limit_malloc_arenas`` (agent/memory.py): set on glibc, left alone when the environment sets
it; ``atx agent`` and ``atx sync`` call it before any thread exists."""

from __future__ import annotations

import sys

import pytest

from agent import cli, memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_the_limit_is_set_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert memory.limit_malloc_arenas() is True


def test_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert memory.limit_malloc_arenas() is False


@pytest.mark.parametrize(
    ("command", "limited"), [("agent", True), ("sync", True), ("status", False)]
)
def test_the_long_running_commands_limit_it(
    monkeypatch: pytest.MonkeyPatch, command: str, limited: bool
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(cli, "limit_malloc_arenas", lambda: calls.append(1) or True)
    parser = cli.build_parser()
    args = parser.parse_args([command])
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(args, "handler", lambda _: 0)
    monkeypatch.setattr(parser, "parse_args", lambda argv: args)
    assert cli.main([command]) == 0
    assert calls == ([1] if limited else [])
