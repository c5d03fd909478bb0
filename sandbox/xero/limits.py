"""Xero's API limits on the sandbox clock (reference §8).

Per organisation (per app+org connection): ``xero_concurrent_limit`` requests in flight,
``xero_minute_limit`` calls in a rolling minute, a daily budget in a fixed UTC day; per app:
``xero_app_minute_limit`` calls in a rolling minute across all organisations. Every counted
response carries ``X-DayLimit-Remaining``, ``X-MinLimit-Remaining`` and
``X-AppMinLimit-Remaining``; a refused call gets 429 with ``Retry-After`` (real seconds) and
``X-Rate-Limit-Problem``. Refused calls are not counted; idempotent replays are (reference §8).

The middleware sits outside the fault injection, so a request slowed by a ``slow`` fault holds its
concurrency slot as a slow Xero request would.
"""

from __future__ import annotations

import json
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.clock import SandboxClock
from sandbox.core import SandboxOptions
from sandbox.xero.serialize import problem

MINUTE = 60.0


@dataclass(frozen=True)
class RateKey:
    tenant_id: str
    client_id: str
    day_limit: int


@dataclass(frozen=True)
class Admission:
    """Either admitted (``problem`` is None) or refused with a problem name and a wait."""

    headers: dict[str, str]
    problem: str | None = None
    retry_after_sandbox_seconds: float = 0.0


class RateGovernor:
    def __init__(self, clock: SandboxClock, options: SandboxOptions) -> None:
        self.clock = clock
        self.options = options
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._minute: dict[str, deque[float]] = {}
        self._app_minute: dict[str, deque[float]] = {}
        self._day: dict[str, tuple[date, int]] = {}

    def in_flight(self, tenant_id: str) -> int:
        with self._lock:
            return self._in_flight.get(tenant_id, 0)

    @staticmethod
    def _trim(window: deque[float], now: float) -> None:
        while window and window[0] <= now - MINUTE:
            window.popleft()

    def admit(self, key: RateKey) -> Admission:
        now = self.clock.seconds()
        today = self.clock.now().date()
        opts = self.options
        with self._lock:
            minute = self._minute.setdefault(key.tenant_id, deque())
            app_minute = self._app_minute.setdefault(key.client_id, deque())
            self._trim(minute, now)
            self._trim(app_minute, now)
            day, used_today = self._day.get(key.tenant_id, (today, 0))
            if day != today:
                used_today = 0  # the daily window is fixed, not rolling (Codat KB, reference §8)
            in_flight = self._in_flight.get(key.tenant_id, 0)

            refusal: tuple[str, float] | None = None
            if used_today >= key.day_limit:
                midnight = datetime.combine(today + timedelta(days=1), time(), tzinfo=UTC)
                refusal = ("day", (midnight - self.clock.now()).total_seconds())
            elif len(minute) >= opts.xero_minute_limit:
                refusal = ("minute", minute[0] + MINUTE - now)
            elif len(app_minute) >= opts.xero_app_minute_limit:
                refusal = ("appminute", app_minute[0] + MINUTE - now)
            elif in_flight >= opts.xero_concurrent_limit:
                refusal = ("concurrent", 1.0)

            if refusal is None:
                minute.append(now)
                app_minute.append(now)
                used_today += 1
                self._day[key.tenant_id] = (today, used_today)
                self._in_flight[key.tenant_id] = in_flight + 1
            headers = {
                "X-DayLimit-Remaining": str(max(key.day_limit - used_today, 0)),
                "X-MinLimit-Remaining": str(max(opts.xero_minute_limit - len(minute), 0)),
                "X-AppMinLimit-Remaining": str(
                    max(opts.xero_app_minute_limit - len(app_minute), 0)
                ),
            }
        if refusal is None:
            return Admission(headers)
        return Admission(headers, refusal[0], max(refusal[1], 0.0))

    def release(self, tenant_id: str) -> None:
        with self._lock:
            self._in_flight[tenant_id] = max(self._in_flight.get(tenant_id, 1) - 1, 0)

    def retry_after(self, sandbox_seconds: float) -> int:
        """Whole real seconds, rounded up, at least 1: what a client can actually sleep."""
        return max(1, math.ceil(self.clock.to_real(sandbox_seconds)))


class RateLimitMiddleware:
    """Applies the governor to `/api.xro/` calls whose token and tenant resolve."""

    def __init__(
        self,
        app: ASGIApp,
        governor: RateGovernor,
        resolve: Callable[[Headers], RateKey | None],
    ) -> None:
        self.app = app
        self.governor = governor
        self.resolve = resolve

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].lower().startswith("/api.xro/"):
            await self.app(scope, receive, send)
            return
        # Calls that fail authentication cannot be charged to an organisation: the handler
        # answers them 401/403 uncounted.
        key = self.resolve(Headers(scope=scope))
        if key is None:
            await self.app(scope, receive, send)
            return
        admission = self.governor.admit(key)
        extra = [(k.lower().encode(), v.encode()) for k, v in admission.headers.items()]
        if admission.problem is not None:
            await self._refuse(send, admission, extra)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            self.governor.release(key.tenant_id)

    async def _refuse(
        self, send: Send, admission: Admission, extra: list[tuple[bytes, bytes]]
    ) -> None:
        wait = self.governor.retry_after(admission.retry_after_sandbox_seconds)
        body = json.dumps(
            problem(429, "Too Many Requests", f"Rate limit exceeded: {admission.problem}")
        ).encode()
        headers = [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(wait).encode()),
            (b"x-rate-limit-problem", str(admission.problem).encode()),
            *extra,
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})
