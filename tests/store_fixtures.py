"""Helpers for the store tests: a clock the test moves by hand, and rows put in a given state."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.store import OutboxRow, OutboxState, Store

START = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
TEST_KEY = "correct horse battery staple"


class FakeClock:
    """UTC time that only moves when the test says so (safe to share between threads)."""

    def __init__(self, start: datetime = START) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now


def open_store(
    data_dir: Path,
    clock: FakeClock,
    *,
    secret_key: str | None = TEST_KEY,
    allow_plaintext_secrets: bool = False,
) -> Store:
    return Store.open(
        data_dir,
        secret_key=secret_key,
        allow_plaintext_secrets=allow_plaintext_secrets,
        now=clock,
    )


S = OutboxState

# A legal path from 'discovered' to each state (posting is entered through claim()).
PATHS: dict[OutboxState, tuple[OutboxState, ...]] = {
    S.DISCOVERED: (),
    S.PENDING: (S.PENDING,),
    S.POSTING: (S.PENDING, S.POSTING),
    S.POSTED: (S.PENDING, S.POSTING, S.POSTED),
    S.DONE: (S.PENDING, S.POSTING, S.POSTED, S.DONE),
    S.FAILED: (S.PENDING, S.POSTING, S.FAILED),
    S.DEAD: (S.PENDING, S.POSTING, S.DEAD),
    S.BLOCKED: (S.BLOCKED,),
    S.SKIPPED: (S.SKIPPED,),
    S.VOIDED: (S.PENDING, S.POSTING, S.POSTED, S.VOIDED),
}


def row_in_state(
    store: Store, state: OutboxState, *, autotask_id: int = 1001, org: str = "org-a"
) -> OutboxRow:
    """A fresh invoice row driven through legal moves to ``state``.

    Reaching ``posting`` claims every pending row of ``org``: use a separate org per row when
    other rows must stay pending."""
    row = store.outbox.upsert_discovered("invoice", autotask_id, org, {"id": autotask_id})
    for step in PATHS[state]:
        if step is S.POSTING:
            (row,) = [r for r in store.outbox.claim("setup", 300, 1000, org=org) if r.id == row.id]
        elif step is S.POSTED:
            row = store.outbox.transition(row.id, step, xero_id=f"xero-{autotask_id}")
        else:
            row = store.outbox.transition(row.id, step)
    assert row.state is state
    return row
