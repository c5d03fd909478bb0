"""``atx agent``: the store, the service, the control API, the connect pages, the outbox tailer
and the sync loop, wired together and run until SIGTERM / SIGINT."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.config import Settings
from agent.control.app import create_app
from agent.control.events import EventBus, LogBuffer, QueueTailer
from agent.control.server import ApiServer
from agent.control.service import AgentService
from agent.logs import secret_values
from agent.store import Store
from agent.store.clock import utc_now
from agent.sync.agent_loop import AgentLoop, Service
from agent.sync.runtime import require_secret_key

log = logging.getLogger("atx.control")


class ConnectPages:
    """The connect pages as a service that cannot stop the agent: when ATX_OAUTH_LISTEN is
    taken, the agent syncs on and says so (connecting Xero needs the port, syncing does not)."""

    def __init__(self, pages: Service) -> None:
        self.pages = pages
        self.name = pages.name
        self.running = False

    def start(self) -> None:
        from agent.control.connect import ConnectError

        try:
            self.pages.start()
            self.running = True
        except ConnectError as exc:
            log.warning("the connect pages are off: %s", exc)

    def stop(self) -> None:
        if self.running:
            self.pages.stop()
            self.running = False


@dataclass
class Agent:
    service: AgentService
    loop: AgentLoop
    servers: list[ApiServer]
    logs: LogBuffer

    def close(self) -> None:
        self.service.close()
        self.logs.uninstall()
        self.service.store.close()


def build_agent(
    settings: Settings,
    *,
    stop: threading.Event | None = None,
    service_options: Mapping[str, Any] | None = None,
    tick_seconds: float = 1.0,
    keep_alive_seconds: float | None = None,
    now: Callable[[], datetime] = utc_now,
) -> Agent:
    """Everything ``atx agent`` runs; nothing is started yet (``agent.loop.run()`` does).
    ``now`` is the clock of the store and the service (tests pass the sandbox's)."""
    require_secret_key(settings)
    stop = stop or threading.Event()
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    store = Store.open(
        settings.data_dir,
        secret_key=secret,
        allow_plaintext_secrets=settings.allow_plaintext_secrets,
        now=now,
    )
    bus = EventBus()
    logs = LogBuffer(secret_values(settings), publish=bus.publish)
    try:
        service = AgentService(
            settings, store, bus=bus, logs=logs, stop=stop, now=now, **dict(service_options or {})
        )
        stored = [store.secrets.get(name) for name in store.secrets.names()]
        logs.add_secrets(s for s in stored if s)
        flows = service.attach_connect()
        extra = {} if keep_alive_seconds is None else {"keep_alive_seconds": keep_alive_seconds}
        app = create_app(service, **extra)

        def closing() -> None:
            app.state.closing = True

        servers = [ApiServer(app, unix_socket=settings.effective_control_socket, on_stop=closing)]
        if settings.control_listen:
            token = settings.control_token.get_secret_value() if settings.control_token else None
            servers.append(
                ApiServer(app, tcp=settings.control_listen, token=token, on_stop=closing)
            )
        tailer = QueueTailer(
            store.outbox.last_event_id,
            lambda after: [(e.id, e.outbox_id) for e in store.outbox.events_after(after)],
            service.queue_events,
        )
        services: list[Service] = [*servers, ConnectPages(flows.pages), tailer]
        loop = AgentLoop(
            service,
            service.effective().sync_interval_minutes,
            stop=stop,
            services=services,
            tick_seconds=tick_seconds,
        )
        service.attach_loop(loop.run_now, loop.next_cycle_at, loop.set_interval)
    except BaseException:
        store.close()
        raise
    logs.install()
    return Agent(service, loop, servers, logs)


def run_agent(
    settings: Settings,
    *,
    install_signals: bool = True,
    ready: Callable[[Agent], None] | None = None,
) -> int:
    agent = build_agent(settings)
    try:
        if install_signals:
            agent.loop.install_signal_handlers()
        if not agent.service.setup_complete():
            log.info(
                "not set up yet: no sync cycle runs until the Autotask API user and a Xero"
                " organisation are set; run `atx tui` (control socket %s)",
                settings.effective_control_socket,
            )
        if ready is not None:
            ready(agent)
        return agent.loop.run()
    finally:
        agent.close()
