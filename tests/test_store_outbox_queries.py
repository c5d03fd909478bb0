"""Reading the outbox for the queue view: lookups, filters, search, paging and counts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from store_fixtures import FakeClock, open_store, row_in_state

from agent.store import OutboxState, Store

S = OutboxState


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path, FakeClock()) as opened:
        yield opened


def test_counts_by_state_lists_every_state_with_zeros(store: Store) -> None:
    row_in_state(store, S.BLOCKED, autotask_id=1)
    row_in_state(store, S.BLOCKED, autotask_id=2)
    row_in_state(store, S.DONE, autotask_id=3, org="org-b")

    counts = store.outbox.counts_by_state()

    assert set(counts) == {state.value for state in S}
    assert counts["blocked"] == 2 and counts["done"] == 1
    assert sum(counts.values()) == 3
    assert store.outbox.counts_by_state(org="org-b") == {
        state.value: int(state is S.DONE) for state in S
    }


def test_get_and_find_return_none_for_unknown_rows(store: Store) -> None:
    assert store.outbox.get(404) is None
    assert store.outbox.find("invoice", 404, "org-a") is None


def test_find_by_kind_autotask_id_and_organisation(store: Store) -> None:
    row = row_in_state(store, S.PENDING, autotask_id=77, org="org-a")

    assert store.outbox.find("invoice", 77, "org-a") == row
    assert store.outbox.find("invoice", "77", "org-b") is None
    assert store.outbox.find("credit_note", 77, "org-a") is None


def test_list_filters_by_state_kind_and_organisation(store: Store) -> None:
    blocked = row_in_state(store, S.BLOCKED, autotask_id=1)
    skipped = row_in_state(store, S.SKIPPED, autotask_id=2, org="org-b")
    credit = store.outbox.upsert_discovered("credit_note", 3, "org-a", {})

    assert store.outbox.list_rows(states=[S.BLOCKED, "skipped"]) == [skipped, blocked]
    assert store.outbox.list_rows(kind="credit_note") == [credit]
    assert store.outbox.list_rows(org="org-b") == [skipped]
    assert store.outbox.list_rows(states=[]) == []
    assert store.outbox.count(org="org-a") == 2


def test_search_matches_autotask_id_xero_number_and_error_text(store: Store) -> None:
    posted = row_in_state(store, S.POSTED, autotask_id=501)
    store.outbox.transition(posted.id, S.DONE, xero_number="INV-0042")
    failed = row_in_state(store, S.FAILED, autotask_id=502, org="org-b")
    store.outbox.update(failed.id, last_error="Account code 999 is archived")

    assert [r.id for r in store.outbox.list_rows(search="501")] == [posted.id]
    assert [r.id for r in store.outbox.list_rows(search="inv-0042")] == [posted.id]
    assert [r.id for r in store.outbox.list_rows(search="ARCHIVED")] == [failed.id]
    assert store.outbox.count(search="nothing like this") == 0


def test_list_pages_newest_first(store: Store) -> None:
    ids = [store.outbox.upsert_discovered("item", n, "", {"n": n}).id for n in range(5)]

    first = store.outbox.list_rows(limit=2)
    second = store.outbox.list_rows(limit=2, offset=2)

    assert [r.id for r in first + second] == ids[::-1][:4]


def test_events_are_the_rows_history_in_order(store: Store) -> None:
    row = row_in_state(store, S.DONE)

    history = [(e.from_state, e.to_state) for e in store.outbox.events(row.id)]

    assert history == [
        (None, S.DISCOVERED),
        (S.DISCOVERED, S.PENDING),
        (S.PENDING, S.POSTING),
        (S.POSTING, S.POSTED),
        (S.POSTED, S.DONE),
    ]
