"""Pages of query results and the ``pageDetails`` that link them.

The real ``nextPageUrl`` is ``…/V1.0/{Entity}/query/next?paging=<opaque>&search=<query JSON>`` and
must be POSTed with the same body; a GET answers 405 (reference §5, WYRE-AI/autotask-mcp#170).
The sandbox's opaque token is an id cursor (ids ascend), so a page is stable even when records
are added between calls.

Over 500 results need ``id`` in ``includeFields`` (reference §5, Advanced query features). Choice
made here: such a query answers its first page with ``nextPageUrl: null``, i.e. silent truncation,
which is the failure a client would meet; it is not an error.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sandbox.autotask.errors import AutotaskError

Record = dict[str, Any]


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after an id (next pages) or before one (previous pages)."""

    entity: str
    after: int | None = None
    before: int | None = None

    def encode(self) -> str:
        raw = json.dumps({"e": self.entity.lower(), "a": self.after, "b": self.before})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, entity: str) -> Cursor:
        try:
            padded = token + "=" * (-len(token) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode()))
            cursor = cls(str(data["e"]), data.get("a"), data.get("b"))
        except (ValueError, KeyError, TypeError) as exc:
            raise AutotaskError("The paging token is not valid.") from exc
        if cursor.entity != entity.lower():
            raise AutotaskError("The paging token does not belong to this entity.")
        return cursor


@dataclass(frozen=True)
class Page:
    records: list[Record]
    next_cursor: Cursor | None
    prev_cursor: Cursor | None


def slice_page(
    entity: str, matched: list[Record], size: int, cursor: Cursor | None, *, pageable: bool
) -> Page:
    """One page of ``matched`` (sorted by id) starting at ``cursor``."""
    if cursor is not None and cursor.before is not None:
        earlier = [r for r in matched if r["id"] < cursor.before]
        records = earlier[-size:]
    else:
        after = cursor.after if cursor is not None and cursor.after is not None else None
        later = matched if after is None else [r for r in matched if r["id"] > after]
        records = later[:size]
    if not records or not pageable:
        return Page(records, None, None)
    first, last = records[0]["id"], records[-1]["id"]
    has_next = any(r["id"] > last for r in matched)
    has_prev = any(r["id"] < first for r in matched)
    return Page(
        records,
        Cursor(entity, after=last) if has_next else None,
        Cursor(entity, before=first) if has_prev else None,
    )


def page_url(
    base_url: str, entity: str, cursor: Cursor | None, search: dict[str, Any]
) -> str | None:
    if cursor is None:
        return None
    query = quote(json.dumps(search, separators=(",", ":")), safe="")
    return f"{base_url}V1.0/{entity}/query/next?paging={cursor.encode()}&search={query}"


def page_details(
    base_url: str, entity: str, page: Page, request_count: int, search: dict[str, Any]
) -> dict[str, Any]:
    return {
        "count": len(page.records),
        "requestCount": request_count,
        "prevPageUrl": page_url(base_url, entity, page.prev_cursor, search),
        "nextPageUrl": page_url(base_url, entity, page.next_cursor, search),
    }
