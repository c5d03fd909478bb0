"""Claiming outbox rows with leases, crash recovery, and the user's retry and skip."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from store_fixtures import START, FakeClock, open_store, row_in_state

from agent.store import IllegalTransition, LeaseLost, OutboxState, Store

S = OutboxState


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    with open_store(tmp_path, clock) as opened:
        yield opened


def _pending(store: Store, count: int, *, kind: str = "invoice", org: str = "org-a") -> list[int]:
    ids = []
    for n in range(count):
        row = store.outbox.upsert_discovered(kind, 1000 + n, org, {"n": n})
        ids.append(store.outbox.transition(row.id, S.PENDING).id)
    return ids


def test_claim_leases_due_pending_rows_oldest_first(store: Store, clock: FakeClock) -> None:
    ids = _pending(store, 3)

    claimed = store.outbox.claim("worker-1", 30, 2)

    assert [r.id for r in claimed] == ids[:2]
    for row in claimed:
        assert row.state is S.POSTING
        assert row.lease_owner == "worker-1"
        assert row.lease_expires_at == START + timedelta(seconds=30)
        assert row.attempts == 1
    assert store.outbox.counts_by_state()["pending"] == 1


def test_claim_writes_one_event_per_claimed_row(store: Store) -> None:
    (row_id,) = _pending(store, 1)
    store.outbox.claim("worker-1", 30, 5)

    last = store.outbox.events(row_id)[-1]
    assert (last.from_state, last.to_state, last.attempt) == (S.PENDING, S.POSTING, 1)
    assert last.detail == "claimed by worker-1"


def test_claim_waits_for_the_next_attempt_time(store: Store, clock: FakeClock) -> None:
    (row_id,) = _pending(store, 1)
    store.outbox.claim("w", 30, 1)
    store.outbox.transition(
        row_id, S.PENDING, owner="w", next_attempt_at=START + timedelta(seconds=60)
    )

    assert store.outbox.claim("w", 30, 1) == []
    clock.advance(60)
    assert [r.id for r in store.outbox.claim("w", 30, 1)] == [row_id]


def test_claim_can_be_limited_to_kinds_and_an_organisation(store: Store) -> None:
    _pending(store, 2, kind="invoice", org="org-a")
    (credit_b,) = _pending(store, 1, kind="credit_note", org="org-b")
    (credit_a,) = _pending(store, 1, kind="credit_note", org="org-a")

    assert store.outbox.claim("w", 30, 10, kinds=["credit_note"], org="org-a")[0].id == credit_a
    assert [r.id for r in store.outbox.claim("w", 30, 10, kinds=["credit_note"])] == [credit_b]
    assert store.outbox.claim("w", 30, 10, kinds=[]) == []


def test_claim_never_hands_the_same_row_to_two_workers(tmp_path: Path, clock: FakeClock) -> None:
    with open_store(tmp_path, clock) as setup:
        all_ids = _pending(setup, 120)
    workers = 4
    start = threading.Barrier(workers)
    claimed: dict[int, list[int]] = {n: [] for n in range(workers)}
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            with open_store(tmp_path, clock) as own:  # own connection, like another process
                start.wait()
                while batch := own.outbox.claim(f"worker-{n}", 60, 3):
                    claimed[n].extend(r.id for r in batch)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    every_claim = [row_id for ids in claimed.values() for row_id in ids]
    assert sorted(every_claim) == all_ids  # each row exactly once
    with open_store(tmp_path, clock) as check:
        assert check.outbox.counts_by_state()["posting"] == len(all_ids)
        owners = {r.id: r.lease_owner for r in check.outbox.list_rows(limit=1000)}
        for n, ids in claimed.items():
            assert all(owners[i] == f"worker-{n}" for i in ids)


def test_threads_sharing_one_store_never_claim_the_same_row(store: Store) -> None:
    all_ids = _pending(store, 60)
    claimed: list[int] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        while batch := store.outbox.claim(f"thread-{n}", 60, 2):
            with lock:
                claimed.extend(r.id for r in batch)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(claimed) == all_ids


def test_the_lease_holder_can_extend_its_lease(store: Store, clock: FakeClock) -> None:
    (row_id,) = _pending(store, 1)
    store.outbox.claim("w", 30, 1)
    clock.advance(20)

    expires = store.outbox.extend_lease(row_id, "w", 30)

    assert expires == START + timedelta(seconds=50)
    row = store.outbox.get(row_id)
    assert row is not None and row.lease_expires_at == expires
    clock.advance(15)  # past the first lease, inside the extended one
    assert store.outbox.release_expired_leases() == 0


def test_only_the_lease_holder_can_extend_the_lease(store: Store) -> None:
    (row_id,) = _pending(store, 1)
    store.outbox.claim("w", 30, 1)

    with pytest.raises(LeaseLost):
        store.outbox.extend_lease(row_id, "someone-else", 30)


def test_expired_leases_return_to_pending_needing_a_lookup(store: Store, clock: FakeClock) -> None:
    (row_id,) = _pending(store, 1)
    store.outbox.claim("crashed-worker", 30, 1)
    clock.advance(30)

    assert store.outbox.release_expired_leases() == 1

    row = store.outbox.get(row_id)
    assert row is not None
    assert (row.state, row.needs_lookup, row.lease_owner, row.attempts) == (
        S.PENDING,
        True,
        None,
        1,
    )
    last = store.outbox.events(row_id)[-1]
    assert (last.from_state, last.detail) == (S.POSTING, "lease expired; outcome unknown")


def test_leases_still_running_are_left_alone(store: Store, clock: FakeClock) -> None:
    _pending(store, 1)
    store.outbox.claim("w", 30, 1)
    clock.advance(29)

    assert store.outbox.release_expired_leases() == 0
    assert store.outbox.counts_by_state()["posting"] == 1


def test_due_failures_are_requeued_and_remember_an_unknown_outcome(
    store: Store, clock: FakeClock
) -> None:
    early, late = _pending(store, 2)
    store.outbox.claim("w", 30, 2)
    store.outbox.record_failure(
        early, error="timeout", retry_at=START + timedelta(seconds=60), needs_lookup=True
    )
    store.outbox.record_failure(late, error="503", retry_at=START + timedelta(seconds=600))
    clock.advance(60)

    assert store.outbox.requeue_due_failures() == 1

    requeued = store.outbox.get(early)
    assert requeued is not None
    assert (requeued.state, requeued.needs_lookup, requeued.next_attempt_at) == (
        S.PENDING,
        True,
        None,
    )
    still_failed = store.outbox.get(late)
    assert still_failed is not None and still_failed.state is S.FAILED


def test_retrying_a_dead_row_resets_its_attempts(store: Store) -> None:
    dead = row_in_state(store, S.DEAD)
    assert dead.attempts == 1

    retried = store.outbox.retry(dead.id)

    assert (retried.state, retried.attempts) == (S.PENDING, 0)
    assert store.outbox.events(dead.id)[-1].detail == "retried by user"


def test_retrying_a_failed_row_keeps_its_attempts(store: Store) -> None:
    failed = row_in_state(store, S.FAILED)
    assert store.outbox.retry(failed.id).attempts == failed.attempts == 1


@pytest.mark.parametrize("state", [S.PENDING, S.POSTING, S.POSTED, S.DONE, S.VOIDED])
def test_retry_refuses_rows_that_are_not_failed_dead_blocked_or_skipped(
    store: Store, state: OutboxState
) -> None:
    row = row_in_state(store, state)
    with pytest.raises(IllegalTransition):
        store.outbox.retry(row.id)


def test_retry_all_failed_requeues_failed_and_dead_rows(store: Store) -> None:
    failed = row_in_state(store, S.FAILED, autotask_id=1, org="a")
    dead = row_in_state(store, S.DEAD, autotask_id=2, org="b")
    blocked = row_in_state(store, S.BLOCKED, autotask_id=3, org="c")

    assert store.outbox.retry_all_failed() == 2

    states = {r.id: r.state for r in store.outbox.list_rows()}
    assert states == {failed.id: S.PENDING, dead.id: S.PENDING, blocked.id: S.BLOCKED}


def test_retry_all_blocked_can_be_limited_to_one_organisation(store: Store) -> None:
    in_a = row_in_state(store, S.BLOCKED, autotask_id=1, org="a")
    in_b = row_in_state(store, S.BLOCKED, autotask_id=2, org="b")

    assert store.outbox.retry_all_blocked(org="a") == 1

    assert store.outbox.find("invoice", 1, "a") == store.outbox.get(in_a.id)
    a_row, b_row = store.outbox.get(in_a.id), store.outbox.get(in_b.id)
    assert a_row is not None and a_row.state is S.PENDING
    assert b_row is not None and b_row.state is S.BLOCKED


def test_the_user_can_skip_a_row_and_bring_it_back(store: Store) -> None:
    row = row_in_state(store, S.BLOCKED)

    skipped = store.outbox.skip(row.id, reason="paid in cash, not for Xero")

    assert skipped.state is S.SKIPPED
    assert store.outbox.events(row.id)[-1].detail == "paid in cash, not for Xero"
    assert store.outbox.retry(row.id).state is S.PENDING


def test_resync_of_a_done_row_keeps_its_xero_identity(store: Store) -> None:
    done = row_in_state(store, S.DONE)

    again = store.outbox.resync(done.id)

    assert again.state is S.PENDING
    assert again.xero_id == done.xero_id == "xero-1001"
