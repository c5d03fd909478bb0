"""THE retry schedule for outbox rows (DESIGN.md: one retry/backoff policy).

The clients retry within a call (the Xero governor for seconds, the Autotask session for 429s and
5xx); what is still failing after that becomes a ``failed`` outbox row, retried by the next cycles
on this schedule: ``base * factor ** (attempt - 1)``, capped, with jitter so that rows which
failed together (a whole batch) do not all come back in the same second. After ``max_attempts``
the row is ``dead`` and waits for a person (``atx retry``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryStrategy:
    max_attempts: int = 5
    base_seconds: float = 60.0
    factor: float = 2.0
    cap_seconds: float = 3600.0
    # The delay is drawn from [delay * (1 - jitter), delay]: never later than the schedule says,
    # never earlier than (1 - jitter) of it.
    jitter: float = 0.2
    draw: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_seconds <= 0 or self.factor < 1:
            raise ValueError("max_attempts >= 1, base_seconds > 0 and factor >= 1 are required")
        if not 0 <= self.jitter < 1 or self.cap_seconds < self.base_seconds:
            raise ValueError("0 <= jitter < 1 and cap_seconds >= base_seconds are required")

    def delay(self, attempt: int, *, retry_after: float | None = None) -> timedelta:
        """The wait after failed attempt number ``attempt`` (1 = the first). A server's
        ``retry_after`` (seconds) is honoured when it asks for longer."""
        exponent = max(attempt, 1) - 1
        # min() before the power would overflow on absurd attempt counts.
        raw = self.base_seconds * self.factor ** min(exponent, 64)
        scheduled = min(self.cap_seconds, raw)
        seconds = scheduled * (1 - self.jitter * self.draw())
        if retry_after is not None:
            seconds = max(seconds, retry_after)
        return timedelta(seconds=seconds)

    def next_attempt_at(
        self, attempt: int, now: datetime, *, retry_after: float | None = None
    ) -> datetime:
        return now + self.delay(attempt, retry_after=retry_after)

    def exhausted(self, attempt: int) -> bool:
        return attempt >= self.max_attempts


DEFAULT_RETRY = RetryStrategy()
