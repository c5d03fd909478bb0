"""Living within the tenant's shared Autotask request budget.

Autotask allows 10,000 requests per rolling hour per *database*, shared by every integration of
the customer; at 100% it refuses them all, and it adds latency from 50% (reference §7: REST
thresholds, MSPintegrations, Cloud Depot KB). The agent must not be the tool that locks the
customer's PSA integrations out, so (reference §7, "Agent policy"):

- usage is read from ``GET /V1.0/ThresholdInformation`` at most every N requests or M seconds,
  and estimated in between as "last reading + requests this client sent since";
- past half of the budget, requests are spaced out: the gap grows from 0 at 50% to
  ``window / remaining budget`` at 90%, i.e. the remaining budget spread over a window;
- at 90% or more, requests pause (re-reading usage every ``recheck_seconds``) until usage drops,
  for at most ``max_pause_seconds``; a caller that may not wait gets ``AutotaskBudgetExhausted``.

The gap is a shared schedule (each request reserves the next slot), so a thread pool is paced as
a whole rather than each thread on its own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from agent.autotask.errors import AutotaskBudgetExhausted, AutotaskError

log = logging.getLogger("atx.autotask")

DEFAULT_WINDOW_MINUTES = 60


@dataclass(frozen=True)
class BudgetPolicy:
    refresh_every_calls: int = 100
    refresh_every_seconds: float = 120.0
    slow_from: float = 0.5
    pause_from: float = 0.9
    recheck_seconds: float = 60.0
    # One window: by then every request counted at the first reading has aged out.
    max_pause_seconds: float = 3600.0
    # False: raise AutotaskBudgetExhausted at `pause_from` instead of pausing.
    wait: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.slow_from < self.pause_from <= 1:
            raise ValueError("expected 0 < slow_from < pause_from <= 1")


@dataclass(frozen=True)
class BudgetStatus:
    """What the status screen shows; None while usage has not been read yet."""

    used: int | None
    threshold: int | None
    fraction: float | None
    window_minutes: int | None
    pace_seconds: float  # the current gap between requests (0 below half)
    paused_until: datetime | None  # UTC, while paused at `pause_from`
    read_at: datetime | None  # UTC time of the last ThresholdInformation reading


class BudgetGovernor:
    def __init__(
        self,
        policy: BudgetPolicy,
        fetch: Callable[[], Mapping[str, Any]],
        *,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.policy = policy
        self._fetch = fetch
        self._sleep = sleep
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._used: int | None = None
        self._threshold: int | None = None
        self._window_minutes: int | None = None
        self._read_at: float | None = None
        self._calls_since_read = 0
        self._stale = True
        self._next_slot = 0.0
        self._paused_until: float | None = None
        self._pause_started: float | None = None

    # ------------------------------------------------------------------------------ hooks

    def before_request(self) -> None:
        """Refresh the reading when due, then wait as the usage requires (or raise)."""
        self._refresh_if_due()
        while True:
            with self._lock:
                fraction = self._fraction_locked()
                if fraction is None or fraction < self.policy.slow_from:
                    self._end_pause_locked()
                    return
                if fraction < self.policy.pause_from:
                    self._end_pause_locked()
                    wait = self._reserve_slot_locked(self._gap_locked(fraction))
                    break
                wait, until = self._pause_locked()
            self._sleep(wait)
            self._refresh(newer_than=until)
        if wait > 0:
            self._sleep(wait)

    def note_request(self) -> None:
        """One request of this client reached Autotask (it counts against the budget)."""
        with self._lock:
            self._calls_since_read += 1

    def note_refused(self) -> None:
        """Autotask answered 429: treat the budget as spent until the next reading says not."""
        with self._lock:
            if self._threshold is not None:
                self._used = self._threshold
                self._calls_since_read = 0
                self._read_at = self._clock()
            self._stale = True

    def status(self) -> BudgetStatus:
        with self._lock:
            used = self._estimate_locked()
            fraction = self._fraction_locked()
            now = self._clock()
            paused = self._paused_until if self._paused_until and self._paused_until > now else None
            wall = self._wall()
            return BudgetStatus(
                used=used,
                threshold=self._threshold,
                fraction=fraction,
                window_minutes=self._window_minutes,
                pace_seconds=(
                    self._gap_locked(fraction)
                    if fraction is not None and fraction < self.policy.pause_from
                    else 0.0
                ),
                paused_until=None if paused is None else wall + timedelta(seconds=paused - now),
                read_at=(
                    None
                    if self._read_at is None
                    else wall - timedelta(seconds=max(0.0, now - self._read_at))
                ),
            )

    # --------------------------------------------------------------------------- reading

    def _due_locked(self) -> bool:
        if self._stale or self._read_at is None:
            return True
        return (
            self._calls_since_read >= self.policy.refresh_every_calls
            or self._clock() - self._read_at >= self.policy.refresh_every_seconds
        )

    def _refresh_if_due(self) -> None:
        with self._lock:
            due = self._due_locked()
        if due:
            self._refresh()

    def _refresh(self, newer_than: float | None = None) -> None:
        """Read ThresholdInformation, unless another thread did while this one waited."""
        with self._refresh_lock:
            with self._lock:
                if newer_than is None:
                    if not self._due_locked():
                        return
                elif self._read_at is not None and self._read_at >= newer_than:
                    return
            try:
                info = self._fetch()
            except AutotaskError as exc:
                # Never fail a request because the gauge could not be read; try again later.
                log.warning("autotask: could not read ThresholdInformation: %s", exc)
                with self._lock:
                    self._read_at = self._clock()
                    self._calls_since_read = 0
                    self._stale = False
                return
            self._store(info)

    def _store(self, info: Mapping[str, Any]) -> None:
        try:
            threshold = int(info["externalRequestThreshold"])
            used = int(info["currentTimeframeRequestCount"])
            window = int(info.get("requestThresholdTimeframe") or DEFAULT_WINDOW_MINUTES)
        except (KeyError, TypeError, ValueError):
            log.warning("autotask: ThresholdInformation answered an unexpected shape")
            with self._lock:
                self._read_at = self._clock()
                self._stale = False
            return
        with self._lock:
            self._threshold, self._used, self._window_minutes = threshold, used, window
            self._read_at = self._clock()
            self._calls_since_read = 0
            self._stale = False
        log.debug("autotask budget: %d of %d requests per %d min", used, threshold, window)

    # --------------------------------------------------------------------------- pacing

    def _estimate_locked(self) -> int | None:
        if self._used is None:
            return None
        return self._used + self._calls_since_read

    def _fraction_locked(self) -> float | None:
        used = self._estimate_locked()
        if used is None or not self._threshold:
            return None
        return used / self._threshold

    def _gap_locked(self, fraction: float) -> float:
        """Seconds between requests: 0 at `slow_from`, window/remaining at `pause_from`."""
        policy = self.policy
        if fraction < policy.slow_from or self._threshold is None:
            return 0.0
        over = min(1.0, (fraction - policy.slow_from) / (policy.pause_from - policy.slow_from))
        remaining = max(1, self._threshold - (self._estimate_locked() or 0))
        window = (self._window_minutes or DEFAULT_WINDOW_MINUTES) * 60.0
        return over * window / remaining

    def _reserve_slot_locked(self, gap: float) -> float:
        now = self._clock()
        start = max(now, self._next_slot)
        self._next_slot = start + gap
        return start - now

    def _pause_locked(self) -> tuple[float, float]:
        """(seconds to sleep, clock time) before reading usage again; raises when waiting is
        not allowed or the pause has lasted `max_pause_seconds`."""
        now = self._clock()
        if self._pause_started is None:
            self._pause_started = now
        waited = now - self._pause_started
        if not self.policy.wait or waited >= self.policy.max_pause_seconds:
            raise AutotaskBudgetExhausted(
                self._estimate_locked() or 0,
                self._threshold or 0,
                self._window_minutes or DEFAULT_WINDOW_MINUTES,
                self._wall() + timedelta(seconds=self.policy.recheck_seconds),
            )
        if self._paused_until is None or self._paused_until <= now:
            chunk = min(self.policy.recheck_seconds, self.policy.max_pause_seconds - waited)
            self._paused_until = now + chunk
            log.warning(
                "autotask budget at %d of %d requests: pausing %.0fs so other integrations "
                "keep working",
                self._estimate_locked() or 0,
                self._threshold or 0,
                chunk,
            )
        return self._paused_until - now, self._paused_until

    def _end_pause_locked(self) -> None:
        if self._pause_started is not None:
            log.info("autotask budget below the pause line again: resuming")
        self._paused_until = None
        self._pause_started = None
