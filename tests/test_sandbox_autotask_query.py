"""The query engine of the simulated Autotask: operators, groups, types, shapes and errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from test_sandbox_autotask_kit import ANY_ID, Api, serving, small_world


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    with serving(small_world()) as api:
        yield api


def cond(op: str, field: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"op": op, "field": field, **extra}
    if value is not None:
        out["value"] = value
    return out


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (cond("eq", "invoiceNumber", "INV-ALPHA"), [3]),  # case-insensitive, like SQL Server
        (cond("noteq", "invoiceNumber", "inv-alpha"), [1, 4, 5]),  # null matches nothing
        (cond("gt", "invoiceTotal", 3), [4]),
        (cond("gte", "invoiceTotal", 3), [3, 4]),
        (cond("lt", "invoiceTotal", 1), [5]),
        (cond("lte", "invoiceTotal", 1), [1, 5]),
        (cond("beginsWith", "invoiceNumber", "inv-"), [1, 3, 4]),
        (cond("endsWith", "invoiceNumber", "ALPHA"), [3]),
        (cond("contains", "invoiceNumber", "alpha"), [3, 5]),
        (cond("exist", "invoiceNumber"), [1, 3, 4, 5]),
        (cond("notExist", "invoiceNumber"), [2]),
        (cond("in", "id", [1, 4, 99]), [1, 4]),
        (cond("notIn", "id", [1, 4]), [2, 3, 5]),
        (cond("eq", "isVoided", True), [2]),
        (cond("eq", "id", "4"), [4]),  # numeric strings bind to integer fields
    ],
    ids=lambda v: v["op"] + ":" + v["field"] if isinstance(v, dict) else None,
)
def test_each_operator_selects_the_expected_invoices(
    api: Api, condition: dict[str, Any], expected: list[int]
) -> None:
    assert api.ids("Invoices", [condition]) == expected


def test_results_come_ordered_by_id_ascending(api: Api) -> None:
    assert api.ids("Invoices", ANY_ID) == [1, 2, 3, 4, 5]


def test_top_level_conditions_are_anded(api: Api) -> None:
    filters = [cond("beginsWith", "invoiceNumber", "INV"), cond("gt", "id", 2)]
    assert api.ids("Invoices", filters) == [3, 4]


def test_nested_or_and_and_groups_combine(api: Api) -> None:
    group = {
        "op": "or",
        "items": [
            cond("eq", "id", 1),
            {"op": "and", "items": [cond("gt", "invoiceTotal", 3), cond("exist", "paidDate")]},
        ],
    }
    assert api.ids("Invoices", [group]) == [1, 4]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-05T10:00:00", [3]),
        ("2026-03-05T10:00:00.250", [3]),
        ("2026-03-05T10:00:00.250Z", [3]),
        ("2026-03-05T12:00:00.250+02:00", [3]),
    ],
)
def test_datetime_fields_compare_as_datetimes_whatever_the_spelling(
    api: Api, value: str, expected: list[int]
) -> None:
    assert api.ids("Invoices", [cond("gte", "webServiceDate", value)]) == expected


def test_datetime_before_a_date_only_value(api: Api) -> None:
    assert api.ids("Invoices", [cond("lt", "invoiceDateTime", "2026-03-02")]) == [1]


def test_booleans_must_be_literal_true_or_false(api: Api) -> None:
    errors = api.errors("Invoices", {"filter": [cond("eq", "isVoided", "true")]})
    assert "isVoided" in errors[0]


def test_a_query_without_a_filter_is_refused(api: Api) -> None:
    assert "filter" in api.errors("Invoices", {"maxRecords": 10})[0]
    assert "filter" in api.errors("Invoices", {"filter": []})[0]


def test_max_records_over_500_is_an_error(api: Api) -> None:
    assert "500" in api.errors("Invoices", {"maxRecords": 501, "filter": ANY_ID})[0]


def test_more_than_500_or_conditions_is_the_real_error(api: Api) -> None:
    too_many = [cond("in", "id", list(range(501)))]
    expected = "Invalid query syntax. Queries are limited to 500 or fewer 'OR' conditions."
    assert api.errors("Invoices", {"filter": too_many}) == [expected]
    in_and_or = [
        cond("in", "id", list(range(400))),
        {"op": "or", "items": [cond("eq", "id", i) for i in range(101)]},
    ]
    assert api.errors("Invoices", {"filter": in_and_or}) == [expected]


def test_exactly_500_in_values_are_accepted(api: Api) -> None:
    assert api.ids("Invoices", [cond("in", "id", list(range(500)))]) == [1, 2, 3, 4, 5]


def test_an_unknown_field_names_the_internal_entity(api: Api) -> None:
    errors = api.errors("Companies", {"filter": [cond("eq", "Xero Org", "NZ")]})
    assert errors == ["Unable to find Xero Org in the Account Entity."]


def test_a_documented_unfilterable_field_is_refused(api: Api) -> None:
    assert "dueDate" in api.errors("Invoices", {"filter": [cond("exist", "dueDate")]})[0]


def test_a_udf_filter_reads_user_defined_fields(api: Api) -> None:
    assert api.ids("Companies", [cond("eq", "Xero Org", "au", udf=True)]) == [101]


def test_more_than_one_udf_filter_is_an_error(api: Api) -> None:
    filters = [cond("eq", "Xero Org", "AU", udf=True), cond("exist", "Other", udf=True)]
    assert "user-defined" in api.errors("Companies", {"filter": filters})[0]


def test_body_keys_are_accepted_in_either_casing(api: Api) -> None:
    body = {"MaxRecords": 2, "IncludeFields": ["id"], "Filter": ANY_ID}
    response = api.query("Invoices", body)
    assert response.status_code == 200
    assert response.json()["items"] == [{"id": 1}, {"id": 2}]


def test_field_names_match_case_insensitively(api: Api) -> None:
    assert api.ids("Invoices", [cond("eq", "INVOICENUMBER", "inv-beta")]) == [1]


def test_records_carry_every_model_field_with_null_where_absent(api: Api) -> None:
    item = api.items("Invoices", [cond("eq", "id", 1)])[0]
    model = api.sandbox.autotask.entity("Invoices").kinds
    assert list(item) == list(model)
    assert item["batchID"] is None
    company = api.items("Companies", [cond("eq", "id", 100)])[0]
    assert "userDefinedFields" in company


def test_include_fields_limits_the_returned_fields(api: Api) -> None:
    items = api.items("Invoices", [cond("eq", "id", 3)], includeFields=["invoiceNumber"])
    assert items == [{"invoiceNumber": "INV-Alpha"}]


def test_an_unknown_include_field_is_an_error(api: Api) -> None:
    body = {"includeFields": ["invoiceNumbr"], "filter": ANY_ID}
    assert "invoiceNumbr" in api.errors("Invoices", body)[0]


def test_an_unknown_operator_is_silently_dropped_outside_strict_mode(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Live behaviour: "ne" instead of "noteq" returns every row (WYRE-AI/autotask-mcp#211).
    monkeypatch.setattr(api.sandbox.options, "strict_requests", False)
    assert api.ids("Invoices", [cond("ne", "id", 1)]) == [1, 2, 3, 4, 5]


def test_an_unknown_operator_is_refused_in_strict_mode(api: Api) -> None:
    assert "'ne'" in api.errors("Invoices", {"filter": [cond("ne", "id", 1)]})[0]


def test_strict_mode_names_a_misspelled_query_key(api: Api) -> None:
    errors = api.errors("Invoices", {"filtr": ANY_ID})
    assert any("filtr" in e for e in errors)


def test_count_answers_the_number_of_matches(api: Api) -> None:
    response = api.client.post(
        api.base + "Invoices/query/count", json={"filter": [cond("gt", "id", 2)]}
    )
    assert response.json() == {"queryCount": 3}


def test_count_by_get_with_a_search_parameter(api: Api) -> None:
    search = '{"filter":[{"op":"eq","field":"isVoided","value":true}]}'
    response = api.client.get(api.base + "Invoices/query/count", params={"search": search})
    assert response.json() == {"queryCount": 1}


def test_get_by_id_answers_the_item(api: Api) -> None:
    body = api.client.get(api.base + "Invoices/4").json()
    assert body["item"]["invoiceNumber"] == "INV-Gamma"


def test_get_of_a_missing_id_answers_a_null_item(api: Api) -> None:
    response = api.client.get(api.base + "Invoices/999")
    assert response.status_code == 200
    assert response.json() == {"item": None}
