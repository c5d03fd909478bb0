"""``atx settings list | set | unset`` against the sandbox: stored directly when no agent runs,
through the running agent's control socket when one does; each refusal one line with the fix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_control_kit import running_agent, short_dir
from test_sync_kit import Rig, rig, seeded_world

from agent.cli import main
from agent.store import Store


@pytest.fixture
def made(tmp_path: Path) -> Iterator[Rig]:
    with rig(tmp_path, seeded_world(10)) as made:
        yield made


def run(
    made: Rig,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *argv: str,
    env: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    for name, value in (made.environment() | (env or {})).items():
        monkeypatch.setenv(name, value)
    status = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


def stored(made: Rig) -> dict[str, object]:
    store: Store = made.store()
    return dict(store.settings.all())


def test_set_list_and_unset_without_a_running_agent(
    made: Rig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(
        made, monkeypatch, capsys, "settings", "set", "sync_purchase_orders", "yes"
    )
    assert status == 0 and "saved: sync_purchase_orders" in out
    assert "the agent reads it at its next cycle" in out
    run(made, monkeypatch, capsys, "settings", "set", "po_document", "BILL")
    run(made, monkeypatch, capsys, "settings", "set", "catalog_max_age_hours", "6")
    values = stored(made)
    assert values["sync_purchase_orders"] is True and values["po_document"] == "bill"
    assert values["catalog_max_age_hours"] == 6.0

    status, out, _ = run(made, monkeypatch, capsys, "settings", "list")
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert status == 0
    assert lines["po_document"].split()[1:3] == ["bill", "stored"]
    assert "[purchase_order | bill]" in lines["po_document"]
    assert lines["po_status"].split()[1:3] == ["DRAFT", "default"]
    assert "invoice_status" not in lines  # an ATX_ setting: with --all only
    status, out, _ = run(made, monkeypatch, capsys, "settings", "list", "--all")
    assert "invoice_status" in out and "autotask_secret" in out and "(set)" in out

    status, out, _ = run(made, monkeypatch, capsys, "settings", "unset", "po_document")
    assert status == 0 and "po_document" not in stored(made)


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("po_document", "invoice"), "po_document: expected one of purchase_order, bill"),
        (("sync_expenses", "maybe"), "sync_expenses: expected true or false, not 'maybe'"),
        (("days_back", "lots"), "days_back: expected a number, not 'lots'"),
        (("no_such_thing", "1"), "no_such_thing: not a setting the agent knows; one of:"),
        (("autotask_secret", "hunter2"), "secrets are not taken on the command line"),
        (("invoice_status", "AUTHORISED"), "set by the environment (ATX_INVOICE_STATUS)"),
    ],
)
def test_refusals_name_the_cause_and_store_nothing(
    made: Rig,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, str],
    said: str,
) -> None:
    env = {"ATX_INVOICE_STATUS": "DRAFT"}
    status, out, err = run(made, monkeypatch, capsys, "settings", "set", *argv, env=env)
    assert status == 2 and out == ""
    assert said in err and err.startswith("atx settings: ")
    assert "hunter2" not in err
    assert argv[0] not in stored(made)


def test_with_a_running_agent_the_change_goes_through_it(
    made: Rig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with short_dir() as folder:
        settings = made.settings(control_socket=folder / "c.sock")
        env = {"ATX_CONTROL_SOCKET": str(folder / "c.sock")}
        with running_agent(made, settings) as agent:
            status, out, _ = run(
                made, monkeypatch, capsys, "settings", "set", "po_status", "SUBMITTED", env=env
            )
            assert status == 0 and "the running agent applies it now" in out
            assert agent.socket.exists()
            status, out, err = run(
                made, monkeypatch, capsys, "settings", "set", "po_status", "PAID", env=env
            )
            assert status == 2 and "po_status: expected one of DRAFT, SUBMITTED, AUTHORISED" in err
    assert stored(made)["po_status"] == "SUBMITTED"
