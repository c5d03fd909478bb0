"""The control API against its own OpenAPI description, with schemathesis (issue 4 §1): every
operation but the endless event stream, stateless, on the ASGI app of a real ``AgentService``
over the sandbox (configured and synced, so the answers carry real rows). Any 5xx, an answer that
does not match its schema, or a status the description does not list fails the test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from test_control_kit import service_options, settings_without
from test_sync_kit import rig

from agent.control.app import create_app
from agent.control.events import EventBus, LogBuffer
from agent.control.service import AgentService


@pytest.fixture(scope="module", params=["synced", "in-setup"])
def api_schema(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """A synced agent, and one not set up yet (no Autotask user, no Xero connection)."""
    tmp = tmp_path_factory.mktemp("schema")
    synced = request.param == "synced"
    with rig(tmp, connect=synced, mappings=synced) as r:
        config = r.settings(
            oauth_listen="127.0.0.1:0",
            # Given, so no generated settings change can point the clients elsewhere.
            autotask_base_url=r.urls.autotask_zone_url,
        )
        if not synced:
            config = settings_without(config, "autotask_secret", "autotask_integration_code")
        store = r.store()
        bus = EventBus()
        logs = LogBuffer(publish=bus.publish)
        service = AgentService(config, store, bus=bus, logs=logs, now=r.now, **service_options(r))
        service.attach_loop(lambda: None)
        assert (service.run_cycle() is not None) == synced
        app = create_app(service)
        try:
            yield schemathesis.openapi.from_asgi("/openapi.json", app)
        finally:
            service.close()


# The event stream never ends by itself: tested in test_control_events.py.
schema = schemathesis.pytest.from_fixture("api_schema").exclude(path="/events")


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_matches_its_description(case: Any) -> None:
    case.call_and_validate()
