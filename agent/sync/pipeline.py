"""The flow of one sync cycle once its organisations are known (``SyncEngine`` sets it up).

Autotask's PATCHes are the cycle's floor: one per invoice, at most 3 in flight (reference §7).
So nothing waits for a whole step to finish before the next begins:

- the poll is read page by page, and invoices go through in chunks (``FIRST_CHUNKS``, then
  500): each chunk is snapshotted into the outbox (``intake``), mapped (``prepare``) and handed
  to posting;
- posting to Xero runs on a thread of its own (``Posting``), in order, while the next chunk is
  read and mapped: it mostly waits for Xero;
- each document recorded ``posted`` is PATCHed in Autotask at once, 3 in flight, in the
  background (``Marker.send``), and confirmed by one read-back per 500;
- Xero's catalogs are read (``SyncEngine.contexts``) while the first chunk is read from Autotask.

After the last chunk: the rows due for other reasons (earlier cycles, changed mappings) are
mapped and posted, then ``Marker.run`` waits for the write-back, confirms it, and marks what is
left (rows posted by an earlier cycle are read back first). The outbox states, leases and
lookups are those of a cycle done step by step: a crash anywhere leaves rows the next cycle
finishes, each document in Xero once and each invoice PATCHed once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import timedelta
from itertools import chain, islice
from typing import TYPE_CHECKING

from agent.autotask import AutotaskBudgetExhausted, AutotaskError
from agent.autotask.records import Invoice
from agent.store import OutboxRow, OutboxState
from agent.sync.discover import BATCH, invoices_by_id, iter_poll
from agent.sync.intake import DOCUMENT_KINDS, Intake
from agent.sync.mark import Marker
from agent.sync.options import SyncOptions
from agent.sync.orgs import CONTEXT_STREAM, OrgContext, context_changed, remember_context
from agent.sync.post import OrgPoster
from agent.sync.prepare import ALL, Preparer
from agent.sync.report import CycleReport
from agent.sync.routing import RoutingTable
from agent.xero import MAX_BATCH

if TYPE_CHECKING:
    from agent.sync.engine import SyncEngine

log = logging.getLogger("atx.sync")
S = OutboxState
ROUTING_KEY = "routing"
# Invoices per chunk read, mapped and posted together: the first ones small, so that documents
# reach Xero, and their Autotask PATCHes start, within seconds; then growing while the PATCHes
# of the chunk before keep Autotask busy; then BATCH, the most one `in` query may name. Only when
# the poll has more than one page: a single chunk costs the fewest queries (~8 each).
FIRST_CHUNKS = (50, 100, 200, 400)
# Rows handed to posting and not yet PATCHed below which a chunk posts its part-filled Xero
# batches too (about 4 s of PATCHes at 3 in flight): the write-back must not run dry. Above it,
# a chunk posts whole batches of 50 and the rest waits for the next chunk (or the end).
LOW_WATER = 250

OnlyIds = dict[str, list[int]] | list[int] | None


class Posting:
    """Posting to Xero on a thread of its own, in the order asked, while the cycle reads and
    maps the next invoices. The first failure is raised to the cycle at its next ``submit`` or
    at ``finish``; ``close`` drops what has not started."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="atx-post")
        self._jobs: list[Future[None]] = []

    def submit(self, post: Callable[[OnlyIds], None], only_ids: OnlyIds) -> None:
        self._raise_failure()
        self._jobs.append(self._pool.submit(post, only_ids))

    def finish(self) -> None:
        for job in self._jobs:
            job.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _raise_failure(self) -> None:
        for job in self._jobs:
            if job.done() and not job.cancelled():
                job.result()


@dataclass
class CyclePipeline:
    engine: SyncEngine
    report: CycleReport
    options: SyncOptions
    only: int | None  # `atx sync --invoice`: this invoice alone
    routing: RoutingTable
    loading: Future[dict[str, OrgContext]]  # each organisation's context, read from Xero
    marker: Marker = field(init=False)
    _contexts: dict[str, OrgContext] | None = field(default=None, init=False)
    _preparer: Preparer | None = field(default=None, init=False)
    _poster_preparer: Preparer | None = field(default=None, init=False)
    _stale: list[str] = field(default_factory=list, init=False)
    _routing_fingerprint: str = field(default="", init=False)

    def __post_init__(self) -> None:
        engine = self.engine
        self.marker = Marker(
            store=engine.store,
            autotask=engine.autotask,
            retry=engine.retry,
            report=self.report,
            now=engine.now,
            stop=engine.stop,
        )

    def run(self) -> None:
        engine = self.engine
        with self.marker.sending():
            posting = Posting()
            try:
                self._read_map_post(posting)
            finally:
                posting.close()
            if engine.stop.is_set():
                # Marking waits for the next start: stopping must be quick (a container's grace
                # period), and a posted row is marked by whichever cycle comes next.
                return
            scope = None if self.only is None else engine.rows_of(self.only)
            engine.progress_event("marking", 0, engine.store.outbox.count(states=[S.POSTED]))
            self._mark(scope)

    # -- organisations: known once Xero's catalogs are read --------------------------------------

    def _ready(self) -> Preparer:
        """The Preparer, once the organisations' contexts are in (waiting for them)."""
        if self._preparer is None:
            store = self.engine.store
            contexts = self._contexts = self.loading.result()
            routing = self.routing
            self._routing_fingerprint = routing.fingerprint()
            routing_changed = (
                store.cursors.get(CONTEXT_STREAM, ROUTING_KEY) != self._routing_fingerprint
            )
            self._stale = [
                org for org, c in contexts.items() if routing_changed or context_changed(store, c)
            ]
            self._preparer = Preparer(store, routing, contexts)
            # Posting has a Preparer of its own (for rows retried since they were mapped), so
            # the mapping counts in the report are this thread's.
            self._poster_preparer = Preparer(store, routing, contexts)
        return self._preparer

    # -- read, map, post ------------------------------------------------------------------------

    def _read_map_post(self, posting: Posting) -> None:
        engine, store, only = self.engine, self.engine.store, self.only
        changed: set[int] = set()
        mapped: set[int] = set()
        # Mapped rows not posted yet, per organisation and kind (see LOW_WATER).
        ready: dict[tuple[str, str], list[int]] = {}
        submitted = 0
        for chunk, invoice_ids in self._discover():
            changed |= chunk
            if only is not None or not chunk:
                continue
            for key, row_id in self._map_chunk(chunk, invoice_ids, mapped):
                ready.setdefault(key, []).append(row_id)
            low = submitted - self.marker.answered() < LOW_WATER
            batch: dict[str, list[int]] = {}
            for (org, _kind), ids in ready.items():
                count = len(ids) if low else len(ids) - len(ids) % MAX_BATCH
                batch.setdefault(org, []).extend(ids[:count])
                submitted += count
                del ids[:count]
            if any(batch.values()):
                posting.submit(self._post, batch)
            if engine.stop.is_set():
                return
        if engine.stop.is_set():
            return
        preparer = self._ready()
        scope = None if only is None else engine.rows_of(only)
        if scope is None:
            due = [
                r
                for r in preparer.due_rows(changed, self._stale)
                if r.id not in mapped and r.kind in DOCUMENT_KINDS  # not void rows (``voids``)
            ]
        else:
            # The user named this invoice: map its unsent rows again, whatever changed.
            found = (store.outbox.get(row_id) for row_id in sorted(scope))
            due = [
                r
                for r in found
                if r is not None
                and (
                    r.state in (S.DISCOVERED, S.BLOCKED)
                    or (r.state is S.PENDING and not r.needs_lookup)
                )
            ]
        self._prepare(preparer, due)
        if scope is None:
            assert self._contexts is not None
            for context in self._contexts.values():
                remember_context(store, context)
            store.cursors.set(CONTEXT_STREAM, self._routing_fingerprint, ROUTING_KEY)
        # (The named invoice's rows again: splitting it may have added rows for its parts.)
        posting.submit(self._post, None if only is None else sorted(engine.rows_of(only)))
        posting.finish()

    def _map_chunk(
        self, chunk: set[int], invoice_ids: list[int], mapped: set[int]
    ) -> list[tuple[tuple[str, str], int]]:
        """Map the rows this chunk created or changed (the rest of due_rows waits for the end,
        which maps whatever was not mapped here); returns ((org, kind), id) of those now pending.
        The rows themselves (snapshots, payloads) are let go on return."""
        rows = [
            r
            for r in self.engine.store.outbox.for_autotask_ids(invoice_ids, kinds=DOCUMENT_KINDS)
            if r.id in chunk and r.state in (S.DISCOVERED, S.PENDING, S.BLOCKED)
        ]
        results: list[OutboxRow] = []
        self._prepare(self._ready(), rows, results)
        mapped.update(r.id for r in rows)
        return [((r.org, r.kind.value), r.id) for r in results if r.state is S.PENDING]

    def _prepare(
        self, preparer: Preparer, rows: list[OutboxRow], results: list[OutboxRow] | None = None
    ) -> None:
        before = replace(preparer.outcome)
        after = preparer.run(rows, results=results)
        self.report.add("mapped", after.mapped - before.mapped)
        self.report.add("blocked", after.blocked - before.blocked)
        self.report.add("unblocked", after.unblocked - before.unblocked)

    def _post(self, only_ids: OnlyIds) -> None:
        """Post the pending rows of each organisation (on the posting thread): all of them, or
        only those named (one list for every organisation, or a list per organisation)."""
        engine, report = self.engine, self.report
        assert self._contexts is not None and self._poster_preparer is not None
        to_post = engine.store.outbox.count(states=[S.PENDING])
        for context in self._contexts.values():
            ids = only_ids.get(context.tenant_id, []) if isinstance(only_ids, dict) else only_ids
            if ids == []:
                continue
            if engine.stop.is_set():
                break
            engine.progress_event("posting", report.posted + report.failed + report.dead, to_post)
            OrgPoster(
                store=engine.store,
                xero=engine.xero,
                context=context,
                preparer=self._poster_preparer,
                retry=engine.retry,
                report=report,
                owner=engine.owner,
                now=engine.now,
                lease_seconds=engine.lease_seconds,
                stop=engine.stop,
                only_ids=ids,
                on_posted=self.marker.send,
            ).run()

    # -- reading Autotask ------------------------------------------------------------------------

    def _discover(self) -> Iterator[tuple[set[int], list[int]]]:
        """The invoices to read, snapshotted into the outbox a chunk at a time as the poll's pages
        come in: yields the ids of the rows each chunk created or changed, and the chunk's
        invoice ids."""
        engine, report, only = self.engine, self.report, self.only
        autotask = engine.autotask
        intake = Intake(engine.store, autotask, report, engine.retry)
        try:
            if only is not None:
                invoices = invoices_by_id(autotask, [only])
                report.invoices_seen = len(invoices)
                engine.progress_event("polled", report.invoices_seen, report.invoices_seen)
                if not invoices:
                    report.error(f"Autotask has no invoice {only} (or the API user cannot see it)")
                    return
                if invoices[0].webServiceDate is not None and not engine.rows_of(only):
                    report.error(
                        f"Autotask invoice {only} is already marked as sent (webServiceDate "
                        f"{invoices[0].webServiceDate:%Y-%m-%d %H:%M}), by another tool or an "
                        "earlier installation; it is not sent again"
                    )
                    return
                yield intake.run(invoices, explicit=True), [only]
                return
            since = engine.now().date() - timedelta(days=self.options.days_back)
            polled: set[int] = set()
            poll = iter_poll(autotask, since)
            first_page = list(islice(poll, BATCH))
            sizes = iter(FIRST_CHUNKS if len(first_page) == BATCH else ())
            size = next(sizes, BATCH)
            chunk: list[Invoice] = []
            for invoice in chain(first_page, poll):
                polled.add(invoice.id)
                report.invoices_seen = len(polled)
                chunk.append(invoice)
                if len(chunk) >= size:
                    yield intake.run(chunk), [i.id for i in chunk]
                    chunk, size = [], next(sizes, BATCH)
            if chunk:
                yield intake.run(chunk), [i.id for i in chunk]
            engine.progress_event("polled", report.invoices_seen, report.invoices_seen)
            waiting = intake.waiting_for_snapshot(polled)
            if waiting:
                found = invoices_by_id(autotask, waiting)
                for start in range(0, len(found), BATCH):
                    chunk = found[start : start + BATCH]
                    yield intake.run(chunk), [i.id for i in chunk]
        except AutotaskBudgetExhausted as exc:
            report.defer(str(exc))
        except AutotaskError as exc:
            report.error(f"reading Autotask: {exc}")

    # -- marking ---------------------------------------------------------------------------------

    def _mark(self, scope: set[int] | None) -> None:
        report = self.report
        posted = self.engine.store.outbox.list_rows(states=[S.POSTED], limit=ALL)
        rows = [r for r in posted if r.kind in DOCUMENT_KINDS and (scope is None or r.id in scope)]
        try:
            self.marker.run(sorted(rows, key=lambda r: r.id), report.posted_ids)
        except AutotaskBudgetExhausted as exc:
            report.defer(str(exc))
        except AutotaskError as exc:
            report.error(f"marking invoices in Autotask: {exc}")
