"""Serving the control API: on a Unix socket (always) and on TCP (only with a token).

The Unix socket is the access control: it is mode 0600, so only the agent's own user (and root)
can connect. uvicorn's own ``uds=`` would ``chmod`` it to 0666, so the socket is made here:
bound inside a fresh 0700 folder next to its final path, set to 0600, then renamed into place
(atomic, and at no moment reachable by another user), and handed to uvicorn as a socket.

A socket file left by an agent that crashed is replaced; a socket that answers belongs to an
agent still running, and this one refuses to start (``ControlServerError``: one line, exit 2).

On TCP every request, ``/openapi.json`` and ``/events`` included, needs ``Authorization: Bearer
<ATX_CONTROL_TOKEN>`` (compared in constant time); anything else is a 401 with a JSON error.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("atx.control")

START_TIMEOUT_SECONDS = 10.0


class ControlServerError(Exception):
    """The control API cannot listen; the message is one line with the fix."""


class BearerAuth:
    """ASGI middleware: every HTTP request needs ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        if not token:
            raise ValueError("a bearer token is required")
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope.get("headers") or []:
            if name.lower() == b"authorization":
                given = value
                break
        scheme, _, credentials = given.partition(b" ")
        ok = scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self._token)
        if ok:
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {
                "error": "missing or wrong bearer token",
                "fix": "send the header Authorization: Bearer <ATX_CONTROL_TOKEN>",
            }
        ).encode()
        if scope["type"] == "websocket":  # pragma: no cover - the API has no websockets
            await send({"type": "websocket.close", "code": 1008})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="atx"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class QuietErrors:
    """ASGI middleware: an exception that escapes the app after its 500 answer was sent (as
    Starlette's ServerErrorMiddleware re-raises it) is logged in one line here, so uvicorn
    neither prints a traceback nor drops the client's keep-alive connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if scope["type"] != "http":
                raise
            log.debug("control API request failed after its answer: %s", type(exc).__name__)
            if not started:
                body = b'{"error": "internal error", "fix": "see the agent\'s log"}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": body})


# -- the Unix socket ---------------------------------------------------------------------------


def _socket_answers(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    else:
        return True
    finally:
        probe.close()


def bind_unix_socket(path: Path) -> socket.socket:
    """A listening Unix socket at ``path`` with mode 0600 (see the module's docstring)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ControlServerError(
            f"cannot create the folder of the control socket {path}: {exc.strerror};"
            " set ATX_CONTROL_SOCKET to a writable path"
        ) from None
    if len(os.fsencode(path)) > 107:
        raise ControlServerError(
            f"the control socket path is too long for a Unix socket ({path});"
            " set ATX_CONTROL_SOCKET to a shorter path"
        )
    if path.exists() or path.is_symlink():
        if not path.is_socket():
            raise ControlServerError(
                f"{path} exists and is not a socket; remove it or set ATX_CONTROL_SOCKET"
            )
        if _socket_answers(path):
            raise ControlServerError(
                f"another agent is running: its control socket {path} answers;"
                " stop it first (or give this one another ATX_DATA_DIR / ATX_CONTROL_SOCKET)"
            )
        log.info("replacing the stale control socket %s (left by an agent that stopped)", path)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    try:
        private = Path(tempfile.mkdtemp(prefix=".atx-sock-", dir=path.parent))
    except OSError as exc:
        raise ControlServerError(
            f"cannot create the control socket in {path.parent}: {exc.strerror};"
            " set ATX_CONTROL_SOCKET to a writable path"
        ) from None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        staged = private / "s"
        sock.bind(str(staged))
        os.chmod(staged, 0o600)
        os.rename(staged, path)
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise ControlServerError(
            f"cannot listen on the control socket {path}: {exc.strerror}"
        ) from None
    finally:
        with contextlib.suppress(OSError):
            for leftover in private.iterdir():
                leftover.unlink()
            private.rmdir()
    return sock


def bind_tcp(listen: str) -> socket.socket:
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, int(port)))
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise ControlServerError(
            f"the control API cannot listen on {listen}: {exc.strerror};"
            " set ATX_CONTROL_LISTEN to a free HOST:PORT"
        ) from None
    return sock


# -- the servers (services of AgentLoop) ---------------------------------------------------------


class ApiServer:
    """One listener of the control API, in a daemon thread: a Service for ``AgentLoop``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        unix_socket: Path | None = None,
        tcp: str | None = None,
        token: str | None = None,
        on_stop: Any = None,
    ) -> None:
        if (unix_socket is None) == (tcp is None):
            raise ValueError("give either unix_socket or tcp")
        app = QuietErrors(app)
        if tcp is not None:
            if not token:
                raise ControlServerError(
                    "the control API listens on TCP only with a token: set ATX_CONTROL_TOKEN"
                )
            app = BearerAuth(app, token)
        self.app = app
        self.unix_socket = unix_socket
        self.tcp = tcp
        self.name = (
            f"control API on {unix_socket}" if unix_socket else f"control API on tcp://{tcp}"
        )
        self.address: Any = None
        self._on_stop = on_stop
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._inode: int | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        if self.unix_socket is not None:
            sock = bind_unix_socket(self.unix_socket)
            self._inode = os.stat(self.unix_socket).st_ino
        else:
            assert self.tcp is not None
            sock = bind_tcp(self.tcp)
        self.address = sock.getsockname()
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            timeout_keep_alive=30,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=asyncio.run,
            args=(server.serve(sockets=[sock]),),
            daemon=True,
            name="atx-control-api",
        )
        self._server, self._thread, self._sock = server, thread, sock
        thread.start()
        waited = 0.0
        while not server.started:
            if not thread.is_alive() or waited > START_TIMEOUT_SECONDS:
                self.stop()
                raise ControlServerError(f"the {self.name} failed to start; see the log")
            threading.Event().wait(0.01)
            waited += 0.01

    def stop(self) -> None:
        if self._on_stop is not None:
            with contextlib.suppress(Exception):
                self._on_stop()
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self.unix_socket is not None and self._inode is not None:
            # Only our own socket: a newer agent may have replaced it meanwhile.
            with contextlib.suppress(OSError):
                if os.stat(self.unix_socket).st_ino == self._inode:
                    self.unix_socket.unlink()
            self._inode = None
        self._server = self._thread = None
