"""The queue detail's payments line (issue 5 §1 in the terminal UI): what Xero shows paid and
due, the paidDate set in Autotask, a part payment, and a problem to fix by hand."""

from __future__ import annotations

from typing import Any

from tui.screens.queue_detail import detail_text, payment_text

ROW: dict[str, Any] = {
    "id": 7,
    "kind": "invoice",
    "state": "done",
    "number": "1042",
    "customer": "Avon Studios",
    "autotask_id": "28500",
    "org_name": "Acme IT UK Ltd",
    "total": "120.00",
    "currency": "GBP",
}


def test_no_payment_seen_yet_shows_no_payments_line() -> None:
    assert payment_text(ROW | {"amount_paid": None, "amount_due": None}) is None
    assert "Payments" not in detail_text(ROW).plain


def test_a_part_payment_shows_paid_and_due() -> None:
    text = detail_text(ROW | {"amount_paid": "50.00", "amount_credited": "0.00",
                              "amount_due": "70.00", "paid_date": None}).plain  # fmt: skip
    assert "Payments: paid 50.00 GBP, due 70.00 GBP  · part paid" in text
    assert "credited" not in text


def test_a_full_payment_shows_the_date_set_in_autotask_and_credits() -> None:
    text = detail_text(ROW | {"amount_paid": "100.00", "amount_credited": "20.00",
                              "amount_due": "0.00", "paid_date": "2026-12-05"}).plain  # fmt: skip
    assert "paid 100.00 GBP, credited 20.00 GBP, due 0.00 GBP" in text
    assert "paid on 2026-12-05 (set in Autotask)" in text and "part paid" not in text


def test_a_payment_problem_is_shown_with_what_to_do() -> None:
    problem = "Autotask kept paidDate 2026-12-05: clear it by hand in Autotask"
    text = detail_text(ROW | {"amount_paid": "0.00", "amount_due": "120.00",
                              "payment_problem": problem}).plain  # fmt: skip
    assert problem in text
