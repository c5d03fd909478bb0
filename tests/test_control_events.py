"""Events: the bus and its ring, the log buffer, and ``GET /events`` (SSE) with resume by
``Last-Event-ID``, ``reset`` and keep-alives (issue 4 §1)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_control_kit import Running, SseEvent, read_events, running_agent, short_dir
from test_sync_kit import Rig, rig

from agent.control.events import EventBus, LogBuffer, QueueTailer

# -- the bus ---------------------------------------------------------------------------------


def test_bus_numbers_events_and_keeps_a_ring() -> None:
    bus = EventBus(size=5)
    assert bus.after(0) == ([], False)
    for n in range(1, 4):
        assert bus.publish("e", n) == n
    found, lost = bus.after(1)
    assert [e.id for e in found] == [2, 3] and not lost
    assert bus.after(3) == ([], False)
    for n in range(4, 9):
        bus.publish("e", n)
    found, lost = bus.after(2)  # 3 fell out of the ring: ids 4..8 are held
    assert lost and [e.id for e in found] == [4, 5, 6, 7, 8]
    found, lost = bus.after(3)  # exactly the oldest held next: nothing lost
    assert not lost and [e.id for e in found] == [4, 5, 6, 7, 8]
    assert bus.after(99) == ([], True)  # an id from another run of the agent
    assert bus.wait(8, 0.01) is False
    bus.publish("e", 9)
    assert bus.wait(8, 0.01) is True


def test_queue_tailer_publishes_each_changed_row_once() -> None:
    trail = [(1, 10), (2, 11), (3, 10)]
    published: list[list[int]] = []
    tailer = QueueTailer(
        lambda: 0, lambda after: [e for e in trail if e[0] > after], published.append
    )
    assert tailer.poll() == 2 and published == [[10, 11]]
    assert tailer.poll() == 0
    trail.append((4, 12))
    assert tailer.poll() == 1 and published[-1] == [12]


def test_log_buffer_redacts_and_keeps_the_last_lines() -> None:
    events: list[tuple[str, Any]] = []

    def publish(name: str, data: Any) -> int:
        events.append((name, data))
        return len(events)

    buffer = LogBuffer(["hunter2-secret"], size=3, publish=publish)
    logger = logging.getLogger("atx.test-buffer")
    logger.addHandler(buffer)
    logger.setLevel(logging.DEBUG)
    try:
        logger.info("the secret is hunter2-secret")
        logger.warning("sent Authorization: Bearer abcdefghijklmnop")
        buffer.add_secrets(["later-added-secret"])
        logger.error("with later-added-secret and\nnewlines")
        logger.debug("one more")
    finally:
        logger.removeHandler(buffer)
    lines = buffer.recent()
    assert len(lines) == 3  # the ring of 3 dropped the first
    text = " ".join(line["message"] for line in lines)
    assert "hunter2" not in text and "abcdefghijklmnop" not in text
    assert "later-added-secret" not in text and "\n" not in text
    assert [line["level"] for line in buffer.recent(level="WARNING")] == ["WARNING", "ERROR"]
    assert buffer.recent(text="ONE MORE")[0]["message"] == "one more"
    assert [n for n, _ in events] == ["log"] * 4
    assert "hunter2" not in str(events)


# -- SSE over the socket ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Rig, Running]]:
    tmp = tmp_path_factory.mktemp("events")
    with short_dir() as folder, rig(tmp, connect=False, mappings=False) as r:
        settings = r.settings(oauth_listen="127.0.0.1:0", control_socket=folder / "c.sock")
        with running_agent(r, settings, keep_alive_seconds=0.3) as run:
            yield r, run


def names(events: list[SseEvent]) -> list[str]:
    return [e.name for e in events]


def test_events_stream_live_events_and_keep_alives(agent: tuple[Rig, Running]) -> None:
    run = agent[1]
    comments: list[str] = []
    with run.client() as c, c.stream("GET", "/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        with run.client() as other:
            assert other.put("/settings", json={"days_back": 12}).status_code == 200
        events = read_events(
            response,
            lambda evs: "status" in names(evs) and len(comments) >= 2,
            comments=comments,
        )
    status = next(e for e in events if e.name == "status")
    assert status.data["agent"]["state"] == "setup" and status.id is not None
    assert ": keep-alive" in comments
    logs = [e for e in events if e.name == "log"]
    assert any("settings saved: days_back" in e.data["message"] for e in logs)
    ids = [e.id for e in events]
    assert ids == sorted(ids)


def test_events_resume_after_last_event_id(agent: tuple[Rig, Running]) -> None:
    run = agent[1]
    bus = run.service.bus
    mark = bus.last_id
    with run.client() as c:
        c.put("/settings", json={"days_back": 13})
        c.put("/settings", json={"days_back": 14})
        missed = [e.id for e in bus.after(mark)[0]]
        assert missed
        comments: list[str] = []
        headers = {"Last-Event-ID": str(mark)}
        with c.stream("GET", "/events", headers=headers) as response:
            events = read_events(response, lambda evs: len(evs) >= len(missed), comments=comments)
    assert [e.id for e in events][: len(missed)] == missed
    statuses = [e for e in events if e.name == "status"]
    assert len(statuses) == 2


def test_events_reset_when_the_id_is_too_old(agent: tuple[Rig, Running]) -> None:
    run = agent[1]
    bus = run.service.bus
    start = bus.last_id
    for n in range(10_001):
        bus.publish("queue", {"n": n})
    comments: list[str] = []
    with run.client() as c:
        for stale in (start, bus.last_id + 50):
            with c.stream("GET", "/events", headers={"Last-Event-ID": str(stale)}) as response:
                events = read_events(response, lambda evs: bool(evs), comments=comments)
            assert events[0].name == "reset" and events[0].data == {}
            assert events[0].id == bus.last_id


def test_events_need_no_sandbox_to_shut_down(tmp_path: Path) -> None:
    """An open event stream does not keep the agent from stopping."""
    with short_dir() as folder, rig(tmp_path, connect=False, mappings=False) as r:
        settings = r.settings(oauth_listen="127.0.0.1:0", control_socket=folder / "c.sock")
        with running_agent(r, settings, keep_alive_seconds=0.2) as run:
            client = run.client()
            response = client.send(client.build_request("GET", "/events"), stream=True)
            assert response.status_code == 200
        # running_agent asserted the agent thread stopped; the stream ends too.
        response.close()
        client.close()


def test_secrets_entered_later_are_masked_on_stdout_too() -> None:
    import io

    from agent.config import Settings
    from agent.logs import setup_logging

    stream = io.StringIO()
    handler = setup_logging(Settings(_env_file=None), stream=stream)  # type: ignore[call-arg]
    try:
        LogBuffer().add_secrets(["typed-into-the-wizard"])
        logging.getLogger("atx.test").warning("failed with typed-into-the-wizard")
    finally:
        logger = logging.getLogger("atx")
        logger.removeHandler(handler)
        logger.propagate = True
    assert "typed-into-the-wizard" not in stream.getvalue()
    assert "failed with ********" in stream.getvalue()
