"""The outbox audit trail: one ``outbox_events`` row per state change, in the same transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.store.clock import from_db
from agent.store.db import StoreDB
from agent.store.outbox_model import OutboxState


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    id: int
    outbox_id: int
    at: datetime
    from_state: OutboxState | None  # None for the event that created the row
    to_state: OutboxState
    detail: str | None
    attempt: int

    @classmethod
    def from_db(cls, row: Mapping[str, Any]) -> OutboxEvent:
        return cls(
            id=int(row["id"]),
            outbox_id=int(row["outbox_id"]),
            at=from_db(row["at"]),
            from_state=None if row["from_state"] is None else OutboxState(row["from_state"]),
            to_state=OutboxState(row["to_state"]),
            detail=row["detail"],
            attempt=int(row["attempt"]),
        )


def record_event(
    store_db: StoreDB,
    *,
    outbox_id: int,
    at: str,
    from_state: str | None,
    to_state: str,
    detail: str | None,
    attempt: int,
) -> None:
    """Append one event. Call it inside the ``write()`` transaction that changed the row."""
    if not store_db.conn.in_transaction:
        raise RuntimeError("outbox events must be written in the transaction of the change")
    store_db.execute(
        "INSERT INTO outbox_events (outbox_id, at, from_state, to_state, detail, attempt) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (outbox_id, at, from_state, to_state, detail, attempt),
    )


def events_for(store_db: StoreDB, outbox_id: int) -> list[OutboxEvent]:
    """Every event of one row, oldest first."""
    rows = store_db.query(
        "SELECT * FROM outbox_events WHERE outbox_id = ? ORDER BY id", (outbox_id,)
    )
    return [OutboxEvent.from_db(row) for row in rows]
