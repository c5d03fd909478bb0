"""Xero connect, device-code style (issue 4 §2).

Xero has no device authorization grant (reference §2), so the agent offers the same experience
itself. ``ConnectFlows.start()`` returns a short link (the connect pages, ``/link``) and a
one-time human code like ``BCDF-GHJK``; whoever opens the link on a machine with a browser types
the code and is sent to Xero's authorize page with the flow's ``state`` and PKCE challenge.
Xero sends the browser back to ``redirect_uri`` (``/callback`` of the connect pages), or, when
the browser cannot reach the agent, the user pastes that address back (``paste``): either way
``complete`` checks the state, trades the code with the verifier, stores the tokens and lists
the organisations.

Rules:
- The redirect URI is ``http://localhost:<port>/callback``, the port of ``ATX_OAUTH_LISTEN``
  (Xero accepts http only for ``localhost``, reference §5); ``ATX_OAUTH_REDIRECT_URI`` overrides it.
- A flow lives ``ttl_seconds`` (10 minutes). Its state is random, bound to it, and single use:
  a replayed, unknown or foreign state, or an expired flow, is refused and nothing is stored.
- The verifier, the state and the tokens never leave this object: the flow dicts (API answers,
  ``connect`` events) hold none of them.
- Every change of a flow is published (``publish(flow_dict)``), for the ``connect`` events.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from agent.config import Settings
from agent.control.connect_model import (
    CODE_ALPHABET,
    CallbackParams,
    ConnectError,
    ConnectNotConfigured,
    FlowFinished,
    UnknownFlow,
    connection_card,
    iso,
    listen_address,
    new_human_code,
    normalise_code,
    parse_redirect,
)
from agent.store import Store, StoreError, TenantInfo
from agent.store.clock import utc_now
from agent.store.secrets import MISSING_KEY_TO_STORE
from agent.sync.orgs import stored_info
from agent.xero import XeroClient, XeroError
from agent.xero.authorize import authorize_url, pkce_pair
from agent.xero.errors import one_line

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from agent.control.connect_pages import ConnectPagesServer

__all__ = [
    "CODE_ALPHABET",
    "CallbackParams",
    "ConnectError",
    "ConnectFlows",
    "ConnectNotConfigured",
    "FlowFinished",
    "UnknownFlow",
    "connection_card",
    "normalise_code",
    "parse_redirect",
]

log = logging.getLogger("atx.connect")

FlowState = Literal["waiting", "authorizing", "connected", "failed", "expired"]
FINISHED: frozenset[str] = frozenset({"connected", "failed", "expired"})
DEFAULT_TTL_SECONDS = 600
FORGET_AFTER = timedelta(hours=1)


@dataclass
class _Flow:
    flow_id: str
    code: str
    state: str = field(repr=False)
    verifier: str = field(repr=False)
    challenge: str = field(repr=False)
    redirect_uri: str
    link: str
    ssh_hint: str
    created_at: datetime
    expires_at: datetime
    status: FlowState = "waiting"
    state_used: bool = False
    organisations: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


class ConnectFlows:
    """Connect flows of one agent process; thread-safe (the control API and the connect pages
    call it from their own threads)."""

    def __init__(
        self,
        settings: Settings | Callable[[], Settings],
        store: Store,
        xero: Callable[[], XeroClient] | XeroClient,
        *,
        now: Callable[[], datetime] = utc_now,
        publish: Callable[[dict[str, Any]], None] | None = None,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
    ) -> None:
        """``settings`` and ``xero`` may be factories, read at each step (settings entered in
        the UI apply to the next flow). A client from a factory is not closed here."""
        self._settings = settings
        self.store = store
        self._xero = xero
        self.now = now
        self.publish = publish
        self.ttl = timedelta(seconds=ttl_seconds)
        self._flows: dict[str, _Flow] = {}
        self._by_state: dict[str, str] = {}  # state -> flow id, kept after use to spot replays
        self._lock = threading.Lock()
        self._pages: ConnectPagesServer | None = None

    @property
    def settings(self) -> Settings:
        return self._settings if isinstance(self._settings, Settings) else self._settings()

    def xero(self) -> XeroClient:
        return self._xero if isinstance(self._xero, XeroClient) else self._xero()

    # -- addresses ------------------------------------------------------------------------------

    def bound_address(self) -> tuple[str, int]:
        """Where the connect pages listen: the bound port once serving (ATX_OAUTH_LISTEN may
        say port 0), the configured one before."""
        if self._pages is not None and self._pages.address is not None:
            return self._pages.address
        return listen_address(self.settings)

    @property
    def redirect_uri(self) -> str:
        configured = self.settings.oauth_redirect_uri
        if configured:
            return configured
        return f"http://localhost:{self.bound_address()[1]}/callback"

    def link(self) -> str:
        host, port = self.bound_address()
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/link"

    def ssh_hint(self, redirect_uri: str) -> str:
        """The tunnel that makes the browser's ``localhost`` the agent's connect pages."""
        host, port = self.bound_address()
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        local = urlsplit(redirect_uri).port or port
        return f"ssh -L {local}:{host}:{port} <host>"

    # -- flows ----------------------------------------------------------------------------------

    def check_configured(self) -> None:
        """``ConnectNotConfigured`` when a browser sign-in cannot work with these settings."""
        self._check_configured(self.settings)

    def start(self) -> dict[str, Any]:
        """A new flow, ``waiting`` for its code on ``/link``."""
        settings = self.settings
        self._check_configured(settings)
        verifier, challenge = pkce_pair()
        redirect_uri = self.redirect_uri
        now = self.now()
        flow = _Flow(
            flow_id=secrets.token_urlsafe(12),
            code=new_human_code(),
            state=secrets.token_urlsafe(32),
            verifier=verifier,
            challenge=challenge,
            redirect_uri=redirect_uri,
            link=self.link(),
            ssh_hint=self.ssh_hint(redirect_uri),
            created_at=now,
            expires_at=now + self.ttl,
        )
        with self._lock:
            changed = self._expire_due(now)
            self._forget_old(now)
            live = {f.code for f in self._flows.values() if f.status not in FINISHED}
            while flow.code in live:
                flow.code = new_human_code()
            self._flows[flow.flow_id] = flow
            self._by_state[flow.state] = flow.flow_id
            data = self._dict(flow)
        for flow_data in changed:
            self._publish(flow_data)
        log.info("xero connect started: code %s, valid until %s", flow.code, iso(flow.expires_at))
        self._publish(data)
        return data

    def get(self, flow_id: str) -> dict[str, Any]:
        now = self.now()
        with self._lock:
            flow = self._find(flow_id)
            changed = self._expire_if_due(flow, now)
            data = self._dict(flow)
        if changed:
            self._publish(data)
        return data

    def flows(self) -> list[dict[str, Any]]:
        """Every flow still held, newest first."""
        now = self.now()
        with self._lock:
            changed = self._expire_due(now)
            items = sorted(self._flows.values(), key=lambda f: f.created_at, reverse=True)
            data = [self._dict(f) for f in items]
        for flow_data in changed:
            self._publish(flow_data)
        return data

    def expire_due(self) -> int:
        """Mark every flow past its expiry ``expired`` (and publish it); how many were."""
        now = self.now()
        with self._lock:
            changed = self._expire_due(now)
        for data in changed:
            self._publish(data)
        return len(changed)

    def authorize(self, typed_code: str) -> str:
        """``/link``: the Xero authorize address for the flow of a typed code (which moves to
        ``authorizing``). The same code may be used again while the flow waits for Xero."""
        code = normalise_code(typed_code)
        settings = self.settings  # read before the lock: a settings factory may take its own
        now = self.now()
        with self._lock:
            changed = self._expire_due(now)
            flow = next(
                (
                    f
                    for f in self._flows.values()
                    if f.status in ("waiting", "authorizing")
                    and secrets.compare_digest(f.code, code)
                ),
                None,
            )
            data = None
            if flow is not None:
                url = authorize_url(settings, flow.state, flow.challenge, flow.redirect_uri)
                if flow.status == "waiting":
                    flow.status = "authorizing"
                    data = self._dict(flow)
        for flow_data in changed:
            self._publish(flow_data)
        if flow is None:
            raise ConnectError(
                "that code is not a current connect code (wrong, used or expired)",
                "check the code shown by the agent, or start the connect again",
            )
        if data is not None:
            self._publish(data)
        return url

    def paste(self, flow_id: str, url: str) -> dict[str, Any]:
        """The redirected address pasted back from the browser (agent on a server, browser on a
        laptop): it must carry this flow's state."""
        params = parse_redirect(url)
        with self._lock:
            flow = self._find(flow_id)
            owner = self._by_state.get(params.state or "")
        if owner is not None and owner != flow_id:
            other = self._flows.get(owner)
            code = f" (code {other.code})" if other else ""
            raise ConnectError(
                f"that address belongs to another connect flow{code}, not to this one"
                f" (code {flow.code})",
                f"sign in again with code {flow.code} and paste the address it ends on",
                flow=self.get(flow_id),
            )
        if owner is None:
            raise ConnectError(
                "that address does not belong to this connect flow (its state= is unknown)",
                f"sign in again with code {flow.code} and paste the address it ends on",
                flow=self.get(flow_id),
            )
        return self.complete(params.state or "", params.code, params.error)

    def complete(self, state: str, code: str | None, error: str | None = None) -> dict[str, Any]:
        """What ``/callback`` does: check the state (known, unused, flow not expired), then
        trade the code with the verifier, store the tokens and list the organisations. Raises
        ``ConnectError`` when the state is refused (nothing stored); returns the flow, now
        ``connected`` or ``failed`` (Xero refused, or the exchange failed)."""
        now = self.now()
        with self._lock:
            flow_id = self._by_state.get(state) if state else None
            flow = self._flows.get(flow_id) if flow_id else None
            if flow is None:
                raise ConnectError(
                    "this sign-in is not one the agent started (unknown state), or the agent"
                    " restarted since",
                    "start the connect again (atx xero connect, or Connect in the terminal UI)",
                )
            if flow.state_used:
                raise FlowFinished(
                    f"this sign-in address was used already (the connect with code {flow.code}"
                    f" is {flow.status}); nothing was changed",
                    "start a new connect to sign in again",
                    flow=self._dict(flow),
                )
            newly_expired = self._expire_if_due(flow, now)
            if flow.status == "expired":
                data = self._dict(flow)
                expired_error: ConnectError | None = self._expired(flow)
            else:
                expired_error = None
                if code is None and error is None:
                    raise ConnectError(
                        "that address has no code= part",
                        "paste the whole address of the page the browser ended on",
                        flow=self._dict(flow),
                    )
                flow.state_used = True  # from here on a second use is a replay
                verifier, redirect_uri = flow.verifier, flow.redirect_uri
        if expired_error is not None:
            if newly_expired:
                self._publish(data)
            raise expired_error
        if error is not None:
            reason = one_line(error, 60)
            if reason == "access_denied":
                message = "Xero access was not granted (access_denied): nothing was connected"
            else:
                message = f"Xero refused the sign-in ({reason}): nothing was connected"
            return self._finish(flow, "failed", error=message + "; start the connect again")
        try:
            tenants = self.xero().exchange_code(code or "", verifier, redirect_uri)
        except (XeroError, StoreError) as exc:
            return self._finish(flow, "failed", error=one_line(str(exc), 300))
        except Exception as exc:  # the flow must not hang in "authorizing"
            log.error("xero connect %s: code exchange failed: %s", flow.code, type(exc).__name__)
            error = f"the sign-in could not be finished ({type(exc).__name__}); start it again"
            return self._finish(flow, "failed", error=error)
        cards = self._cards(tenants)
        return self._finish(flow, "connected", organisations=cards)

    def connect_client_credentials(self) -> list[dict[str, Any]]:
        """A custom connection: no browser. The organisation's card (``ConnectError`` when the
        settings or Xero refuse)."""
        try:
            tenants = self.xero().connect_client_credentials()
        except (XeroError, StoreError) as exc:
            raise ConnectError(one_line(str(exc), 300)) from None
        return self._cards(tenants)

    # -- the connect pages ------------------------------------------------------------------------

    def pages_app(self) -> ASGIApp:
        """The connect pages (``/link``, ``/callback``) as an ASGI app."""
        from agent.control.connect_pages import create_pages_app

        return create_pages_app(self)

    @property
    def pages(self) -> ConnectPagesServer:
        """The connect pages server: a service for ``AgentLoop`` (``name``, ``start``, ``stop``)."""
        from agent.control.connect_pages import ConnectPagesServer

        with self._lock:
            if self._pages is None:
                self._pages = ConnectPagesServer(self)
            return self._pages

    def serve(self) -> tuple[str, int]:
        """Serve the connect pages on ATX_OAUTH_LISTEN in a daemon thread; the bound address."""
        pages = self.pages
        pages.start()
        assert pages.address is not None
        return pages.address

    def stop(self) -> None:
        if self._pages is not None:
            self._pages.stop()

    # -- inside -----------------------------------------------------------------------------------

    def _check_configured(self, settings: Settings) -> None:
        if settings.xero_auth_mode == "client_credentials":
            raise ConnectNotConfigured(
                "ATX_XERO_AUTH_MODE=client_credentials is a Xero custom connection: it connects"
                " without a browser",
                "use the custom connection entry (atx xero connect does it), or set"
                " ATX_XERO_AUTH_MODE=pkce for a browser sign-in",
            )
        if not settings.xero_client_id:
            raise ConnectNotConfigured(
                "no Xero app: ATX_XERO_CLIENT_ID is not set",
                f"create a Xero app (developer.xero.com > My Apps, type 'Auth code with PKCE')"
                f" with redirect URI {self.redirect_uri}, and set its client id",
            )
        if settings.xero_auth_mode == "code" and not settings.xero_client_secret:
            raise ConnectNotConfigured(
                "ATX_XERO_AUTH_MODE=code needs the app's client secret",
                "set ATX_XERO_CLIENT_SECRET, or ATX_XERO_AUTH_MODE=pkce for an app without one",
            )
        if settings.secret_key is None and not settings.allow_plaintext_secrets:
            raise ConnectNotConfigured(
                "the Xero tokens could not be stored: " + MISSING_KEY_TO_STORE.split(": ")[0],
                "set ATX_SECRET_KEY (any long random string) and restart the agent",
            )

    def _find(self, flow_id: str) -> _Flow:
        flow = self._flows.get(flow_id)
        if flow is None:
            raise UnknownFlow(
                f"no connect flow {flow_id!r} (unknown, or the agent restarted)",
                "start the connect again",
            )
        return flow

    def _expire_if_due(self, flow: _Flow, now: datetime) -> bool:
        # A flow whose state was used is exchanging its code: it finishes, it does not expire.
        if (
            flow.status in ("waiting", "authorizing")
            and not flow.state_used
            and now >= flow.expires_at
        ):
            flow.status = "expired"
            flow.error = "the connect code expired before the sign-in finished; start it again"
            return True
        return False

    def _forget_old(self, now: datetime) -> None:
        """Finished flows are kept an hour (their states too: a replay still finds them)."""
        cutoff = now - FORGET_AFTER
        for flow_id, flow in list(self._flows.items()):
            if flow.status in FINISHED and flow.expires_at < cutoff:
                del self._flows[flow_id]
                self._by_state.pop(flow.state, None)

    def _expire_due(self, now: datetime) -> list[dict[str, Any]]:
        return [self._dict(f) for f in self._flows.values() if self._expire_if_due(f, now)]

    def _expired(self, flow: _Flow) -> ConnectError:
        return FlowFinished(
            f"the connect with code {flow.code} expired at {iso(flow.expires_at)}; nothing was"
            " stored",
            "start the connect again and finish the sign-in within"
            f" {int(self.ttl.total_seconds() // 60)} minutes",
            flow=self._dict(flow),
        )

    def _finish(
        self,
        flow: _Flow,
        status: FlowState,
        *,
        error: str | None = None,
        organisations: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            flow.status = status
            flow.error = error
            flow.organisations = organisations or []
            data = self._dict(flow)
        if status == "connected":
            names = ", ".join(o["name"] for o in flow.organisations)
            log.info("xero connect %s: connected %s", flow.code, names)
        else:
            log.warning("xero connect %s %s: %s", flow.code, status, error)
        self._publish(data)
        return data

    def _cards(self, tenants: Sequence[TenantInfo]) -> list[dict[str, Any]]:
        now = self.now()
        cards = []
        for tenant in tenants:
            conn = self.store.connections.get(tenant.tenant_id)
            if conn is not None:
                info = stored_info(self.store, tenant.tenant_id)
                cards.append(connection_card(conn, now, info.short_code if info else None))
        return cards

    def _dict(self, flow: _Flow) -> dict[str, Any]:
        return {
            "flow_id": flow.flow_id,
            "state": flow.status,
            "link": flow.link,
            "code": flow.code,
            "expires_at": iso(flow.expires_at),
            "redirect_uri": flow.redirect_uri,
            "ssh_hint": flow.ssh_hint,
            "organisations": list(flow.organisations),
            "error": flow.error,
        }

    def _publish(self, data: dict[str, Any]) -> None:
        if self.publish is None:
            return
        try:
            self.publish(data)
        except Exception as exc:  # a broken listener must not break the sign-in
            log.warning("publishing a connect event failed: %s: %s", type(exc).__name__, exc)
