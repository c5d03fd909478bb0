"""Serving the sandbox: both services on loopback, in the foreground or in a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import uvicorn

from sandbox.core import Sandbox


@dataclass(frozen=True)
class SandboxUrls:
    autotask_port: int
    xero_port: int
    host: str = "127.0.0.1"

    @property
    def autotask_zone_lookup_url(self) -> str:
        """Value for ATX_AUTOTASK_ZONE_LOOKUP_URL (zoneInformation lives under v1.0/)."""
        return f"http://{self.host}:{self.autotask_port}/atservicesrest/"

    @property
    def autotask_zone_url(self) -> str:
        """Value for ATX_AUTOTASK_BASE_URL (what zone discovery answers)."""
        return f"http://{self.host}:{self.autotask_port}/ATServicesRest/"

    @property
    def xero_api_url(self) -> str:
        return f"http://{self.host}:{self.xero_port}"

    @property
    def xero_identity_url(self) -> str:
        return f"http://{self.host}:{self.xero_port}"

    @property
    def xero_login_url(self) -> str:
        return f"http://{self.host}:{self.xero_port}"

    def environment(self) -> dict[str, str]:
        """The ATX_* variables that point the agent at this sandbox."""
        return {
            "ATX_AUTOTASK_ZONE_LOOKUP_URL": self.autotask_zone_lookup_url,
            "ATX_XERO_API_URL": self.xero_api_url,
            "ATX_XERO_IDENTITY_URL": self.xero_identity_url,
            "ATX_XERO_LOGIN_URL": self.xero_login_url,
        }


def _bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP named, not left 0: asyncio sets TCP_NODELAY only on sockets whose proto says
    # TCP. Without it Nagle's algorithm holds each response body until the client acknowledges
    # the headers, and the client's delayed ACK makes that about 40 ms on every request.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _servers(sandbox: Sandbox, log_level: str) -> tuple[uvicorn.Server, uvicorn.Server]:
    def server(app: object) -> uvicorn.Server:
        config = uvicorn.Config(
            app,  # type: ignore[arg-type]
            log_level=log_level,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        return uvicorn.Server(config)

    return server(sandbox.autotask_app()), server(sandbox.xero_app())


async def _serve_both(
    servers: tuple[uvicorn.Server, uvicorn.Server], socks: tuple[socket.socket, socket.socket]
) -> None:
    await asyncio.gather(servers[0].serve(sockets=[socks[0]]), servers[1].serve(sockets=[socks[1]]))


def serve(
    sandbox: Sandbox,
    host: str = "127.0.0.1",
    autotask_port: int = 8780,
    xero_port: int = 8781,
    log_level: str = "warning",
    on_ready: object = None,
) -> None:
    """Serve both services until interrupted (`atx sandbox`)."""
    socks = (_bind(host, autotask_port), _bind(host, xero_port))
    urls = SandboxUrls(socks[0].getsockname()[1], socks[1].getsockname()[1], host)
    if callable(on_ready):
        on_ready(urls)
    asyncio.run(_serve_both(_servers(sandbox, log_level), socks))


def serve_service(
    sandbox: Sandbox,
    service: Literal["autotask", "xero"],
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ONE of the services until interrupted, e.g. each in a process of its own so that
    neither waits for the other's work (the benchmark). ``on_ready`` gets its base URL."""
    sock = _bind(host, port)
    autotask, xero = _servers(sandbox, log_level)
    if on_ready is not None:
        on_ready(f"http://{host}:{sock.getsockname()[1]}")
    server = autotask if service == "autotask" else xero
    asyncio.run(server.serve(sockets=[sock]))


@contextlib.contextmanager
def running_sandbox(
    sandbox: Sandbox, host: str = "127.0.0.1", log_level: str = "error"
) -> Iterator[SandboxUrls]:
    """Both services on free loopback ports in a background thread, for tests and benchmarks."""
    socks = (_bind(host, 0), _bind(host, 0))
    servers = _servers(sandbox, log_level)
    thread = threading.Thread(
        target=asyncio.run, args=(_serve_both(servers, socks),), daemon=True, name="sandbox"
    )
    thread.start()
    for s in servers:
        while not s.started:
            if not thread.is_alive():
                raise RuntimeError("the sandbox failed to start")
            threading.Event().wait(0.01)
    try:
        yield SandboxUrls(socks[0].getsockname()[1], socks[1].getsockname()[1], host)
    finally:
        for s in servers:
            s.should_exit = True
        thread.join(timeout=10)
        for sock in socks:
            sock.close()
