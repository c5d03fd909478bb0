"""Shared helpers for the TUI tests: a real agent (test_control_kit.running_agent) on a short
temporary socket with the seeded sandbox behind it, and the app attached to it.

(No tests here; the ``test_`` prefix keeps the file next to the tests that import it.)
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from test_control_kit import Running, running_agent, short_dir, wait_for
from test_sync_kit import START, Rig, rig, seeded_world
from textual.app import App
from textual.pilot import Pilot

from agent.config import Settings
from agent.store import Store
from tui.app import AtxApp
from tui.client import ControlClient, ControlTarget

SMALL = (80, 24)
LARGE = (120, 40)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class TuiAgent:
    rig: Rig
    running: Running
    socket: Path

    def app(self, **options: Any) -> AtxApp:
        options.setdefault("backoff", lambda failures: 0.05)
        return AtxApp(ControlClient(ControlTarget(socket=self.socket)), **options)

    def store(self) -> Store:
        return self.running.agent.service.store  # type: ignore[no-any-return]


@contextlib.contextmanager
def tui_agent(
    tmp_path: Path,
    *,
    invoices: int = 30,
    connect: bool = True,
    mappings: bool = True,
    setup: Callable[[Rig, Store], None] | None = None,
    frozen: bool = False,
    cycle: bool = True,
    skip_tax: tuple[int, int] | None = None,
    socket_dir: Path | None = None,
    unset: tuple[str, ...] = (),
    **overrides: Any,
) -> Iterator[TuiAgent]:
    """The agent as ``atx agent`` runs it; ``overrides`` go to its settings. ``frozen`` all but
    stops the sandbox clock (every timestamp the agent writes is 2026-03-02 12:00), and pins the
    next cycle, which the agent loop reckons in real time, for snapshots."""
    with (
        short_dir() as folder,
        rig(
            tmp_path,
            seeded_world(invoices),
            connect=connect,
            mappings=mappings,
            setup=setup,
            skip_tax=skip_tax,
        ) as r,
    ):
        values: dict[str, Any] = {
            "control_socket": (socket_dir or folder) / "c.sock",
            "oauth_listen": f"127.0.0.1:{free_port()}",
        }
        if frozen:
            r.sandbox.clock.set_scale(1e-9)
        settings = r.settings(**(values | overrides))
        if unset:  # not given at all, as when the environment leaves them out
            kept = settings.model_dump(exclude_unset=True, exclude=set(unset))
            settings = Settings(_env_file=None, **kept)  # type: ignore[call-arg]
        with running_agent(r, settings) as running:
            if cycle:  # the agent's first cycle, which it runs at start
                wait_for(lambda: running.service.status()["agent"]["last_cycle"])
                wait_for(lambda: running.service.status()["agent"]["state"] == "idle")
            if frozen:
                running.agent.service._next_cycle = lambda: START + timedelta(minutes=15)
            yield TuiAgent(r, running, running.socket)


def screen_text(app: App[Any]) -> str:
    """What the terminal shows, as plain text lines."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def until(pilot: Pilot[Any], check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Let the app run until ``check()`` is true (events and workers need real time)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; the screen shows:\n{screen_text(pilot.app)}")
        await pilot.pause(0.05)


async def shows(pilot: Pilot[Any], text: str, timeout: float = 20.0) -> str:
    """Wait until ``text`` is on the screen; returns the screen."""
    return await until(pilot, lambda: text in screen_text(pilot.app) and screen_text(pilot.app),
                       timeout)  # fmt: skip


async def attached(pilot: Pilot[Any]) -> None:
    """Wait until the app talks to the agent and left the connecting screen."""
    app = pilot.app
    await until(pilot, lambda: app.current_mode != "connecting")  # type: ignore[attr-defined]


def api(agent: TuiAgent) -> httpx.Client:
    """The control API itself, to change things behind the TUI's back."""
    return agent.running.client()


__all__ = [
    "LARGE",
    "SMALL",
    "TuiAgent",
    "api",
    "attached",
    "free_port",
    "screen_text",
    "shows",
    "tui_agent",
    "until",
    "wait_for",
]
