"""Prometheus metrics for ``GET /metrics`` on the control API (prometheus_client).

Two kinds, in one registry per agent (never the library's global one, so two agents in one
process, as in the tests, do not collide):

- cycle figures, counted as cycles finish (``observe_cycle``): cycles by outcome, their
  durations, API calls per service, documents posted, failed and marked;
- the current state, read from the agent at scrape time (``StateCollector``): outbox rows per
  state, API budgets per service and organisation, Xero sign-in expiry per organisation, the
  agent's state and last cycle.

No metric carries a secret; organisation labels are tenant ids and names the user already sees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from agent.sync.report import CycleReport

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
AGENT_STATES = ("setup", "idle", "cycling", "stopping")
# Cycles take from a second (nothing to do) to many minutes (a month-end backlog).
CYCLE_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


def _timestamp(value: Any) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None


class StateCollector(Collector):
    """Reads ``status()`` (the control API's ``/status`` object) at each scrape."""

    def __init__(self, status: Callable[[], Mapping[str, Any]]) -> None:
        self.status = status

    def collect(self) -> Iterator[Metric]:
        status = self.status()
        agent = status.get("agent") or {}

        up = GaugeMetricFamily(
            "atx_agent_state", "1 for the state the agent is in", labels=["state"]
        )
        for state in AGENT_STATES:
            up.add_metric([state], 1.0 if agent.get("state") == state else 0.0)
        yield up
        setup = GaugeMetricFamily(
            "atx_setup_step_done", "1 when the setup step is done", labels=["step"]
        )
        for step, done in (status.get("setup") or {}).items():
            setup.add_metric([step], 1.0 if done else 0.0)
        yield setup

        last = agent.get("last_cycle") or {}
        finished = _timestamp(last.get("finished_at"))
        if finished is not None:
            yield GaugeMetricFamily(
                "atx_last_cycle_finished_timestamp_seconds",
                "when the last sync cycle finished (Unix time)",
                value=finished,
            )
        next_at = _timestamp(agent.get("next_cycle_at"))
        if next_at is not None:
            yield GaugeMetricFamily(
                "atx_next_cycle_timestamp_seconds", "when the next cycle is due", value=next_at
            )

        rows = GaugeMetricFamily("atx_outbox_rows", "outbox rows per state", labels=["state"])
        for state, count in sorted((status.get("counts") or {}).items()):
            rows.add_metric([state], float(count))
        yield rows

        budgets = status.get("budgets") or {}
        autotask = budgets.get("autotask")
        if autotask:
            yield GaugeMetricFamily(
                "atx_autotask_requests_used",
                "Autotask requests used this hour by every integration of the database",
                value=float(autotask.get("used") or 0),
            )
            yield GaugeMetricFamily(
                "atx_autotask_requests_limit",
                "Autotask's hourly request threshold",
                value=float(autotask.get("limit") or 0),
            )
        minute = GaugeMetricFamily(
            "atx_xero_minute_calls_remaining",
            "Xero calls left in the rolling minute",
            labels=["org", "name"],
        )
        day = GaugeMetricFamily(
            "atx_xero_day_calls_remaining", "Xero calls left today", labels=["org", "name"]
        )
        paused = GaugeMetricFamily(
            "atx_xero_paused",
            "1 while the organisation waits out its Xero limits",
            labels=["org", "name"],
        )
        for org in budgets.get("xero") or []:
            labels = [str(org.get("org")), str(org.get("name") or "")]
            if org.get("minute_remaining") is not None:
                minute.add_metric(labels, float(org["minute_remaining"]))
            if org.get("day_remaining") is not None:
                day.add_metric(labels, float(org["day_remaining"]))
            paused.add_metric(labels, 1.0 if org.get("paused_until") else 0.0)
        yield minute
        yield day
        yield paused

        access = GaugeMetricFamily(
            "atx_xero_access_token_expiry_timestamp_seconds",
            "when the organisation's access token expires (renewed by itself)",
            labels=["org", "name"],
        )
        refresh = GaugeMetricFamily(
            "atx_xero_refresh_token_days_left",
            "days until the Xero sign-in expires unused (reconnect before 0)",
            labels=["org", "name"],
        )
        connected = GaugeMetricFamily(
            "atx_xero_connection_ok",
            "1 when the organisation is connected and selected",
            labels=["org", "name"],
        )
        for card in status.get("connections") or []:
            labels = [str(card.get("tenant_id")), str(card.get("name") or "")]
            expires = _timestamp(card.get("access_expires_at"))
            if expires is not None:
                access.add_metric(labels, expires)
            if card.get("refresh_expires_in_days") is not None:
                refresh.add_metric(labels, float(card["refresh_expires_in_days"]))
            ok = card.get("selected") and not card.get("warning")
            connected.add_metric(labels, 1.0 if ok else 0.0)
        yield access
        yield refresh
        yield connected


class AgentMetrics:
    """The registry behind ``/metrics``: cycle counters plus the state read at scrape time."""

    def __init__(self, status: Callable[[], Mapping[str, Any]]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.cycles = Counter(
            "atx_cycles", "sync cycles run, by outcome", ["outcome"], registry=self.registry
        )
        self.cycle_seconds = Histogram(
            "atx_cycle_duration_seconds",
            "how long sync cycles took",
            buckets=CYCLE_BUCKETS,
            registry=self.registry,
        )
        self.api_calls = Counter(
            "atx_api_calls", "API calls made by sync cycles", ["service"], registry=self.registry
        )
        self.documents = Counter(
            "atx_documents",
            "documents by what happened to them in sync cycles",
            ["result"],
            registry=self.registry,
        )
        for outcome in ("ok", "failed"):
            self.cycles.labels(outcome)
        for service in ("autotask", "xero"):
            self.api_calls.labels(service)
        for result in ("posted", "adopted", "failed", "dead", "blocked", "marked"):
            self.documents.labels(result)
        self.registry.register(StateCollector(status))

    def observe_cycle(self, report: CycleReport) -> None:
        ok = not (report.failed or report.dead or report.mark_failed or report.errors)
        self.cycles.labels("ok" if ok else "failed").inc()
        if report.finished_at is not None:
            seconds = (report.finished_at - report.started_at).total_seconds()
            self.cycle_seconds.observe(max(seconds, 0.0))
        self.api_calls.labels("autotask").inc(report.autotask_calls)
        self.api_calls.labels("xero").inc(report.xero_calls)
        for result in ("posted", "adopted", "failed", "dead", "blocked", "marked"):
            self.documents.labels(result).inc(getattr(report, result))

    def render(self) -> bytes:
        return generate_latest(self.registry)
