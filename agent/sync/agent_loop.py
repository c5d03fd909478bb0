"""``atx agent``: the long-running agent.

A cycle at start, then one every ``ATX_SYNC_INTERVAL_MINUTES``, scheduled by ``schedule`` (its own
``Scheduler``, not the module-global one). Cycles run on the main thread one after another, so
two never overlap; a cycle that is due while one runs starts when it ends. SIGTERM or SIGINT asks
the running cycle to stop after the Xero batch in flight (claimed rows it did not send go back to
pending), then the loop exits with status 0. An exception inside a cycle is logged in one line and
the loop goes on: the next cycle starts on time.

Services that run beside the cycles (the control API on its Unix socket, the Xero connect pages)
are started by ``start_services`` and stopped by ``stop_services``. ``run_now`` (any thread) asks
for a cycle at once, on the loop's thread (the control API's ``POST /cycle``); an engine whose
``run_cycle`` returns None had nothing to run (the agent is not set up yet): that is not counted
as a cycle. ``set_interval`` changes the schedule from the next cycle on.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Protocol

import schedule

from agent.sync.report import CycleReport

log = logging.getLogger("atx.sync")


class Engine(Protocol):
    def run_cycle(self) -> CycleReport | None: ...
    def request_stop(self) -> None: ...


class Service(Protocol):
    """Something that runs beside the cycles (control API, connect pages)."""

    name: str

    def start(self) -> None: ...
    def stop(self) -> None: ...


class AgentLoop:
    def __init__(
        self,
        engine: Engine,
        interval_minutes: int,
        *,
        stop: threading.Event | None = None,
        services: list[Service] | None = None,
        tick_seconds: float = 1.0,
        on_cycle: Callable[[CycleReport], None] | None = None,
    ) -> None:
        self.engine = engine
        self.interval_minutes = interval_minutes
        self.stop = stop or threading.Event()
        self.services = services or []
        self.tick_seconds = tick_seconds
        self.on_cycle = on_cycle
        self.scheduler = schedule.Scheduler()
        self.cycles = 0
        self.crashes = 0
        self._wake = threading.Event()
        self._interval_changed = False
        self._run_requested = False

    # -- signals ------------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        """SIGTERM (docker stop, systemd) and SIGINT (Ctrl+C): stop gracefully."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if not self.stop.is_set():
            log.info("%s received: stopping after the batch in flight", signal.Signals(signum).name)
        self.request_stop()

    def request_stop(self) -> None:
        self.stop.set()
        self._wake.set()
        self.engine.request_stop()

    def run_now(self) -> None:
        """A cycle as soon as the loop is free (a running cycle finishes first; never two)."""
        self._run_requested = True
        self._wake.set()

    def set_interval(self, minutes: int) -> None:
        self.interval_minutes = minutes
        self._interval_changed = True
        self._wake.set()

    def next_cycle_at(self) -> datetime | None:
        """When the schedule runs the next cycle (UTC), None when none is scheduled."""
        moment = self.scheduler.next_run if self.scheduler.jobs else None
        return None if moment is None else moment.astimezone(UTC)

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> int:
        self.start_services()
        try:
            self.scheduler.every(self.interval_minutes).minutes.do(self.cycle)
            log.info(
                "agent started: a sync cycle now and every %d minute(s)", self.interval_minutes
            )
            self.cycle()
            while not self.stop.is_set():
                if self._interval_changed:
                    self._interval_changed = False
                    self.scheduler.clear()
                    self.scheduler.every(self.interval_minutes).minutes.do(self.cycle)
                self.scheduler.run_pending()
                # Wakes at once on a stop, run_now or set_interval; else looks at the schedule
                # every tick.
                self._wake.wait(self.tick_seconds)
                self._wake.clear()
                if self._run_requested and not self.stop.is_set():
                    self._run_requested = False
                    self.cycle()
                    # The next scheduled cycle is an interval after this one.
                    for job in self.scheduler.jobs:
                        job._schedule_next_run()
        finally:
            self.scheduler.clear()
            self.stop_services()
        log.info("agent stopped after %d cycle(s)", self.cycles)
        return 0

    def cycle(self) -> None:
        if self.stop.is_set():
            return
        try:
            report = self.engine.run_cycle()
            if report is None:  # nothing to run yet (set-up incomplete)
                self.cycles -= 1
                return
        except Exception as exc:
            # One line, no traceback (it could quote a request); the cycle's own rows stay
            # safe in the outbox, and the next cycle picks them up.
            self.crashes += 1
            log.error("sync cycle failed: %s: %s", type(exc).__name__, " ".join(str(exc).split()))
            log.debug("sync cycle failure", exc_info=True)
            return
        finally:
            self.cycles += 1
        if self.on_cycle is not None:
            self.on_cycle(report)

    # -- services beside the cycles ------------------------------------------------------------

    def start_services(self) -> None:
        # Issue 4: the control API (Unix socket, SSE) and the Xero connect pages start here.
        started: list[Service] = []
        for service in self.services:
            try:
                service.start()
            except BaseException:
                # The ones already running stop again (a socket file is not left behind).
                for running in reversed(started):
                    try:
                        running.stop()
                    except Exception as exc:
                        log.warning("stopping %s failed: %s", running.name, exc)
                raise
            started.append(service)
            log.info("%s started", service.name)

    def stop_services(self) -> None:
        for service in reversed(self.services):
            try:
                service.stop()
            except Exception as exc:
                log.warning("stopping %s failed: %s", service.name, exc)
