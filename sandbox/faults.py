"""Fault injection shared by the simulated services.

A test (or the `/_sandbox/faults` admin route) queues faults; the middleware applies the first one
that matches a request (and, for a fault with a ``probability`` below 1, whose draw hits: each such
fault draws from its own ``random.Random(seed)``, so a seeded plan hits the same positions of the
sequence of matching requests every run; ``times`` counts hits only):

- ``error``: answer ``status`` at once with the service's own error body; nothing is applied.
- ``slow``: wait ``delay_seconds`` (real seconds) before handling the request.
- ``drop_after_write``: handle the request (the write is applied), then send the headers and half
  of the body and drop the connection: the client sees a broken response and cannot know the
  outcome.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FaultKind = Literal["error", "slow", "drop_after_write"]
FAULT_KINDS: tuple[str, ...] = ("error", "slow", "drop_after_write")


@dataclass
class Fault:
    kind: FaultKind
    path_contains: str = ""  # case-insensitive substring of the request path; "" matches all
    method: str | None = None  # "PUT", "POST", ...; None matches any method
    status: int = 500
    delay_seconds: float = 0.0
    times: int | None = 1  # how many requests it hits; None = until cleared
    probability: float = 1.0  # chance that a matching request is hit (e.g. 0.05: 5 %)
    seed: int | None = None  # of the fault's own draws; None: not reproducible

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return self.path_contains.lower() in path.lower()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaultPlan:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._draws: dict[int, random.Random] = {}  # id(fault) -> its draws

    def add(self, fault: Fault) -> Fault:
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; expected one of {FAULT_KINDS}")
        chance = fault.probability
        if isinstance(chance, bool) or not isinstance(chance, int | float) or not 0 < chance <= 1:
            raise ValueError(f"probability must be above 0 and at most 1, not {chance!r}")
        with self._lock:
            self._faults.append(fault)
            self._draws[id(fault)] = random.Random(fault.seed)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._draws.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if not fault.matches(method, path):
                    continue
                if fault.probability < 1.0 and self._draws[id(fault)].random() >= fault.probability:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                        del self._draws[id(fault)]
                return fault
        return None


class FaultInjectionMiddleware:
    """ASGI middleware; ``error_body(status)`` renders the service's own error JSON."""

    def __init__(self, app: ASGIApp, plan: FaultPlan, error_body: Callable[[int], bytes]) -> None:
        self.app = app
        self.plan = plan
        self.error_body = error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        fault = self.plan.take(scope["method"], scope["path"])
        if fault is None:
            try:
                await self.app(scope, receive, send)
            except ClientDisconnect:
                return  # the client went away while sending its request (killed, say)
        elif fault.kind == "error":
            body = self.error_body(fault.status)
            await send(
                {
                    "type": "http.response.start",
                    "status": fault.status,
                    "headers": [
                        (b"content-type", b"application/json; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        elif fault.kind == "slow":
            await asyncio.sleep(fault.delay_seconds)
            await self.app(scope, receive, send)
        else:
            await self._drop_after_write(scope, receive, send)

    async def _drop_after_write(self, scope: Scope, receive: Receive, send: Send) -> None:
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, capture)
        start = next(m for m in messages if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(max(len(body), 2)).encode()))
        await send({"type": "http.response.start", "status": start["status"], "headers": headers})
        await send(
            {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
        )
        # Raising after a partial body makes the server close the connection mid-response.
        raise ConnectionAbortedError(
            "sandbox fault: connection dropped after the write was applied"
        )
