"""Paging of the simulated Autotask: 500-record pages, nextPageUrl POSTs, id cursors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from test_sandbox_autotask_kit import ANY_ID, Api, invoice_world, serving

QUERY = {"filter": ANY_ID}


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    with serving(invoice_world(1200)) as api:
        yield api


def test_a_first_page_holds_500_records_and_links_the_next(api: Api) -> None:
    body = api.query("Invoices", QUERY).json()
    details = body["pageDetails"]
    assert len(body["items"]) == 500
    assert details["count"] == 500
    assert details["requestCount"] == 500
    assert details["prevPageUrl"] is None
    assert details["nextPageUrl"].startswith(
        api.urls.autotask_zone_url + "V1.0/Invoices/query/next?"
    )


def test_posting_each_next_page_url_with_the_same_body_reads_all_1200(api: Api) -> None:
    ids: list[int] = []
    url: str | None = api.base + "Invoices/query"
    pages = 0
    while url:
        body = api.client.post(url, json=QUERY).json()
        ids += [item["id"] for item in body["items"]]
        url = body["pageDetails"]["nextPageUrl"]
        pages += 1
    assert pages == 3
    assert ids == list(range(1, 1201))


def test_a_get_on_the_next_page_url_is_405(api: Api) -> None:
    next_url = api.query("Invoices", QUERY).json()["pageDetails"]["nextPageUrl"]
    assert api.client.get(next_url).status_code == 405


def test_the_next_page_url_carries_paging_and_search_parameters(api: Api) -> None:
    next_url = api.query("Invoices", QUERY).json()["pageDetails"]["nextPageUrl"]
    params = parse_qs(urlsplit(next_url).query)
    assert set(params) == {"paging", "search"}
    assert json.loads(params["search"][0])["filter"] == ANY_ID


def test_a_later_page_links_back_to_the_previous_one(api: Api) -> None:
    first = api.query("Invoices", QUERY).json()
    second = api.client.post(first["pageDetails"]["nextPageUrl"], json=QUERY).json()
    back = api.client.post(second["pageDetails"]["prevPageUrl"], json=QUERY).json()
    assert [i["id"] for i in back["items"]] == [i["id"] for i in first["items"]]


def test_max_records_makes_smaller_pages(api: Api) -> None:
    body = api.query("Invoices", {"maxRecords": 50, "filter": ANY_ID}).json()
    assert len(body["items"]) == 50
    assert body["pageDetails"]["requestCount"] == 50
    second = api.client.post(
        body["pageDetails"]["nextPageUrl"], json={"maxRecords": 50, "filter": ANY_ID}
    )
    assert second.json()["items"][0]["id"] == 51


def test_an_id_cursor_pages_without_next_page_urls(api: Api) -> None:
    last, seen = 0, 0
    while True:
        items = api.items(
            "Invoices", [{"op": "gt", "field": "id", "value": last}], includeFields=["id"]
        )
        if not items:
            break
        seen += len(items)
        last = items[-1]["id"]
    assert seen == 1200


def test_get_query_with_a_search_parameter_pages_the_same_way(api: Api) -> None:
    response = api.client.get(api.base + "Invoices/query", params={"search": json.dumps(QUERY)})
    body = response.json()
    assert len(body["items"]) == 500
    assert body["pageDetails"]["nextPageUrl"] is not None


def test_over_500_results_without_id_in_include_fields_cannot_page(api: Api) -> None:
    # Autotask requires id in includeFields beyond 500 results; the sandbox truncates silently.
    body = api.query("Invoices", {"includeFields": ["invoiceNumber"], "filter": ANY_ID}).json()
    assert len(body["items"]) == 500
    assert body["pageDetails"]["nextPageUrl"] is None


def test_a_tampered_paging_token_is_an_error(api: Api) -> None:
    response = api.client.post(api.base + "Invoices/query/next?paging=garbage", json=QUERY)
    assert response.status_code == 500
    assert "paging" in response.json()["errors"][0]
