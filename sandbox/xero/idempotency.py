"""`Idempotency-Key` on PUT/POST, as Xero's idempotency guide describes it (reference §9).

Keys are per client app. The first response to a key (errors included) is stored with a
fingerprint of the request; a repeat with the same fingerprint replays it without writing again, a
repeat with a different one is refused with 400. Entries are forgotten
``options.xero_idempotency_seconds`` sandbox seconds after first use; then the key writes again.
A concurrent repeat waits for the first request to finish (one asyncio lock per key; every
handler runs on the server's one event loop).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.responses import Response

from sandbox.clock import SandboxClock
from sandbox.core import SandboxOptions
from sandbox.xero.serialize import problem_response

MAX_KEY_LENGTH = 128


@dataclass
class _Stored:
    fingerprint: str
    first_used: float
    status: int
    body: bytes
    media_type: str


def fingerprint(method: str, path: str, query: str, tenant_id: str, body: bytes) -> str:
    """Same request = same method, path, query, tenant and JSON body (key order ignored)."""
    try:
        canonical = json.dumps(json.loads(body or b"null"), sort_keys=True).encode()
    except ValueError:
        canonical = body
    digest = hashlib.sha256()
    for part in (method.upper(), path.lower(), query, tenant_id):
        digest.update(part.encode() + b"\0")
    digest.update(canonical)
    return digest.hexdigest()


class IdempotencyStore:
    def __init__(self, clock: SandboxClock, options: SandboxOptions) -> None:
        self.clock = clock
        self.options = options
        self._entries: dict[tuple[str, str], _Stored] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def _purge(self) -> None:
        horizon = self.clock.seconds() - self.options.xero_idempotency_seconds
        for slot in [s for s, e in self._entries.items() if e.first_used <= horizon]:
            del self._entries[slot]
            lock = self._locks.get(slot)
            if lock is not None and not lock.locked():
                del self._locks[slot]

    async def run(
        self,
        client_id: str,
        key: str,
        request_fingerprint: str,
        handler: Callable[[], Awaitable[Response]],
    ) -> Response:
        if len(key) > MAX_KEY_LENGTH:
            return problem_response(
                400, "Bad Request", "Idempotency-Key must be 128 characters or fewer"
            )
        slot = (client_id, key)
        self._purge()
        lock = self._locks.setdefault(slot, asyncio.Lock())
        async with lock:
            self._purge()
            stored = self._entries.get(slot)
            if stored is not None:
                if stored.fingerprint != request_fingerprint:
                    return problem_response(
                        400, "Bad Request", "Idempotency key used with a different request"
                    )
                return Response(stored.body, stored.status, media_type=stored.media_type)
            started = self.clock.seconds()  # the window runs from first use
            response = await handler()
            self._entries[slot] = _Stored(
                request_fingerprint,
                started,
                response.status_code,
                bytes(response.body),
                response.media_type or "application/json; charset=utf-8",
            )
            return response
