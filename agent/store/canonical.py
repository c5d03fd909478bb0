"""Canonical JSON and content hashes, so the same document always hashes the same."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from typing import Any


def _default(value: object) -> object:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"cannot store a {type(value).__name__} as JSON")


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 kept: equal data gives equal text."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    )


def content_hash(value: Any) -> str:
    """sha256 hex digest of the canonical JSON of ``value``."""
    return sha256_text(canonical_json(value))


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
