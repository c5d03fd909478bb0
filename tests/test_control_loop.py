"""The agent loop's hooks for the control API: ``run_now`` (``POST /cycle``), an engine with
nothing to run yet (the agent in setup), ``set_interval``, ``next_cycle_at``; and a failing
service start that stops the ones already started."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from agent.sync.agent_loop import AgentLoop
from agent.sync.report import CycleReport

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class Engine:
    def __init__(self, ready: bool = True) -> None:
        self.ready = ready
        self.calls = 0
        self.ran = threading.Event()

    def run_cycle(self) -> CycleReport | None:
        self.calls += 1
        self.ran.set()
        return CycleReport(NOW, NOW) if self.ready else None

    def request_stop(self) -> None:
        pass


def run_in_thread(loop: AgentLoop) -> threading.Thread:
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    return thread


def test_run_now_wakes_the_loop_and_unready_engines_are_not_counted() -> None:
    engine = Engine(ready=False)
    loop = AgentLoop(engine, 60, tick_seconds=5.0)
    thread = run_in_thread(loop)
    assert engine.ran.wait(5)  # the cycle at start: nothing to run
    assert loop.cycles == 0
    first = loop.next_cycle_at()
    assert first is not None and first.tzinfo is not None
    assert 59 * 60 < (first - datetime.now(UTC)).total_seconds() <= 3600
    engine.ran.clear()
    engine.ready = True
    started = time.monotonic()
    loop.run_now()
    assert engine.ran.wait(5)
    assert time.monotonic() - started < 4  # not the 5 s tick: woken at once
    deadline = time.monotonic() + 5
    while loop.cycles < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert loop.cycles == 1
    loop.set_interval(5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        upcoming = loop.next_cycle_at()
        if upcoming and (upcoming - datetime.now(UTC)).total_seconds() <= 300:
            break
        time.sleep(0.01)
    assert loop.interval_minutes == 5
    upcoming = loop.next_cycle_at()
    assert upcoming is not None and (upcoming - datetime.now(UTC)).total_seconds() <= 300
    loop.request_stop()
    thread.join(5)
    assert not thread.is_alive() and loop.next_cycle_at() is None


class Service:
    def __init__(self, name: str, fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.running = False

    def start(self) -> None:
        if self.fail:
            raise RuntimeError(f"{self.name} cannot start")
        self.running = True

    def stop(self) -> None:
        self.running = False


def test_a_service_that_cannot_start_stops_the_others() -> None:
    first, second = Service("socket"), Service("pages", fail=True)
    loop = AgentLoop(Engine(), 15, services=[first, second])
    with pytest.raises(RuntimeError, match="pages cannot start"):
        loop.run()
    assert not first.running


def test_a_taken_connect_port_does_not_stop_the_agent(caplog: pytest.LogCaptureFixture) -> None:
    from agent.control.connect import ConnectError
    from agent.control.runner import ConnectPages

    class Pages(Service):
        def start(self) -> None:
            raise ConnectError("the connect pages cannot listen on 127.0.0.1:8742: in use", "x")

    pages = ConnectPages(Pages("connect pages"))
    with caplog.at_level("WARNING", logger="atx.control"):
        pages.start()
    assert not pages.running and "connect pages are off" in caplog.text
    pages.stop()
