"""Named locks that work across threads and processes (e.g. one token refresh at a time).

A lock is a row in ``locks`` claimed by one atomic upsert that only succeeds while the row is
free or its holder's expiry has passed, so a crashed holder cannot block others for longer than
its TTL. Threads of one Store also queue on an in-process ``threading.Lock`` first, so they do
not poll the database against each other.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from agent.store.clock import to_db
from agent.store.db import StoreDB
from agent.store.errors import LockBusy


def new_holder_id() -> str:
    """Unique per acquisition: host, process, thread and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"


class Locks:
    def __init__(
        self,
        store_db: StoreDB,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = store_db
        self._sleep = sleep
        self._monotonic = monotonic
        self._local: dict[str, threading.Lock] = {}
        self._local_guard = threading.Lock()

    def try_acquire(self, name: str, holder: str, ttl_seconds: float) -> bool:
        """Take the lock for ``ttl_seconds`` if it is free, expired, or already ``holder``'s."""
        now = self._db.now()
        with self._db.write():
            taken = self._db.execute(
                "INSERT INTO locks (name, holder, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
                " expires_at = excluded.expires_at"
                " WHERE locks.holder IS NULL OR locks.holder = excluded.holder"
                " OR locks.expires_at IS NULL OR locks.expires_at <= ?"
                " RETURNING name",
                (name, holder, to_db(now + timedelta(seconds=ttl_seconds)), to_db(now)),
            )
        return bool(taken)

    def release(self, name: str, holder: str) -> bool:
        """Free the lock if ``holder`` still has it; False if it had expired and was taken."""
        with self._db.write():
            freed = self._db.execute(
                "UPDATE locks SET holder = NULL, expires_at = NULL"
                " WHERE name = ? AND holder = ? RETURNING name",
                (name, holder),
            )
        return bool(freed)

    def holder(self, name: str) -> str | None:
        """Who holds the lock now (None when free or expired)."""
        found = self._db.query_one(
            "SELECT holder FROM locks WHERE name = ? AND holder IS NOT NULL AND expires_at > ?",
            (name, to_db(self._db.now())),
        )
        return None if found is None else str(found["holder"])

    @contextmanager
    def hold(
        self,
        name: str,
        *,
        ttl_seconds: float = 60.0,
        wait_seconds: float = 30.0,
        poll_seconds: float = 0.05,
    ) -> Iterator[str]:
        """Hold ``name`` for the block (yields the holder id); ``LockBusy`` after
        ``wait_seconds`` of waiting. Keep the block shorter than ``ttl_seconds``."""
        deadline = self._monotonic() + wait_seconds
        local = self._local_lock(name)
        got_local = (
            local.acquire(timeout=wait_seconds) if wait_seconds > 0 else local.acquire(False)
        )
        if not got_local:
            raise LockBusy(f"lock {name!r} is held by another thread")
        try:
            holder = new_holder_id()
            while not self.try_acquire(name, holder, ttl_seconds):
                if self._monotonic() >= deadline:
                    raise LockBusy(f"lock {name!r} is held by another process")
                self._sleep(poll_seconds)
            try:
                yield holder
            finally:
                self.release(name, holder)
        finally:
            local.release()

    def _local_lock(self, name: str) -> threading.Lock:
        with self._local_guard:
            return self._local.setdefault(name, threading.Lock())
