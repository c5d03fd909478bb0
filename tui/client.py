"""The TUI's only way to the agent: HTTP+JSON and Server-Sent Events of the control API.

No Textual imports here (the seam between the UI and the agent, as harlequin keeps it): screens
call these coroutines from workers and get plain JSON objects back, or a ``ControlError`` whose
message and fix are one line each. The contract is docs/control-api.md; the objects are read
defensively (``.get``) so a field the agent adds or leaves out never breaks a screen.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

JSON = dict[str, Any]

START_HINT = "start it with `atx agent` (or `docker compose up -d` where it runs in Docker)"


class ControlError(Exception):
    """An answer or a failure of the control API, as one line of cause and one of fix."""

    def __init__(self, message: str, fix: str | None = None, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.status = status
        self.fields: dict[str, str] = {}

    def __str__(self) -> str:
        return f"{self.message} ({self.fix})" if self.fix else self.message


class AgentUnreachable(ControlError):
    """Nothing answers on the socket or address: the agent is stopped or elsewhere."""


@dataclass(frozen=True)
class ControlTarget:
    """Where the agent's control API is: a Unix socket, or a TCP URL with a bearer token."""

    socket: Path | None = None
    url: str | None = None
    token: str | None = None

    @property
    def where(self) -> str:
        return str(self.socket) if self.socket else (self.url or "?")

    @classmethod
    def from_environment(
        cls,
        url: str | None = None,
        token: str | None = None,
        socket: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ControlTarget:
        """``--url`` / ATX_CONTROL_LISTEN with ATX_CONTROL_TOKEN, else the socket.

        The socket is ATX_CONTROL_SOCKET or ``<ATX_DATA_DIR>/control.sock`` with the agent's own
        default data dir (agent/config.py), read here without importing the agent's settings.
        """
        env = os.environ if env is None else env
        token = token or env.get("ATX_CONTROL_TOKEN") or None
        if url is None and socket is None and env.get("ATX_CONTROL_LISTEN") and token:
            url = env["ATX_CONTROL_LISTEN"]
        if url:
            if "://" not in url:
                url = f"http://{url}"
            return cls(url=url.rstrip("/"), token=token)
        if socket is None:
            socket = env.get("ATX_CONTROL_SOCKET") or None
        if socket is None:
            base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
            data_dir = env.get("ATX_DATA_DIR") or str(Path(base) / "atx")
            socket = str(Path(data_dir) / "control.sock")
        return cls(socket=Path(socket))


@dataclass(frozen=True)
class AgentEvent:
    """One Server-Sent Event: ``id`` increases; ``data`` is the event's JSON object."""

    id: int | None
    event: str
    data: JSON


def _error_from(response: httpx.Response) -> ControlError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and (body.get("error") or body.get("detail")):
        message = body.get("error") or body.get("detail")
        if not isinstance(message, str):  # FastAPI's validation errors are a list
            message = f"the agent refused the request ({response.status_code})"
        error = ControlError(message, body.get("fix"), status=response.status_code)
        fields = body.get("fields")
        if isinstance(fields, dict):
            error.fields = {str(k): str(v) for k, v in fields.items()}
        return error
    if response.status_code == 401:
        return ControlError(
            "the agent refused the token", "set ATX_CONTROL_TOKEN to the agent's token", status=401
        )
    return ControlError(
        f"the agent answered {response.status_code} {response.reason_phrase}".rstrip(),
        None,
        status=response.status_code,
    )


class ControlClient:
    """Async client of the control API. One per app; ``close()`` when done."""

    def __init__(
        self,
        target: ControlTarget,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.target = target
        headers = {"Accept": "application/json"}
        if target.token:
            headers["Authorization"] = f"Bearer {target.token}"
        if transport is None and target.socket is not None:
            transport = httpx.AsyncHTTPTransport(uds=str(target.socket))
        base_url = target.url or "http://agent"
        self._timeout = httpx.Timeout(timeout, connect=3.0)
        self._http = httpx.AsyncClient(
            base_url=base_url, headers=headers, transport=transport, timeout=self._timeout
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ControlClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _unreachable(self, exc: Exception) -> AgentUnreachable:
        return AgentUnreachable(
            f"the agent is not running or not reachable at {self.target.where}", START_HINT
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        body: Any = None,
        timeout: float | None = None,
    ) -> Any:
        try:
            response = await self._http.request(
                method,
                path,
                params=params,
                json=body,
                timeout=self._timeout if timeout is None else timeout,
            )
        except (httpx.ConnectError, httpx.RemoteProtocolError, FileNotFoundError) as exc:
            raise self._unreachable(exc) from None
        except httpx.TimeoutException:
            raise ControlError(
                f"the agent did not answer {method} {path} in time",
                "it may be busy with a cycle: try again",
            ) from None
        except httpx.HTTPError as exc:
            raise ControlError(f"cannot talk to the agent: {exc}", None) from None
        if response.status_code >= 400:
            raise _error_from(response)
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise ControlError("the agent answered something that is not JSON", None) from None

    async def _get(self, path: str, params: Any = None) -> JSON:
        answer = await self.request("GET", path, params=params)
        return answer if isinstance(answer, dict) else {"items": answer}

    async def _post(self, path: str, body: Any = None, timeout: float | None = None) -> JSON:
        answer = await self.request("POST", path, body=body, timeout=timeout)
        return answer if isinstance(answer, dict) else {}

    # -- endpoints --------------------------------------------------------------------------

    async def health(self) -> JSON:
        return await self._get("/health")

    async def status(self) -> JSON:
        return await self._get("/status")

    async def queue(
        self,
        *,
        states: Iterable[str] = (),
        kinds: Iterable[str] = (),
        org: str | None = None,
        q: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> JSON:
        params: list[tuple[str, str | int]] = [("limit", limit)]
        params += [("state", s) for s in states]
        params += [("kind", k) for k in kinds]
        if org:
            params.append(("org", org))
        if q:
            params.append(("q", q))
        if cursor:
            params.append(("cursor", cursor))
        return await self._get("/queue", params)

    async def queue_item(self, item_id: int | str) -> JSON:
        return await self._get(f"/queue/{item_id}")

    async def retry(self, item_id: int | str) -> JSON:
        return await self._post(f"/queue/{item_id}/retry")

    async def skip(self, item_id: int | str, reason: str | None = None) -> JSON:
        return await self._post(f"/queue/{item_id}/skip", {"reason": reason})

    async def resync(self, item_id: int | str) -> JSON:
        return await self._post(f"/queue/{item_id}/resync")

    async def retry_failed(self, org: str | None = None) -> JSON:
        return await self._post("/queue/retry-failed", {"org": org})

    async def run_cycle(self) -> JSON:
        return await self._post("/cycle")

    async def sync_invoice(self, autotask_id: int, *, dry_run: bool) -> JSON:
        body = {"autotask_id": autotask_id, "dry_run": dry_run}
        return await self._post("/sync-invoice", body, timeout=120.0)

    async def settings(self) -> JSON:
        return await self._get("/settings")

    async def put_settings(self, values: Mapping[str, Any]) -> JSON:
        answer = await self.request("PUT", "/settings", body=dict(values))
        return answer if isinstance(answer, dict) else {}

    async def setup_autotask(self, username: str, secret: str, integration_code: str) -> JSON:
        body = {"username": username, "secret": secret, "integration_code": integration_code}
        return await self._post("/setup/autotask", body, timeout=60.0)

    async def finish_setup(self) -> JSON:
        return await self._post("/setup/finish")

    async def mappings(self, kind: str | None = None, org: str | None = None) -> JSON:
        params = {k: v for k, v in (("kind", kind), ("org", org)) if v is not None}
        return await self._get("/mappings", params)

    async def put_mapping(
        self, kind: str, org: str, key: str, value: str | None, label: str | None = None
    ) -> JSON:
        body = {"kind": kind, "org": org, "key": key, "value": value}
        if label:
            body["label"] = label
        answer = await self.request("PUT", "/mappings", body=body)
        return answer if isinstance(answer, dict) else {}

    async def catalog(self, org: str, name: str) -> JSON:
        return await self._get(f"/catalogs/{org}/{name}")

    async def refresh_catalogs(self, org: str) -> JSON:
        return await self._post(f"/catalogs/{org}/refresh", timeout=120.0)

    async def autotask_list(self, name: str, q: str | None = None) -> JSON:
        return await self._get(f"/autotask/{name}", {"q": q} if q else None)

    async def connections(self) -> JSON:
        return await self._get("/connections")

    async def select_connections(self, tenant_ids: Iterable[str]) -> JSON:
        return await self._post("/connections/select", {"tenant_ids": list(tenant_ids)})

    async def start_connect(self) -> JSON:
        return await self._post("/connect")

    async def connect_flow(self, flow_id: str) -> JSON:
        return await self._get(f"/connect/{flow_id}")

    async def paste_redirect(self, flow_id: str, url: str) -> JSON:
        return await self._post(f"/connect/{flow_id}/paste", {"url": url}, timeout=60.0)

    async def connect_client_credentials(
        self, client_id: str | None = None, client_secret: str | None = None
    ) -> JSON:
        body = {k: v for k, v in (("client_id", client_id), ("client_secret", client_secret)) if v}
        return await self._post("/connect/client-credentials", body, timeout=60.0)

    async def logs(self, level: str | None = None, q: str | None = None, limit: int = 500) -> JSON:
        params: dict[str, str | int] = {"limit": limit}
        if level:
            params["level"] = level
        if q:
            params["q"] = q
        return await self._get("/logs", params)

    # -- events -----------------------------------------------------------------------------

    async def events_once(self, last_id: int | None = None) -> AsyncIterator[AgentEvent]:
        """One connection to ``/events``: yields events until the stream ends or fails."""
        headers = {"Accept": "text/event-stream"}
        if last_id is not None:
            headers["Last-Event-ID"] = str(last_id)
        timeout = httpx.Timeout(10.0, read=45.0)  # keep-alive comments come every 15 s
        try:
            async with self._http.stream(
                "GET", "/events", headers=headers, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _error_from(response)
                async for event in parse_sse(response.aiter_lines()):
                    yield event
        except (httpx.ConnectError, FileNotFoundError) as exc:
            raise self._unreachable(exc) from None

    async def events(
        self,
        last_id: int | None = None,
        *,
        on_down: Callable[[ControlError], Awaitable[None] | None] | None = None,
        backoff: Callable[[int], float] | None = None,
    ) -> AsyncIterator[AgentEvent]:
        """Every event from ``last_id`` on, for ever: reconnects with Last-Event-ID.

        After a ``reset`` (the agent no longer holds the events after ``last_id``) the caller
        reloads what it shows; the stream goes on from the reset's id. ``on_down`` hears of each
        failed connection before the wait that follows it.
        """
        failures = 0
        delay_for = backoff or default_backoff
        while True:
            try:
                async for event in self.events_once(last_id):
                    failures = 0
                    if event.id is not None:
                        last_id = event.id
                    yield event
                error: ControlError = AgentUnreachable("the agent closed the event stream", None)
            except ControlError as exc:
                error = exc
            except (httpx.HTTPError, OSError) as exc:
                error = self._unreachable(exc)
            failures += 1
            if on_down is not None:
                maybe = on_down(error)
                if maybe is not None:
                    await maybe
            await asyncio.sleep(delay_for(failures))


def default_backoff(failures: int) -> float:
    """0.5 s, 1 s, 2 s, ... up to 10 s between reconnection attempts."""
    return min(10.0, 0.5 * 2 ** max(0, failures - 1))


async def parse_sse(lines: AsyncIterator[str]) -> AsyncIterator[AgentEvent]:
    """Server-Sent Events (WHATWG): ``id:``, ``event:``, ``data:`` fields, a blank line ends one."""
    event_id: int | None = None
    name = "message"
    data: list[str] = []
    async for raw in lines:
        line = raw.rstrip("\r")
        if not line:
            if data:
                yield AgentEvent(event_id, name, _json_object("\n".join(data)))
            name, data = "message", []
            continue
        if line.startswith(":"):
            continue  # keep-alive comment
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "id":
            try:
                event_id = int(value)
            except ValueError:
                event_id = None
        elif field == "event":
            name = value or "message"
        elif field == "data":
            data.append(value)
    if data:
        yield AgentEvent(event_id, name, _json_object("\n".join(data)))


def _json_object(text: str) -> JSON:
    try:
        value = json.loads(text)
    except ValueError:
        return {"text": text}
    return value if isinstance(value, dict) else {"value": value}
