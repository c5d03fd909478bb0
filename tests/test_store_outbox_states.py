"""The outbox state machine: documents, allowed and refused moves, and their audit events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from store_fixtures import START, FakeClock, open_store, row_in_state

from agent.store import (
    TRANSITIONS,
    IllegalTransition,
    LeaseLost,
    OutboxState,
    StateConflict,
    Store,
)
from agent.store.canonical import content_hash

S = OutboxState

ALLOWED = sorted((a, b) for a, targets in TRANSITIONS.items() for b in targets)
REFUSED = sorted((a, b) for a in S for b in S if b not in TRANSITIONS[a] and b is not S.POSTING)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    with open_store(tmp_path, clock) as opened:
        yield opened


def test_a_new_document_starts_discovered_with_an_event(store: Store) -> None:
    row = store.outbox.upsert_discovered("invoice", 501, "org-a", {"id": 501, "total": "10.00"})

    assert row.state is S.DISCOVERED
    assert (row.kind, row.autotask_id, row.org) == ("invoice", "501", "org-a")
    assert row.snapshot == {"id": 501, "total": "10.00"}
    assert row.snapshot_hash == content_hash({"total": "10.00", "id": 501})
    (event,) = store.outbox.events(row.id)
    assert (event.from_state, event.to_state, event.attempt) == (None, S.DISCOVERED, 0)


def test_discovering_a_document_again_never_duplicates_it(store: Store) -> None:
    first = store.outbox.upsert_discovered("invoice", 501, "org-a", {"id": 501})
    again = store.outbox.upsert_discovered("invoice", "501", "org-a", {"id": 501})

    assert again == first
    assert store.outbox.count() == 1
    assert len(store.outbox.events(first.id)) == 1


def test_the_same_autotask_id_is_one_row_per_kind_and_organisation(store: Store) -> None:
    ids = {
        store.outbox.upsert_discovered(kind, 501, org, {"id": 501}).id
        for kind in ("invoice", "credit_note")
        for org in ("org-a", "org-b", "")
    }
    assert len(ids) == 6


def test_unknown_document_kind_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="banana"):
        store.outbox.upsert_discovered("banana", 1, "org-a", {})


def test_a_changed_snapshot_replaces_the_old_one_before_posting(store: Store) -> None:
    row = store.outbox.upsert_discovered("invoice", 501, "org-a", {"total": "10.00"})
    row = store.outbox.transition(row.id, S.PENDING, payload={"Total": "10.00"})

    changed = store.outbox.upsert_discovered("invoice", 501, "org-a", {"total": "12.00"})

    assert changed.id == row.id
    assert changed.state is S.PENDING
    assert changed.snapshot == {"total": "12.00"}
    assert changed.payload is None and changed.payload_hash is None  # built from the old one
    last = store.outbox.events(row.id)[-1]
    assert (last.from_state, last.to_state, last.detail) == (
        S.PENDING,
        S.PENDING,
        "snapshot changed",
    )


def test_a_changed_snapshot_does_not_touch_a_posted_document(store: Store) -> None:
    posted = row_in_state(store, S.POSTED)

    seen = store.outbox.upsert_discovered("invoice", 1001, "org-a", {"id": 1001, "total": "99"})

    assert seen == posted
    assert seen.snapshot == {"id": 1001}


@pytest.mark.parametrize(("from_state", "to_state"), ALLOWED)
def test_every_allowed_transition_succeeds_and_is_recorded(
    store: Store, from_state: OutboxState, to_state: OutboxState
) -> None:
    row = row_in_state(store, from_state)
    if to_state is S.POSTING:
        (moved,) = store.outbox.claim("worker", 60, 10)
    else:
        moved = store.outbox.transition(row.id, to_state, detail="because")

    assert moved.state is to_state
    assert store.outbox.get(row.id) == moved
    last = store.outbox.events(row.id)[-1]
    assert (last.from_state, last.to_state) == (from_state, to_state)


@pytest.mark.parametrize(("from_state", "to_state"), REFUSED)
def test_illegal_transition_is_refused(
    store: Store, from_state: OutboxState, to_state: OutboxState
) -> None:
    row = row_in_state(store, from_state)
    events_before = store.outbox.events(row.id)

    with pytest.raises(IllegalTransition) as refused:
        store.outbox.transition(row.id, to_state)

    message = str(refused.value)
    assert str(row.id) in message and from_state.value in message and to_state.value in message
    assert store.outbox.get(row.id) == row
    assert store.outbox.events(row.id) == events_before


def test_voided_is_terminal(store: Store) -> None:
    row = row_in_state(store, S.VOIDED)
    for target in S:
        if target is not S.POSTING:
            with pytest.raises(IllegalTransition):
                store.outbox.transition(row.id, target)
    assert store.outbox.retry_all_failed() == 0
    assert store.outbox.get(row.id) == row


def test_rows_enter_posting_only_by_being_claimed(store: Store) -> None:
    row = row_in_state(store, S.PENDING)
    with pytest.raises(ValueError, match="claim"):
        store.outbox.transition(row.id, S.POSTING)


def test_a_transition_from_an_unexpected_state_is_a_conflict(store: Store) -> None:
    row = row_in_state(store, S.BLOCKED)
    with pytest.raises(StateConflict, match="blocked"):
        store.outbox.transition(row.id, S.SKIPPED, expected_from=S.PENDING)
    assert store.outbox.get(row.id) == row


def test_state_change_and_its_event_commit_together(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    row = row_in_state(store, S.PENDING)

    def event_write_fails(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("agent.store.outbox.record_event", event_write_fails)
    with pytest.raises(OSError):
        store.outbox.transition(row.id, S.BLOCKED, block_reasons=["no tax mapping"])

    assert store.outbox.get(row.id) == row


def test_fields_are_saved_with_the_state_change(store: Store, clock: FakeClock) -> None:
    row = row_in_state(store, S.DISCOVERED)
    blocked = store.outbox.transition(
        row.id, S.BLOCKED, block_reasons=["tax code GST has no mapping", "no contact"]
    )
    assert blocked.block_reasons == ("tax code GST has no mapping", "no contact")

    pending = store.outbox.transition(blocked.id, S.PENDING, payload={"Type": "ACCREC"})
    assert pending.block_reasons == ()  # leaving 'blocked' clears the reasons
    assert pending.payload == {"Type": "ACCREC"}
    assert pending.payload_hash == content_hash({"Type": "ACCREC"})
    assert pending.updated_at == clock()


def test_block_reasons_must_be_a_list_not_a_string(store: Store) -> None:
    row = row_in_state(store, S.DISCOVERED)
    with pytest.raises(TypeError):
        store.outbox.transition(row.id, S.BLOCKED, block_reasons="no tax mapping")


def test_a_failed_write_back_keeps_the_xero_id(store: Store) -> None:
    posted = row_in_state(store, S.POSTED)

    failed = store.outbox.transition(posted.id, S.FAILED, last_error="Autotask 500")

    assert failed.xero_id == posted.xero_id == "xero-1001"
    assert failed.last_error == "Autotask 500"


def test_a_worker_whose_lease_was_taken_over_cannot_finish_the_row(
    store: Store, clock: FakeClock
) -> None:
    row = row_in_state(store, S.PENDING)
    store.outbox.claim("worker-1", 30, 1)
    clock.advance(31)
    store.outbox.release_expired_leases()
    store.outbox.claim("worker-2", 30, 1)

    with pytest.raises(LeaseLost, match="worker-1"):
        store.outbox.transition(row.id, S.POSTED, owner="worker-1", xero_id="late")

    current = store.outbox.get(row.id)
    assert current is not None
    assert (current.state, current.lease_owner, current.xero_id) == (S.POSTING, "worker-2", None)


def test_the_lease_holder_finishes_its_row_and_the_lease_is_cleared(store: Store) -> None:
    row = row_in_state(store, S.PENDING)
    store.outbox.claim("worker-1", 30, 1)

    posted = store.outbox.transition(
        row.id, S.POSTED, owner="worker-1", xero_id="X-1", xero_number="INV-0001"
    )

    assert (posted.xero_id, posted.xero_number) == ("X-1", "INV-0001")
    assert posted.lease_owner is None and posted.lease_expires_at is None


def test_update_changes_fields_without_a_state_change_and_records_it(store: Store) -> None:
    row = row_in_state(store, S.BLOCKED)

    updated = store.outbox.update(row.id, block_reasons=["still no contact"])

    assert updated.state is S.BLOCKED
    assert updated.block_reasons == ("still no contact",)
    last = store.outbox.events(row.id)[-1]
    assert (last.from_state, last.to_state, last.detail) == (
        S.BLOCKED,
        S.BLOCKED,
        "updated block_reasons",
    )


def test_a_failure_is_retried_later_until_attempts_run_out(store: Store, clock: FakeClock) -> None:
    row = store.outbox.upsert_discovered("invoice", 7, "org-a", {"id": 7}, max_attempts=2)
    store.outbox.transition(row.id, S.PENDING)
    retry_at = START + timedelta(minutes=5)

    store.outbox.claim("w", 30, 1)
    first = store.outbox.record_failure(row.id, error="HTTP 503", retry_at=retry_at, owner="w")
    assert (first.state, first.attempts, first.next_attempt_at) == (S.FAILED, 1, retry_at)
    assert first.last_error == "HTTP 503"

    clock.advance(300)
    store.outbox.requeue_due_failures()
    store.outbox.claim("w", 30, 1)
    second = store.outbox.record_failure(row.id, error="HTTP 503", retry_at=retry_at, owner="w")
    assert (second.state, second.attempts, second.next_attempt_at) == (S.DEAD, 2, None)
    assert "attempts exhausted" in (store.outbox.events(row.id)[-1].detail or "")


def test_a_row_discovered_before_routing_is_given_its_organisation(store: Store) -> None:
    row = store.outbox.upsert_discovered("invoice", 501, "", {"id": 501})
    store.outbox.transition(row.id, S.BLOCKED, block_reasons=["no routing for company 12"])

    routed = store.outbox.route(row.id, "org-a")

    assert (routed.org, routed.state) == ("org-a", S.BLOCKED)
    assert store.outbox.find("invoice", 501, "org-a") == routed
    assert store.outbox.events(row.id)[-1].detail == "routed to organisation 'org-a'"


def test_a_posted_row_cannot_be_re_routed(store: Store) -> None:
    posted = row_in_state(store, S.POSTED)
    with pytest.raises(StateConflict, match="re-routed"):
        store.outbox.route(posted.id, "org-b")
    assert store.outbox.get(posted.id) == posted
