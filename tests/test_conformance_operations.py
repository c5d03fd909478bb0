"""Finding the schemas of an operation in the specs, from a template or a wire path."""

from __future__ import annotations

import pytest

from sandbox.conformance import (
    autotask_entity_model,
    find_operation,
    operation_request_schema,
    operation_response_schema,
)
from sandbox.spec_book import spec


def test_autotask_query_operation_names_its_body_and_page_schemas() -> None:
    assert operation_request_schema("autotask", "POST", "/V1.0/Invoices/query") == "QueryModel"
    assert (
        operation_response_schema("autotask", "POST", "/V1.0/Invoices/query", 200)
        == "QueryActionResult[InvoiceModel,Invoice]"
    )


def test_autotask_invoice_patch_takes_an_invoice_model() -> None:
    assert operation_request_schema("autotask", "PATCH", "/V1.0/Invoices") == "InvoiceModel"
    assert (
        operation_response_schema("autotask", "PATCH", "/V1.0/Invoices") == "OperationResultModel"
    )


def test_concrete_wire_path_matches_its_template() -> None:
    operation = find_operation("autotask", "get", "/ATServicesRest/v1.0/Invoices/28310?x=1")

    assert operation is not None
    assert operation.path_template == "/V1.0/Invoices/{id}"
    assert operation.response_schemas["200"] == "ItemQueryResultModel[InvoiceModel,Invoice]"


def test_literal_segment_beats_a_parameter() -> None:
    operation = find_operation("autotask", "GET", "/V1.0/Invoices/query")

    assert operation is not None
    assert operation.operation_id == "Invoices_UrlParameterQuery"


def test_zone_information_lookup_matches_case_insensitively() -> None:
    assert (
        operation_response_schema("autotask", "GET", "/atservicesrest/v1.0/zoneInformation?user=a")
        == "ZoneInformationResultModel"
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "response"),
    [
        ("PUT", "/api.xro/2.0/Invoices", "Invoices", "Invoices"),
        ("POST", "/Invoices", "Invoices", "Invoices"),
        ("GET", "/api.xro/2.0/Invoices/ed255415-e141-4150-aab7-89c3bbbb851c", None, "Invoices"),
        ("PUT", "/api.xro/2.0/CreditNotes/abc/Allocations", "Allocations", "Allocations"),
        ("GET", "/api.xro/2.0/TaxRates", None, "TaxRates"),
    ],
)
def test_xero_operations_name_their_schemas(
    method: str, path: str, body: str | None, response: str
) -> None:
    assert operation_request_schema("xero", method, path) == body
    assert operation_response_schema("xero", method, path, 200) == response


def test_xero_validation_error_response_schema_comes_through_a_reference() -> None:
    assert operation_response_schema("xero", "PUT", "/Invoices", 400) == "Error"


def test_unknown_path_has_no_operation() -> None:
    assert find_operation("xero", "GET", "/api.xro/2.0/Nothing/Here") is None
    assert operation_response_schema("autotask", "DELETE", "/V1.0/Invoices") is None


def test_autotask_entity_names_map_to_swagger_models() -> None:
    assert autotask_entity_model("Invoices") == "InvoiceModel"
    assert autotask_entity_model("billingitems") == "BillingItemModel"
    assert autotask_entity_model("OrganizationalLevelAssociations") == (
        "OrganizationalLevelAssociationModel"
    )
    assert autotask_entity_model("NoSuchEntity") is None


def test_each_spec_is_parsed_once_per_process() -> None:
    assert spec("xero") is spec("xero")
    assert spec("autotask") is spec("autotask")
