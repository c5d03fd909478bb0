"""Shared helpers for the control API tests: a real agent (service, app, Unix socket, connect
pages, outbox tailer, sync loop) running in a thread against the sandbox, and an httpx client on
its socket.

(No tests here; the ``test_`` prefix keeps the file next to the tests that import it.)
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from test_sync_kit import Rig

from agent.config import Settings
from agent.control.runner import Agent, build_agent
from agent.sync import RetryStrategy


def service_options(r: Rig) -> dict[str, Any]:
    """The sandbox's clock for every client the service builds."""
    return {
        "autotask_options": {"sleep": r.time.sleep, "clock": r.time.clock},
        "xero_options": {"now": r.now, "sleep": r.time.sleep, "clock": r.time.clock},
        "engine_options": {"now": r.now, "retry": RetryStrategy(draw=lambda: 0.0)},
    }


@contextlib.contextmanager
def short_dir() -> Iterator[Path]:
    """A folder with a short path: a Unix socket path must fit in 107 bytes."""
    folder = Path(tempfile.mkdtemp(prefix="atx-", dir="/tmp"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Running:
    agent: Agent
    socket: Path
    thread: threading.Thread
    exit_status: list[int]

    @property
    def service(self) -> Any:
        return self.agent.service

    def client(self, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(
            transport=httpx.HTTPTransport(uds=str(self.socket)),
            base_url="http://atx",
            timeout=timeout,
        )


def wait_for(check: Callable[[], Any], timeout: float = 60.0, step: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(step)


@contextlib.contextmanager
def running_agent(
    r: Rig,
    settings: Settings,
    *,
    keep_alive_seconds: float = 0.5,
) -> Iterator[Running]:
    agent = build_agent(
        settings,
        service_options=service_options(r),
        tick_seconds=0.05,
        keep_alive_seconds=keep_alive_seconds,
        now=r.now,
    )
    status: list[int] = []

    def run() -> None:
        try:
            status.append(agent.loop.run())
        finally:
            agent.close()

    thread = threading.Thread(target=run, name="test-agent", daemon=True)
    thread.start()
    sock = settings.effective_control_socket
    try:
        wait_for(lambda: all(s._server is not None and s._server.started for s in agent.servers))
        yield Running(agent, sock, thread, status)
    finally:
        agent.loop.request_stop()
        thread.join(timeout=60)
        assert not thread.is_alive(), "the agent did not stop"


def settings_without(full: Settings, *names: str, **changes: Any) -> Settings:
    """``full`` as if the environment gave none of ``names`` (an agent set up through the API)."""
    given = {k: getattr(full, k) for k in full.model_fields_set if k not in names}
    return Settings(_env_file=None, **(given | changes))  # type: ignore[call-arg]


def browser_consent(flow: dict[str, Any]) -> str:
    """The browser's part of a connect flow on the sandbox: the code on /link, then Xero's
    authorize page (the sandbox consents at once). Returns the address Xero sends it back to."""
    with httpx.Client(timeout=30) as browser:
        to_xero = browser.get(flow["link"], params={"code": flow["code"]})
        assert to_xero.status_code == 302, to_xero.text
        back = browser.get(to_xero.headers["location"])
        assert back.status_code == 302, back.text
        location: str = back.headers["location"]
    return location


@dataclass
class SseEvent:
    id: int | None
    name: str
    data: Any


def read_events(
    response: httpx.Response, until: Callable[[list[SseEvent]], bool], *, comments: list[str]
) -> list[SseEvent]:
    """Parse a text/event-stream until ``until(events)`` holds (keep-alives keep it moving)."""
    import json

    events: list[SseEvent] = []
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line.startswith(":"):
            comments.append(line)
            if until(events):
                return events
            continue
        if line == "":
            if fields:
                event_id = fields.get("id")
                events.append(
                    SseEvent(
                        int(event_id) if event_id else None,
                        fields.get("event", "message"),
                        json.loads(fields.get("data", "null")),
                    )
                )
                fields = {}
                if until(events):
                    return events
            continue
        name, _, value = line.partition(":")
        fields[name] = value[1:] if value.startswith(" ") else value
    return events
