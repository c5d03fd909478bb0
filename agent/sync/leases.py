"""Who holds a lease, and taking back the leases of workers that are surely gone.

A lease owner is ``host:pid:process-token:engine-token``. The process token is drawn once per
process, so after a restart (same container, same pid 1) the new process still tells its
predecessor's leases apart. A lease whose holder is known to be dead need not wait for its
expiry (up to ``lease_seconds``): it is given back at once, marked for a lookup, because the dead
worker's last request may have reached Xero. Surely gone means: this engine itself (a cycle that
raised, since cycles never overlap), an earlier process with our pid on this host, or a process of
this host that no longer exists. Anything else (another host, a live process) waits for the
lease to expire.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass

from agent.store import OutboxState, Store, StoreError

log = logging.getLogger("atx.sync")
PROCESS_TOKEN = uuid.uuid4().hex[:8]
ALL = 1_000_000


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    process: str
    engine: str

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.process}:{self.engine}"

    @classmethod
    def parse(cls, text: str | None) -> Owner | None:
        parts = (text or "").rsplit(":", 3)
        if len(parts) != 4 or not parts[1].isdigit():
            return None
        return cls(parts[0], int(parts[1]), parts[2], parts[3])


def new_owner() -> str:
    return str(Owner(socket.gethostname(), os.getpid(), PROCESS_TOKEN, uuid.uuid4().hex[:8]))


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: alive as far as we can tell
    return True


def holder_is_gone(holder: str | None, me: str) -> bool:
    owner, mine = Owner.parse(holder), Owner.parse(me)
    if owner is None or mine is None or owner.host != mine.host:
        return False
    if str(owner) == str(mine):
        return True
    if owner.pid == mine.pid:
        return owner.process != mine.process
    return not _process_exists(owner.pid)


def reclaim_dead_leases(store: Store, me: str) -> int:
    """Rows left ``posting`` by a worker that is gone: back to ``pending``, to be looked up."""
    count = 0
    for row in store.outbox.list_rows(states=[OutboxState.POSTING], limit=ALL):
        if not holder_is_gone(row.lease_owner, me):
            continue
        try:
            store.outbox.transition(
                row.id,
                OutboxState.PENDING,
                expected_from=OutboxState.POSTING,
                # Checked in the same transaction: a live worker that took the row over
                # meanwhile keeps it.
                owner=row.lease_owner,
                needs_lookup=True,
                detail=f"lease of {row.lease_owner} taken back: that worker is gone",
            )
        except StoreError as exc:
            log.info("row %s: %s", row.id, exc)
            continue
        count += 1
    return count
