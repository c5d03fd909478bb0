"""Queries: paging by id cursor and by nextPageUrl, `in` chunking, count, get, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from test_autotask_client_kit import (
    ZONE,
    FakeTime,
    Served,
    invoice_world,
    mock_client,
    page,
    serving,
)

from agent.autotask import AutotaskApiError, AutotaskUnsafeUrl
from agent.autotask.client import or_conditions


@pytest.fixture(scope="module")
def big() -> Iterator[Served]:
    with serving(invoice_world(1_200)) as served:
        yield served


def _bodies(served: Served, since: int) -> list[dict[str, Any]]:
    return [json.loads(r.content) for r in served.sent[since:] if r.method == "POST"]


def test_id_cursor_paging_reads_more_than_1000_records_in_three_queries(big: Served) -> None:
    client = big.client()
    ids = [item["id"] for item in client.query("Invoices", [])]
    assert ids == list(range(1, 1_201))
    assert client.calls_made["Invoices"] == 3


def test_id_cursor_paging_adds_id_greater_than_the_last_id_of_the_previous_page(
    big: Served,
) -> None:
    since = len(big.sent)
    list(big.client().query("Invoices", [{"op": "exist", "field": "invoiceNumber"}]))
    filters = [body["filter"] for body in _bodies(big, since)]
    assert filters[1] == [
        {"op": "exist", "field": "invoiceNumber"},
        {"op": "gt", "field": "id", "value": 500},
    ]
    assert filters[2][-1] == {"op": "gt", "field": "id", "value": 1000}


def test_include_fields_always_include_id(big: Served) -> None:
    since = len(big.sent)
    items = list(big.client().query("Invoices", [], include_fields=["invoiceNumber"]))
    assert len(items) == 1_200
    assert set(items[0]) == {"id", "invoiceNumber"}
    assert _bodies(big, since)[0]["includeFields"] == ["id", "invoiceNumber"]


def test_paging_resumes_after_a_given_id(big: Served) -> None:
    ids = [i["id"] for i in big.client().query("Invoices", [], after_id=1_150)]
    assert ids == list(range(1_151, 1_201))


def test_next_page_url_paging_posts_the_same_body_to_each_next_page(big: Served) -> None:
    since = len(big.sent)
    client = big.client()
    ids = [item["id"] for item in client.query("Invoices", [], paging="next_url")]
    assert ids == list(range(1, 1_201))
    requests = big.sent[since:]
    assert [r.method for r in requests if "/V1.0/" in r.url.path] == ["POST"] * 3
    assert [r.url.path.endswith("/query/next") for r in requests[-2:]] == [True, True]
    assert len({r.content for r in requests[-3:]}) == 1


def test_a_smaller_page_size_takes_more_queries(big: Served) -> None:
    client = big.client()
    assert len(list(client.query("Invoices", [], page_size=200))) == 1_200
    assert client.calls_made["Invoices"] == 6


def test_in_filter_with_1200_ids_is_sent_as_three_queries(big: Served) -> None:
    since = len(big.sent)
    client = big.client()
    ids = list(range(1, 1_201))
    found = [item["id"] for item in client.query_in("Invoices", "id", ids)]
    assert sorted(found) == ids
    sizes = [len(body["filter"][-1]["value"]) for body in _bodies(big, since)]
    assert sizes == [500, 500, 200]


def test_in_chunks_leave_room_for_the_or_conditions_of_the_other_filters(big: Served) -> None:
    since = len(big.sent)
    either = {
        "op": "or",
        "items": [
            {"op": "eq", "field": "isVoided", "value": False},
            {"op": "eq", "field": "isVoided", "value": True},
        ],
    }
    found = list(big.client().query_in("Invoices", "id", range(1, 1_001), extra_filters=[either]))
    assert len(found) == 1_000
    sizes = [len(body["filter"][-1]["value"]) for body in _bodies(big, since)]
    assert sizes == [498, 498, 4]


def test_duplicate_in_values_are_sent_once(big: Served) -> None:
    since = len(big.sent)
    found = list(big.client().query_in("Invoices", "id", [5, 5, 6, 5]))
    assert [i["id"] for i in found] == [5, 6]
    assert _bodies(big, since)[0]["filter"] == [{"op": "in", "field": "id", "value": [5, 6]}]


def test_or_conditions_are_counted_as_autotask_counts_them() -> None:
    filters: list[dict[str, Any]] = [
        {"op": "in", "field": "id", "value": [1, 2, 3]},
        {
            "op": "or",
            "items": [{"op": "eq", "field": "a", "value": 1}, {"op": "exist", "field": "b"}],
        },
        {"op": "and", "items": [{"op": "in", "field": "c", "value": [1, 2]}]},
    ]
    assert or_conditions(filters) == 7


def test_count_answers_the_number_of_matching_records(big: Served) -> None:
    client = big.client()
    assert client.count("Invoices", [{"op": "gt", "field": "id", "value": 1_000}]) == 200
    assert client.count("Invoices", []) == 1_200


def test_get_answers_none_for_a_record_that_does_not_exist(big: Served) -> None:
    assert big.client().get("Invoices", 99_999) is None


def test_a_bad_query_is_an_api_error_with_the_status_and_text_and_is_not_retried(
    big: Served,
) -> None:
    client = big.client()
    waits_before = len(big.time.waits)
    with pytest.raises(AutotaskApiError) as caught:
        list(client.query("Invoices", [{"op": "eq", "field": "nosuchfield", "value": 1}]))
    assert caught.value.status == 500
    assert caught.value.errors == ["Unable to find nosuchfield in the Invoice Entity."]
    assert "V1.0/Invoices/query" in str(caught.value)
    assert client.calls_made["Invoices"] == 1
    assert len(big.time.waits) == waits_before


def _one_page_then(next_url: str) -> tuple[list[str], Any]:
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(str(request.url))
        return httpx.Response(200, json=page([{"id": 1}], next_url=next_url))

    return hosts, handler


@pytest.mark.parametrize(
    "foreign",
    [
        "https://evil.example/ATServicesRest/V1.0/Invoices/query/next?paging=x",
        "http://webservices14.autotask.net/ATServicesRest/V1.0/Invoices/query/next?paging=x",
        "https://webservices14.autotask.net:8443/ATServicesRest/V1.0/Invoices/query/next",
    ],
    ids=["other-host", "other-scheme", "other-port"],
)
def test_next_page_url_on_another_host_is_refused(foreign: str) -> None:
    hosts, handler = _one_page_then(foreign)
    client = mock_client(handler, FakeTime())
    with pytest.raises(AutotaskUnsafeUrl, match="refusing to send"):
        list(client.query("Invoices", [], paging="next_url"))
    assert hosts == [ZONE + "V1.0/Invoices/query"]


def test_next_page_url_on_the_zone_host_with_explicit_default_port_is_followed() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path.endswith("/next"):
            return httpx.Response(200, json=page([{"id": 2}]))
        nxt = "https://webservices14.autotask.net:443/ATServicesRest/V1.0/Invoices/query/next"
        return httpx.Response(200, json=page([{"id": 1}], next_url=nxt))

    client = mock_client(handler, FakeTime())
    assert [i["id"] for i in client.query("Invoices", [], paging="next_url")] == [1, 2]


def test_money_arrives_as_exact_decimals(big: Served) -> None:
    item = big.client().get("Invoices", 3)
    assert item is not None
    assert str(item["invoiceTotal"]) == "3.3"
