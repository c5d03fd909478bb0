"""``GET /metrics`` (Prometheus) and ``GET /healthz`` on the control API (issue 6 §2), against
a running agent after its first cycle on the seeded sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_control_kit import Running, running_agent, short_dir, wait_for
from test_sync_kit import Rig, rig

from sandbox.world import SANDBOX_AUTOTASK_SECRET, SANDBOX_XERO_CUSTOM_CLIENT_SECRET

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Rig, Running]]:
    tmp = tmp_path_factory.mktemp("metrics")
    with short_dir() as folder, rig(tmp) as r:
        settings = r.settings(oauth_listen="127.0.0.1:0", control_socket=folder / "c.sock")
        with running_agent(r, settings) as run:
            with run.client() as c:
                wait_for(lambda: c.get("/status").json()["agent"]["last_cycle"])
            yield r, run


def scrape(c: httpx.Client) -> tuple[str, Samples]:
    answer = c.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return answer.text, samples


def value(samples: Samples, metric: str, /, **labels: str) -> float:
    return samples[(metric, tuple(sorted(labels.items())))]


def test_outbox_rows_per_state_are_the_status_counts(env: tuple[Rig, Running]) -> None:
    with env[1].client() as c:
        counts = c.get("/status").json()["counts"]
        _, samples = scrape(c)
    assert counts, "the first cycle queued nothing"
    for state, count in counts.items():
        assert value(samples, "atx_outbox_rows", state=state) == count
    assert (
        value(samples, "atx_agent_state", state="idle")
        + value(samples, "atx_agent_state", state="cycling")
        == 1
    )


def test_cycles_durations_and_api_calls_are_counted(env: tuple[Rig, Running]) -> None:
    with env[1].client() as c:
        last = c.get("/status").json()["agent"]["last_cycle"]
        _, samples = scrape(c)
    cycles = value(samples, "atx_cycles_total", outcome="ok") + value(
        samples, "atx_cycles_total", outcome="failed"
    )
    assert cycles >= 1
    assert value(samples, "atx_cycle_duration_seconds_count") == cycles
    assert value(samples, "atx_cycle_duration_seconds_sum") > 0
    assert value(samples, "atx_api_calls_total", service="autotask") > 0
    assert value(samples, "atx_api_calls_total", service="xero") > 0
    assert value(samples, "atx_documents_total", result="posted") >= last["posted"] > 0
    assert value(samples, "atx_last_cycle_finished_timestamp_seconds") > 0


def test_budgets_and_sign_in_expiry_per_organisation(env: tuple[Rig, Running]) -> None:
    run = env[1]
    with run.client() as c:
        status = c.get("/status").json()
        _, samples = scrape(c)
    for org in status["budgets"]["xero"]:
        labels = {"org": org["org"], "name": org["name"]}
        assert (
            value(samples, "atx_xero_minute_calls_remaining", **labels) == org["minute_remaining"]
        )
        assert value(samples, "atx_xero_day_calls_remaining", **labels) == org["day_remaining"]
        assert value(samples, "atx_xero_paused", **labels) == 0
    assert status["budgets"]["autotask"]
    assert value(samples, "atx_autotask_requests_used") == status["budgets"]["autotask"]["used"]
    assert value(samples, "atx_autotask_requests_limit") == 10_000
    cards = status["connections"]
    assert cards
    for card in cards:
        labels = {"org": card["tenant_id"], "name": card["name"]}
        assert value(samples, "atx_xero_access_token_expiry_timestamp_seconds", **labels) > 0
        assert value(samples, "atx_xero_connection_ok", **labels) == 1


def test_no_secret_in_the_metrics(env: tuple[Rig, Running]) -> None:
    run = env[1]
    with run.client() as c:
        text, _ = scrape(c)
    store = run.service.store
    secrets = [SANDBOX_AUTOTASK_SECRET, SANDBOX_XERO_CUSTOM_CLIENT_SECRET]
    for conn in store.connections.list_connections():
        tokens = store.connections.tokens(conn.tenant_id)
        secrets += [tokens.access_token, tokens.refresh_token or ""]
    for secret in filter(None, secrets):
        assert secret not in text


def test_healthz_is_200_while_running_and_503_while_stopping(env: tuple[Rig, Running]) -> None:
    run = env[1]
    service = run.service
    with run.client() as c:
        answer = c.get("/healthz")
        assert answer.status_code == 200
        assert answer.json()["ok"] is True and answer.json()["state"] in ("idle", "cycling")
        service._stopping = True  # as between SIGTERM and the end of the batch in flight
        try:
            answer = c.get("/healthz")
        finally:
            service._stopping = False
    assert answer.status_code == 503
    assert answer.json() == {"ok": False, "state": "stopping", "version": answer.json()["version"]}


def test_the_metrics_of_two_agents_in_one_process_do_not_mix(tmp_path: Path) -> None:
    """One registry per agent, not prometheus_client's global one."""
    from agent.control.metrics import AgentMetrics

    first = AgentMetrics(lambda: {"counts": {"done": 3}})
    second = AgentMetrics(lambda: {"counts": {"done": 5}})
    assert b'atx_outbox_rows{state="done"} 3.0' in first.render()
    assert b'atx_outbox_rows{state="done"} 5.0' in second.render()
