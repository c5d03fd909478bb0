"""Which Autotask zone (webservicesN.autotask.net) serves the API user.

``GET {lookup}v1.0/zoneInformation?user=<username>`` answers ``{zoneName, url, webUrl, ci}``; every
other call goes to ``{url}V1.0/...`` (reference §3). The answer is cached (12 h, as
django-autotask does) and asked again after a 401, because tenants move between zones. A fixed
``ATX_AUTOTASK_BASE_URL`` skips discovery altogether.

Discovery sends no credentials: it works without them (reference §3, django-autotask ``api.py``),
and a secret that is not sent cannot leak to a mistyped lookup host.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from agent.autotask.errors import AutotaskApiError, AutotaskAuthError, error_texts

log = logging.getLogger("atx.autotask")

ZONE_UNKNOWN_TEXT = "zone information could not be determined"
CACHE_SECONDS = 12 * 3600.0
UNKNOWN_USER = (
    "Autotask does not know the API user {username!r} (zone information could not be "
    "determined): check ATX_AUTOTASK_USERNAME; it must be the API user's email"
)


def normalise_base(url: str) -> str:
    return url.rstrip("/") + "/"


def same_origin(a: str | httpx.URL, b: str | httpx.URL) -> bool:
    """Same scheme, host and port (default ports made explicit)."""
    left, right = httpx.URL(str(a)), httpx.URL(str(b))
    defaults = {"http": 80, "https": 443}

    def origin(u: httpx.URL) -> tuple[str, str, int | None]:
        return (u.scheme.lower(), u.host.lower(), u.port or defaults.get(u.scheme.lower()))

    return origin(left) == origin(right)


@dataclass(frozen=True)
class Zone:
    url: str  # ends with "/"; requests go to f"{url}V1.0/..."
    generation: int  # bumps at every discovery, so concurrent 401s rediscover only once


class ZoneResolver:
    def __init__(
        self,
        *,
        lookup_url: str,
        username: str,
        get: Callable[[str, dict[str, str]], httpx.Response],
        clock: Callable[[], float],
        fixed_url: str | None = None,
        known_url: str | None = None,
        on_discovered: Callable[[str], None] | None = None,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self._lookup_url = normalise_base(lookup_url)
        self._username = username
        self._get = get
        self._clock = clock
        self._fixed = normalise_base(fixed_url) if fixed_url else None
        self._on_discovered = on_discovered
        self._cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._url = self._fixed or (normalise_base(known_url) if known_url else None)
        self._found_at = clock() if self._url else None
        self._generation = 0

    @property
    def fixed(self) -> bool:
        return self._fixed is not None

    @property
    def url(self) -> str | None:
        """The zone URL in use (to persist between runs), or None before discovery."""
        with self._lock:
            return self._url

    def current(self) -> Zone:
        with self._lock:
            if self._url is not None and (self._fixed or not self._expired_locked()):
                return Zone(self._url, self._generation)
            return self._discover_locked()

    def rediscover(self, seen: Zone) -> Zone | None:
        """After a 401 on ``seen``: ask again (once for all threads); None when fixed."""
        if self._fixed:
            return None
        with self._lock:
            if self._generation != seen.generation and self._url is not None:
                return Zone(self._url, self._generation)
            return self._discover_locked()

    def _expired_locked(self) -> bool:
        return self._found_at is None or self._clock() - self._found_at >= self._cache_seconds

    def _discover_locked(self) -> Zone:
        url = f"{self._lookup_url}v1.0/zoneInformation"
        response = self._get(url, {"user": self._username})
        errors = error_texts(response)
        if response.status_code >= 400:
            if any(ZONE_UNKNOWN_TEXT in e.lower() for e in errors):
                raise AutotaskAuthError(UNKNOWN_USER.format(username=self._username))
            raise AutotaskApiError("GET", "v1.0/zoneInformation", response.status_code, errors)
        try:
            found = response.json().get("url")
        except (ValueError, AttributeError):
            found = None
        if not isinstance(found, str) or not found.lower().startswith(("http://", "https://")):
            raise AutotaskApiError(
                "GET", "v1.0/zoneInformation", response.status_code, ["the answer has no zone url"]
            )
        previous = self._url
        self._url = normalise_base(found)
        self._found_at = self._clock()
        self._generation += 1
        if previous != self._url:
            log.info("autotask zone for %s: %s", self._username, self._url)
            if self._on_discovered is not None:
                self._on_discovered(self._url)
        return Zone(self._url, self._generation)
