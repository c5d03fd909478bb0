"""Batches of at most 50 documents, per-document results, idempotency keys, unknown outcomes and
the lookups that make re-posting safe (reference §9, §10, §12)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from test_xero_client_kit import ACME, AU, invoice_body, invoices, record_requests, serving

from agent.xero import XeroOutcomeUnknown, batch_key, document_key, payload_hash
from sandbox.faults import Fault


def _keys(docs: list[dict[str, object]]) -> list[str]:
    return [document_key(100 + i, payload_hash(d)) for i, d in enumerate(docs)]


def test_120_invoices_go_in_three_calls_with_one_result_per_document(tmp_path: Path) -> None:
    docs = invoices(120)
    bad_line = {**docs[0]["LineItems"][0], "AccountCode": "999"}
    docs[61] = invoice_body(InvoiceNumber="AT-1061", LineItems=[bad_line])
    with serving(tmp_path) as served, served.client() as client:
        served.connect(client)
        sent = record_requests(client)
        results = client.post_documents(AU, "invoice", docs, _keys(docs))
        assert [s.method for s in sent] == ["PUT", "PUT", "PUT"]
        assert [r.index for r in results] == list(range(120))
        assert [r.number for r in results if r.ok] == [
            f"AT-{1000 + i}" for i in range(120) if i != 61
        ]
        failed = results[61]
        assert not failed.ok and failed.status == "ERROR" and failed.xero_id is None
        assert failed.errors and "999" in failed.errors[0]
        assert not failed.request_rejected
        good = results[0]
        assert good.xero_id and good.document_status == "AUTHORISED" and good.key == _keys(docs)[0]
        assert good.record["Total"] == 220
        assert len(served.sandbox.xero.invoices(AU)) == 119


def test_every_batch_asks_for_per_document_errors_and_four_decimals(tmp_path: Path) -> None:
    with serving(tmp_path) as served, served.client() as client:
        served.connect(client)
        sent = record_requests(client)
        line = {**invoice_body()["LineItems"][0], "UnitAmount": 10.1234}
        (result,) = client.post_documents(
            AU, "invoice", [invoice_body(InvoiceNumber="AT-9", LineItems=[line])], ["1:x"]
        )
        (put,) = sent
        assert "summarizeErrors=false" in put.url and "unitdp=4" in put.url
        assert put.headers["idempotency-key"].startswith("atx-invoice-")
        assert len(put.headers["idempotency-key"]) <= 128
        assert result.record["LineItems"][0]["UnitAmount"] == Decimal("10.1234")


def test_idempotency_key_is_deterministic_and_follows_rows_and_payloads() -> None:
    docs = invoices(3)
    keys = _keys(docs)
    key = batch_key(AU, "invoice", "PUT", keys, docs)
    assert key == batch_key(AU, "invoice", "PUT", list(keys), [dict(d) for d in docs])
    assert len(key) <= 128
    changed = [*docs[:2], {**docs[2], "Reference": "PO-2"}]
    assert batch_key(AU, "invoice", "PUT", keys, changed) != key  # payload changed
    assert batch_key(AU, "invoice", "PUT", [keys[1], keys[0], keys[2]], docs) != key
    assert batch_key(AU, "invoice", "POST", keys, docs) != key
    assert batch_key(AU, "credit_note", "PUT", keys, docs) != key
    assert document_key(5, "abc") == "5:abc"


def test_a_dropped_connection_after_the_write_is_an_unknown_outcome_then_found_once(
    tmp_path: Path,
) -> None:
    docs = invoices(3)
    with serving(tmp_path) as served, served.client() as client:
        served.connect(client)
        served.sandbox.xero_faults.add(
            Fault(kind="drop_after_write", path_contains="/Invoices", method="PUT")
        )
        with pytest.raises(XeroOutcomeUnknown) as raised:
            client.post_documents(AU, "invoice", docs, _keys(docs))
        assert raised.value.keys == tuple(_keys(docs))
        assert "looked up by number" in str(raised.value)
        assert client.status(AU).calls_made == 1  # not re-sent blindly
        found = client.find_invoices_by_number(AU, ["AT-1000", "at-1001", "AT-1002", "AT-404"])
        assert sorted(found) == ["AT-1000", "AT-1002", "at-1001"]
        numbers = [i["InvoiceNumber"] for i in served.sandbox.xero.invoices(AU)]
        assert sorted(numbers) == ["AT-1000", "AT-1001", "AT-1002"]
        invoice = client.get_invoice(AU, found["AT-1000"]["InvoiceID"])
        assert invoice is not None and invoice["InvoiceNumber"] == "AT-1000"


def test_earlier_batches_results_survive_a_later_failure(tmp_path: Path) -> None:
    docs = invoices(60)
    with serving(tmp_path) as served, served.client() as client:
        served.connect(client)
        # Faults apply in order: the first PUT meets a harmless one, the second is dropped.
        served.sandbox.xero_faults.add(Fault("slow", "/Invoices", method="PUT"))
        served.sandbox.xero_faults.add(Fault("drop_after_write", "/Invoices", method="PUT"))
        with pytest.raises(XeroOutcomeUnknown) as raised:
            client.post_documents(AU, "invoice", docs, _keys(docs))
        assert [r.index for r in raised.value.partial_results] == list(range(50))
        assert raised.value.keys == tuple(_keys(docs)[50:])


def test_a_request_refused_as_a_whole_gives_each_document_the_reason(tmp_path: Path) -> None:
    docs = [invoice_body(InvoiceNumber="AT-1", Bogus=1), invoice_body(InvoiceNumber="AT-2")]
    with serving(tmp_path) as served, served.client() as client:
        served.connect(client)
        results = client.post_documents(AU, "invoice", docs, _keys(docs))
        assert [r.ok for r in results] == [False, False]
        assert all(r.request_rejected and "Bogus" in " ".join(r.errors) for r in results)
        assert served.sandbox.xero.invoices(AU) == []


def test_credit_notes_contacts_items_and_purchase_orders_use_the_same_path(
    tmp_path: Path,
) -> None:
    line = invoice_body()["LineItems"][0]
    note = {
        "Type": "ACCRECCREDIT",
        "Contact": {"ContactID": ACME},
        "Date": "2026-03-02",
        "CreditNoteNumber": "CN-1",
        "Status": "AUTHORISED",
        "LineItems": [line],
    }
    order = {
        "Contact": {"ContactID": ACME},
        "Date": "2026-03-02",
        "PurchaseOrderNumber": "PO-1",
        "LineItems": [{**line, "AccountCode": "400", "TaxType": "INPUT"}],
    }
    contact = {"Name": "New Customer", "ContactNumber": "AT-77", "AccountNumber": "ACC-77"}
    item = {"Code": "SVC-NEW", "Name": "New service",
            "SalesDetails": {"UnitPrice": 12.3456, "AccountCode": "200"}}  # fmt: skip
    with serving(tmp_path) as served, served.client() as client:
        served.connect(client)
        for kind, doc, number in (
            ("credit_note", note, "CN-1"),
            ("purchase_order", order, "PO-1"),
            ("contact", contact, "AT-77"),
            ("item", item, "SVC-NEW"),
        ):
            (result,) = client.post_documents(AU, kind, [doc], ["1:x"], upsert=kind == "item")
            assert result.ok and result.xero_id and result.number == number, (kind, result)
        assert client.find_credit_notes_by_number(AU, ["CN-1", "CN-2"]).keys() == {"CN-1"}
        po = client.find_purchase_order_by_number(AU, "PO-1")
        assert po is not None and po["PurchaseOrderNumber"] == "PO-1"


def test_find_contact_tries_contact_number_then_account_number_then_name(
    tmp_path: Path,
) -> None:
    with serving(tmp_path) as served, served.client() as client:
        served.connect(client)
        client.post_documents(
            AU, "contact", [{"Name": "Wayne  Enterprises", "AccountNumber": "W-1"}], ["1:x"]
        )
        by_number = client.find_contact(AU, contact_number="AT-1", name="Globex")
        assert by_number is not None and by_number["ContactID"] == ACME
        by_account = client.find_contact(AU, contact_number="AT-404", account_number="W-1")
        assert by_account is not None and by_account["Name"] == "Wayne  Enterprises"
        by_name = client.find_contact(AU, name="  wayne enterprises ")
        assert by_name is not None and by_name["AccountNumber"] == "W-1"
        assert client.find_contact(AU, contact_number="AT-404", name="Nobody") is None


def test_an_unknown_invoice_id_is_none(tmp_path: Path) -> None:
    with serving(tmp_path) as served, served.client() as client:
        served.connect(client)
        assert client.get_invoice(AU, "9f1d1f7e-0000-4000-8000-000000000000") is None
