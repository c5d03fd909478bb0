"""Errors the store raises on purpose. Every message is one line and never contains a secret."""

from __future__ import annotations


class StoreError(Exception):
    """Base class: anything the store refuses, with a message fit for the user."""


class SchemaTooNew(StoreError):
    """The database was written by a newer atx than this one."""

    def __init__(self, found: int, supported: int) -> None:
        super().__init__(
            f"the database schema is version {found}, newer than this atx supports ({supported}); "
            "upgrade atx to open it"
        )
        self.found = found
        self.supported = supported


class MigrationFailed(StoreError):
    """A schema migration raised; the database stays at the previous version."""


class NotFound(StoreError):
    """A row the caller named does not exist."""


class IllegalTransition(StoreError):
    """An outbox state change the state machine does not allow."""

    def __init__(self, outbox_id: int, from_state: str, to_state: str) -> None:
        super().__init__(
            f"outbox row {outbox_id}: illegal transition from {from_state!r} to {to_state!r}"
        )
        self.outbox_id = outbox_id
        self.from_state = from_state
        self.to_state = to_state


class StateConflict(StoreError):
    """The row is not in the state the caller expected (someone else moved it)."""


class LeaseLost(StoreError):
    """The caller no longer holds the lease on an outbox row."""


class SecretKeyMissing(StoreError):
    """A secret must be stored or read, but no ATX_SECRET_KEY was given."""


class SecretKeyMismatch(StoreError):
    """Stored secrets were encrypted with a different ATX_SECRET_KEY."""


class LockBusy(StoreError):
    """A named lock is held by someone else and did not come free in time."""
