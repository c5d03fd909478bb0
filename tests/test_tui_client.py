"""The TUI's control client: settings, one-line errors, the SSE reader and its reconnection.

These use httpx.MockTransport (a transport swapped in, as httpx's own tests do); the screens are
tested against the real agent in test_tui_pilot_*.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tui.client import (
    AgentEvent,
    AgentUnreachable,
    ControlClient,
    ControlError,
    ControlTarget,
    parse_sse,
)


def test_socket_defaults_to_the_data_dir() -> None:
    target = ControlTarget.from_environment(env={"ATX_DATA_DIR": "/data"})
    assert target.socket == Path("/data/control.sock")
    assert target.url is None


def test_control_socket_variable_wins() -> None:
    env = {"ATX_DATA_DIR": "/data", "ATX_CONTROL_SOCKET": "/run/atx.sock"}
    assert ControlTarget.from_environment(env=env).socket == Path("/run/atx.sock")


def test_tcp_is_used_only_with_a_token() -> None:
    assert ControlTarget.from_environment(env={"ATX_CONTROL_LISTEN": "h:8743"}).socket
    env = {"ATX_CONTROL_LISTEN": "h:8743", "ATX_CONTROL_TOKEN": "t"}
    target = ControlTarget.from_environment(env=env)
    assert (target.url, target.token) == ("http://h:8743", "t")


def test_url_argument_takes_the_token_from_the_environment() -> None:
    target = ControlTarget.from_environment(url="10.0.0.2:8743", env={"ATX_CONTROL_TOKEN": "s"})
    assert (target.url, target.token) == ("http://10.0.0.2:8743", "s")


async def test_bearer_token_is_sent() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json={"ok": True, "version": "0.1.0"})

    target = ControlTarget(url="http://h:1", token="tok")
    async with ControlClient(target, transport=httpx.MockTransport(handler)) as client:
        assert (await client.health())["ok"] is True
    assert seen == ["Bearer tok"]


async def test_api_error_becomes_one_line_with_its_fix() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"error": "row 7 is done", "fix": "resync it instead"}
        return httpx.Response(409, json=body)

    client = ControlClient(ControlTarget(url="http://h"), transport=httpx.MockTransport(handler))
    with pytest.raises(ControlError) as caught:
        await client.retry(7)
    assert (caught.value.message, caught.value.fix, caught.value.status) == (
        "row 7 is done",
        "resync it instead",
        409,
    )
    assert str(caught.value) == "row 7 is done (resync it instead)"


async def test_settings_field_problems_are_kept() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"error": "1 setting is wrong", "fix": "fix it", "fields": {"days_back": "> 0"}}
        return httpx.Response(400, json=body)

    client = ControlClient(ControlTarget(url="http://h"), transport=httpx.MockTransport(handler))
    with pytest.raises(ControlError) as caught:
        await client.put_settings({"days_back": 0})
    assert caught.value.fields == {"days_back": "> 0"}


async def test_missing_socket_is_unreachable_with_how_to_start(tmp_path: Path) -> None:
    client = ControlClient(ControlTarget(socket=tmp_path / "none.sock"))
    with pytest.raises(AgentUnreachable) as caught:
        await client.status()
    assert str(tmp_path / "none.sock") in caught.value.message
    assert caught.value.fix is not None and "atx agent" in caught.value.fix
    await client.close()


async def test_queue_filters_repeat_state_and_kind() -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json={"items": [], "next_cursor": None, "total": 0})

    client = ControlClient(ControlTarget(url="http://h"), transport=httpx.MockTransport(handler))
    await client.queue(states=["failed", "dead"], kinds=["invoice"], q="acme", cursor="c", limit=5)
    params = seen[0].params
    assert params.get_list("state") == ["failed", "dead"]
    assert (params["kind"], params["q"], params["cursor"], params["limit"]) == (
        "invoice",
        "acme",
        "c",
        "5",
    )


async def _lines(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line


async def test_sse_parser_reads_id_event_data_and_skips_comments() -> None:
    stream = _lines(
        ": keep-alive",
        "id: 4",
        "event: queue",
        'data: {"id": 9, "state": "done"}',
        "",
        "id: 5",
        "event: reset",
        "data: {}",
        "",
    )
    events = [e async for e in parse_sse(stream)]
    assert events == [
        AgentEvent(4, "queue", {"id": 9, "state": "done"}),
        AgentEvent(5, "reset", {}),
    ]


async def test_events_reconnect_with_last_event_id() -> None:
    asked: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.headers.get("last-event-id"))
        start = int(asked[-1] or 0)
        body = "".join(
            f"id: {n}\nevent: queue\ndata: {json.dumps({'id': n})}\n\n"
            for n in (start + 1, start + 2)
        )
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    client = ControlClient(ControlTarget(url="http://h"), transport=httpx.MockTransport(handler))
    downs: list[ControlError] = []
    got: list[int | None] = []
    async for event in client.events(None, on_down=downs.append, backoff=lambda n: 0):
        got.append(event.id)
        if len(got) == 5:
            break
    assert got == [1, 2, 3, 4, 5]
    assert asked[:3] == [None, "2", "4"]
    assert len(downs) == 2  # each end of a stream is reported before reconnecting


def test_atx_tui_is_a_command_whose_handler_lives_in_tui() -> None:
    from agent.cli import build_parser
    from tui import cli

    args = build_parser().parse_args(["tui", "--url", "10.0.0.2:8743"])
    assert args.handler is cli.run
    assert args.url == "10.0.0.2:8743"
