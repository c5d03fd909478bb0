"""Autotask's usage limits: the shared hourly budget, threads per endpoint, and added latency.

- Budget: 10,000 requests per rolling hour per *database*, shared by every integration; at 100%
  the API refuses everyone until the window frees up (reference §7: REST thresholds,
  MSPintegrations).
  Sandbox choices: zone discovery is not counted (it is answered by the un-numbered discovery host,
  before any database is known), nor are requests refused for routing (404/405), credentials,
  budget or threads; every request that reaches an operation counts, errors included.
- Threads: 3 in flight per (API tracking identifier, object endpoint); ZoneInformation is exempt
  (reference §7, Thread limiting).
- Latency: added once usage passes 50% / 75% (community figures, reference §7).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.clock import SandboxClock
    from sandbox.core import SandboxOptions

WINDOW_SECONDS = 3600.0


class RequestBudget:
    """A rolling window of request times in sandbox seconds."""

    def __init__(self, clock: SandboxClock, options: SandboxOptions) -> None:
        self._clock = clock
        self._options = options
        self._lock = threading.Lock()
        self._times: deque[float] = deque()

    @property
    def limit(self) -> int:
        return self._options.autotask_hourly_budget

    def _prune(self, now: float) -> None:
        while self._times and self._times[0] <= now - WINDOW_SECONDS:
            self._times.popleft()

    def used(self) -> int:
        with self._lock:
            self._prune(self._clock.seconds())
            return len(self._times)

    def try_consume(self) -> bool:
        """Count one request, or answer False when the budget is spent (nothing counted)."""
        with self._lock:
            now = self._clock.seconds()
            self._prune(now)
            if len(self._times) >= self.limit:
                return False
            self._times.append(now)
            return True

    def consume(self, count: int) -> None:
        """Count requests made by other integrations of the same database, now."""
        with self._lock:
            now = self._clock.seconds()
            self._prune(now)
            self._times.extend([now] * count)

    def latency(self) -> float:
        """Real seconds to add to a request at the current usage (0 unless options.latency)."""
        if not self._options.latency or self.limit <= 0:
            return 0.0
        share = self.used() / self.limit
        if share >= 0.75:
            return self._options.latency_at_three_quarters
        if share >= 0.5:
            return self._options.latency_at_half
        return 0.0


class ThreadSlots:
    """Requests in flight per (integration code, endpoint)."""

    def __init__(self, options: SandboxOptions) -> None:
        self._options = options
        self._lock = threading.Lock()
        self._in_flight: dict[tuple[str, str], int] = {}

    @property
    def limit(self) -> int:
        return self._options.autotask_threads_per_endpoint

    def acquire(self, integration_code: str, endpoint: str) -> bool:
        key = (integration_code, endpoint.lower())
        with self._lock:
            if self._in_flight.get(key, 0) >= self.limit:
                return False
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
            return True

    def release(self, integration_code: str, endpoint: str) -> None:
        key = (integration_code, endpoint.lower())
        with self._lock:
            remaining = self._in_flight.get(key, 0) - 1
            if remaining > 0:
                self._in_flight[key] = remaining
            else:
                self._in_flight.pop(key, None)

    def in_flight(self, integration_code: str, endpoint: str) -> int:
        with self._lock:
            return self._in_flight.get((integration_code, endpoint.lower()), 0)
