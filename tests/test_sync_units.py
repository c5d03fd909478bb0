"""The sync's small parts on their own: backoff, routing, options, markers, mapping files, logs,
and the agent loop with a stand-in engine."""

from __future__ import annotations

import io
import json
import logging
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from test_mapping_support import au_catalog, snapshot

from agent.autotask.records import BillingItem
from agent.config import Settings
from agent.logs import RedactSecrets, setup_logging
from agent.mapping import OrgCatalog
from agent.store import MappingEntry, TenantInfo
from agent.sync import CycleReport, RetryStrategy
from agent.sync.agent_loop import AgentLoop
from agent.sync.envelope import carries_marker, marker_for, with_marker
from agent.sync.mappings_io import ImportProblems, parse
from agent.sync.options import RuntimeView, SyncOptions, mapping_options
from agent.sync.routing import Routed, RoutingTable, Unroutable

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
AU, UK = "tenant-au", "tenant-uk"


# -- backoff -----------------------------------------------------------------------------------


def test_backoff_doubles_from_a_minute_up_to_an_hour() -> None:
    strategy = RetryStrategy(draw=lambda: 0.0)
    delays = [strategy.delay(n).total_seconds() for n in range(1, 9)]
    assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert strategy.next_attempt_at(1, NOW) == NOW + timedelta(minutes=1)


def test_backoff_jitter_only_shortens_and_retry_after_wins() -> None:
    strategy = RetryStrategy(draw=lambda: 1.0, jitter=0.2)
    assert strategy.delay(1).total_seconds() == pytest.approx(48)
    assert strategy.delay(1, retry_after=300).total_seconds() == 300
    assert strategy.delay(10_000).total_seconds() <= 3600  # no overflow on absurd counts
    with pytest.raises(ValueError):
        RetryStrategy(max_attempts=0)


# -- routing -----------------------------------------------------------------------------------


def items(*associations: int | None) -> tuple[BillingItem, ...]:
    return tuple(
        BillingItem(id=i + 1, invoiceID=28_310, organizationalLevelAssociationID=a)
        for i, a in enumerate(associations)
    )


def table(default: str | None = None, connected: tuple[str, ...] = (AU, UK)) -> RoutingTable:
    now = NOW
    entries = [
        MappingEntry("", "routing", "101", AU, {}, now),
        MappingEntry("", "routing", "201", UK, {}, now),
        MappingEntry("", "routing", "301", "tenant-gone", {}, now),
        MappingEntry(AU, "routing", "102", UK, {}, now),  # per-org routing entries mean nothing
    ]
    tenants = [TenantInfo(t, t.upper()) for t in connected]
    return RoutingTable.build(entries, tenants, default)


def test_routing_follows_the_lines_and_holds_mixed_invoices() -> None:
    assert table().route(snapshot(items=items(101, 101, None))) == Routed(
        AU, "line of business [101] routed to TENANT-AU"
    )
    assert isinstance(table().route(snapshot(items=items(201))), Routed)
    mixed = table().route(snapshot(items=items(101, 201)))
    assert isinstance(mixed, Unroutable) and "mixes lines of business" in str(mixed)
    assert '"TENANT-AU" and "TENANT-UK"' in str(mixed)


def test_routing_falls_back_to_the_default_then_the_only_organisation() -> None:
    unrouted = snapshot(items=items(None, 102))
    assert table(default=UK).route(unrouted) == Routed(UK, "the default organisation TENANT-UK")
    assert table(connected=(AU,)).route(unrouted) == Routed(
        AU, "the only connected organisation, TENANT-AU"
    )
    held = table().route(unrouted)
    assert isinstance(held, Unroutable) and "set the default organisation" in str(held)
    gone = table().route(snapshot(items=items(301)))
    assert isinstance(gone, Unroutable) and "not connected" in str(gone)
    assert isinstance(table(connected=()).route(unrouted), Unroutable)


# -- options -----------------------------------------------------------------------------------


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_runtime_settings_apply_unless_the_environment_sets_them_and_per_org_wins() -> None:
    runtime = RuntimeView(
        {
            "invoice_status": "authorised",
            "invoice_number_prefix": "AT-",
            "default_sales_account": "260",
            f"default_sales_account:{UK}": "200",
            "tax_mapping_enabled": False,
            "days_back": 7,
            "default_org": AU,
        }
    )
    base = settings()
    au = mapping_options(base, runtime, AU, au_catalog(), date(2026, 3, 2))
    uk = mapping_options(base, runtime, UK, au_catalog(), date(2026, 3, 2))
    assert (au.status, au.number_prefix, au.default_sales_account) == ("AUTHORISED", "AT-", "260")
    assert uk.default_sales_account == "200" and au.tax_mapping_enabled is False
    sync = SyncOptions.resolve(base, runtime)
    assert (sync.days_back, sync.default_org, sync.numbering) == (7, AU, "autotask")
    # A value given in the environment (ATX_*) wins over the stored one (control API contract).
    given = settings(invoice_status="DRAFT", invoice_number_prefix="X-", days_back=30)
    au = mapping_options(given, runtime, AU, au_catalog(), date(2026, 3, 2))
    assert (au.status, au.number_prefix, au.default_sales_account) == ("DRAFT", "X-", "260")
    assert SyncOptions.resolve(given, runtime).days_back == 30


def test_defaults_come_from_the_catalog_and_bad_values_are_ignored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = RuntimeView({"invoice_status": "SENT", "rounding_line": "yes", "days_back": -3})
    options = mapping_options(settings(), runtime, AU, au_catalog(), date(2026, 3, 2))
    assert options.status == "DRAFT" and options.rounding_line is False
    assert options.default_sales_account == "200"  # active revenue account in the catalog
    assert options.exempt_tax_type == "EXEMPTOUTPUT"  # active, allowed on revenue
    bare = OrgCatalog.from_cached(name="Empty", base_currency="AUD", catalogs={})
    unset = mapping_options(settings(), runtime, AU, bare, date(2026, 3, 2))
    # Nothing to default to: lines without an account, and exempt customers, block with reasons.
    assert unset.default_sales_account is None and unset.exempt_tax_type is None
    assert SyncOptions.resolve(settings(days_back=30), runtime).days_back == 30
    assert "run-time setting invoice_status ignored" in caplog.text


# -- the Reference marker (Xero numbering) -----------------------------------------------------


def test_markers_are_whole_tokens_that_survive_a_long_order_number() -> None:
    marker = marker_for(28_310)
    assert with_marker(None, marker) == "AT#28310"
    assert with_marker("PO1234", marker) == "PO1234 / AT#28310"
    long = with_marker("P" * 300, marker)
    assert len(long) == 255 and long.endswith(" / AT#28310")
    assert carries_marker("PO1234 / AT#28310", marker)
    assert not carries_marker("PO1234 / AT#283101", marker)
    assert not carries_marker("XAT#28310", marker)


# -- mapping files -----------------------------------------------------------------------------


def test_mapping_files_are_checked_entry_by_entry() -> None:
    good = [
        {"type": "tax", "source_key": "1:1", "target": "OUTPUT", "org": AU},
        {"type": "account", "source_key": 29682813, "target": "260"},
        {"type": "routing", "source_key": "101", "target": "tenant-new"},
    ]
    entries, warnings = parse(json.dumps(good), source="m.json", connected={AU})
    assert [e.source_key for e in entries] == ["1:1", "29682813", "101"]
    assert warnings == ["mappings[2]: routes to tenant-new, not a connected organisation"]
    bad = [
        *good,
        {"type": "colour", "source_key": "1", "target": "x"},
        {"type": "tax", "source_key": "1", "target": "OUTPUT"},
        {"type": "account", "source_key": "1", "target": ""},
        {"type": "tax", "source_key": "1:1", "target": "OUTPUT", "org": AU},
        "nonsense",
    ]
    with pytest.raises(ImportProblems) as caught:
        parse(json.dumps({"mappings": bad}), source="m.json", connected={AU})
    problems = caught.value.problems
    assert [p.split(":")[0] for p in problems] == [f"mappings[{i}]" for i in range(3, 8)]
    assert "type 'colour' is unknown" in problems[0]
    assert "<tax region id>:<tax category id>" in problems[1]
    assert "the same org, type and source_key as mappings[0]" in problems[3]
    with pytest.raises(ImportProblems) as broken:
        parse('{"mappings": [\n  {"type": }\n]}', source="m.json", connected=set())
    assert broken.value.problems[0].startswith("m.json:2:")


# -- logs --------------------------------------------------------------------------------------


def test_logs_are_one_line_json_without_secrets(request: pytest.FixtureRequest) -> None:
    stream = io.StringIO()
    handler = setup_logging(
        settings(log_format="json", autotask_secret="hunter2-autotask-secret", log_level="INFO"),
        stream,
    )
    # Undone at the end: later tests read the ``atx`` loggers through caplog (root handler).
    atx = logging.getLogger("atx")
    request.addfinalizer(lambda: atx.removeHandler(handler))
    request.addfinalizer(lambda: setattr(atx, "propagate", True))
    log = logging.getLogger("atx.sync")
    log.info("posted invoice 1 with secret %s", "hunter2-autotask-secret")
    log.warning(
        "xero said: Authorization: Bearer eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl\nsecond line"
    )
    log.info('token answer {"access_token": "abcdefgh12345", "refresh_token": "zyxwv98765"}')
    try:
        raise RuntimeError("refresh_token=abcdef123456 was refused")
    except RuntimeError:
        log.exception("failed")
    log.debug("not shown at INFO")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4
    entries = [json.loads(line) for line in lines]
    text = stream.getvalue()
    for secret in ("hunter2", "eyJhbGciOi", "abcdefgh12345", "zyxwv98765", "abcdef123456"):
        assert secret not in text
    assert entries[0]["logger"] == "atx.sync" and entries[0]["level"] == "info"
    assert "second line" in entries[1]["message"] and "RuntimeError" in entries[3]["message"]


def test_redaction_keeps_ordinary_text() -> None:
    redact = RedactSecrets(["s3cret-value"]).redact
    assert redact("posted 12 invoices to Acme IT, total 1,234.50") == (
        "posted 12 invoices to Acme IT, total 1,234.50"
    )
    assert redact("key s3cret-value here") == "key ******** here"


# -- the agent loop ----------------------------------------------------------------------------


class StandInEngine:
    def __init__(self, loop_stop: threading.Event, crash_on: set[int], stop_after: int) -> None:
        self.calls = 0
        self.loop_stop = loop_stop
        self.crash_on = crash_on
        self.stop_after = stop_after
        self.stopped = False

    def run_cycle(self) -> CycleReport:
        self.calls += 1
        if self.calls >= self.stop_after:
            self.loop_stop.set()
        if self.calls in self.crash_on:
            raise RuntimeError("Autotask said no\nwith a second line")
        return CycleReport(NOW, NOW, posted=1)

    def request_stop(self) -> None:
        self.stopped = True


def test_the_loop_survives_a_crashing_cycle_and_stops_on_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = threading.Event()
    engine = StandInEngine(stop, crash_on={1}, stop_after=3)
    seen: list[CycleReport] = []
    loop = AgentLoop(engine, 1, stop=stop, tick_seconds=0.001, on_cycle=seen.append)
    # Every minute has already passed: the schedule runs a cycle at each tick.
    loop.scheduler.every(1).seconds.do(loop.cycle)
    loop.scheduler.jobs[-1].next_run = datetime.now() - timedelta(seconds=1)
    with caplog.at_level(logging.INFO, logger="atx.sync"):
        assert loop.run() == 0
    assert engine.calls >= 2 and loop.crashes == 1 and len(seen) >= 1
    failure = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failure) == 1 and "RuntimeError: Autotask said no with a second line" in (
        failure[0].getMessage()
    )
    assert loop.scheduler.jobs == []


def test_a_stop_request_reaches_the_engine() -> None:
    stop = threading.Event()
    engine = StandInEngine(stop, crash_on=set(), stop_after=99)
    loop = AgentLoop(engine, 15, stop=stop)
    loop.request_stop()
    assert stop.is_set() and engine.stopped
    assert loop.run() == 0 and engine.calls == 0  # stopped before the first cycle


def test_report_summary_names_what_happened() -> None:
    report = CycleReport(NOW, NOW + timedelta(seconds=2), invoices_seen=3, posted=2, blocked=1)
    report.autotask_calls, report.xero_calls = 4, 3
    assert report.summary() == (
        "3 invoices seen, 2 posted, 1 blocked; calls: Autotask 4, Xero 3 (0 writes); 2.0s"
    )
    assert report.ok and report.complete
    report.pause(AU, NOW)
    assert not report.complete and report.to_dict()["paused"] == {AU: NOW.isoformat()}
    assert Decimal(str(report.to_dict()["seconds"])) == 2
