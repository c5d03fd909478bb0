"""AutotaskClient: queries, reads and the invoice write-back, over ``AutotaskSession``.

The cost that matters is requests against the tenant's shared hourly budget (reference §7), so
queries page by id cursor with up to 500 records a page, ``in`` filters carry up to 500 values,
and nothing is fetched twice.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal, TypeVar

import httpx
from pydantic import SecretStr, ValidationError

from agent.autotask.budget import BudgetPolicy, BudgetStatus
from agent.autotask.errors import (
    AutotaskApiError,
    AutotaskConfigError,
    AutotaskError,
    AutotaskWriteNotApplied,
    one_line,
)
from agent.autotask.invoice_update import UNSET, InvoiceUpdate, Unset
from agent.autotask.records import AutotaskRecord, BillingItem, Invoice
from agent.autotask.retry import RetryPolicy
from agent.autotask.session import DEFAULT_MAX_IN_FLIGHT, AutotaskSession
from agent.config import Settings, env_name

DEFAULT_ZONE_LOOKUP_URL = "https://webservices.autotask.net/atservicesrest/"
MAX_PAGE = 500  # maxRecords above 500 is an error (reference §5)
MAX_OR_CONDITIONS = 500  # every `in` value counts as an OR condition (reference §5)
# A query must have a filter; this one matches every record (apigrate/autotask-restapi#15).
ANY_ID: dict[str, Any] = {"op": "gte", "field": "id", "value": 0}

Filter = Mapping[str, Any]
Paging = Literal["id", "next_url"]
R = TypeVar("R", bound=AutotaskRecord)


class AutotaskClient:
    """A thin, thread-safe client of the Autotask REST API v1.0 for one API user."""

    def __init__(
        self,
        username: str,
        secret: SecretStr | str,
        integration_code: SecretStr | str,
        *,
        zone_lookup_url: str = DEFAULT_ZONE_LOOKUP_URL,
        base_url: str | None = None,
        zone_url: str | None = None,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        draw: Callable[[], float] = random.random,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        retry: RetryPolicy | None = None,
        budget: BudgetPolicy | None = BudgetPolicy(),  # noqa: B008 - frozen, never mutated
        on_zone_discovered: Callable[[str], None] | None = None,
    ) -> None:
        """``base_url`` skips zone discovery for good (ATX_AUTOTASK_BASE_URL); ``zone_url`` is a
        zone found earlier (persisted by the agent), used until a 401 says it moved;
        ``budget=None`` turns budget pacing off."""
        self._session = AutotaskSession(
            username=username,
            secret=secret if isinstance(secret, SecretStr) else SecretStr(secret),
            integration_code=(
                integration_code
                if isinstance(integration_code, SecretStr)
                else SecretStr(integration_code)
            ),
            zone_lookup_url=zone_lookup_url,
            base_url=base_url,
            zone_url=zone_url,
            http=http,
            sleep=sleep,
            clock=clock,
            draw=draw,
            max_in_flight=max_in_flight,
            retry=retry or RetryPolicy(),
            budget=budget,
            on_zone_discovered=on_zone_discovered,
        )

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> AutotaskClient:
        """The client for the configured API user; ``options`` as for the constructor."""
        username = (settings.autotask_username or "").strip()
        secret = settings.autotask_secret
        code = settings.autotask_integration_code
        missing = [
            env_name(name)
            for name, value in (
                ("autotask_username", username),
                ("autotask_secret", secret.get_secret_value() if secret else ""),
                ("autotask_integration_code", code.get_secret_value() if code else ""),
            )
            if not value.strip()
        ]
        if missing or secret is None or code is None:
            raise AutotaskConfigError(
                f"Autotask is not configured: set {', '.join(missing)} (the API-only user's "
                "email, its secret and its API tracking identifier)"
            )
        # They travel as HTTP headers, which carry ASCII only (anything else fails every call).
        garbled = [
            env_name(name)
            for name, value in (
                ("autotask_username", username),
                ("autotask_secret", secret.get_secret_value()),
                ("autotask_integration_code", code.get_secret_value()),
            )
            if not value.isascii()
        ]
        if garbled:
            raise AutotaskConfigError(
                f"Autotask credentials must be plain ASCII text: {', '.join(garbled)} is not"
                " (copy it again from Autotask)"
            )
        return cls(
            username,
            secret,
            code,
            zone_lookup_url=settings.autotask_zone_lookup_url,
            base_url=settings.autotask_base_url,
            **options,
        )

    def __repr__(self) -> str:
        return f"AutotaskClient(username={self._session.username!r}, zone={self.zone_url!r})"

    def __enter__(self) -> AutotaskClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    # ------------------------------------------------------------------------------ state

    @property
    def zone_url(self) -> str | None:
        """The zone in use (persist it and pass it back as ``zone_url``), None before use."""
        return self._session.zone.url

    @property
    def calls_made(self) -> dict[str, int]:
        """HTTP requests this client sent, per endpoint (retries and usage readings too)."""
        return self._session.calls_made()

    def budget_status(self) -> BudgetStatus | None:
        """The shared hourly budget as last read and estimated since; None when pacing is off."""
        return self._session.budget_status()

    # ---------------------------------------------------------------------------- queries

    def query(
        self,
        entity: str,
        filters: Sequence[Filter],
        *,
        include_fields: Sequence[str] | None = None,
        page_size: int = MAX_PAGE,
        paging: Paging = "id",
        after_id: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every record matching ``filters`` (ANDed), lazily, page by page, in id order.

        ``paging="id"`` (default, Autotask's recommendation, reference §5) adds
        ``id > last id`` to each next query: stateless, resumable from ``after_id``.
        ``paging="next_url"`` POSTs each ``pageDetails.nextPageUrl`` with the same body.
        """
        if not 1 <= page_size <= MAX_PAGE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE}")
        body: dict[str, Any] = {"maxRecords": page_size}
        if include_fields is not None:
            # Paging past 500 records needs id among the fields (reference §5).
            wanted = [f for f in include_fields if f.lower() != "id"]
            body["includeFields"] = ["id", *wanted]
        if paging == "id":
            return self._pages_by_id(entity, list(filters), body, after_id)
        if after_id is not None:
            filters = [*filters, {"op": "gt", "field": "id", "value": after_id}]
        return self._pages_by_next_url(entity, list(filters), body)

    def _pages_by_id(
        self, entity: str, filters: list[Filter], body: dict[str, Any], after_id: int | None
    ) -> Iterator[dict[str, Any]]:
        last = after_id
        while True:
            cursor = [] if last is None else [{"op": "gt", "field": "id", "value": last}]
            page = self._post_query(entity, {**body, "filter": [*filters, *cursor] or [ANY_ID]})
            items = _items(page)
            yield from items
            # No nextPageUrl: Autotask says this was the last page, which saves the one empty
            # query a "loop until empty" client pays for every query.
            if not items or not _next_page_url(page):
                return
            top = max(int(item["id"]) for item in items)
            if last is not None and top <= last:
                raise AutotaskApiError(
                    "POST", f"V1.0/{entity}/query", 200, ["the id cursor did not advance"]
                )
            last = top

    def _pages_by_next_url(
        self, entity: str, filters: list[Filter], body: dict[str, Any]
    ) -> Iterator[dict[str, Any]]:
        body = {**body, "filter": filters or [ANY_ID]}
        page = self._post_query(entity, body)
        seen: set[str] = set()
        while True:
            items = _items(page)
            yield from items
            next_url = _next_page_url(page)
            if not items or not next_url:
                return
            if next_url in seen:
                raise AutotaskApiError(
                    "POST", f"V1.0/{entity}/query/next", 200, ["nextPageUrl repeats itself"]
                )
            seen.add(next_url)
            # A GET here answers 405 and silently truncates at 500 (reference §5, §13.1).
            page = self._session.request(
                "POST", next_url, endpoint=entity, body=body, absolute=True
            )

    def _post_query(self, entity: str, body: dict[str, Any]) -> Any:
        return self._session.request("POST", f"{entity}/query", endpoint=entity, body=body)

    def query_in(
        self,
        entity: str,
        field: str,
        values: Iterable[Any],
        *,
        extra_filters: Sequence[Filter] = (),
        include_fields: Sequence[str] | None = None,
        page_size: int = MAX_PAGE,
    ) -> Iterator[dict[str, Any]]:
        """Records whose ``field`` is one of ``values``: one query per chunk of values that fits
        the 500 OR conditions a query may hold (with those of ``extra_filters``)."""
        room = MAX_OR_CONDITIONS - or_conditions(extra_filters)
        if room < 1:
            raise ValueError("extra_filters already use every OR condition a query may hold")
        unique = list(dict.fromkeys(values))
        for start in range(0, len(unique), room):
            chunk = unique[start : start + room]
            in_filter = {"op": "in", "field": field, "value": list(chunk)}
            yield from self.query(
                entity,
                [*extra_filters, in_filter],
                include_fields=include_fields,
                page_size=page_size,
            )

    def count(self, entity: str, filters: Sequence[Filter]) -> int:
        answer = self._session.request(
            "POST",
            f"{entity}/query/count",
            endpoint=entity,
            body={"filter": list(filters) or [ANY_ID]},
        )
        return int(answer["queryCount"])

    def get(self, entity: str, record_id: int) -> dict[str, Any] | None:
        """One record by id; None when it does not exist or the API user cannot see it."""
        answer = self._session.request("GET", f"{entity}/{int(record_id)}", endpoint=entity)
        item = answer.get("item") if isinstance(answer, Mapping) else None
        return dict(item) if isinstance(item, Mapping) else None

    # ------------------------------------------------------------------------ typed reads

    def records(
        self,
        model: type[R],
        filters: Sequence[Filter],
        *,
        include_fields: Sequence[str] | None = None,
        page_size: int = MAX_PAGE,
        after_id: int | None = None,
    ) -> Iterator[R]:
        for raw in self.query(
            model.entity,
            filters,
            include_fields=include_fields,
            page_size=page_size,
            after_id=after_id,
        ):
            yield _parse(model, raw)

    def records_in(
        self,
        model: type[R],
        field: str,
        values: Iterable[Any],
        *,
        extra_filters: Sequence[Filter] = (),
        include_fields: Sequence[str] | None = None,
    ) -> Iterator[R]:
        for raw in self.query_in(
            model.entity, field, values, extra_filters=extra_filters, include_fields=include_fields
        ):
            yield _parse(model, raw)

    def record(self, model: type[R], record_id: int) -> R | None:
        raw = self.get(model.entity, record_id)
        return None if raw is None else _parse(model, raw)

    def invoice(self, invoice_id: int) -> Invoice | None:
        return self.record(Invoice, invoice_id)

    def billing_items_for_invoices(self, invoice_ids: Iterable[int]) -> Iterator[BillingItem]:
        """The lines of these invoices (those the API user's lines of business let it see)."""
        return self.records_in(BillingItem, "invoiceID", invoice_ids)

    # ----------------------------------------------------------------------------- writes

    def update_invoice(
        self,
        invoice_id: int,
        *,
        invoice_number: str | Unset | None = UNSET,
        web_service_date: datetime | Unset | None = UNSET,
        paid_date: date | Unset | None = UNSET,
    ) -> Invoice:
        """PATCH the only three writable invoice fields, then read back to confirm them.

        None clears a field; leaving an argument out leaves the field alone. Naive datetimes
        are UTC. Raises AutotaskWriteNotApplied when the read-back differs (reference §6).
        """
        update = self.patch_invoice(
            invoice_id,
            invoice_number=invoice_number,
            web_service_date=web_service_date,
            paid_date=paid_date,
        )
        after = self.invoice(invoice_id)
        if after is None:
            raise AutotaskWriteNotApplied("Invoices", invoice_id, update.fields())
        unapplied = update.unapplied(after)
        if unapplied:
            raise AutotaskWriteNotApplied("Invoices", invoice_id, unapplied)
        return after

    def patch_invoice(
        self,
        invoice_id: int,
        *,
        invoice_number: str | Unset | None = UNSET,
        web_service_date: datetime | Unset | None = UNSET,
        paid_date: date | Unset | None = UNSET,
        resend_if_dropped: bool = True,
    ) -> InvoiceUpdate:
        """The PATCH of ``update_invoice`` without its read-back: for callers that confirm many
        invoices at once with one query (``InvoiceUpdate.unapplied`` on the re-read records).
        Such a caller passes ``resend_if_dropped=False``: a PATCH whose answer was lost then
        raises ``AutotaskNetworkError`` and is read back, not sent a second time."""
        update = InvoiceUpdate(invoice_id, invoice_number, web_service_date, paid_date)
        body = update.body()
        if len(body) == 1:
            raise ValueError("update_invoice needs at least one field to change")
        # The collection URL with the id in the body: PATCH …/Invoices/{id} is a 405 (§6).
        self._session.request(
            "PATCH", "Invoices", endpoint="Invoices", body=body, resend_if_dropped=resend_if_dropped
        )
        return update


def or_conditions(filters: Iterable[Filter]) -> int:
    """OR conditions as Autotask counts them: items of `or` groups and values of `in`."""
    total = 0
    for item in filters:
        op = str(item.get("op", "")).lower()
        children = item.get("items")
        if isinstance(children, list):
            total += (len(children) if op == "or" else 0) + or_conditions(children)
        if op == "in" and isinstance(item.get("value"), list):
            total += len(item["value"])
    return total


def _items(page: Any) -> list[dict[str, Any]]:
    items = page.get("items") if isinstance(page, Mapping) else None
    return list(items) if isinstance(items, list) else []


def _next_page_url(page: Any) -> str | None:
    details = page.get("pageDetails") if isinstance(page, Mapping) else None
    url = details.get("nextPageUrl") if isinstance(details, Mapping) else None
    return url if isinstance(url, str) and url else None


def _parse(model: type[R], raw: Mapping[str, Any]) -> R:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise AutotaskError(
            one_line(
                f"Autotask {model.entity} record {raw.get('id')!r} could not be read: "
                f"{where}: {first['msg']}"
            )
        ) from None
