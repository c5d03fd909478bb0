"""Named locks across threads and processes, and the single-flight token refresh lock."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from store_fixtures import START, FakeClock, open_store

from agent.store import LockBusy, Store, TenantInfo


def _connect(store: Store, *tenants: str) -> None:
    store.connections.save_authorization(
        auth_mode="code",
        client_id="client-1",
        access_token="access",
        refresh_token="refresh",
        expires_at=START + timedelta(minutes=30),
        scope=["offline_access"],
        tenants=[TenantInfo(t, t) for t in tenants],
    )


def _max_concurrent_holders(stores: list[Store], tenants: list[str], rounds: int) -> int:
    """Threads (one per store/tenant pair) repeatedly take the refresh lock; the most that were
    ever inside it at once."""
    inside = 0
    most = 0
    counter = threading.Lock()
    start = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def work(store: Store, tenant: str) -> None:
        nonlocal inside, most
        try:
            start.wait()
            for _ in range(rounds):
                with store.connections.refresh_lock(tenant, wait_seconds=20):
                    with counter:
                        inside += 1
                        most = max(most, inside)
                    time.sleep(0.001)  # widen the window a second holder would show up in
                    with counter:
                        inside -= 1
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=(s, t)) for s, t in zip(stores, tenants, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return most


def test_two_processes_cannot_hold_the_refresh_lock_at_once(tmp_path: Path) -> None:
    clock = FakeClock()
    with open_store(tmp_path, clock) as setup:
        _connect(setup, "tenant-a", "tenant-b")
    # Separate Store objects have separate connections and thread locks, like processes.
    stores = [open_store(tmp_path, clock) for _ in range(3)]
    try:
        most = _max_concurrent_holders(stores, ["tenant-a", "tenant-b", "tenant-a"], rounds=15)
    finally:
        for store in stores:
            store.close()
    assert most == 1


def test_threads_sharing_a_store_cannot_hold_the_refresh_lock_at_once(tmp_path: Path) -> None:
    with open_store(tmp_path, FakeClock()) as store:
        _connect(store, "tenant-a")
        assert _max_concurrent_holders([store] * 4, ["tenant-a"] * 4, rounds=15) == 1


@pytest.mark.parametrize("shared", [True, False], ids=["same-store", "separate-stores"])
def test_a_second_thread_cannot_take_the_refresh_lock_while_it_is_held(
    tmp_path: Path, shared: bool
) -> None:
    clock = FakeClock()
    first = open_store(tmp_path, clock)
    second = first if shared else open_store(tmp_path, clock)
    _connect(first, "tenant-a")
    held, let_go = threading.Event(), threading.Event()

    def holder() -> None:
        with first.connections.refresh_lock("tenant-a"):
            held.set()
            let_go.wait(timeout=10)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(timeout=10)
        with pytest.raises(LockBusy), second.connections.refresh_lock("tenant-a", wait_seconds=0):
            pass
    finally:
        let_go.set()
        thread.join()
    connection = second.connections.get("tenant-a")
    assert connection is not None
    with second.connections.refresh_lock("tenant-a", wait_seconds=0) as taken:
        assert second.locks.holder(f"xero-token-refresh:{connection.grant_id}") == taken
    first.close()
    if not shared:
        second.close()


def test_a_held_lock_is_refused_to_another_holder(tmp_path: Path) -> None:
    with open_store(tmp_path, FakeClock()) as store:
        assert store.locks.try_acquire("refresh", "holder-1", 60) is True
        assert store.locks.try_acquire("refresh", "holder-2", 60) is False
        assert store.locks.holder("refresh") == "holder-1"
        with pytest.raises(LockBusy, match="refresh"), store.locks.hold("refresh", wait_seconds=0):
            pass


def test_an_expired_holders_lock_can_be_taken(tmp_path: Path) -> None:
    clock = FakeClock()
    with open_store(tmp_path, clock) as crashed, open_store(tmp_path, clock) as survivor:
        assert crashed.locks.try_acquire("refresh", "crashed-process", 60) is True
        assert survivor.locks.try_acquire("refresh", "survivor", 60) is False

        clock.advance(60)

        assert survivor.locks.holder("refresh") is None
        assert survivor.locks.try_acquire("refresh", "survivor", 60) is True
        assert crashed.locks.release("refresh", "crashed-process") is False  # not its any more
        assert survivor.locks.holder("refresh") == "survivor"


def test_releasing_frees_the_lock_for_the_next_holder(tmp_path: Path) -> None:
    with open_store(tmp_path, FakeClock()) as store:
        with store.locks.hold("refresh") as holder:
            assert store.locks.holder("refresh") == holder
        assert store.locks.holder("refresh") is None
        assert store.locks.try_acquire("refresh", "next", 60) is True


def test_sibling_organisations_share_one_refresh_lock(tmp_path: Path) -> None:
    with open_store(tmp_path, FakeClock()) as store:
        _connect(store, "tenant-a", "tenant-b")
        with (
            store.connections.refresh_lock("tenant-a"),
            pytest.raises(LockBusy),
            store.connections.refresh_lock("tenant-b", wait_seconds=0),
        ):
            pass
