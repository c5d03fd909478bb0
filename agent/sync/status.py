"""What ``atx status`` shows (and the control API will serve): outbox counts, the rows that need a
person, connections, budgets and the last cycle. Read from the store only: no call to Autotask
or Xero, so it answers instantly and works while either is down.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from agent.store import OutboxState, Store
from agent.sync.engine import LAST_CYCLE_STREAM
from agent.sync.orgs import oldest_catalog

S = OutboxState
ATTENTION = (S.BLOCKED, S.FAILED, S.DEAD)
ATTENTION_LIMIT = 20


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")


def collect(store: Store, now: datetime) -> dict[str, Any]:
    outbox = store.outbox
    attention = [
        {
            "row": row.id,
            "autotask_invoice_id": row.autotask_id,
            "kind": row.kind.value,
            "organisation": row.org,
            "state": row.state.value,
            "attempts": row.attempts,
            "next_attempt_at": _iso(row.next_attempt_at),
            "reasons": list(row.block_reasons) or ([row.last_error] if row.last_error else []),
        }
        for row in outbox.list_rows(states=ATTENTION, limit=ATTENTION_LIMIT)
    ]
    connections = [
        {
            "tenant_id": c.tenant_id,
            "name": c.tenant_name,
            "status": c.status,
            "auth_mode": c.auth_mode,
            "token_expires_at": _iso(c.expires_at),
            "token_expired": c.expires_at <= now,
            "has_refresh_token": c.has_refresh_token,
            "catalogs_fetched_at": _iso(oldest_catalog(store, c.tenant_id)),
        }
        for c in store.connections.list_connections()
    ]
    raw = store.cursors.get(LAST_CYCLE_STREAM)
    last: dict[str, Any] | None = None
    if raw:
        try:
            last = json.loads(raw)
        except ValueError:
            last = None
    budgets = (last or {}).get("budgets") or {"autotask": None, "xero": {}}
    return {
        "states": outbox.counts_by_state(),
        "attention": attention,
        "attention_total": outbox.count(states=ATTENTION),
        "connections": connections,
        "budgets": budgets,
        # Payments back: invoices part paid / paid in Xero, paid dates set in Autotask, and
        # those the agent could not set (with what to do).
        "payments": store.payments.counts(),
        "payment_problems": [
            {"row": p.outbox_id, "autotask_invoice_id": p.autotask_id, "problem": p.problem}
            for p in store.payments.with_problems()[:ATTENTION_LIMIT]
        ],
        "last_cycle": None
        if last is None
        else {k: v for k, v in last.items() if k not in ("budgets", "states")},
    }


def render(data: dict[str, Any]) -> list[str]:
    """The text form of ``collect``'s answer, a line at a time."""
    states = data["states"]
    shown = ", ".join(f"{n} {s}" for s, n in states.items() if n) or "empty"
    lines = [f"Outbox: {shown}"]
    last = data["last_cycle"]
    if last is None:
        lines.append("Last cycle: none yet")
    else:
        verdict = "ok" if last.get("ok") else "with failures"
        lines.append(
            f"Last cycle: finished {last.get('finished_at')} ({verdict}):"
            f" {last.get('invoices_seen')} invoices seen, {last.get('posted')} posted,"
            f" {last.get('marked')} marked; calls:"
            f" Autotask {last.get('autotask_calls')}, Xero {last.get('xero_calls')}"
        )
        for error in last.get("errors") or []:
            lines.append(f"  error: {error}")
    if not data["connections"]:
        lines.append("Xero: no organisation connected")
    for c in data["connections"]:
        expiry = "expired" if c["token_expired"] else f"token until {c['token_expires_at']}"
        lines.append(
            f"Xero: {c['name']} ({c['tenant_id']}): {c['status']}, {c['auth_mode']}, {expiry};"
            f" catalogs from {c['catalogs_fetched_at'] or 'never'}"
        )
    autotask = data["budgets"].get("autotask")
    if autotask and autotask.get("threshold"):
        lines.append(
            f"Autotask budget: {autotask['used']} of {autotask['threshold']} requests this hour"
            f" (as of {autotask.get('read_at')})"
        )
    else:
        lines.append("Autotask budget: not read yet")
    for tenant, xero in (data["budgets"].get("xero") or {}).items():
        lines.append(
            f"Xero limits {tenant}: {xero.get('minute_remaining')} left this minute,"
            f" {xero.get('day_remaining')} today"
            + (f"; paused until {xero['paused_until']}" if xero.get("paused_until") else "")
        )
    payments = data.get("payments") or {}
    if any(payments.values()):
        lines.append(
            f"Payments from Xero: {payments.get('part_paid', 0)} part paid,"
            f" {payments.get('paid', 0)} paid, {payments.get('paid_date_set', 0)} with paidDate"
            f" set in Autotask, {payments.get('problems', 0)} need attention"
        )
    for problem in data.get("payment_problems") or []:
        lines.append(f"  invoice {problem['autotask_invoice_id']}: {problem['problem']}")
    if data["attention"]:
        lines.append(f"Needs attention ({data['attention_total']}):")
        for row in data["attention"]:
            reason = row["reasons"][0] if row["reasons"] else ""
            lines.append(
                f"  invoice {row['autotask_invoice_id']} ({row['kind']}, row {row['row']}):"
                f" {row['state']}: {reason}"
            )
    return lines
