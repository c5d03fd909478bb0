"""THE retry and backoff policy for every Autotask request (DESIGN.md: one policy per API).

What is retried (reference §6, §7; n8n-nodes-autotask ``retryHandler.ts``):
- 429: the shared hourly budget or a rate limit; ``Retry-After`` is honoured when present.
- The thread-threshold error, matched by its text (``thread threshold`` or the code
  ``Itgenatr005``) whatever the error status: Autotask may send it with a non-429 status.
- 502/503/504 and any other 5xx except 501/505 (not implemented / version: permanent).
- 500, unless its text is one of Autotask's verdicts. Autotask answers bad queries, unknown
  fields and missing permissions with 500 too (reference §6, django-autotask ``api.py``);
  retrying those only burns the tenant's shared budget, so they fail at once.
- Network failures (connect/read errors, timeouts, a connection dropped mid-answer) on idempotent
  requests. All the client sends is idempotent: GETs, query POSTs (reads), and PATCHes that set
  fixed values: re-sending ``{"id": 1, "webServiceDate": X}`` after a dropped connection sets
  the same fields again, so the retry cannot double anything.

Backoff is exponential with full jitter (AWS Architecture Blog, "Exponential Backoff And
Jitter"): wait = random(0, min(cap, base * 2^(n-1))) before retry n. Sleeping goes through the
injected ``sleep`` so tests assert on the waits instead of waiting.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from agent.autotask.errors import AutotaskNetworkError, one_line

log = logging.getLogger("atx.autotask")

THREAD_MARKERS = ("thread threshold", "itgenatr005")

# Lower-cased fragments of 500 texts that report a problem with the request, not the server
# (reference §3, §5, §6; the sandbox reproduces the real wording). Retrying cannot help.
PERMANENT_MARKERS = (
    "zone information could not be determined",
    "unable to find",
    "does not exist",
    "adequate permissions",
    "invalid query",
    "is not queryable",
    "invalid value",
    "at least one filter",
    "maxrecords",
    "could not be read",
    "is not valid",
    "not a valid",
    "requires",
    "is required",
    "must be",
    "does not belong",
    "only one user-defined field",
    "exceeds its maximum length",
    "unknown filter operator",
    "unknown field",
)

NEVER_RETRIED_5XX = frozenset({501, 505})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_seconds: float = 1.0
    cap_seconds: float = 60.0
    # A Retry-After beyond this is cut to it (an hour: the budget window, reference §7).
    max_retry_after_seconds: float = 3600.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def backoff(self, retry_number: int, draw: float) -> float:
        """Full jitter: ``draw`` (0..1) times the exponential ceiling for this retry."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** (retry_number - 1))
        return max(0.0, min(1.0, draw)) * ceiling


def retry_reason(status: int, text: str) -> str | None:
    """Why an answer is worth retrying, or None when it is final (success or a verdict)."""
    if status < 400:
        # A 2xx body is data: a ticket note may well say "thread threshold".
        return None
    lowered = text.lower()
    if any(marker in lowered for marker in THREAD_MARKERS):
        return "thread threshold"
    if status == 429:
        return "HTTP 429"
    if status < 500 or status in NEVER_RETRIED_5XX:
        return None
    if status == 500 and any(marker in lowered for marker in PERMANENT_MARKERS):
        return None
    return f"HTTP {status}"


def retry_after_seconds(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now())


class Retrier:
    """Runs one request under the policy; the request itself is a callable doing one attempt."""

    def __init__(
        self,
        policy: RetryPolicy,
        sleep: Callable[[float], None],
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy
        self._sleep = sleep
        self._draw = draw

    def run(
        self,
        attempt: Callable[[], httpx.Response],
        *,
        method: str,
        path: str,
        idempotent: bool = True,
    ) -> httpx.Response:
        """The first final answer, or the last one once attempts run out (caller judges it)."""
        policy = self.policy
        for number in range(1, policy.max_attempts + 1):
            last = number == policy.max_attempts
            try:
                response = attempt()
            except httpx.TransportError as exc:
                cause = one_line(f"{type(exc).__name__}: {exc}")
                if not idempotent or last:
                    raise AutotaskNetworkError(method, path, cause) from exc
                self._wait(number, None, method, path, cause)
                continue
            reason = retry_reason(response.status_code, response.text)
            if reason is None or last:
                return response
            after = retry_after_seconds(response.headers.get("Retry-After"))
            self._wait(number, after, method, path, reason)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _wait(
        self, number: int, retry_after: float | None, method: str, path: str, reason: str
    ) -> None:
        if retry_after is not None:
            wait = min(retry_after, self.policy.max_retry_after_seconds)
        else:
            wait = self.policy.backoff(number, self._draw())
        log.warning(
            "autotask %s %s: %s; retry %d of %d in %.1fs",
            method,
            path,
            reason,
            number,
            self.policy.max_attempts - 1,
            wait,
        )
        self._sleep(wait)
