"""THE rate governor for Xero: one per agent, one state per organisation (DESIGN.md: one retry
policy and one governor per API; the SDK's own urllib3 retries are switched off in ``transport``).

Xero's limits are per app and organisation (reference §8): 5 calls in flight, 60 per rolling
minute, 5,000 (Starter: 1,000) per fixed day, plus 10,000 per minute across the app. Per
organisation the governor:

- lets at most ``concurrent_limit`` calls run at once (a semaphore);
- paces starts so no more than ``minute_limit`` fall in any rolling minute (plus a small margin,
  because Xero starts its window when it admits the call, a little after we send it);
- reads ``X-MinLimit-Remaining``, ``X-DayLimit-Remaining`` and ``X-AppMinLimit-Remaining`` from
  every answer, for the status screen. They do not drive the pacing: the remaining count does not
  say when the rolling window frees up, while a 429 names the exact ``Retry-After``;
- on a 429 for the minute, the app minute or concurrency, waits ``Retry-After`` and sends the same
  request again (same ``Idempotency-Key``: a refused call was never processed);
- on a 429 whose ``X-Rate-Limit-Problem`` mentions "day" (matched case-insensitively, reference
  §8), or whose wait is too long to block a thread for, pauses the organisation until
  now + ``Retry-After`` and raises ``XeroOrgPaused``; later calls fail fast with it until then;
- retries 5xx and network failures with exponential backoff and full jitter, except that a write
  whose outcome is unknown is never re-sent blindly: a dropped answer, or any retry that would fall
  outside Xero's ~6-minute idempotency window (reference §9), raises ``XeroOutcomeUnknown``.

Time goes through the injected ``clock`` (monotonic seconds), ``now`` (UTC) and ``sleep``, so tests
(and benchmarks on a shrunk time scale) never wait for real.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from agent.xero.errors import XeroOrgPaused, XeroOutcomeUnknown, XeroUnavailable

log = logging.getLogger("atx.xero")

MINUTE = 60.0
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class GovernorPolicy:
    minute_limit: int = 60
    concurrent_limit: int = 5
    window_margin_seconds: float = 0.5
    # 5xx and network failures: attempts in all (reads; writes only while it is safe).
    max_attempts: int = 4
    backoff_base_seconds: float = 1.0
    backoff_cap_seconds: float = 30.0
    # 429 minute/concurrent waits per call before giving up with XeroUnavailable.
    max_rate_limit_waits: int = 10
    rate_limit_jitter_seconds: float = 0.5
    # A Retry-After longer than this pauses the organisation instead of blocking a thread.
    max_wait_seconds: float = 120.0
    # Xero keeps an Idempotency-Key about 6 minutes (reference §9); a write is re-sent only while
    # its first attempt is younger than this, so a replay can never become a duplicate.
    replay_window_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.minute_limit < 1 or self.concurrent_limit < 1 or self.max_attempts < 1:
            raise ValueError("minute_limit, concurrent_limit and max_attempts must be at least 1")


@dataclass(frozen=True)
class Reply:
    """A 2xx answer: status, headers (lower-case names) and the parsed JSON body."""

    status: int
    headers: Mapping[str, str]
    body: Any


class HttpFailure(Exception):
    """A non-2xx answer, as the transport hands it to the governor."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class NetworkFailure(Exception):
    """No complete answer. ``sent`` is False only when the request surely never left
    (the connection could not be opened), so even a write may be sent again."""

    def __init__(self, cause: str, *, sent: bool) -> None:
        super().__init__(cause)
        self.cause = cause
        self.sent = sent


@dataclass(frozen=True)
class OrgStatus:
    """One organisation as the status screen shows it (None: not seen in any answer yet)."""

    tenant_id: str
    minute_remaining: int | None
    day_remaining: int | None
    app_minute_remaining: int | None
    paused_until: datetime | None
    in_flight: int
    peak_in_flight: int
    calls_made: int
    rate_limited: int
    last_problem: str | None


@dataclass
class _Org:
    tenant_id: str
    semaphore: threading.BoundedSemaphore
    lock: threading.Lock = field(default_factory=threading.Lock)
    starts: deque[float] = field(default_factory=deque)
    minute_remaining: int | None = None
    day_remaining: int | None = None
    app_minute_remaining: int | None = None
    paused_until: datetime | None = None
    in_flight: int = 0
    peak_in_flight: int = 0
    calls_made: int = 0
    rate_limited: int = 0
    last_problem: str | None = None


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        return max(0.0, float(headers["retry-after"]))
    except (KeyError, ValueError):
        return None


class RateGovernor:
    def __init__(
        self,
        policy: GovernorPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utc_now,
        sleep: Callable[[float], None] = time.sleep,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy or GovernorPolicy()
        self._clock = clock
        self._now = now
        self._sleep = sleep
        self._draw = draw
        self._orgs: dict[str, _Org] = {}
        self._guard = threading.Lock()

    # -- the one entry point ---------------------------------------------------------------

    def run(self, tenant_id: str, attempt: Callable[[], Reply], *, write: bool, what: str) -> Reply:
        """Send ``attempt`` under the limits and retry it by the policy. ``attempt`` performs one
        HTTP request, returning a Reply or raising HttpFailure / NetworkFailure. HttpFailures
        that are not retried (4xx other than 429, or 5xx once attempts run out on a read) are
        re-raised for the caller to translate."""
        org = self._org(tenant_id)
        policy = self.policy
        first_sent: float | None = None
        failures = 0
        waits = 0
        maybe_applied = False  # a write answered 5xx may have been applied all the same
        while True:
            outcome: HttpFailure | NetworkFailure
            with self._slot(org):
                if first_sent is None:
                    first_sent = self._clock()
                try:
                    reply = attempt()
                except HttpFailure as failure:
                    self._observe(org, failure.headers)
                    outcome = failure
                except NetworkFailure as failure:
                    outcome = failure
                else:
                    self._observe(org, reply.headers)
                    return reply

            if isinstance(outcome, HttpFailure) and outcome.status == 429:
                waits += 1
                self._rate_limited(org, outcome, waits, what)
                continue

            if isinstance(outcome, HttpFailure) and outcome.status not in RETRYABLE_STATUSES:
                raise outcome
            cause = f"HTTP {outcome.status}" if isinstance(outcome, HttpFailure) else outcome.cause
            failures += 1
            maybe_applied = maybe_applied or isinstance(outcome, HttpFailure)
            if write and isinstance(outcome, NetworkFailure) and outcome.sent:
                # The request left and the answer was lost: it may have been applied. The
                # caller looks the documents up before posting again (DESIGN.md, outbox).
                raise XeroOutcomeUnknown(what, cause)
            if failures >= policy.max_attempts:
                if write and maybe_applied:
                    raise XeroOutcomeUnknown(what, f"{cause} after {failures} attempts")
                raise XeroUnavailable(what, f"{cause} after {failures} attempts")
            wait = self._backoff(failures, outcome)
            if write and self._clock() + wait - first_sent > policy.replay_window_seconds:
                raise XeroOutcomeUnknown(what, f"{cause}; too late to replay the same request")
            log.warning(
                "xero %s for %s: %s; retry %d of %d in %.1fs",
                what,
                tenant_id,
                cause,
                failures,
                policy.max_attempts - 1,
                wait,
            )
            self._sleep(wait)

    # -- status ---------------------------------------------------------------------------

    def status(self, tenant_id: str) -> OrgStatus:
        org = self._org(tenant_id)
        with org.lock:
            paused = org.paused_until if self._is_paused(org) else None
            return OrgStatus(
                tenant_id=tenant_id,
                minute_remaining=org.minute_remaining,
                day_remaining=org.day_remaining,
                app_minute_remaining=org.app_minute_remaining,
                paused_until=paused,
                in_flight=org.in_flight,
                peak_in_flight=org.peak_in_flight,
                calls_made=org.calls_made,
                rate_limited=org.rate_limited,
                last_problem=org.last_problem,
            )

    def statuses(self) -> dict[str, OrgStatus]:
        with self._guard:
            tenants = sorted(self._orgs)
        return {t: self.status(t) for t in tenants}

    def calls_made(self, tenant_id: str | None = None) -> int:
        """Requests sent (429-refused ones included): per organisation, or in all."""
        if tenant_id is not None:
            return self.status(tenant_id).calls_made
        return sum(s.calls_made for s in self.statuses().values())

    def resume(self, tenant_id: str) -> None:
        """Lift a pause by hand (e.g. the user knows the day has rolled over)."""
        org = self._org(tenant_id)
        with org.lock:
            org.paused_until = None

    # -- internals ------------------------------------------------------------------------

    def _org(self, tenant_id: str) -> _Org:
        with self._guard:
            org = self._orgs.get(tenant_id)
            if org is None:
                semaphore = threading.BoundedSemaphore(self.policy.concurrent_limit)
                org = self._orgs[tenant_id] = _Org(tenant_id, semaphore)
            return org

    def _is_paused(self, org: _Org) -> bool:
        if org.paused_until is None:
            return False
        if self._now() >= org.paused_until:
            org.paused_until = None
            return False
        return True

    @contextmanager
    def _slot(self, org: _Org) -> Iterator[None]:
        with org.lock:
            if self._is_paused(org):
                assert org.paused_until is not None
                raise XeroOrgPaused(org.tenant_id, org.paused_until)
        org.semaphore.acquire()
        try:
            self._reserve_start(org)
            with org.lock:
                org.in_flight += 1
                org.calls_made += 1
                org.peak_in_flight = max(org.peak_in_flight, org.in_flight)
            try:
                yield
            finally:
                with org.lock:
                    org.in_flight -= 1
        finally:
            org.semaphore.release()

    def _reserve_start(self, org: _Org) -> None:
        """Wait until a start fits in the rolling minute, then take it. Runs while holding one
        of the organisation's concurrency slots: the other callers must wait anyway."""
        window = MINUTE + self.policy.window_margin_seconds
        while True:
            with org.lock:
                if self._is_paused(org):
                    assert org.paused_until is not None
                    raise XeroOrgPaused(org.tenant_id, org.paused_until)
                moment = self._clock()
                while org.starts and org.starts[0] <= moment - window:
                    org.starts.popleft()
                if len(org.starts) < self.policy.minute_limit:
                    org.starts.append(moment)
                    return
                wait = org.starts[0] + window - moment
            log.debug("xero pacing %s: %.2fs to stay under the minute limit", org.tenant_id, wait)
            self._sleep(max(wait, 0.001))

    def _observe(self, org: _Org, headers: Mapping[str, str]) -> None:
        minute = _header_int(headers, "x-minlimit-remaining")
        day = _header_int(headers, "x-daylimit-remaining")
        app = _header_int(headers, "x-appminlimit-remaining")
        with org.lock:
            if minute is not None:
                org.minute_remaining = minute
            if day is not None:
                org.day_remaining = day
            if app is not None:
                org.app_minute_remaining = app

    def _rate_limited(self, org: _Org, failure: HttpFailure, waits: int, what: str) -> None:
        """Handle one 429: pause the organisation (raises) or sleep out Retry-After."""
        problem = failure.headers.get("x-rate-limit-problem", "") or "unknown"
        retry_after = _retry_after(failure.headers)
        with org.lock:
            org.rate_limited += 1
            org.last_problem = problem
        long_wait = retry_after is not None and retry_after > self.policy.max_wait_seconds
        if "day" in problem.lower() or long_wait:
            until = self._now() + timedelta(seconds=retry_after or 3600.0)
            with org.lock:
                org.paused_until = until
            log.warning(
                "xero %s: the %s limit of %s is spent; pausing it until %s",
                what,
                problem,
                org.tenant_id,
                until.isoformat(timespec="seconds"),
            )
            raise XeroOrgPaused(
                org.tenant_id, until, "daily" if "day" in problem.lower() else problem
            )
        if waits > self.policy.max_rate_limit_waits:
            raise XeroUnavailable(what, f"still rate limited ({problem}) after {waits - 1} waits")
        wait = (retry_after if retry_after is not None else MINUTE) + (
            self._draw() * self.policy.rate_limit_jitter_seconds
        )
        log.warning(
            "xero %s for %s: 429 (%s limit); waiting %.1fs, then the same request again",
            what,
            org.tenant_id,
            problem,
            wait,
        )
        self._sleep(wait)

    def _backoff(self, failures: int, outcome: HttpFailure | NetworkFailure) -> float:
        if isinstance(outcome, HttpFailure):
            retry_after = _retry_after(outcome.headers)
            if retry_after is not None:
                return min(retry_after, self.policy.backoff_cap_seconds)
        # Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter").
        ceiling = min(
            self.policy.backoff_cap_seconds, self.policy.backoff_base_seconds * 2 ** (failures - 1)
        )
        return self._draw() * ceiling
