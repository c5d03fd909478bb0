"""Shared fixtures. Tests never reach the real Autotask or Xero: only the sandbox on loopback."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _no_ambient_atx_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    """A developer's own ATX_* variables or .env must never leak into a test."""
    for name in list(os.environ):
        if name.startswith("ATX_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _restore_atx_logger() -> Iterator[None]:
    """`setup_logging` (run by CLI tests in-process) detaches the ``atx`` logger from the root
    and gives it a handler on that test's stdout; put it back so later tests' caplog sees
    the records."""
    import logging

    logger = logging.getLogger("atx")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]
