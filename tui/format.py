"""Plain-text formatting of the API's values for narrow terminals (no Textual here)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def when(value: Any) -> str:
    """``2026-03-02 12:00`` (UTC) from an ISO timestamp; ``—`` for none."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M")


def money(total: Any, currency: Any = None) -> str:
    if total is None or total == "":
        return ""
    try:
        amount = f"{float(total):,.2f}"
    except (TypeError, ValueError):
        amount = str(total)
    return f"{amount} {currency}" if currency else amount


def cell(value: Any, width: int) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


STATE_STYLE = {
    "done": "green",
    "posted": "green",
    "pending": "cyan",
    "discovered": "cyan",
    "posting": "bold cyan",
    "failed": "yellow",
    "dead": "bold red",
    "blocked": "red",
    "skipped": "dim",
    "voided": "dim",
}

STATES = (
    "discovered",
    "pending",
    "posting",
    "posted",
    "done",
    "failed",
    "dead",
    "blocked",
    "skipped",
    "voided",
)


def org_labels(connections: list[dict[str, Any]]) -> dict[str, str]:
    """Short names that tell the organisations apart in a narrow column: the words all their
    names share at the start are dropped ("Acme IT Pty Ltd", "Acme IT UK Ltd" -> "Pty Ltd",
    "UK Ltd")."""
    names = {str(c.get("tenant_id")): str(c.get("name") or c.get("tenant_id")) for c in connections}
    if len(names) < 2:
        return names
    words = [name.split() for name in names.values()]
    shared = 0
    while all(len(w) > shared + 1 for w in words) and len({w[shared] for w in words}) == 1:
        shared += 1
    return {tenant: " ".join(name.split()[shared:]) for tenant, name in names.items()}
