"""The `where` / `order` subset of the simulated Xero, and its wire formats (pure functions)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from sandbox.xero import queries
from sandbox.xero.serialize import ms_date, parse_date, parse_if_modified_since

ROWS = [
    {"InvoiceNumber": "AT-1", "Type": "ACCREC", "Status": "PAID", "Total": Decimal("10.00"),
     "Date": date(2026, 1, 5), "Contact": {"ContactID": "A1", "Name": "Acme Corp"}},
    {"InvoiceNumber": "AT-2", "Type": "ACCPAY", "Status": "AUTHORISED", "Total": Decimal("99.50"),
     "Date": date(2026, 2, 1), "Contact": {"ContactID": "B2", "Name": "Globex"}},
]  # fmt: skip


def _numbers(clause: str) -> list[str]:
    return [r["InvoiceNumber"] for r in queries.where(ROWS, clause, "Invoice")]


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ('Type=="ACCREC"', ["AT-1"]),
        ('type == "accrec"', ["AT-1"]),  # names and strings ignore case
        ('Status!="PAID" AND Total>50', ["AT-2"]),
        ('Status=="PAID" || Contact.Name.StartsWith("glo")', ["AT-1", "AT-2"]),
        ("Date>=DateTime(2026, 01, 31)", ["AT-2"]),
        ('Contact.ContactID==Guid("b2")', ["AT-2"]),
        ('ContactID=GUID("A1")', ["AT-1"]),
        ('NOT (Contact.Name.Contains("cme"))', ["AT-2"]),
        ("Reference==null", ["AT-1", "AT-2"]),
    ],
)
def test_supported_where_clauses(clause: str, expected: list[str]) -> None:
    assert _numbers(clause) == expected


@pytest.mark.parametrize(
    ("clause", "message"),
    [
        ("Foo==1", "No property or field 'Foo' exists in type 'Invoice'"),
        ('Total=="x"', "Operator '==' incompatible with operand types 'Decimal' and 'String'"),
        ("Total.Sum() > 1", "No property or field 'Sum' exists in type 'float'"),
        ('Type=="ACCREC" AND', "Expected a field name but found 'end of expression'"),
        ("Date>=DateTime(2026)", "DateTime expects 3 to 6 numbers"),
    ],
)
def test_unsupported_where_clauses_are_refused(clause: str, message: str) -> None:
    with pytest.raises(queries.QueryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _numbers(clause)


def test_order_and_paginate() -> None:
    ordered = queries.order(ROWS, "Total DESC", "Invoice")
    assert [r["InvoiceNumber"] for r in ordered] == ["AT-2", "AT-1"]
    with pytest.raises(queries.QueryError):
        queries.order(ROWS, "Total SIDEWAYS", "Invoice")
    page, info = queries.paginate(ROWS, 1, 5000)
    assert page == ROWS
    assert info == {"page": 1, "pageSize": 1000, "pageCount": 1, "itemCount": 2}
    assert queries.paginate(ROWS, None, None) == (ROWS, None)


def test_dates_in_and_out() -> None:
    assert ms_date(date(2019, 3, 11)) == "/Date(1552262400000+0000)/"
    assert parse_date("/Date(1552262400000+0000)/") == date(2019, 3, 11)
    assert parse_date("2026-03-02T00:00:00") == date(2026, 3, 2)
    # xero-python sends isoformat(); HTTP dates work too; both are read to the second.
    moment = datetime(2026, 3, 2, 10, 30, 15, tzinfo=UTC)
    assert parse_if_modified_since("2026-03-02T10:30:15.987654+00:00") == moment
    assert parse_if_modified_since("Mon, 02 Mar 2026 10:30:15 GMT") == moment
    assert parse_if_modified_since("2026-03-02T10:30:15") == moment
