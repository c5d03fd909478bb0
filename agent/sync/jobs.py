"""A claimed outbox row on its way to Xero, and the ways its attempt can end.

``Outcomes`` records every end with its event in ONE store transaction (DESIGN.md; the caller may
make that transaction a whole batch's, ``Outbox.batch``), logs one line, and counts it in the
cycle report. Posting code only decides which end applies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agent.store import LeaseLost, OutboxKind, OutboxRow, OutboxState, StateConflict, Store
from agent.store.canonical import content_hash
from agent.sync.backoff import RetryStrategy
from agent.sync.envelope import Envelope
from agent.sync.prepare import label
from agent.sync.report import CycleReport

log = logging.getLogger("atx.sync")
S = OutboxState


@dataclass
class Job:
    row: OutboxRow
    env: Envelope
    document: dict[str, Any] = field(default_factory=dict)
    done: bool = False  # its outcome is recorded; nothing more happens to it in this cycle

    @property
    def needs_contact(self) -> bool:
        contact = self.document.get("Contact") or {}
        return self.env.new_contact is not None and not contact.get("ContactID")


class Halt(Exception):
    """The organisation cannot take more calls now (paused, or its connection needs a person):
    the rows still claimed were given back."""


class Outcomes:
    def __init__(
        self,
        store: Store,
        report: CycleReport,
        retry: RetryStrategy,
        owner: str,
        now: Callable[[], datetime],
        org_name: str,
        on_posted: Callable[[OutboxRow], None] | None = None,
    ) -> None:
        self.store = store
        self.report = report
        self.retry = retry
        self.owner = owner
        self.now = now
        self.org_name = org_name
        # Told of each row this cycle put in Xero, as it is recorded ``posted``. The change may
        # not be committed yet (``Outbox.batch``): act on it only once it is.
        self.on_posted = on_posted

    def posted(self, job: Job, xero_id: str, number: str | None, how: str) -> None:
        what = f"{how} in {self.org_name} as {number or xero_id}"
        moved: list[OutboxRow] = []
        if self._apply(job, lambda: moved.append(self.store.outbox.transition(
            job.row.id, S.POSTED, owner=self.owner, xero_id=xero_id, xero_number=number,
            detail=what,
        ))):  # fmt: skip
            self.report.add("adopted" if how.startswith("found") else "posted")
            self.report.posted_ids.add(job.row.id)
            log.info("%s %s", label(job.row), what)
            if self.on_posted is not None:
                self.on_posted(moved[0])

    def already_posted(self, job: Job) -> None:
        what = (
            f"already in {self.org_name} as {job.row.xero_number or job.row.xero_id}; "
            "marking it in Autotask again"
        )
        if self._apply(job, lambda: self.store.outbox.transition(
            job.row.id, S.POSTED, owner=self.owner, detail=what
        )):  # fmt: skip
            log.info("%s %s", label(job.row), what)

    def blocked(self, job: Job, reasons: list[str]) -> None:
        """Xero refused the document itself: a person must fix the data. The payload stays, so
        the same document is not sent again until something it is built from changes."""
        if self._apply(job, lambda: self.store.outbox.transition(
            job.row.id, S.BLOCKED, owner=self.owner, block_reasons=reasons,
            needs_lookup=False,  # Xero answered: the document is not there
            detail="blocked: " + reasons[0],
        )):  # fmt: skip
            self.report.add("blocked")
            log.warning("blocked %s: %s", label(job.row), " | ".join(reasons))

    def failed(
        self, job: Job, error: str, *, needs_lookup: bool, retry_after: float | None = None
    ) -> None:
        row = job.row
        retry_at = self.retry.next_attempt_at(row.attempts, self.now(), retry_after=retry_after)
        result: list[OutboxRow] = []
        if self._apply(job, lambda: result.append(self.store.outbox.record_failure(
            row.id, error=error, retry_at=retry_at, owner=self.owner, needs_lookup=needs_lookup,
        ))):  # fmt: skip
            new = result[0]
            if new.state is S.DEAD:
                self.report.add("dead")
                log.error(
                    "dead %s after %d attempts: %s; retry it by hand (atx retry %s)",
                    label(row), new.attempts, error, row.autotask_id,
                )  # fmt: skip
            else:
                self.report.add("failed")
                log.warning(
                    "failed %s (attempt %d of %d), next try at %s: %s",
                    label(row), new.attempts, new.max_attempts,
                    retry_at.isoformat(timespec="seconds"), error,
                )  # fmt: skip

    def release(self, job: Job, why: str) -> None:
        if self._apply(job, lambda: self.store.outbox.release(
            job.row.id, self.owner, detail=why
        )):  # fmt: skip
            self.report.add("released")

    def _apply(self, job: Job, change: Callable[[], object]) -> bool:
        job.done = True
        try:
            change()
        except (LeaseLost, StateConflict) as exc:
            # The lease expired and another worker took the row over: its outcome is theirs
            # (they look the document up before posting it again).
            log.warning("%s: result not recorded: %s", label(job.row), exc)
            return False
        return True


class RowOutcomes:
    """The ends of an attempt for steps that claim bare rows rather than ``Job``s (Xero items,
    expense bills): blocked, failed (with the retry policy), released, given back. Each is one
    store call (so one transaction, or part of the caller's ``Outbox.batch``), counted in the
    report; a lease lost meanwhile leaves the outcome to the new holder. ``noun`` names the rows
    in log lines ("item", "expense")."""

    def __init__(
        self,
        store: Store,
        report: CycleReport,
        retry: RetryStrategy,
        owner: str,
        now: Callable[[], datetime],
        noun: str,
    ) -> None:
        self.store = store
        self.report = report
        self.retry = retry
        self.owner = owner
        self.now = now
        self.noun = noun

    def blocked(self, row: OutboxRow, reason: str) -> None:
        try:
            self.store.outbox.transition(row.id, S.BLOCKED, owner=self.owner,
                                         block_reasons=[reason], needs_lookup=False,
                                         detail="blocked: " + reason)  # fmt: skip
        except (LeaseLost, StateConflict) as exc:
            log.warning("%s row %s: result not recorded: %s", self.noun, row.id, exc)
            return
        self.report.add("blocked")
        log.warning("blocked %s row %s (%s): %s", self.noun, row.id, row.autotask_id, reason)

    def failed(self, row: OutboxRow, error: str, *, needs_lookup: bool) -> None:
        retry_at = self.retry.next_attempt_at(row.attempts, self.now())
        try:
            new = self.store.outbox.record_failure(row.id, error=error, retry_at=retry_at,
                                                   owner=self.owner,
                                                   needs_lookup=needs_lookup)  # fmt: skip
        except (LeaseLost, StateConflict) as exc:
            log.warning("%s row %s: result not recorded: %s", self.noun, row.id, exc)
            return
        self.report.add("dead" if new.state is S.DEAD else "failed")
        log.warning("%s row %s (%s) failed: %s", self.noun, row.id, row.autotask_id, error)

    def release(self, row: OutboxRow, why: str) -> None:
        try:
            self.store.outbox.release(row.id, self.owner, detail=why)
        except (LeaseLost, StateConflict) as exc:
            log.info("%s row %s: %s", self.noun, row.id, exc)

    def give_back(self, rows: Sequence[OutboxRow], why: str) -> None:
        """The rows of ``rows`` still claimed go back to pending, untried."""
        for row in rows:
            current = self.store.outbox.get(row.id)
            if current is not None and current.state is S.POSTING:
                self.release(row, why)
                self.report.add("released")

    def mapped(self, row: OutboxRow, built: Mapping[str, Any] | Sequence[str]) -> None:
        """Record what mapping ``row`` gave: a payload (pending), or the reasons it cannot be
        built (blocked). A blocked row whose payload is what Xero refused stays blocked until
        something it is built from changes; a pending row takes a changed payload."""
        outbox = self.store.outbox
        if not isinstance(built, Mapping):
            reasons = list(built)
            if row.state is S.BLOCKED:
                if tuple(reasons) != row.block_reasons:
                    outbox.update(row.id, block_reasons=reasons, payload=None, detail="blocked")
                return
            outbox.transition(row.id, S.BLOCKED, block_reasons=reasons, payload=None,
                              detail="blocked: " + reasons[0])  # fmt: skip
            self.report.add("blocked")
            return
        if row.state is S.BLOCKED:
            if row.payload_hash == content_hash(built):
                return  # Xero refused exactly this; nothing it is built from changed
            outbox.transition(row.id, S.PENDING, payload=built, detail="unblocked")
            self.report.add("unblocked")
        elif row.state is S.DISCOVERED:
            outbox.transition(row.id, S.PENDING, payload=built, detail="mapped")
            self.report.add("mapped")
        elif row.payload_hash != content_hash(built):
            outbox.update(row.id, payload=built, detail="mapped again")


def renew_leases(engine: Any, outcomes: RowOutcomes, rows: Sequence[OutboxRow]) -> list[OutboxRow]:
    """The rows of a batch about to go to Xero whose leases were renewed (a lost one is left
    to its new holder); none when the engine is stopping: then they are given back untried."""
    held: list[OutboxRow] = []
    for row in rows:
        try:
            engine.store.outbox.extend_lease(row.id, engine.owner, engine.lease_seconds)
        except LeaseLost as exc:
            log.warning("row %s skipped: %s", row.id, exc)
            continue
        held.append(row)
    if held and engine.stop.is_set():
        outcomes.give_back(held, "the agent is stopping")
        return []
    return held


def claimed_chunks(
    engine: Any, report: CycleReport, org: str, kind: OutboxKind, chunk: int,
    give_back: Callable[[list[OutboxRow]], None],
) -> Iterator[list[OutboxRow]]:  # fmt: skip
    """The organisation's due rows of ``kind``, claimed ``chunk`` at a time, until none is left,
    the organisation is paused (reported) or the engine stops. Rows claimed a second time in
    one cycle were given back untried (not mapped yet): they are given back again, for the
    next cycle, and the loop ends."""
    seen: set[int] = set()
    store = engine.store
    while not engine.stop.is_set():
        paused = engine.xero.status(org).paused_until
        if paused is not None:
            report.pause(org, paused)
            return
        rows = store.outbox.claim(engine.owner, engine.lease_seconds, chunk, kinds=[kind], org=org)
        if not rows:
            return
        if any(r.id in seen for r in rows):
            give_back(rows)
            return
        seen.update(r.id for r in rows)
        yield rows
