"""What an outbox row is: document kinds, states, the allowed transitions, and the row type."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypedDict

from agent.store.canonical import canonical_json, sha256_text
from agent.store.clock import from_db, from_db_or_none, to_db_or_none

DEFAULT_MAX_ATTEMPTS = 5


class OutboxKind(StrEnum):
    """The kinds of document the agent sends (one outbox row per kind, Autotask id, org)."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    PURCHASE_ORDER = "purchase_order"
    ITEM = "item"
    CONTACT = "contact"
    PAYMENT = "payment"
    # An approved Autotask expense report as a Xero bill (agent/sync/expenses.py).
    EXPENSE = "expense"
    # Work on a document already in Xero: delete or void it because its Autotask invoice was
    # voided (agent/sync/voids.py); the snapshot names the document row it acts on.
    VOID = "void"


class OutboxState(StrEnum):
    DISCOVERED = "discovered"
    PENDING = "pending"
    POSTING = "posting"
    POSTED = "posted"
    DONE = "done"
    FAILED = "failed"
    DEAD = "dead"
    BLOCKED = "blocked"
    SKIPPED = "skipped"
    VOIDED = "voided"


S = OutboxState

TRANSITIONS: Mapping[OutboxState, frozenset[OutboxState]] = {
    S.DISCOVERED: frozenset({S.PENDING, S.BLOCKED, S.SKIPPED}),
    # pending/blocked -> voided: a sent purchase order cancelled in Autotask, its Xero document
    # deleted (agent/sync/purchase_orders.py).
    S.PENDING: frozenset({S.POSTING, S.BLOCKED, S.SKIPPED, S.VOIDED}),
    # posting -> pending: the lease was released (or expired) without a known outcome.
    S.POSTING: frozenset({S.POSTED, S.FAILED, S.DEAD, S.BLOCKED, S.PENDING}),
    # posted -> failed: the Autotask write-back failed; the row keeps its xero_id.
    S.POSTED: frozenset({S.DONE, S.FAILED, S.VOIDED}),
    S.FAILED: frozenset({S.PENDING, S.DEAD, S.SKIPPED}),
    S.DEAD: frozenset({S.PENDING, S.SKIPPED}),
    S.BLOCKED: frozenset({S.PENDING, S.SKIPPED, S.VOIDED}),
    S.SKIPPED: frozenset({S.PENDING}),
    # done -> blocked: its Autotask source changed after the document was approved in Xero, and
    # a person decides (purchase orders, agent/sync/purchase_orders.py).
    S.DONE: frozenset({S.VOIDED, S.PENDING, S.BLOCKED}),
    S.VOIDED: frozenset(),
}

# States in which a changed Autotask record may still replace the stored snapshot.
SNAPSHOT_REPLACEABLE: frozenset[OutboxState] = frozenset(
    {S.DISCOVERED, S.PENDING, S.BLOCKED, S.FAILED, S.DEAD, S.SKIPPED}
)


def is_allowed(from_state: OutboxState, to_state: OutboxState) -> bool:
    return to_state in TRANSITIONS[from_state]


class OutboxFields(TypedDict, total=False):
    """Columns a caller may set together with a state change (``Outbox.transition``)."""

    payload: Mapping[str, Any] | None
    xero_id: str | None
    xero_number: str | None
    last_error: str | None
    block_reasons: Sequence[str]
    next_attempt_at: datetime | None
    needs_lookup: bool


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    kind: OutboxKind
    autotask_id: str
    org: str
    state: OutboxState
    snapshot_json: str = field(repr=False)
    snapshot_hash: str
    payload_json: str | None = field(repr=False)
    payload_hash: str | None
    xero_id: str | None
    xero_number: str | None
    attempts: int
    max_attempts: int
    next_attempt_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    needs_lookup: bool
    last_error: str | None
    block_reasons: tuple[str, ...]
    created_at: datetime
    updated_at: datetime

    @property
    def snapshot(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.snapshot_json)
        return value

    @property
    def payload(self) -> dict[str, Any] | None:
        if self.payload_json is None:
            return None
        value: dict[str, Any] = json.loads(self.payload_json)
        return value

    @classmethod
    def from_db(cls, row: Mapping[str, Any]) -> OutboxRow:
        return cls(
            id=int(row["id"]),
            kind=OutboxKind(row["kind"]),
            autotask_id=str(row["autotask_id"]),
            org=str(row["org"]),
            state=OutboxState(row["state"]),
            snapshot_json=row["snapshot_json"],
            snapshot_hash=row["snapshot_hash"],
            payload_json=row["payload_json"],
            payload_hash=row["payload_hash"],
            xero_id=row["xero_id"],
            xero_number=row["xero_number"],
            attempts=int(row["attempts"]),
            max_attempts=int(row["max_attempts"]),
            next_attempt_at=from_db_or_none(row["next_attempt_at"]),
            lease_owner=row["lease_owner"],
            lease_expires_at=from_db_or_none(row["lease_expires_at"]),
            needs_lookup=bool(row["needs_lookup"]),
            last_error=row["last_error"],
            block_reasons=tuple(json.loads(row["block_reasons"])),
            created_at=from_db(row["created_at"]),
            updated_at=from_db(row["updated_at"]),
        )


_FIELD_NAMES = OutboxFields.__optional_keys__ | OutboxFields.__required_keys__


def field_columns(fields: Mapping[str, Any]) -> dict[str, object]:
    """Caller-facing fields (``OutboxFields``) as column values."""
    columns: dict[str, object] = {}
    for name, value in fields.items():
        if name not in _FIELD_NAMES:
            raise TypeError(f"unknown outbox field {name!r}")
        if name == "payload":
            text = None if value is None else canonical_json(value)
            columns["payload_json"] = text
            # content_hash(value), without serialising the payload a second time.
            columns["payload_hash"] = None if text is None else sha256_text(text)
        elif name == "block_reasons":
            if isinstance(value, str) or not all(isinstance(r, str) for r in value):
                raise TypeError("block_reasons must be a sequence of strings")
            columns["block_reasons"] = json.dumps(list(value))
        elif name == "next_attempt_at":
            columns["next_attempt_at"] = to_db_or_none(value)
        elif name == "needs_lookup":
            columns["needs_lookup"] = int(bool(value))
        else:
            columns[name] = value
    return columns


def implied_columns(row: OutboxRow, target: OutboxState) -> dict[str, object]:
    """What a state change implies unless the caller says otherwise."""
    columns: dict[str, object] = {}
    if row.state is S.POSTING:
        columns.update(lease_owner=None, lease_expires_at=None)
    if row.state is S.BLOCKED and target is not S.BLOCKED:
        columns["block_reasons"] = "[]"
    if target is S.PENDING:
        columns["next_attempt_at"] = None
    if target in (S.POSTED, S.DONE):
        columns.update(needs_lookup=0, last_error=None)
    return columns
