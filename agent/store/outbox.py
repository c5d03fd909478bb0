"""The outbox: one row per (kind, Autotask id, Xero organisation), moved through its states.

Every state change happens in one ``BEGIN IMMEDIATE`` transaction together with its
``outbox_events`` row. Workers hold a lease while a row is ``posting``; pass ``owner=`` to
``transition`` so a worker whose lease expired (and whose row another worker re-claimed) is
refused with ``LeaseLost`` instead of overwriting the newer attempt.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Unpack

from agent.store.canonical import canonical_json, sha256_text
from agent.store.clock import to_db, to_db_or_none
from agent.store.errors import IllegalTransition, LeaseLost, StateConflict
from agent.store.events import record_event
from agent.store.outbox_model import (
    DEFAULT_MAX_ATTEMPTS,
    SNAPSHOT_REPLACEABLE,
    OutboxFields,
    OutboxKind,
    OutboxRow,
    OutboxState,
    field_columns,
    implied_columns,
    is_allowed,
)
from agent.store.outbox_queries import OutboxQueries

S = OutboxState
RETRYABLE: frozenset[OutboxState] = frozenset({S.DEAD, S.FAILED, S.BLOCKED, S.SKIPPED})


class Outbox(OutboxQueries):
    """The write side of the outbox (the read side is ``OutboxQueries``)."""

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Many changes in ONE transaction: each is checked and recorded with its event as on its
        own, and all of them commit together or none does. For loops of quick changes only (no
        network inside): the database is held for the whole block."""
        with self._db.write():
            yield

    # ----------------------------------------------------------------- writing

    def upsert_discovered(
        self,
        kind: OutboxKind | str,
        autotask_id: int | str,
        org: str,
        snapshot: Mapping[str, Any],
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> OutboxRow:
        """Record an Autotask document; never duplicates a (kind, autotask_id, org).

        An existing row not yet sent (see ``SNAPSHOT_REPLACEABLE``) takes the new snapshot when it
        changed, dropping the payload mapped from the old one; otherwise it is returned as is.
        """
        kind_value = OutboxKind(kind).value
        at_id = str(autotask_id)
        if not at_id:
            raise ValueError("autotask_id must not be empty")
        snapshot_json = canonical_json(snapshot)
        snapshot_hash = sha256_text(snapshot_json)
        at = to_db(self._db.now())
        with self._db.write():
            inserted = self._db.execute(
                "INSERT INTO outbox (kind, autotask_id, org, state, snapshot_json, snapshot_hash,"
                " max_attempts, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (kind, autotask_id, org) DO NOTHING RETURNING *",
                (
                    kind_value,
                    at_id,
                    org,
                    S.DISCOVERED.value,
                    snapshot_json,
                    snapshot_hash,
                    max_attempts,
                    at,
                    at,
                ),
            )
            if inserted:
                row = OutboxRow.from_db(inserted[0])
                self._event(row, None, "discovered", at)
                return row
            existing = self._find(kind_value, at_id, org)
            assert existing is not None  # the conflict proves it exists
            if (
                existing.snapshot_hash == snapshot_hash
                or existing.state not in SNAPSHOT_REPLACEABLE
            ):
                return existing
            updated = self._db.execute(
                "UPDATE outbox SET snapshot_json = ?, snapshot_hash = ?, payload_json = NULL,"
                " payload_hash = NULL, updated_at = ? WHERE id = ? RETURNING *",
                (snapshot_json, snapshot_hash, at, existing.id),
            )
            row = OutboxRow.from_db(updated[0])
            self._event(row, row.state, "snapshot changed", at)
            return row

    def transition(
        self,
        outbox_id: int,
        to_state: OutboxState | str,
        *,
        detail: str | None = None,
        expected_from: OutboxState | str | None = None,
        owner: str | None = None,
        **fields: Unpack[OutboxFields],
    ) -> OutboxRow:
        """Check-and-set one state change (plus ``fields``) and its event, atomically.

        Raises ``IllegalTransition`` for a move the state machine forbids, ``StateConflict`` when
        the row is not in ``expected_from``, ``LeaseLost`` when ``owner`` no longer holds it.
        Rows enter ``posting`` only through ``claim``.
        """
        target = OutboxState(to_state)
        if target is S.POSTING:
            raise ValueError("rows enter 'posting' only through claim()")
        columns = field_columns(fields)
        expected = None if expected_from is None else OutboxState(expected_from)
        with self._db.write():
            row = self._require(outbox_id)
            return self._move(
                row, target, detail=detail, columns=columns, expected=expected, owner=owner
            )

    def follow_source(
        self,
        outbox_id: int,
        snapshot: Mapping[str, Any],
        to_state: OutboxState | str | None,
        *,
        detail: str,
        expected_from: OutboxState | str | None = None,
        **fields: Unpack[OutboxFields],
    ) -> OutboxRow:
        """A document already sent whose Autotask source changed: the new snapshot (plus
        ``fields``), and with ``to_state`` a state change, as one event. ``upsert_discovered``
        never replaces the snapshot of a sent row: this is the deliberate way to."""
        snapshot_json = canonical_json(snapshot)
        columns = {
            **field_columns(fields),
            "snapshot_json": snapshot_json,
            "snapshot_hash": sha256_text(snapshot_json),
        }
        expected = None if expected_from is None else OutboxState(expected_from)
        with self._db.write():
            row = self._require(outbox_id)
            if to_state is not None:
                target = OutboxState(to_state)
                return self._move(row, target, detail=detail, columns=columns, expected=expected)
            self._check(row, expected, None)
            at = to_db(self._db.now())
            new = self._write(row, {**columns, "updated_at": at})
            self._event(new, row.state, detail, at)
            return new

    def update(
        self,
        outbox_id: int,
        *,
        detail: str | None = None,
        expected_state: OutboxState | str | None = None,
        owner: str | None = None,
        **fields: Unpack[OutboxFields],
    ) -> OutboxRow:
        """Change fields without a state change (e.g. a new payload); recorded as an event."""
        if not fields:
            raise ValueError("update() needs at least one field")
        columns = field_columns(fields)
        expected = None if expected_state is None else OutboxState(expected_state)
        with self._db.write():
            row = self._require(outbox_id)
            self._check(row, expected, owner)
            at = to_db(self._db.now())
            new = self._write(row, {**columns, "updated_at": at})
            self._event(new, row.state, detail or "updated " + ", ".join(sorted(fields)), at)
            return new

    def route(self, outbox_id: int, org: str, *, detail: str | None = None) -> OutboxRow:
        """Set the Xero organisation of a row discovered before it could be routed (org '').

        Only while nothing was sent (``SNAPSHOT_REPLACEABLE`` states, no Xero id); refused with
        ``StateConflict`` if that organisation already has a row for the same document."""
        with self._db.write():
            row = self._require(outbox_id)
            if row.state not in SNAPSHOT_REPLACEABLE or row.xero_id is not None:
                raise StateConflict(
                    f"outbox row {row.id} is {row.state.value!r} and can no longer be re-routed"
                )
            if row.org == org:
                return row
            twin = self._find(row.kind.value, row.autotask_id, org)
            if twin is not None:
                raise StateConflict(
                    f"outbox row {row.id}: organisation {org!r} already has row {twin.id}"
                )
            at = to_db(self._db.now())
            new = self._write(row, {"org": org, "updated_at": at})
            self._event(new, row.state, detail or f"routed to organisation {org!r}", at)
            return new

    def record_failure(
        self,
        outbox_id: int,
        *,
        error: str,
        retry_at: datetime | None,
        owner: str | None = None,
        needs_lookup: bool = False,
    ) -> OutboxRow:
        """A failed attempt: ``failed`` (retried at ``retry_at``), or ``dead`` once the row has
        used ``max_attempts`` attempts."""
        with self._db.write():
            row = self._require(outbox_id)
            exhausted = row.attempts >= row.max_attempts and is_allowed(row.state, S.DEAD)
            target = S.DEAD if exhausted else S.FAILED
            detail = (
                f"attempts exhausted ({row.attempts}/{row.max_attempts}): {error}"
                if exhausted
                else f"attempt {row.attempts}/{row.max_attempts} failed: {error}"
            )
            columns: dict[str, object] = {
                "last_error": error,
                "next_attempt_at": None if exhausted else to_db_or_none(retry_at),
                "needs_lookup": int(needs_lookup),
            }
            return self._move(row, target, detail=detail, columns=columns, owner=owner)

    def claim(
        self,
        owner: str,
        lease_seconds: float,
        limit: int,
        *,
        kinds: Iterable[OutboxKind | str] | None = None,
        org: str | None = None,
        ids: Iterable[int] | None = None,
    ) -> list[OutboxRow]:
        """Lease up to ``limit`` due ``pending`` rows (oldest first) to ``owner``, atomically.

        One ``UPDATE ... WHERE id IN (SELECT ...) RETURNING *``: two claimers never get the same
        row. Each claimed row moves to ``posting`` with ``attempts + 1`` and an event. ``ids``
        narrows the claim to those rows (e.g. ``atx sync --invoice``).
        """
        kind_values = None if kinds is None else [OutboxKind(k).value for k in kinds]
        id_values = None if ids is None else [int(i) for i in ids]
        if limit <= 0 or kind_values == [] or id_values == []:
            return []
        now = self._db.now()
        at = to_db(now)
        where = ["state = 'pending'", "(next_attempt_at IS NULL OR next_attempt_at <= ?)"]
        params: list[object] = [at]
        if kind_values is not None:
            where.append(f"kind IN ({', '.join('?' for _ in kind_values)})")
            params.extend(kind_values)
        if org is not None:
            where.append("org = ?")
            params.append(org)
        if id_values is not None:
            where.append(f"id IN ({', '.join('?' for _ in id_values)})")
            params.extend(id_values)
        sql = (
            "UPDATE outbox SET state = 'posting', lease_owner = ?, lease_expires_at = ?,"
            " attempts = attempts + 1, updated_at = ?"
            f" WHERE id IN (SELECT id FROM outbox WHERE {' AND '.join(where)} ORDER BY id LIMIT ?)"
            " RETURNING *"
        )
        expires = to_db(now + timedelta(seconds=lease_seconds))
        with self._db.write():
            found = self._db.execute(sql, [owner, expires, at, *params, limit])
            claimed = sorted((OutboxRow.from_db(r) for r in found), key=lambda r: r.id)
            for row in claimed:
                self._event(row, S.PENDING, f"claimed by {owner}", at)
        return claimed

    def extend_lease(self, outbox_id: int, owner: str, seconds: float) -> datetime:
        """Push the lease of a row ``owner`` is posting ``seconds`` from now; ``LeaseLost`` if
        the row is no longer ``posting`` under ``owner``."""
        now = self._db.now()
        expires = now + timedelta(seconds=seconds)
        with self._db.write():
            done = self._db.execute(
                "UPDATE outbox SET lease_expires_at = ?, updated_at = ?"
                " WHERE id = ? AND state = 'posting' AND lease_owner = ? RETURNING id",
                (to_db(expires), to_db(now), outbox_id, owner),
            )
        if not done:
            raise LeaseLost(f"outbox row {outbox_id}: the lease is not held by {owner!r}")
        return expires

    def release(self, outbox_id: int, owner: str, *, detail: str) -> OutboxRow:
        """Give a claimed row back untried: ``posting`` -> ``pending`` with the attempt the claim
        counted refunded. Only for rows whose request never left (e.g. the organisation's daily
        limit is spent); ``LeaseLost`` if ``owner`` no longer holds it."""
        with self._db.write():
            row = self._require(outbox_id)
            columns = {"attempts": max(row.attempts - 1, 0)}
            return self._move(row, S.PENDING, detail=detail, columns=columns, owner=owner)

    def release_expired_leases(self, now: datetime | None = None) -> int:
        """Rows left ``posting`` past their lease go back to ``pending`` with ``needs_lookup``
        set: the last attempt may have reached Xero. Returns how many."""
        at = to_db(now or self._db.now())
        return self._move_all(
            "state = 'posting' AND (lease_expires_at IS NULL OR lease_expires_at <= ?)",
            [at],
            S.PENDING,
            "lease expired; outcome unknown",
            at,
            extra={"needs_lookup": 1},
        )

    def requeue_due_failures(self, now: datetime | None = None) -> int:
        """``failed`` rows whose retry time has come go back to ``pending``."""
        at = to_db(now or self._db.now())
        return self._move_all(
            "state = 'failed' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)",
            [at],
            S.PENDING,
            "retry due",
            at,
        )

    def retry(self, outbox_id: int, *, detail: str = "retried by user") -> OutboxRow:
        """A user's retry: dead/failed/blocked/skipped -> pending (a dead row's attempts reset)."""
        with self._db.write():
            row = self._require(outbox_id)
            if row.state not in RETRYABLE:
                raise IllegalTransition(row.id, row.state, S.PENDING)
            columns: dict[str, object] = {"attempts": 0} if row.state is S.DEAD else {}
            return self._move(row, S.PENDING, detail=detail, columns=columns)

    def retry_all_failed(self, *, org: str | None = None) -> int:
        """Every ``failed`` and ``dead`` row back to ``pending`` (``atx retry --failed``)."""
        return self._retry_all("state IN ('failed', 'dead')", org)

    def retry_all_blocked(self, *, org: str | None = None) -> int:
        """Every ``blocked`` row back to ``pending``, e.g. after a mapping was saved."""
        return self._retry_all("state = 'blocked'", org)

    def resync(self, outbox_id: int, *, detail: str = "resync requested by user") -> OutboxRow:
        """A ``done`` row back to ``pending``; it keeps its Xero id and number."""
        return self.transition(outbox_id, S.PENDING, detail=detail, expected_from=S.DONE)

    def skip(self, outbox_id: int, *, reason: str | None = None) -> OutboxRow:
        return self.transition(outbox_id, S.SKIPPED, detail=reason or "skipped by user")

    # ---------------------------------------------------------------- helpers

    @staticmethod
    def _check(row: OutboxRow, expected: OutboxState | None, owner: str | None) -> None:
        if expected is not None and row.state is not expected:
            raise StateConflict(
                f"outbox row {row.id} is {row.state.value!r}, expected {expected.value!r}"
            )
        if owner is not None and (row.state is not S.POSTING or row.lease_owner != owner):
            raise LeaseLost(f"outbox row {row.id}: the lease is not held by {owner!r}")

    def _move(
        self,
        row: OutboxRow,
        target: OutboxState,
        *,
        detail: str | None,
        columns: Mapping[str, object],
        expected: OutboxState | None = None,
        owner: str | None = None,
        at: str | None = None,
    ) -> OutboxRow:
        """Inside a write transaction: the checked state change and its event."""
        self._check(row, expected, owner)
        if not is_allowed(row.state, target):
            raise IllegalTransition(row.id, row.state, target)
        stamp = at or to_db(self._db.now())
        changes = {**implied_columns(row, target), **columns}
        new = self._write(row, {**changes, "state": target.value, "updated_at": stamp})
        self._event(new, row.state, detail, stamp)
        return new

    def _write(self, row: OutboxRow, changes: Mapping[str, object]) -> OutboxRow:
        # Column names come from this module only, never from callers.
        assignments = ", ".join(f"{column} = ?" for column in changes)
        updated = self._db.execute(
            f"UPDATE outbox SET {assignments} WHERE id = ? AND state = ? RETURNING *",
            [*changes.values(), row.id, row.state.value],
        )
        if not updated:
            raise StateConflict(f"outbox row {row.id} changed state concurrently")
        return OutboxRow.from_db(updated[0])

    def _event(
        self, row: OutboxRow, from_state: OutboxState | None, detail: str | None, at: str
    ) -> None:
        record_event(
            self._db,
            outbox_id=row.id,
            at=at,
            from_state=None if from_state is None else from_state.value,
            to_state=row.state.value,
            detail=detail,
            attempt=row.attempts,
        )

    def _move_all(
        self,
        where: str,
        params: list[object],
        target: OutboxState,
        detail: str,
        at: str,
        *,
        extra: Mapping[str, object] | None = None,
    ) -> int:
        with self._db.write():
            rows = self._db.query(f"SELECT * FROM outbox WHERE {where} ORDER BY id", params)
            for found in rows:
                row = OutboxRow.from_db(found)
                columns = dict(extra or {})
                if row.state is S.DEAD:
                    columns["attempts"] = 0
                self._move(row, target, detail=detail, columns=columns, at=at)
        return len(rows)

    def _retry_all(self, where: str, org: str | None) -> int:
        params: list[object] = []
        if org is not None:
            where += " AND org = ?"
            params.append(org)
        return self._move_all(where, params, S.PENDING, "retried by user", to_db(self._db.now()))
