"""``atx health``: is the agent alive? Docker's HEALTHCHECK runs it.

It asks the running agent ``GET /health`` on its control socket (``ATX_CONTROL_SOCKET``, default
``<ATX_DATA_DIR>/control.sock``; docs/control-api.md) and expects ``{"ok": true, ...}`` within
5 seconds. Exit 0 when it does; otherwise exit 1 with one line saying why. Never 2: Docker
reserves that status.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx

from agent.config import Settings

TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Healthy:
    version: str | None
    socket: str

    def describe(self) -> str:
        version = f" {self.version}" if self.version else ""
        return f"ok: agent{version} answers on {self.socket}"


def probe(settings: Settings, *, timeout: float = TIMEOUT_SECONDS) -> Healthy | str:
    """``Healthy``, or the one-line reason the agent is not."""
    socket = settings.effective_control_socket
    if not socket.exists():
        return (
            f"no control socket at {socket}: the agent is not running"
            " (or ATX_CONTROL_SOCKET differs)"
        )
    transport = httpx.HTTPTransport(uds=str(socket))
    try:
        with httpx.Client(
            transport=transport, base_url="http://atx", timeout=httpx.Timeout(timeout)
        ) as client:
            response = client.get("/health")
    except httpx.TimeoutException:
        return f"the agent did not answer on {socket} within {timeout:g} s"
    except httpx.TransportError as exc:
        cause = str(exc) or type(exc).__name__
        return f"nothing answers on {socket} ({cause}): the agent is not running"
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if response.status_code != 200:
        detail = body.get("error") if isinstance(body, dict) else None
        return f"the agent answered HTTP {response.status_code}" + (f": {detail}" if detail else "")
    if not isinstance(body, dict) or body.get("ok") is not True:
        detail = body.get("error") if isinstance(body, dict) else None
        return "the agent says it is not healthy" + (f": {detail}" if detail else "")
    version = body.get("version")
    return Healthy(str(version) if version is not None else None, str(socket))


def check_health(settings: Settings, *, timeout: float = TIMEOUT_SECONDS) -> str | None:
    """None when healthy, else the reason."""
    found = probe(settings, timeout=timeout)
    return None if isinstance(found, Healthy) else found
