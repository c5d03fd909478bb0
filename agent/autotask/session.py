"""One authenticated request to Autotask, with every rule that applies to all of them.

For each request: find the zone (discovery, cached) -> pace by the shared budget -> take one of
the N slots of the endpoint -> send with the three auth headers -> retry per ``retry.py`` -> on a
401, rediscover the zone once and send again -> turn what is left into an error or decoded JSON.

Threads: at most ``max_in_flight`` requests per endpoint are in flight (reference §7: Autotask
refuses a 4th per integration code and endpoint with ``Itgenatr005``), so callers may PATCH from
a thread pool. A slot is held only while a request is on the wire, never while backing off.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
from pydantic import SecretStr

from agent.autotask.budget import BudgetGovernor, BudgetPolicy, BudgetStatus
from agent.autotask.errors import (
    AutotaskApiError,
    AutotaskAuthError,
    AutotaskUnsafeUrl,
    error_texts,
)
from agent.autotask.retry import Retrier, RetryPolicy
from agent.autotask.wire import decode, format_datetime
from agent.autotask.zone import ZoneResolver, same_origin

log = logging.getLogger("atx.autotask")

# Autotask requests can run for minutes (reference §7, n8n-nodes-autotask CHANGELOG).
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
DEFAULT_MAX_IN_FLIGHT = 3  # Autotask's own limit; the reference's agent policy suggests 2
ZONE_ENDPOINT = "ZoneInformation"
THRESHOLD_ENDPOINT = "ThresholdInformation"

REJECTED = (
    "Autotask rejected the API user {username!r}: check ATX_AUTOTASK_SECRET and "
    "ATX_AUTOTASK_INTEGRATION_CODE, and that the user's license is API User (system)"
)
REJECTED_FIXED_ZONE = REJECTED + ", and that ATX_AUTOTASK_BASE_URL is the user's zone"


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot send a {type(value).__name__} to Autotask")


def encode(body: Any) -> bytes:
    return json.dumps(body, default=_json_default, separators=(",", ":")).encode()


class AutotaskSession:
    def __init__(
        self,
        *,
        username: str,
        secret: SecretStr,
        integration_code: SecretStr,
        zone_lookup_url: str,
        base_url: str | None,
        zone_url: str | None,
        http: httpx.Client | None,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        draw: Callable[[], float],
        max_in_flight: int,
        retry: RetryPolicy,
        budget: BudgetPolicy | None,
        on_zone_discovered: Callable[[str], None] | None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.username = username
        self._secret = secret
        self._integration_code = integration_code
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(timeout=DEFAULT_TIMEOUT)
        self._retrier = Retrier(retry, sleep, draw)
        # The usage gauge is read once per attempt: a failed read only delays the next one.
        self._single = Retrier(RetryPolicy(max_attempts=1), sleep, draw)
        self._max_in_flight = max_in_flight
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.zone = ZoneResolver(
            lookup_url=zone_lookup_url,
            username=username,
            get=self._get_zone,
            clock=clock,
            fixed_url=base_url,
            known_url=zone_url,
            on_discovered=on_zone_discovered,
        )
        self.budget = (
            BudgetGovernor(budget, self._read_threshold, sleep=sleep, clock=clock)
            if budget is not None
            else None
        )

    def __repr__(self) -> str:
        return f"AutotaskSession(username={self.username!r}, zone={self.zone.url!r})"

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    # ------------------------------------------------------------------------- accounting

    def calls_made(self) -> dict[str, int]:
        """HTTP requests sent per endpoint (retries and usage readings included)."""
        with self._lock:
            return dict(self._calls)

    def budget_status(self) -> BudgetStatus | None:
        return self.budget.status() if self.budget is not None else None

    # --------------------------------------------------------------------------- requests

    def request(
        self,
        method: str,
        target: str,
        *,
        endpoint: str,
        body: Any = None,
        absolute: bool = False,
        paced: bool = True,
        resend_if_dropped: bool = True,
    ) -> Any:
        """Send to ``{zone}V1.0/{target}`` (or to ``target`` itself when ``absolute``, which
        must be on the zone's host); answer the decoded JSON body or raise. With
        ``resend_if_dropped`` False, a request whose answer was lost (it may have been applied)
        raises ``AutotaskNetworkError`` instead of being sent again."""
        zone = self.zone.current()
        url = self._url(zone.url, target, absolute)
        response = self._send(method, url, endpoint, body, paced, resend_if_dropped)
        if response.status_code == 401:
            # Zones move: ask again, then try once more (reference §3, django-autotask).
            moved = self.zone.rediscover(zone)
            if moved is not None:
                url = self._url(moved.url, target, absolute)
                response = self._send(method, url, endpoint, body, paced, resend_if_dropped)
            if response.status_code == 401:
                text = REJECTED if moved is not None else REJECTED_FIXED_ZONE
                raise AutotaskAuthError(text.format(username=self.username))
        if response.status_code >= 400:
            raise AutotaskApiError(method, _shown(url), response.status_code, error_texts(response))
        return decode(response)

    def _url(self, zone_url: str, target: str, absolute: bool) -> str:
        if not absolute:
            return f"{zone_url}V1.0/{target}"
        resolved = str(httpx.URL(zone_url).join(target))
        if not same_origin(resolved, zone_url):
            # Never send the credentials off the zone (reference §5, PipedreamHQ/pipedream#20388).
            raise AutotaskUnsafeUrl(
                f"Autotask pointed at {_origin(resolved)}, which is not the zone "
                f"{_origin(zone_url)}; refusing to send the API user's credentials there"
            )
        return resolved

    def _send(
        self, method: str, url: str, endpoint: str, body: Any, paced: bool, resend: bool = True
    ) -> httpx.Response:
        content = encode(body) if body is not None else None

        def attempt() -> httpx.Response:
            if paced and self.budget is not None:
                self.budget.before_request()
            with self._slot(endpoint):
                self._count(endpoint)
                if paced and self.budget is not None:
                    self.budget.note_request()
                response = self._http.request(
                    method, url, headers=self._headers(), content=content, timeout=DEFAULT_TIMEOUT
                )
            if response.status_code == 429 and self.budget is not None:
                self.budget.note_refused()
            return response

        retrier = self._retrier if paced else self._single
        return retrier.run(attempt, method=method, path=_shown(url), idempotent=resend)

    def _headers(self) -> dict[str, str]:
        # The only place the secrets are read (reference §2: three headers on every call).
        return {
            "ApiIntegrationCode": self._integration_code.get_secret_value(),
            "UserName": self.username,
            "Secret": self._secret.get_secret_value(),
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    @contextmanager
    def _slot(self, endpoint: str) -> Iterator[None]:
        key = endpoint.lower()
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = threading.BoundedSemaphore(self._max_in_flight)
        with slot:
            yield

    def _count(self, endpoint: str) -> None:
        with self._lock:
            self._calls[endpoint] += 1

    def _get_zone(self, url: str, params: dict[str, str]) -> httpx.Response:
        def attempt() -> httpx.Response:
            self._count(ZONE_ENDPOINT)
            return self._http.get(
                url, params=params, headers={"Accept": "application/json"}, timeout=DEFAULT_TIMEOUT
            )

        return self._retrier.run(attempt, method="GET", path="v1.0/zoneInformation")

    def _read_threshold(self) -> Mapping[str, Any]:
        info = self.request("GET", THRESHOLD_ENDPOINT, endpoint=THRESHOLD_ENDPOINT, paced=False)
        if not isinstance(info, Mapping):
            raise AutotaskApiError("GET", THRESHOLD_ENDPOINT, 200, ["not a JSON object"])
        return info


def _origin(url: str) -> str:
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


def _shown(url: str) -> str:
    """The URL's path from ``V1.0/`` on, without the query string, for messages and logs."""
    path = httpx.URL(url).path
    index = path.lower().find("/v1.0/")
    return path[index + 1 :] if index >= 0 else path.lstrip("/")
