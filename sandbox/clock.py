"""Sandbox time: real time, optionally sped up, and movable by tests.

Minute, hour and day limits, token lifetimes and idempotency windows in the sandbox all read this
clock, so a test can shrink an hour to a second (``scale=3600``) or step over a window with
``advance()`` instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class SandboxClock:
    """Sandbox seconds = real seconds x ``scale`` + whatever ``advance()`` added."""

    def __init__(self, scale: float = 1.0, start: datetime | None = None) -> None:
        if scale <= 0:
            raise ValueError("time scale must be positive")
        self._lock = threading.Lock()
        self._scale = scale
        self._real_origin = time.monotonic()
        self._origin = (start or datetime.now(UTC)).astimezone(UTC)
        self._offset = 0.0

    @property
    def scale(self) -> float:
        return self._scale

    def set_scale(self, scale: float) -> None:
        if scale <= 0:
            raise ValueError("time scale must be positive")
        with self._lock:
            # Keep "now" continuous across the change of speed.
            elapsed = self._elapsed_locked()
            self._real_origin = time.monotonic()
            self._offset = elapsed
            self._scale = scale

    def _elapsed_locked(self) -> float:
        return (time.monotonic() - self._real_origin) * self._scale + self._offset

    def seconds(self) -> float:
        """Sandbox seconds since the clock started (monotonic)."""
        with self._lock:
            return self._elapsed_locked()

    def now(self) -> datetime:
        """Sandbox wall-clock time, UTC."""
        return self._origin + timedelta(seconds=self.seconds())

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def to_real(self, sandbox_seconds: float) -> float:
        """How many real seconds a span of sandbox time lasts (for Retry-After and sleeps)."""
        return sandbox_seconds / self._scale
