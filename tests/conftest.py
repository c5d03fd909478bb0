"""Shared fixtures. Tests never reach the real Autotask or Xero: only the sandbox on loopback."""

from __future__ import annotations

import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _no_ambient_atx_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    """A developer's own ATX_* variables or .env must never leak into a test."""
    for name in list(os.environ):
        if name.startswith("ATX_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
