"""xero-python, tamed: one ApiClient whose behaviour the rest of the package can rely on.

- **No retries of its own.** The SDK keeps urllib3's default ``Retry(total=3)``: a 429/503 on a
  GET/PUT/DELETE is silently slept out (a daily 429 would block for hours) and a PUT whose
  answer was dropped is re-sent (reference §8, §14 #9). The pool manager is replaced by one with
  ``retries=False``, so every answer and every failure reaches the governor.
- **Tokens per call, per thread.** The SDK's auth hook reads a process-wide ``Configuration``
  (whose constructor returns a copy of its first instance) and refreshes by itself in ways that
  break PKCE and race other processes (§14 #1-#4). ``update_params_for_auth`` is overridden to
  send the token ``invoke`` was given, held in a thread-local; the SDK never refreshes.
- **Xero's JSON, not SDK models.** ``deserialize`` returns the parsed body (PascalCase wire form,
  numbers as ``Decimal``), which is what the store and the mapping layer keep, and which avoids
  the SDK's date conversions (§14 #10).
- **Timeouts on every call** (§14 #5).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import certifi
import urllib3
from xero_python.api_client import ApiClient, Configuration
from xero_python.exceptions import ApiException

from agent.xero.governor import HttpFailure, NetworkFailure, Reply

# (connect, read) seconds. Xero can take a while on a batch of 50 documents.
REQUEST_TIMEOUT = (10, 120)

# Failures raised before any byte of the request left: safe to send again, even a write.
_NOT_SENT = (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)


class RawApiClient(ApiClient):
    def __init__(self, max_connections: int = 10) -> None:
        # Configuration() may hand back a copy of an instance someone else configured; nothing
        # here reads its token, so that is harmless.
        super().__init__(Configuration(), pool_threads=1)
        self.rest_client.pool_manager = urllib3.PoolManager(
            num_pools=4,
            maxsize=max_connections,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
        )
        self._local = threading.local()

    # -- overrides of ApiClient hooks --------------------------------------------------------

    def update_params_for_auth(self, headers: Any, querys: Any, auth_settings: Any) -> None:
        token = getattr(self._local, "token", None)
        if auth_settings and token:
            headers["Authorization"] = f"Bearer {token}"

    def deserialize(self, response: Any, response_type: Any, response_model_finder: Any) -> Any:
        data = response.data
        if not data:
            return None
        return json.loads(data, parse_float=Decimal)

    # -- one request ---------------------------------------------------------------------------

    def invoke(self, method: Callable[..., Any], token: str, **kwargs: Any) -> Reply:
        """Call one SDK operation with ``token``; a Reply, or HttpFailure / NetworkFailure."""
        self._local.token = token
        try:
            data, status, headers = method(
                _return_http_data_only=False, _request_timeout=REQUEST_TIMEOUT, **kwargs
            )
        except ApiException as exc:
            response = exc.http_resp
            if response is None:  # ApiSSLException and the like: no answer at all
                raise NetworkFailure(f"{type(exc).__name__}: {exc.reason}", sent=True) from None
            raise HttpFailure(
                int(response.status), _lower(exc.headers), bytes(response.data or b"")
            ) from None
        except _NOT_SENT as exc:
            raise NetworkFailure(_describe(exc), sent=False) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise NetworkFailure(_describe(exc), sent=True) from None
        finally:
            self._local.token = None
        return Reply(int(status), _lower(headers), data)

    def close(self) -> None:
        self.rest_client.pool_manager.clear()


def _lower(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {k.lower(): v for k, v in (headers or {}).items()}


def _describe(exc: BaseException) -> str:
    # urllib3 messages name the host and the failure, never headers or bodies.
    return f"{type(exc).__name__}: {exc}"
