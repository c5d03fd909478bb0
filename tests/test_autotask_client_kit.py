"""Shared helpers for the Autotask client tests: a sandbox, a fake clock, recorded requests.

(No tests here; the ``test_`` prefix keeps the file next to the tests that import it.)
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from agent.autotask import AutotaskClient, BudgetPolicy
from sandbox.core import Sandbox, SandboxOptions
from sandbox.server import SandboxUrls, running_sandbox
from sandbox.world import (
    SANDBOX_AUTOTASK_INTEGRATION_CODE,
    SANDBOX_AUTOTASK_SECRET,
    SANDBOX_AUTOTASK_USERNAME,
    AutotaskApiUser,
    World,
)

USERNAME = SANDBOX_AUTOTASK_USERNAME
SECRET = SANDBOX_AUTOTASK_SECRET
CODE = SANDBOX_AUTOTASK_INTEGRATION_CODE


def api_user() -> AutotaskApiUser:
    return AutotaskApiUser(USERNAME, SECRET, CODE)


def invoice(invoice_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": invoice_id,
        "companyID": 100 + invoice_id % 3,
        "invoiceNumber": f"INV-{invoice_id:05d}",
        "invoiceDateTime": f"2026-03-{1 + invoice_id % 28:02d}T00:00:00",
        "invoiceTotal": round(invoice_id * 1.1, 2),
        "isVoided": False,
        **fields,
    }


def invoice_world(count: int) -> World:
    world = World(autotask_users=[api_user()])
    world.autotask["Invoices"] = [invoice(i) for i in range(1, count + 1)]
    return world


class FakeTime:
    """The client's clock and sleep: sleeping records the wait and moves time on at once
    (the sandbox's clock too, when given, so its rolling hour moves with ours)."""

    def __init__(self, sandbox: Sandbox | None = None) -> None:
        self.now = 1000.0
        self.waits: list[float] = []
        self.sandbox = sandbox
        self.on_sleep: Callable[[float], None] | None = None
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)
            self.now += seconds
        if self.sandbox is not None:
            self.sandbox.clock.advance(seconds)
        if self.on_sleep is not None:
            self.on_sleep(seconds)


@dataclass
class Served:
    sandbox: Sandbox
    urls: SandboxUrls
    http: httpx.Client
    time: FakeTime
    sent: list[httpx.Request] = field(default_factory=list)

    def client(self, **options: Any) -> AutotaskClient:
        """A client found through zone discovery; budget pacing off unless asked for."""
        options.setdefault("zone_lookup_url", self.urls.autotask_zone_lookup_url)
        options.setdefault("budget", None)
        http = options.pop("http", self.http)
        return make_client(http, self.time, **options)

    def paths(self, contains: str = "") -> list[str]:
        return [r.url.path for r in self.sent if contains.lower() in r.url.path.lower()]


def make_client(http: httpx.Client, time: FakeTime, **options: Any) -> AutotaskClient:
    options.setdefault("draw", lambda: 1.0)  # full jitter at its ceiling: waits 1, 2, 4, ...
    options.setdefault("budget", BudgetPolicy())
    username = options.pop("username", USERNAME)
    secret = options.pop("secret", SECRET)
    code = options.pop("integration_code", CODE)
    return AutotaskClient(
        username,
        secret,
        code,
        http=http,
        sleep=time.sleep,
        clock=time.clock,
        **options,
    )


@contextlib.contextmanager
def serving(
    world: World, options: SandboxOptions | None = None, *, sandbox_time: bool = False
) -> Iterator[Served]:
    """The sandbox over real HTTP; ``sandbox_time``: the fake sleep also advances its clock."""
    sandbox = Sandbox(world, options=options)
    sent: list[httpx.Request] = []
    lock = threading.Lock()

    def record(request: httpx.Request) -> None:
        with lock:
            sent.append(request)

    with (
        running_sandbox(sandbox) as urls,
        httpx.Client(event_hooks={"request": [record]}) as http,
    ):
        time = FakeTime(sandbox if sandbox_time else None)
        yield Served(sandbox, urls, http, time, sent)


def mock_http(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


ZONE = "https://webservices14.autotask.net/ATServicesRest/"


def mock_client(
    handler: Callable[[httpx.Request], httpx.Response], time: FakeTime, **options: Any
) -> AutotaskClient:
    """A client on an httpx.MockTransport, with a fixed zone (no discovery)."""
    options.setdefault("base_url", ZONE)
    options.setdefault("budget", None)
    return make_client(mock_http(handler), time, **options)


def page(items: list[dict[str, Any]], next_url: str | None = None) -> dict[str, Any]:
    return {
        "items": items,
        "pageDetails": {
            "count": len(items),
            "requestCount": 500,
            "prevPageUrl": None,
            "nextPageUrl": next_url,
        },
    }
