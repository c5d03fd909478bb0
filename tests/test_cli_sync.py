"""The sync commands as a user runs them: `atx sync`, `status`, `retry`, `mappings`, `agent`.

Against the sandbox, in the test process (``main([...])`` with ATX_* in the environment), except
`atx agent`, which runs as a real process that is sent SIGTERM.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_sync_kit import Rig, rig, seeded_world

from agent.cli import main
from agent.store import OutboxState
from sandbox import seed_catalog as cat
from sandbox.faults import Fault

REPO = Path(__file__).resolve().parent.parent
S = OutboxState


def now() -> datetime:
    # The command line runs on the real clock: so does this sandbox.
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    start = now()
    with rig(
        tmp_path,
        seeded_world(24, seed_value=11, start=start),
        start=start,
        skip_tax=(cat.TR_UK, cat.TC_STANDARD),
    ) as found:
        for name, value in found.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("ATX_LOG_LEVEL", "WARNING")
        yield found


def atx(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def first_invoice(made: Rig, *, blocked: bool = False) -> int:
    """An invoice that maps (AU lines only, AUD customer), or one that is held."""
    store = made.store()
    rows = store.outbox.list_rows(states=[S.BLOCKED if blocked else S.DONE], limit=100)
    if rows:
        return int(rows[-1].autotask_id)
    companies = {c["id"]: c for c in made.world.autotask["Companies"]}
    for invoice in made.world.autotask["Invoices"]:
        lines = [i for i in made.world.autotask["BillingItems"] if i["invoiceID"] == invoice["id"]]
        au_only = all(i.get("organizationalLevelAssociationID") in (101, 102, 103) for i in lines)
        if (
            au_only
            and lines
            and companies[invoice["companyID"]].get("currencyID") == 1
            and not invoice.get("webServiceDate")
            and not invoice.get("isVoided")
        ):
            return int(invoice["id"])
    raise AssertionError("no plain AU invoice in the seeded world")


def test_dry_run_sends_nothing_then_the_invoice_then_a_full_cycle(
    made: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    invoice_id = first_invoice(made)
    status, out, err = atx(capsys, "sync", "--invoice", str(invoice_id), "--dry-run")
    assert status == 0, err
    shown = json.loads(out)
    assert shown["would_post"] is True and shown["outbox"] == []
    document = shown["document"]
    assert document["payload"]["Type"] in ("ACCREC", "ACCRECCREDIT")
    assert len(document["provenance"]) == len(document["payload"]["LineItems"])
    assert shown["organisation"]["tenant_id"] == made.au
    # Nothing was sent anywhere, and nothing queued.
    assert made.xero_documents(made.au) == made.xero_documents(made.uk) == []
    assert made.autotask_invoice(invoice_id)["webServiceDate"] is None
    assert made.store().outbox.count() == 0

    status, out, err = atx(capsys, "sync", "--invoice", str(invoice_id))
    assert status == 0, out + err
    assert f"Invoice {invoice_id}:" in out and ": done" in out
    assert made.autotask_invoice(invoice_id)["webServiceDate"] is not None
    assert made.store().outbox.count() == 1  # that invoice only

    status, out, err = atx(capsys, "sync", "--once")
    assert status == 0, out + err  # blocked invoices are reported, not failures
    assert out.startswith("Sync cycle: ") and "posted" in out
    assert "need a person" in out

    status, out, _ = atx(capsys, "status", "--json")
    assert status == 0
    data = json.loads(out)
    assert set(data) >= {"states", "attention", "connections", "budgets", "last_cycle"}
    assert data["states"]["done"] > 1 and data["states"]["blocked"] > 0
    assert {c["tenant_id"] for c in data["connections"]} == {made.au, made.uk}
    assert all(c["token_expires_at"] and not c["token_expired"] for c in data["connections"])
    assert data["last_cycle"]["ok"] is True and data["last_cycle"]["posted"] > 0
    assert data["budgets"]["xero"][made.au]["day_remaining"] is not None
    assert data["attention"][0]["reasons"]
    status, text, _ = atx(capsys, "status")
    assert status == 0 and text.startswith("Outbox: ") and "Needs attention" in text

    # A blocked invoice as a dry run: exit 1, with the reasons.
    blocked = first_invoice(made, blocked=True)
    status, out, _ = atx(capsys, "sync", "--invoice", str(blocked), "--dry-run")
    assert status == 1 and json.loads(out)["blocked"]

    # Retrying a done invoice needs --resync, which updates it in place.
    status, _, err = atx(capsys, "retry", str(invoice_id))
    assert status == 1 and "--resync" in err and err.count("\n") == 1
    status, out, _ = atx(capsys, "retry", str(invoice_id), "--resync")
    assert status == 0 and "resync queued" in out
    before = len(made.xero_documents(made.au))
    status, out, err = atx(capsys, "sync", "--once")
    assert status == 0, out + err
    assert len(made.xero_documents(made.au)) == before


def test_failures_exit_1_and_retry_failed_requeues_them(
    made: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    made.sandbox.xero_faults.add(
        Fault(kind="error", path_contains="/Invoices", method="PUT", status=400, times=None)
    )
    status, out, _ = atx(capsys, "sync", "--once")
    assert status == 1 and "failed" in out
    made.sandbox.xero_faults.clear()
    status, out, _ = atx(capsys, "retry", "--failed")
    assert status == 0 and re.match(r"[1-9][0-9]* failed or dead invoice", out)
    status, out, err = atx(capsys, "sync", "--once")
    assert status == 0, out + err
    status, _, err = atx(capsys, "retry", "999999")
    assert status == 1 and "has not seen it" in err


def test_a_paused_organisation_exits_3_and_leaves_the_work_pending(
    made: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    # Enough of Xero's daily budget for the catalogs (7 calls per organisation), none to write.
    made.sandbox.options.xero_day_limit = 7
    status, out, err = atx(capsys, "sync", "--once")
    assert status == 3, out + err
    assert "paused:" in out and "failed" not in out.split(";")[0]
    store = made.store()
    assert store.outbox.count(states=[S.PENDING]) > 0
    assert store.outbox.count(states=[S.FAILED, S.DEAD, S.POSTING]) == 0


def test_mappings_round_trip_and_an_import_unblocks_invoices(
    made: Rig, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, err = atx(capsys, "sync", "--once")
    assert status == 0, out + err
    exported = tmp_path / "mappings.json"
    status, out, _ = atx(capsys, "mappings", "export", str(exported))
    assert status == 0
    data = json.loads(exported.read_text())
    assert data["format"] == "atx-mappings" and data["version"] == 1
    types = {m["type"] for m in data["mappings"]}
    assert {"routing", "tax", "account", "contact"} <= types
    assert f"{len(data['mappings'])} mapping(s) written" in out

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"type": "tax", "source_key": "3:1", "target": "OUTPUT2"}, {}]))
    status, _, err = atx(capsys, "mappings", "import", str(bad))
    assert status == 1 and "mappings[1]:" in err and "nothing was imported" in err
    assert made.store().mappings.get(made.uk, "tax", "3:1") is None

    blocked = made.store().outbox.count(states=[S.BLOCKED])
    fix = tmp_path / "fix.json"
    entry = {"org": made.uk, "type": "tax", "source_key": "3:1", "target": "OUTPUT2"}
    fix.write_text(json.dumps({"format": "atx-mappings", "version": 1, "mappings": [entry]}))
    status, out, err = atx(capsys, "mappings", "import", str(fix))
    assert status == 0, err
    unblocked = int(out.splitlines()[1].split()[0])
    assert 0 < unblocked <= blocked
    assert made.store().outbox.count(states=[S.BLOCKED]) == blocked - unblocked

    # The exported file imports back as it is (every entry replaced by itself).
    status, out, err = atx(capsys, "mappings", "import", str(exported))
    assert status == 0, err
    assert out.startswith(f"{len(data['mappings'])} mapping(s) imported")


def test_setup_problems_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATX_DATA_DIR", str(tmp_path / "data"))
    status, _, err = atx(capsys, "sync", "--once")
    assert status == 2 and "ATX_SECRET_KEY" in err and err.count("\n") == 1
    monkeypatch.setenv("ATX_SECRET_KEY", "k" * 20)
    status, _, err = atx(capsys, "sync", "--once")
    assert status == 2 and "Autotask is not configured: set ATX_AUTOTASK_USERNAME" in err
    monkeypatch.setenv("ATX_AUTOTASK_USERNAME", "api@example.com")
    monkeypatch.setenv("ATX_AUTOTASK_SECRET", "s" * 12)
    monkeypatch.setenv("ATX_AUTOTASK_INTEGRATION_CODE", "C" * 12)
    status, _, err = atx(capsys, "sync", "--once")
    assert status == 2 and err.strip() == (
        "atx sync: no Xero organisation is connected: run `atx xero connect` (coming with the"
        " terminal UI) or use ATX_XERO_AUTH_MODE=client_credentials"
    )
    status, _, err = atx(capsys, "sync")
    assert status == 2 and "--once" in err
    status, _, err = atx(capsys, "retry")
    assert status == 2
    status, out, _ = atx(capsys, "status")
    assert status == 0 and "no organisation connected" in out


def test_the_agent_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    start = now()
    with rig(
        tmp_path,
        seeded_world(12, seed_value=2, start=start),
        start=start,
        mode="client_credentials",
    ) as found:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ATX_")}
        env |= found.environment() | {
            "PYTHONPATH": str(REPO),
            "ATX_SYNC_INTERVAL_MINUTES": "1",
            "ATX_LOG_FORMAT": "json",
        }
        agent = subprocess.Popen(
            [sys.executable, "-m", "agent.cli", "agent"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: list[str] = []
        first_cycle = threading.Event()

        def read() -> None:
            assert agent.stdout is not None
            for line in agent.stdout:
                lines.append(line)
                if '"cycle: ' in line:
                    first_cycle.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            assert first_cycle.wait(60), "".join(lines) + (
                agent.stderr.read() if agent.stderr else ""
            )
            agent.send_signal(signal.SIGTERM)
            try:
                code = agent.wait(timeout=30)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait()
                reader.join(timeout=5)
                raise AssertionError(
                    "no stop 30 s after SIGTERM:\n" + "".join(lines[-30:])
                ) from None
            assert code == 0, "".join(lines[-30:])
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait()
        reader.join(timeout=5)
        messages = [json.loads(line)["message"] for line in lines]
        assert any(m.startswith("agent started") for m in messages)
        assert any("SIGTERM received" in m for m in messages)
        assert messages[-1].startswith("agent stopped after 1 cycle")
        store = found.store()
        assert store.outbox.count(states=[S.DONE]) > 0
        assert store.outbox.count(states=[S.POSTING]) == 0
