"""The exactly-once verdict shared by the crash and fault tests (issue 3 §6 "proof").

``final_state(made, store)`` reads what both services and the outbox hold at the end of a sync and
checks that it is what exactly-once means; ``Outcome`` is comparable between runs, so a run under
faults or kills can be compared with a clean run of the same world.

(No tests here; the ``test_`` prefix keeps the file next to the tests that import it.)
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from test_sync_kit import Rig

from agent.store import OutboxState, Store
from agent.sync.envelope import Envelope

S = OutboxState
MARKER = re.compile(r"(?<![0-9A-Za-z#])AT#([0-9]+)(?![0-9])", re.IGNORECASE)
# States a row may end in once nothing is left to do.
SETTLED = frozenset({S.DONE, S.BLOCKED})


@dataclass(frozen=True)
class Outcome:
    """What a run ended with: per Autotask invoice, (kind, organisation, state) of its row; per
    organisation, the contact numbers in Xero (the Autotask company ids of those it created)."""

    rows: dict[int, tuple[str, str, str]]
    contacts: dict[str, frozenset[str]]

    @property
    def posted(self) -> set[int]:
        return {i for i, (_, _, state) in self.rows.items() if state == S.DONE.value}


def documents(made: Rig) -> list[tuple[str, dict[str, Any]]]:
    """(organisation, document) for every invoice and credit note in both Xero organisations."""
    return [(tenant, d) for tenant in (made.au, made.uk) for d in made.xero_documents(tenant)]


def document_count(made: Rig) -> int:
    """Cheap: how many invoices and credit notes Xero holds (polled while an agent runs)."""
    xero = made.sandbox.xero
    with xero.lock:
        return sum(
            len(xero.ledger(t).org.invoices) + len(xero.ledger(t).org.credit_notes)
            for t in (made.au, made.uk)
        )


def autotask_id_of(made: Rig, document: dict[str, Any], prefix: str = "AT-") -> int:
    """The Autotask invoice a Xero document was made from: the ``AT#<id>`` marker in its
    Reference when Xero numbers them, else its number (prefix + Autotask's invoice number)."""
    found = MARKER.findall(str(document.get("Reference") or ""))
    if found:
        assert len(found) == 1, document.get("Reference")
        return int(found[0])
    number = str(document.get("InvoiceNumber") or document.get("CreditNoteNumber") or "")
    assert number.startswith(prefix), number
    by_number = {str(i.get("invoiceNumber")): int(i["id"]) for i in made.world.autotask["Invoices"]}
    return by_number[number[len(prefix) :]]


def final_state(made: Rig, store: Store) -> Outcome:
    """Assert exactly once, end to end; answer the outcome per Autotask invoice.

    - every row is settled: done, or blocked for a reason of its own data or mappings (never
      because Xero refused a second copy); nothing pending, posting, posted, failed or dead;
    - Xero: every document once (by id across both organisations, by number per organisation),
      each made from a different Autotask invoice, each the document of one done row, in its
      organisation; every contact once (by ContactNumber per organisation);
    - Autotask: every done row's invoice has ``webServiceDate`` (and the Xero number when Xero
      numbered it), set by exactly one PATCH; nothing else was written.
    """
    rows = store.outbox.list_rows(limit=100_000)
    states = Counter(r.state for r in rows)
    assert set(states) <= SETTLED, states
    done = [r for r in rows if r.state is S.DONE]
    for row in rows:
        if row.state is S.BLOCKED:
            assert row.block_reasons, row
            assert not any(r.startswith("xero:") for r in row.block_reasons), row.block_reasons

    docs = documents(made)
    ids = Counter(str(d.get("InvoiceID") or d.get("CreditNoteID")) for _, d in docs)
    assert all(n == 1 for n in ids.values()), ids.most_common(3)
    for tenant in (made.au, made.uk):
        numbers = Counter(
            (d["Type"], d.get("InvoiceNumber") or d.get("CreditNoteNumber"))
            for t, d in docs
            if t == tenant
        )
        assert all(n == 1 for n in numbers.values()), numbers.most_common(3)
    sources = Counter(autotask_id_of(made, d) for _, d in docs)
    assert all(n == 1 for n in sources.values()), sources.most_common(3)

    by_id = {str(d.get("InvoiceID") or d.get("CreditNoteID")): (t, d) for t, d in docs}
    assert {str(r.xero_id) for r in done} == set(by_id)
    for row in done:
        tenant, document = by_id[str(row.xero_id)]
        assert tenant == row.org and autotask_id_of(made, document) == int(row.autotask_id)

    patches = made.sandbox.autotask.write_counts("Invoices", "webServiceDate")
    assert patches == Counter({int(r.autotask_id): 1 for r in done}), (
        {k: n for k, n in patches.items() if n != 1},
        {int(r.autotask_id) for r in done} ^ set(patches),
    )
    assert len(made.sandbox.autotask.writes()) == len(done)  # and no other write at all
    for row in rows:
        invoice = made.autotask_invoice(int(row.autotask_id))
        if row.state is S.DONE:
            assert invoice["webServiceDate"] is not None
            if Envelope(row.payload or {}).xero_numbers_it:
                assert invoice["invoiceNumber"] == row.xero_number
        else:
            assert invoice["webServiceDate"] is None
    contacts: dict[str, frozenset[str]] = {}
    for tenant in (made.au, made.uk):
        ledger = made.sandbox.xero.ledger(tenant)
        with made.sandbox.xero.lock:
            people = Counter(
                str(c["ContactNumber"]) for c in ledger.org.contacts if c.get("ContactNumber")
            )
        assert all(n == 1 for n in people.values()), people.most_common(3)
        contacts[tenant] = frozenset(people)
    rows_out = {int(r.autotask_id): (r.kind.value, r.org, r.state.value) for r in rows}
    return Outcome(rows_out, contacts)
