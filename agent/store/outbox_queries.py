"""The read side of the outbox: single rows, filtered pages, counts and the event trail."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agent.store.db import StoreDB
from agent.store.errors import NotFound
from agent.store.events import OutboxEvent, events_for
from agent.store.outbox_model import OutboxKind, OutboxRow, OutboxState


class OutboxQueries:
    def __init__(self, store_db: StoreDB) -> None:
        self._db = store_db

    # ---------------------------------------------------------------- reading

    def get(self, outbox_id: int) -> OutboxRow | None:
        found = self._db.query_one("SELECT * FROM outbox WHERE id = ?", (outbox_id,))
        return None if found is None else OutboxRow.from_db(found)

    def get_many(self, outbox_ids: Iterable[int]) -> list[OutboxRow]:
        """These rows (those that exist), in the order given; one query per 500 ids."""
        wanted = list(dict.fromkeys(int(i) for i in outbox_ids))
        by_id: dict[int, OutboxRow] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = self._db.query(
                f"SELECT * FROM outbox WHERE id IN ({', '.join('?' for _ in chunk)})", chunk
            )
            by_id.update((int(r["id"]), OutboxRow.from_db(r)) for r in rows)
        return [by_id[i] for i in wanted if i in by_id]

    def find(self, kind: OutboxKind | str, autotask_id: int | str, org: str) -> OutboxRow | None:
        return self._find(OutboxKind(kind).value, str(autotask_id), org)

    def list_rows(
        self,
        *,
        states: Iterable[OutboxState | str] | None = None,
        kind: OutboxKind | str | None = None,
        org: str | None = None,
        search: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[OutboxRow]:
        """Newest first. ``search`` matches the Autotask id, Xero number or id, or last error."""
        where, params = self._filters(states, kind, org, search)
        rows = self._db.query(
            f"SELECT * FROM outbox WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [OutboxRow.from_db(r) for r in rows]

    def count(
        self,
        *,
        states: Iterable[OutboxState | str] | None = None,
        kind: OutboxKind | str | None = None,
        org: str | None = None,
        search: str | None = None,
    ) -> int:
        where, params = self._filters(states, kind, org, search)
        found = self._db.query_one(f"SELECT count(*) AS n FROM outbox WHERE {where}", params)
        return int(found["n"]) if found else 0

    def counts_by_state(self, *, org: str | None = None) -> dict[str, int]:
        """Rows per state; every state is present, zeros included."""
        where, params = self._filters(None, None, org, None)
        counts = {state.value: 0 for state in OutboxState}
        for r in self._db.query(
            f"SELECT state, count(*) AS n FROM outbox WHERE {where} GROUP BY state", params
        ):
            counts[r["state"]] = int(r["n"])
        return counts

    def for_autotask_ids(
        self, autotask_ids: Iterable[int | str], *, kinds: Iterable[OutboxKind | str] | None = None
    ) -> list[OutboxRow]:
        """Every row (any organisation) of these Autotask documents, oldest first: one indexed
        query per 500 ids, so a sync cycle can look up a whole page of invoices at once."""
        ids = list(dict.fromkeys(str(i) for i in autotask_ids))
        kind_values = None if kinds is None else [OutboxKind(k).value for k in kinds]
        if not ids or kind_values == []:
            return []
        kind_clause = ""
        kind_params: list[object] = []
        if kind_values is not None:
            kind_clause = f" AND kind IN ({', '.join('?' for _ in kind_values)})"
            kind_params = list(kind_values)
        found: list[OutboxRow] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self._db.query(
                f"SELECT * FROM outbox WHERE autotask_id IN ({', '.join('?' for _ in chunk)})"
                f"{kind_clause} ORDER BY id",
                [*chunk, *kind_params],
            )
            found.extend(OutboxRow.from_db(r) for r in rows)
        return sorted(found, key=lambda r: r.id)

    def shared(
        self, autotask_ids: Iterable[int | str], kinds: Iterable[OutboxKind | str]
    ) -> set[tuple[str, str]]:
        """(kind, Autotask id) of these documents that have rows in more than one organisation
        (the parts of a split invoice): a cheap question, without reading the rows."""
        ids = list(dict.fromkeys(str(i) for i in autotask_ids))
        kind_values = [OutboxKind(k).value for k in kinds]
        found: set[tuple[str, str]] = set()
        if not ids or not kind_values:
            return found
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self._db.query(
                "SELECT kind, autotask_id FROM outbox"
                f" WHERE autotask_id IN ({', '.join('?' for _ in chunk)})"
                f" AND kind IN ({', '.join('?' for _ in kind_values)})"
                " GROUP BY kind, autotask_id HAVING COUNT(*) > 1",
                [*chunk, *kind_values],
            )
            found.update((str(r["kind"]), str(r["autotask_id"])) for r in rows)
        return found

    def events(self, outbox_id: int) -> list[OutboxEvent]:
        return events_for(self._db, outbox_id)

    def events_after(self, after_id: int, limit: int = 1000) -> list[OutboxEvent]:
        """Events of every row with an id above ``after_id``, oldest first (tailing the trail)."""
        rows = self._db.query(
            "SELECT * FROM outbox_events WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
        )
        return [OutboxEvent.from_db(row) for row in rows]

    def last_event_id(self) -> int:
        found = self._db.query_one("SELECT max(id) AS n FROM outbox_events")
        return int(found["n"] or 0) if found else 0

    def page(
        self,
        *,
        states: Iterable[OutboxState | str] | None = None,
        kinds: Iterable[OutboxKind | str] | None = None,
        org: str | None = None,
        text: str | None = None,
        before: tuple[str, int] | None = None,
        limit: int = 100,
    ) -> tuple[list[OutboxRow], int]:
        """Rows, most recently changed first, and how many match in all (the control API's
        queue). ``text`` matches the Autotask invoice number or id, the Xero number or the
        customer's name (case-insensitive substring); ``before`` is the (updated_at, id) of the
        last row of the previous page. The order comes from the ``outbox_by_change`` indexes and
        only the page's rows are read whole."""
        where, params = self._filters(states, None, org, None)
        if kinds is not None:
            values = [OutboxKind(k).value for k in kinds]
            where += f" AND kind IN ({', '.join('?' for _ in values)})" if values else " AND 0"
            params.extend(values)
        if text:
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
            # LIKE on the raw JSON first (cheap, ASCII case-insensitive, like lower()), then the
            # fields themselves; text JSON would escape (quotes, backslashes) skips the shortcut.
            raw = '"' not in text and "\\" not in text
            where += (
                " AND (autotask_id = ? OR xero_number LIKE ? ESCAPE '\\' OR ("
                + ("snapshot_json LIKE ? ESCAPE '\\' AND " if raw else "")
                + "(instr(lower(coalesce(json_extract(snapshot_json, '$.invoice.invoiceNumber'),"
                " '')), lower(?)) > 0"
                " OR instr(lower(coalesce(json_extract(snapshot_json, '$.company.companyName'),"
                " '')), lower(?)) > 0)))"
            )
            params.extend([text, pattern, *([pattern] if raw else []), text, text])
        found = self._db.query_one(f"SELECT count(*) AS n FROM outbox WHERE {where}", params)
        total = int(found["n"]) if found else 0
        if before is not None:
            where += " AND (updated_at < ? OR (updated_at = ? AND id < ?))"
            params.extend([before[0], before[0], before[1]])
        ids = [
            int(r["id"])
            for r in self._db.query(
                f"SELECT id FROM outbox WHERE {where} ORDER BY updated_at DESC, id DESC LIMIT ?",
                [*params, limit],
            )
        ]
        if not ids:
            return [], total
        return self.get_many(ids), total

    def summaries(self, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """The invoice number, customer name, total and currency of rows, read from their
        snapshots inside SQLite (no snapshot is parsed in Python)."""
        wanted = list(dict.fromkeys(int(i) for i in ids))
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = self._db.query(
                # Invoices and credit notes; purchase orders (order, vendor, total, currency
                # code: agent/sync/purchase_orders.py).
                "SELECT id, coalesce(json_extract(snapshot_json, '$.invoice.invoiceNumber'),"
                " json_extract(snapshot_json, '$.order.purchaseOrderNumber')) AS number,"
                " coalesce(json_extract(snapshot_json, '$.company.companyName'),"
                " json_extract(snapshot_json, '$.vendor.companyName')) AS customer,"
                " coalesce(json_extract(snapshot_json, '$.invoice.invoiceTotal'),"
                " json_extract(snapshot_json, '$.total')) AS total,"
                " coalesce(json_extract(snapshot_json, '$.currency.name'),"
                " json_extract(snapshot_json, '$.currency_code')) AS currency"
                f" FROM outbox WHERE id IN ({', '.join('?' for _ in chunk)})",
                chunk,
            )
            for r in rows:
                found[int(r["id"])] = {k: r[k] for k in ("number", "customer", "total", "currency")}
        return found

    def _find(self, kind: str, autotask_id: str, org: str) -> OutboxRow | None:
        found = self._db.query_one(
            "SELECT * FROM outbox WHERE kind = ? AND autotask_id = ? AND org = ?",
            (kind, autotask_id, org),
        )
        return None if found is None else OutboxRow.from_db(found)

    def _require(self, outbox_id: int) -> OutboxRow:
        row = self.get(outbox_id)
        if row is None:
            raise NotFound(f"outbox row {outbox_id} does not exist")
        return row

    @staticmethod
    def _filters(
        states: Iterable[OutboxState | str] | None,
        kind: OutboxKind | str | None,
        org: str | None,
        search: str | None,
    ) -> tuple[str, list[object]]:
        clauses = ["1 = 1"]
        params: list[object] = []
        if states is not None:
            values = [OutboxState(s).value for s in states]
            clauses.append(f"state IN ({', '.join('?' for _ in values)})" if values else "0 = 1")
            params.extend(values)
        if kind is not None:
            clauses.append("kind = ?")
            params.append(OutboxKind(kind).value)
        if org is not None:
            clauses.append("org = ?")
            params.append(org)
        if search:
            clauses.append(
                "(autotask_id = ? OR instr(lower(coalesce(xero_number, '')), lower(?)) > 0"
                " OR instr(lower(coalesce(xero_id, '')), lower(?)) > 0"
                " OR instr(lower(coalesce(last_error, '')), lower(?)) > 0)"
            )
            params.extend([search] * 4)
        return " AND ".join(clauses), params
