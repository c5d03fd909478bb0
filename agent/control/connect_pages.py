"""The connect pages on ATX_OAUTH_LISTEN: ``/link`` (type the code, go to Xero) and
``/callback`` (where Xero sends the browser back). Plain HTML, no JavaScript, nothing loaded from
elsewhere; every answer is ``no-store`` and sends no referrer (the callback address carries the
authorization code).

``ConnectPagesServer`` serves them with uvicorn in a daemon thread; it is a service of
``AgentLoop`` (``name``, ``start()``, ``stop()``) and tells the address it bound (port 0 works).
"""

from __future__ import annotations

import asyncio
import html
import logging
import socket
import threading
from collections import deque
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from agent.control.connect_model import ConnectError, listen_address

if TYPE_CHECKING:
    from agent.control.connect import ConnectFlows

log = logging.getLogger("atx.connect")

# Wrong codes on /link: at most this many a minute, whatever the flow (guessing stays hopeless).
WRONG_CODES_PER_MINUTE = 10

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
}
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34em;margin:3em auto;padding:0 1em;"
    "line-height:1.5}input{font-size:1.4em;letter-spacing:.1em;width:9em;text-transform:uppercase}"
    "button{font-size:1.1em}.error{color:#a00}.fix{color:#444}"
)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    document = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width">'
        f"<title>{html.escape(title)} | atx</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(document, status_code=status, headers=_HEADERS)


def _form(message: str | None = None, typed: str = "") -> str:
    problem = f'<p class="error">{html.escape(message)}</p>' if message else ""
    return (
        f"{problem}<p>Type the code the agent shows (atx xero connect, or the terminal UI).</p>"
        '<form method="post" action="/link"><p><label>Code '
        f'<input name="code" value="{html.escape(typed)}" autocomplete="off" autofocus'
        ' placeholder="ABCD-EFGH" maxlength="12" required></label> '
        '<button type="submit">Continue to Xero</button></p></form>'
    )


def _error_body(exc: ConnectError) -> str:
    fix = f'<p class="fix">{html.escape(exc.fix)}</p>' if exc.fix else ""
    return f'<p class="error">{html.escape(exc.error)}</p>{fix}'


class _WrongCodes:
    """Recent wrong codes, by the flows' clock."""

    def __init__(self) -> None:
        self._times: deque[datetime] = deque()
        self._lock = threading.Lock()

    def too_many(self, now: datetime) -> bool:
        with self._lock:
            while self._times and now - self._times[0] > timedelta(minutes=1):
                self._times.popleft()
            return len(self._times) >= WRONG_CODES_PER_MINUTE

    def add(self, now: datetime) -> None:
        with self._lock:
            self._times.append(now)


def create_pages_app(flows: ConnectFlows) -> Starlette:
    wrong = _WrongCodes()

    def submit(typed: str) -> Response:
        now = flows.now()
        if wrong.too_many(now):
            return _page("Too many tries", _form("Too many wrong codes: wait a minute."), 429)
        try:
            url = flows.authorize(typed)
        except ConnectError as exc:
            wrong.add(now)
            return _page("Connect Xero", _form(f"{exc.error}; {exc.fix}", typed), 400)
        return RedirectResponse(url, status_code=302, headers=_HEADERS)

    # Plain (sync) endpoints: Starlette runs them in its thread pool, where the code exchange
    # (an HTTP call to Xero) may block.
    def link(request: Request) -> Response:
        typed = request.query_params.get("code")
        if typed is not None:
            return submit(typed)
        return _page("Connect Xero", _form())

    async def link_post(request: Request) -> Response:
        # Parsed by hand: request.form() needs python-multipart, which is not a dependency.
        body = (await request.body())[:4096].decode("utf-8", "replace")
        typed = dict(parse_qsl(body, keep_blank_values=True)).get("code", "")
        return await asyncio.to_thread(submit, typed)

    def callback(request: Request) -> Response:
        q = request.query_params
        try:
            flow = flows.complete(q.get("state", ""), q.get("code") or None, q.get("error"))
        except ConnectError as exc:
            return _page("Not connected", _error_body(exc), 400)
        if flow["state"] != "connected":
            message = flow["error"] or "the sign-in did not finish"
            return _page("Not connected", f'<p class="error">{html.escape(message)}</p>', 400)
        names = "".join(f"<li>{html.escape(o['name'])}</li>" for o in flow["organisations"])
        return _page(
            "Connected",
            f"<p>Xero is connected:</p><ul>{names}</ul><p>You can close this tab.</p>",
        )

    def root(request: Request) -> Response:
        return RedirectResponse("/link", status_code=302, headers=_HEADERS)

    return Starlette(
        routes=[
            Route("/", root, methods=["GET"]),
            Route("/link", link, methods=["GET"]),
            Route("/link", link_post, methods=["POST"]),
            Route("/callback", callback, methods=["GET"]),
        ]
    )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConnectError(
            f"the connect pages cannot listen on {host}:{port}: {exc.strerror}",
            "stop what uses that port, or set ATX_OAUTH_LISTEN to a free HOST:PORT (and register"
            " the matching redirect URI in the Xero app)",
        ) from None
    sock.listen(64)
    return sock


class ConnectPagesServer:
    """The connect pages in a daemon thread: ``start()`` returns once they accept requests."""

    name = "connect pages"

    def __init__(self, flows: ConnectFlows) -> None:
        self.flows = flows
        self.address: tuple[str, int] | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    @property
    def url(self) -> str | None:
        return None if self.address is None else self.flows.link().rsplit("/", 1)[0]

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        host, port = listen_address(self.flows.settings)
        sock = bind(host, port)
        bound: Any = sock.getsockname()
        self.address = (host, int(bound[1]))
        config = uvicorn.Config(
            self.flows.pages_app(),
            log_level="warning",
            access_log=False,  # the callback's query holds the authorization code
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=asyncio.run,
            args=(server.serve(sockets=[sock]),),
            daemon=True,
            name="connect-pages",
        )
        self._server, self._thread, self._sock = server, thread, sock
        thread.start()
        while not server.started:
            if not thread.is_alive():
                self._close_socket()
                self.address = None
                raise ConnectError(
                    f"the connect pages failed to start on {host}:{port}",
                    "see the log lines above",
                )
            threading.Event().wait(0.01)
        log.info("connect pages on %s", self.flows.link())

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=5)
        self._close_socket()
        self._server = self._thread = None
        self.address = None

    def _close_socket(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
